# Installs the headers, the compiled mode's source (share/mimcm/src/mimcm.cpp), a CMake package
# (find_package(mimcm CONFIG) gives mimcm::mimcm and mimcm::compiled) and a pkg-config file
# (mimcm.pc). Header-only: everything goes under the architecture-independent data directory.
include(CMakePackageConfigHelpers)

set(MIMCM_CMAKE_DIR "${CMAKE_INSTALL_DATADIR}/mimcm/cmake" CACHE STRING
    "Where the mimcm CMake package files are installed (header-only: architecture independent)")
set(MIMCM_PKGCONFIG_DIR "${CMAKE_INSTALL_DATADIR}/pkgconfig" CACHE STRING
    "Where mimcm.pc is installed")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/mimcm" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(FILES "${PROJECT_SOURCE_DIR}/src/mimcm.cpp" DESTINATION "${CMAKE_INSTALL_DATADIR}/mimcm/src")
install(TARGETS mimcm mimcm_compiled EXPORT mimcmTargets)
install(EXPORT mimcmTargets NAMESPACE mimcm:: DESTINATION "${MIMCM_CMAKE_DIR}")

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/mimcmConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/mimcmConfig.cmake" INSTALL_DESTINATION "${MIMCM_CMAKE_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/mimcmConfigVersion.cmake"
    COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/mimcmConfig.cmake" "${PROJECT_BINARY_DIR}/mimcmConfigVersion.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/mimcmDependencies.cmake"
        DESTINATION "${MIMCM_CMAKE_DIR}")

# mimcm.pc: the same dependencies as the package config, as configured. The include directory is
# found relative to the .pc file, so the installed tree can be moved.
set(MIMCM_PC_REQUIRES "RapidJSON")
set(MIMCM_PC_CFLAGS "")
set(MIMCM_PC_LIBS "")
if(MIMCM_WITH_CURL)
    string(APPEND MIMCM_PC_REQUIRES ", libcurl >= ${MIMCM_MIN_CURL_VERSION}")
else()
    string(APPEND MIMCM_PC_CFLAGS " -DMIMCM_NO_CURL")
endif()
if(NOT MIMCM_WITH_PCSC)
    string(APPEND MIMCM_PC_CFLAGS " -DMIMCM_NO_PCSC")
elseif(WIN32)
    string(APPEND MIMCM_PC_LIBS " -lwinscard")
elseif(APPLE)
    string(APPEND MIMCM_PC_LIBS " -framework PCSC")
else()
    string(APPEND MIMCM_PC_REQUIRES ", libpcsclite")
endif()
set(_mimcm_pc_dir "${MIMCM_PKGCONFIG_DIR}")
set(_mimcm_inc_dir "${CMAKE_INSTALL_INCLUDEDIR}")
foreach(_mimcm_d _mimcm_pc_dir _mimcm_inc_dir)
    if(NOT IS_ABSOLUTE "${${_mimcm_d}}")
        set(${_mimcm_d} "${CMAKE_INSTALL_PREFIX}/${${_mimcm_d}}")
    endif()
endforeach()
file(RELATIVE_PATH MIMCM_PC_INCLUDEDIR "${_mimcm_pc_dir}" "${_mimcm_inc_dir}")
configure_file("${PROJECT_SOURCE_DIR}/cmake/mimcm.pc.in" "${PROJECT_BINARY_DIR}/mimcm.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/mimcm.pc" DESTINATION "${MIMCM_PKGCONFIG_DIR}")

install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/mimcm")
