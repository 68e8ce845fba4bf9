# Installs the four libraries and an exported package: find_package(nioxx) then nioxx::core ...
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
get_property(targets GLOBAL PROPERTY NIOXX_INSTALL_TARGETS)
install(TARGETS ${targets} EXPORT nioxxTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION include)
install(EXPORT nioxxTargets NAMESPACE nioxx:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nioxx)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/nioxxConfig.cmake.in
  ${CMAKE_BINARY_DIR}/nioxxConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nioxx)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/nioxxConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/nioxxConfig.cmake ${CMAKE_BINARY_DIR}/nioxxConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nioxx)
