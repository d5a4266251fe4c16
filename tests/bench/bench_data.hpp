// What tests/bench/run.sh's server answers, and what the benchmarks send.
#pragma once

#include <cstddef>
#include <string_view>

namespace mimcm_bench {

inline constexpr std::string_view kPin = "12345678";
inline constexpr std::string_view kSmartcard = "17cf063d-e337-4aa9-a822-346554ddd3c9";
inline constexpr std::string_view kAtr = "3b8d0180fba000000397425446590301c8";
inline constexpr std::string_view kCardId = "bc88f13f-83ba-4037-8262-46eba1291c6e";
inline constexpr std::string_view kChallenge = "1hFD+cz/0so=";
// The templates the server answers (run.sh serves the same JSON): 3 entries, checked by uuid.
inline constexpr std::size_t kTemplateCount = 3;
inline constexpr std::string_view kLastTemplate = "5c3e4c1a-0d4f-4f7e-9b3a-0c1d2e3f4a5b";

}  // namespace mimcm_bench
