# Installs the headers and a CMake package: find_package(mimcm CONFIG) gives mimcm::mimcm.
include(CMakePackageConfigHelpers)

set(MIMCM_CMAKE_DIR "${CMAKE_INSTALL_DATADIR}/mimcm/cmake" CACHE STRING
    "Where the mimcm CMake package files are installed (header-only: architecture independent)")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/mimcm" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(TARGETS mimcm EXPORT mimcmTargets)
install(EXPORT mimcmTargets NAMESPACE mimcm:: DESTINATION "${MIMCM_CMAKE_DIR}")

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/mimcmConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/mimcmConfig.cmake" INSTALL_DESTINATION "${MIMCM_CMAKE_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/mimcmConfigVersion.cmake"
    COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/mimcmConfig.cmake" "${PROJECT_BINARY_DIR}/mimcmConfigVersion.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/mimcmDependencies.cmake"
        DESTINATION "${MIMCM_CMAKE_DIR}")
install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/mimcm")
