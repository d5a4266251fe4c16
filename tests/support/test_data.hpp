// Values the tests share: the documented example card, and fresh smart card ids.
#pragma once

#include <cstdio>
#include <random>
#include <string>

#include "mimcm/identifiers.hpp"

namespace mimcm_test {

/// The card of the CM docs' examples: ATR of a Microsoft virtual smart card, card id
/// bc88f13f-..., challenge 1hFD+cz/0so= (d61143f9ccffd2ca).
inline mimcm::CardData docs_card() {
    return mimcm::CardData{mimcm::Atr::from_hex("3b8d0180fba000000397425446590301c8"),
                           mimcm::CardId::from_guid("bc88f13f-83ba-4037-8262-46eba1291c6e"),
                           mimcm::Challenge::from_base64("1hFD+cz/0so=")};
}

/// A random smart card id, so outcomes configured on the shared emulator by one test never
/// reach another.
inline std::string fresh_smartcard_id() {
    static std::mt19937_64 rng(std::random_device{}());
    char text[37];
    const auto a = rng(), b = rng();
    std::snprintf(text, sizeof text, "%08x-%04x-4%03x-8%03x-%012llx",
                  static_cast<unsigned>(a >> 32), static_cast<unsigned>((a >> 16) & 0xffff),
                  static_cast<unsigned>(a & 0xfff), static_cast<unsigned>((b >> 48) & 0xfff),
                  static_cast<unsigned long long>(b & 0xffffffffffffULL));
    return text;
}

}  // namespace mimcm_test
