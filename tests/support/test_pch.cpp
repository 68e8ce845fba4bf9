// The translation unit of nioxx_test_pch: CMake builds the shared GoogleTest precompiled header
// with it; every test suite reuses that header (tests/CMakeLists.txt).
