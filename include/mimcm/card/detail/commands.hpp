// The commands and answer checks the GIDS and PIV profiles share: SELECT, GET DATA, status word
// errors, admin responses and keys (checked, sent and wiped), GENERAL AUTHENTICATE templates.
// Not part of the public API.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mimcm/card/apdu.hpp"
#include "mimcm/card/profile.hpp"
#include "mimcm/card/tlv.hpp"
#include "mimcm/encoding.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::card {

namespace detail {

/// Status words with which a card says "no such applet" to SELECT.
inline bool applet_absent(std::uint16_t sw) noexcept {
    switch (sw) {
        case 0x6A82:  // file or application not found
        case 0x6A86:  // incorrect P1 P2
        case 0x6A81:  // function not supported
        case 0x6A88:  // referenced data not found
        case 0x6B00:  // wrong parameters P1 P2
        case 0x6D00:  // INS not supported
        case 0x6E00:  // CLA not supported
        case 0x6999:  // applet selection failed
            return true;
        default:
            return false;
    }
}

inline bool not_found(std::uint16_t sw) noexcept {
    return sw == 0x6A82 || sw == 0x6A88;
}

inline CardError status_error(std::string_view profile, std::string_view operation,
                              std::uint16_t sw) {
    return CardError("card::status_error", CardErrorCode::status,
                     std::string(profile) + ": " + std::string(operation) + " answered " +
                         sw_to_string(sw) + "; expected 9000",
                     sw);
}

inline void expect_ok(const ResponseApdu& response, std::string_view profile,
                      std::string_view operation) {
    if (!response.ok())
        throw status_error(profile, operation, response.sw());
}

/// GET DATA (INS CB) of data object `tag` in EF `ef`: 00 CB ef_hi ef_lo Lc 5C len tag 00.
inline CommandApdu get_data(std::uint16_t ef, std::uint32_t tag) {
    const Bytes tag_b = tlv::tag_bytes(tag);
    Bytes body{0x5C, static_cast<std::uint8_t>(tag_b.size())};
    body.insert(body.end(), tag_b.begin(), tag_b.end());
    return CommandApdu(0x00, 0xCB, static_cast<std::uint8_t>(ef >> 8),
                       static_cast<std::uint8_t>(ef & 0xFF), std::move(body), Le::max());
}

inline bool all_zero(const std::uint8_t* data, std::size_t size) {
    return std::all_of(data, data + size, [](std::uint8_t b) { return b == 0; });
}

/// A tag in uppercase hex ("DF20").
inline std::string hex_tag(std::uint32_t tag) {
    std::string out;
    for (const std::uint8_t b : tlv::tag_bytes(tag))
        mimcm::detail::append_hex(out, b, 2, mimcm::detail::HexCase::upper);
    return out;
}

/// SELECT of `aid`: false when the card has no such applet, else expects 9000.
inline bool select_applet(ApduChannel& channel, const std::uint8_t* aid, std::size_t size,
                          std::string_view profile, std::string_view applet) {
    const ResponseApdu selected =
        transmit(channel, CommandApdu::select_aid(Bytes(aid, aid + size)));
    if (applet_absent(selected.sw()))
        return false;
    expect_ok(selected, profile, "SELECT of the " + std::string(applet) + " applet");
    return true;
}

/// Command data `prefix || secret || suffix`, built in one buffer that never reallocates (so
/// no stray copy of the secret is left behind).
inline Bytes secret_data(std::initializer_list<std::uint8_t> prefix,
                         const std::vector<std::uint8_t>& secret,
                         std::initializer_list<std::uint8_t> suffix = {}) {
    Bytes data;
    data.reserve(prefix.size() + secret.size() + suffix.size());
    data.insert(data.end(), prefix.begin(), prefix.end());
    data.insert(data.end(), secret.begin(), secret.end());
    data.insert(data.end(), suffix.begin(), suffix.end());
    return data;
}

/// transmit() of a command that carries a secret; the command's data is wiped afterwards,
/// also when the channel throws.
inline ResponseApdu transmit_secret(ApduChannel& channel, CommandApdu command) {
    class Wipe {
      public:
        explicit Wipe(Bytes& data) noexcept : data_(data) {}
        Wipe(const Wipe&) = delete;
        Wipe& operator=(const Wipe&) = delete;
        ~Wipe() { secure_wipe(data_); }

      private:
        Bytes& data_;
    } wipe(command.data);
    return transmit(channel, command);
}

inline void check_admin_key(const SecretBytes& key, std::string_view profile) {
    if (key.size() != admin_key_size) {
        throw InvalidArgument("card::check_admin_key",
                              std::string(profile) + ": an admin key has " +
                                  std::to_string(admin_key_size) + " bytes (3DES), got " +
                                  std::to_string(key.size()));
    }
}

inline void check_admin_response(const SecretBytes& response, std::string_view profile) {
    if (response.size() != admin_response_size) {
        throw InvalidArgument("card::check_admin_response",
                              std::string(profile) + ": an admin challenge response has " +
                                  std::to_string(admin_response_size) + " bytes (3DES), got " +
                                  std::to_string(response.size()));
    }
}

/// Status words of an admin command that may need the admin authentication first.
inline CardError admin_command_error(std::string_view profile, std::string_view operation,
                                     std::uint16_t sw) {
    if (sw == 0x6982) {
        return CardError("card::admin_command_error", CardErrorCode::not_authenticated,
                         std::string(profile) + ": " + std::string(operation) +
                             " answered 6982 (security status not satisfied): authenticate as "
                             "admin first, in the same card session (a SELECT or reset in "
                             "between logs the admin out)",
                         sw);
    }
    return status_error(profile, operation, sw);
}

/// The answer to an admin challenge response. `refused` lists the status words with which this
/// card family says "wrong response".
inline void expect_admin_accepted(const ResponseApdu& answer, std::string_view profile,
                                  std::string_view operation,
                                  std::initializer_list<std::uint16_t> refused) {
    const std::uint16_t sw = answer.sw();
    if (answer.ok())
        return;
    if (sw == 0x6985) {
        throw CardError("card::expect_admin_accepted", CardErrorCode::challenge_expired,
                        std::string(profile) + ": " + std::string(operation) +
                            " answered 6985: the card has no pending challenge (it was reset or "
                            "powered down since it was read, or the challenge was used): read the "
                            "card again for a fresh challenge and ask the server for a new "
                            "response",
                        sw);
    }
    if (sw == 0x6983) {
        throw CardError("card::expect_admin_accepted", CardErrorCode::admin_auth_failed,
                        std::string(profile) + ": " + std::string(operation) +
                            " answered 6983: the admin key is blocked",
                        sw);
    }
    bool wrong = (sw & 0xFFF0) == 0x63C0;
    for (const std::uint16_t r : refused)
        wrong = wrong || sw == r;
    if (wrong) {
        throw CardError("card::expect_admin_accepted", CardErrorCode::admin_auth_failed,
                        std::string(profile) + ": the card refused the admin challenge response (" +
                            std::string(operation) + " answered " + sw_to_string(sw) +
                            "): it does not match the card's admin key and challenge (another "
                            "card's response, the wrong key on the server, or diversified "
                            "true/false mixed up?)",
                        sw);
    }
    throw status_error(profile, operation, sw);
}

/// Status words with which a card says "I do not know this command" (INS, CLA, function or
/// parameters): the signal to fall back to another command.
inline bool command_refused(std::uint16_t sw) noexcept {
    return sw == 0x6D00 || sw == 0x6E00 || sw == 0x6A81 || sw == 0x6A86 || sw == 0x6B00;
}

/// `size` random bytes (std::random_device: the operating system's generator).
inline Bytes random_bytes(std::size_t size) {
    std::random_device device;
    Bytes out;
    out.reserve(size);
    while (out.size() < size) {
        auto word = static_cast<std::uint32_t>(device());
        for (int i = 0; i < 4 && out.size() < size; ++i, word >>= 8)
            out.push_back(static_cast<std::uint8_t>(word & 0xFF));
    }
    return out;
}

/// The value of `tag` (exactly `size` bytes) inside the dynamic authentication template
/// `7C L { ... }` of a GENERAL AUTHENTICATE answer; CardError{malformed} naming `what`.
inline Bytes template_value(const Bytes& response, std::uint32_t tag, std::size_t size,
                            const std::string& what) {
    const auto outer = tlv::parse(response, what);
    const tlv::Item* templ = tlv::find(outer, 0x7C);
    if (!templ)
        throw CardError("card::template_value", CardErrorCode::malformed,
                        what + " did not return template 7C");
    const auto inner = tlv::parse(templ->value, what + " template 7C");
    const tlv::Item* value = tlv::find(inner, tag);
    if (!value || value->value.size() != size) {
        throw CardError("card::template_value", CardErrorCode::malformed,
                        what + " has no " + std::to_string(size) + "-byte tag " + hex_tag(tag) +
                            " in template 7C");
    }
    return value->value;
}

/// Constant-time comparison of equal-sized buffers.
inline bool same_bytes(const Bytes& a, const Bytes& b) noexcept {
    if (a.size() != b.size())
        return false;
    std::uint8_t diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff = static_cast<std::uint8_t>(diff | (a[i] ^ b[i]));
    return diff == 0;
}

/// The card answered a mutual authentication with a cryptogram of another key.
inline CardError card_proof_wrong(std::string_view profile) {
    return CardError("card::card_proof_wrong", CardErrorCode::admin_auth_failed,
                     std::string(profile) +
                         ": the card's answer to the mutual authentication does not match the "
                         "admin key given: the card does not hold this key");
}

/// An 8-byte challenge in `7C L { 81 08 <8 bytes> }` (tag 80 accepted too), naming `profile`.
inline Bytes challenge_from_template(const Bytes& response, std::string_view profile) {
    const std::string p(profile);
    const auto outer = tlv::parse(response, p + ": GENERAL AUTHENTICATE response");
    const tlv::Item* templ = tlv::find(outer, 0x7C);
    if (!templ)
        throw CardError("card::challenge_from_template", CardErrorCode::malformed,
                        p + ": GENERAL AUTHENTICATE did not return template 7C");
    const auto inner = tlv::parse(templ->value, p + ": GENERAL AUTHENTICATE template 7C");
    const tlv::Item* value = tlv::find(inner, 0x81);
    if (!value)
        value = tlv::find(inner, 0x80);
    if (!value) {
        throw CardError("card::challenge_from_template", CardErrorCode::malformed,
                        p + ": GENERAL AUTHENTICATE template 7C has no challenge (tag 81 or 80)");
    }
    if (value->value.size() != admin_response_size) {
        throw CardError("card::challenge_from_template", CardErrorCode::malformed,
                        p + ": GENERAL AUTHENTICATE returned a " +
                            std::to_string(value->value.size()) +
                            "-byte challenge; expected 8 (3DES admin key)");
    }
    return value->value;
}

}  // namespace detail

}  // namespace mimcm::card
