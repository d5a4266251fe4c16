# Header-only port of mimcm.
#
# The source is the source tree this port lives in (packaging/vcpkg/ports/mimcm -> the repository
# root), or MIMCM_SOURCE_DIR when it is set (pass it through with VCPKG_KEEP_ENV_VARS=MIMCM_SOURCE_DIR).
# For a port built from a release tarball instead (e.g. in a registry), replace this block with:
#
#   vcpkg_from_github(
#       OUT_SOURCE_PATH SOURCE_PATH
#       REPO <owner>/mimcm  # where the release is published
#       REF "v${VERSION}"
#       SHA512 <sha512 of the v${VERSION} tarball: `vcpkg hash <file>`, or 0 and copy it from the error>
#       HEAD_REF main
#   )
if(DEFINED ENV{MIMCM_SOURCE_DIR})
    set(SOURCE_PATH "$ENV{MIMCM_SOURCE_DIR}")
else()
    get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../../../.." ABSOLUTE)
endif()
if(NOT EXISTS "${SOURCE_PATH}/include/mimcm/mimcm.hpp")
    message(FATAL_ERROR "mimcm sources not found at ${SOURCE_PATH}")
endif()

set(VCPKG_BUILD_TYPE release) # header-only port

vcpkg_check_features(OUT_FEATURE_OPTIONS FEATURE_OPTIONS
    FEATURES
        curl MIMCM_WITH_CURL
        pcsc MIMCM_WITH_PCSC
)

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        ${FEATURE_OPTIONS}
        -DMIMCM_BUILD_TESTS=OFF
        -DMIMCM_BUILD_EXAMPLES=OFF
        -DMIMCM_INSTALL=ON
)

vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH share/mimcm/cmake)
vcpkg_fixup_pkgconfig()

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug" "${CURRENT_PACKAGES_DIR}/share/doc")

vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
