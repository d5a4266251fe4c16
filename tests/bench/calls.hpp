// The benchmarks' only contact with mimcm's client API: one call of each operation, checked
// against what tests/bench/run.sh's server answers. bench_calls.cpp and the compile-cost
// translation unit use these.
#pragma once

#include <string_view>
#include <variant>
#include <vector>

#include "bench_data.hpp"
#include "mimcm/core.hpp"
#include "mimcm/transport/curl.hpp"

namespace mimcm_bench {

/// The card data the seed operation sends.
inline mimcm::CardData bench_card_data() {
    return mimcm::CardData{mimcm::Atr::from_hex(kAtr), mimcm::CardId::from_guid(kCardId),
                           mimcm::Challenge::from_base64(kChallenge)};
}

inline bool call_seed(mimcm::Client& client, const mimcm::SmartcardId& smartcard,
                      const mimcm::CardData& card) {
    const auto result = client.server_proposed_pin(smartcard, card);
    const auto* proposed = result ? std::get_if<mimcm::PinProposed>(&*result) : nullptr;
    return proposed != nullptr && proposed->pin.reveal() == kPin;
}

inline bool call_list(mimcm::Client& client) {
    const auto result = client.list_profile_templates();
    const auto* list = result ? &*result : nullptr;
    return list != nullptr && list->size() == kTemplateCount && list->back().uuid &&
           list->back().uuid->str() == kLastTemplate && list->back().is_smartcard;
}

}  // namespace mimcm_bench
