// mimcm's version: the one place it is written. CMake reads these three lines for the project's
// version (the package config, mimcm.pc); tests check that they agree.
// Threads: constants only.
#pragma once

#include <string_view>

#define MIMCM_VERSION_MAJOR 0
#define MIMCM_VERSION_MINOR 1
#define MIMCM_VERSION_PATCH 0

#define MIMCM_DETAIL_STRINGIFY2(x) #x
#define MIMCM_DETAIL_STRINGIFY(x) MIMCM_DETAIL_STRINGIFY2(x)
/// "MAJOR.MINOR.PATCH", as a string literal.
#define MIMCM_VERSION_STRING                    \
    MIMCM_DETAIL_STRINGIFY(MIMCM_VERSION_MAJOR) \
    "." MIMCM_DETAIL_STRINGIFY(MIMCM_VERSION_MINOR) "." MIMCM_DETAIL_STRINGIFY(MIMCM_VERSION_PATCH)

namespace mimcm {
inline constexpr std::string_view version_string = MIMCM_VERSION_STRING;
}  // namespace mimcm
