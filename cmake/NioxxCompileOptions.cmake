# Warning and sanitizer flags shared by every nioxx target.
# NIOXX_CHECKED: a package for testing downstream programs: thread-affinity asserts kept in any
# build type (a loop-only call such as Reactor::registerHandler made from another thread aborts
# with a message naming the call instead of racing silently). Install it to its own prefix;
# find_package(nioxx) then sets nioxx_CHECKED.
option(NIOXX_CHECKED "Keep the thread-affinity asserts in every build type (and export them)" OFF)
add_library(nioxx_compile_options INTERFACE)
target_compile_options(nioxx_compile_options INTERFACE -Wall -Wextra -Wpedantic)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  # GCC 12 at -O3 reports false -Wrestrict in std::string's operator+ (GCC bug 105329).
  target_compile_options(nioxx_compile_options INTERFACE -Wno-restrict)
endif()
if(NIOXX_WERROR)
  target_compile_options(nioxx_compile_options INTERFACE -Werror)
endif()

if(NIOXX_SANITIZE STREQUAL "asan")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(NIOXX_SANITIZE STREQUAL "tsan")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT NIOXX_SANITIZE STREQUAL "")
  message(FATAL_ERROR "NIOXX_SANITIZE must be '', 'asan' or 'tsan', not '${NIOXX_SANITIZE}'")
endif()

# nioxx_module(<name> DEPS <targets...>): a static library nioxx::<name> built from
# <name>/src/**.cpp with public headers in <name>/include. The DEPS line *is* the dependency rule.
function(nioxx_module name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp)
  add_library(nioxx_${name} STATIC ${srcs})
  add_library(nioxx::${name} ALIAS nioxx_${name})
  set_target_properties(nioxx_${name} PROPERTIES EXPORT_NAME ${name} POSITION_INDEPENDENT_CODE ON)
  target_include_directories(nioxx_${name}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(nioxx_${name} PUBLIC ${ARG_DEPS} PRIVATE $<BUILD_INTERFACE:nioxx_compile_options>)
  # The public headers need C++20 (concepts, requires): consumers get it from the target.
  target_compile_features(nioxx_${name} PUBLIC cxx_std_20)
  if(NIOXX_CHECKED)
    # The checked package: the asserts in every build type, and a usage requirement of the
    # installed targets, so a consumer's inline calls check too (and agree with the library).
    target_compile_definitions(nioxx_${name} PUBLIC NIOXX_ASSERT_THREADS=1)
  elseif(CMAKE_BUILD_TYPE STREQUAL "Debug" OR NOT NIOXX_SANITIZE STREQUAL "")
    # Debug and sanitizer builds assert thread affinity (loop-only calls on the loop thread).
    target_compile_definitions(nioxx_${name} PUBLIC $<BUILD_INTERFACE:NIOXX_ASSERT_THREADS=1>)
  endif()
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/ DESTINATION include)
  set_property(GLOBAL APPEND PROPERTY NIOXX_INSTALL_TARGETS nioxx_${name})
endfunction()
