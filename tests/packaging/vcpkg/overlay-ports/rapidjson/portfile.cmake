# Test fixture: an empty package; the system's development package provides the library and its
# CMake or pkg-config files.
set(VCPKG_POLICY_EMPTY_PACKAGE enabled)
