# cmake -DBUILD=<configured nioxx build dir> -DEXPECT=ON|OFF -P check_checked_export.cmake
# Checks the package that build would install: with NIOXX_CHECKED=ON the targets carry
# NIOXX_ASSERT_THREADS=1 as a usage requirement and nioxxConfig.cmake sets nioxx_CHECKED ON; a
# default package carries neither (its asserts stay inside the build tree).
file(GLOB exports "${BUILD}/CMakeFiles/Export/*/nioxxTargets.cmake")
if(NOT exports)
  message(FATAL_ERROR "no generated nioxxTargets.cmake under ${BUILD}/CMakeFiles/Export")
endif()
list(GET exports 0 export_file)
file(READ "${export_file}" targets)
file(READ "${BUILD}/nioxxConfig.cmake" config)
string(FIND "${targets}" "NIOXX_ASSERT_THREADS=1" at)
string(FIND "${config}" "set(nioxx_CHECKED ${EXPECT})" config_at)
if(config_at EQUAL -1)
  message(FATAL_ERROR "nioxxConfig.cmake does not say set(nioxx_CHECKED ${EXPECT})")
endif()
if(EXPECT AND at EQUAL -1)
  message(FATAL_ERROR "checked package: NIOXX_ASSERT_THREADS=1 missing from ${export_file}")
elseif(NOT EXPECT AND NOT at EQUAL -1)
  message(FATAL_ERROR "default package exports NIOXX_ASSERT_THREADS=1 (${export_file})")
endif()
message(STATUS "package at ${BUILD}: checked=${EXPECT} as expected")
