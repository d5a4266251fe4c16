#pragma once

#include <string_view>

#define MIMCM_VERSION_MAJOR 0
#define MIMCM_VERSION_MINOR 1
#define MIMCM_VERSION_PATCH 0

namespace mimcm {
inline constexpr std::string_view version_string = "0.1.0";
}  // namespace mimcm
