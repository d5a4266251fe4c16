// Which sanitizers the test executable was built with (CMake option MIMCM_SANITIZE), for the few
// tests whose measurement a sanitizer changes.
#pragma once

namespace mimcm_test {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool address_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool address_sanitizer = true;
#else
inline constexpr bool address_sanitizer = false;
#endif
#else
inline constexpr bool address_sanitizer = false;
#endif

}  // namespace mimcm_test
