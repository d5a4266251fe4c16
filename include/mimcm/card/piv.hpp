// The NIST PIV profile: card id = CHUID GUID (tag 34); challenge and response by GENERAL
// AUTHENTICATE on the 9B management key (3DES only); admin key by the Yubico SET MANAGEMENT KEY
// extension; PIN reset with the PUK.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "mimcm/card/apdu.hpp"
#include "mimcm/card/des.hpp"
#include "mimcm/card/detail/commands.hpp"
#include "mimcm/card/profile.hpp"
#include "mimcm/card/tlv.hpp"
#include "mimcm/encoding.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::card {

/// NIST SP 800-73-4 PIV applet.
/// Threads: one thread at a time; movable, not copyable.
class PivProfile : public CardProfile {
  public:
    static constexpr std::array<std::uint8_t, 9> aid{0xA0, 0x00, 0x00, 0x03, 0x08,
                                                     0x00, 0x00, 0x10, 0x00};
    static constexpr std::uint32_t chuid_tag = 0x5FC102;

    /// The card management key (9B) and the algorithm ids of SP 800-78-4.
    static constexpr std::uint8_t management_key = 0x9B;
    static constexpr std::uint8_t algorithm_3des = 0x03;
    static constexpr std::uint8_t algorithm_aes128 = 0x08;
    static constexpr std::uint8_t algorithm_aes192 = 0x0A;
    static constexpr std::uint8_t algorithm_aes256 = 0x0C;
    /// The PIN and PUK: 6 to 8 bytes, padded with FF to 8 on the wire.
    static constexpr std::size_t min_pin_size = 6;
    static constexpr std::size_t max_pin_size = 8;

    PivProfile() = default;
    /// Moving hands over what the profile learnt about its card (the management key's
    /// algorithm); the moved-from profile is like a new one.
    PivProfile(PivProfile&& other) noexcept
        : CardProfile(std::move(other)),
          metadata_read_(std::exchange(other.metadata_read_, false)),
          algorithm_(std::exchange(other.algorithm_, std::nullopt)) {}
    PivProfile& operator=(PivProfile&& other) noexcept {
        CardProfile::operator=(std::move(other));
        metadata_read_ = std::exchange(other.metadata_read_, false);
        algorithm_ = std::exchange(other.algorithm_, std::nullopt);
        return *this;
    }
    ~PivProfile() override = default;

    [[nodiscard]] std::string_view name() const override { return "piv"; }

    bool select(ApduChannel& channel) override {
        return detail::select_applet(channel, aid.data(), aid.size(), "PIV", "PIV");
    }

    /// GET DATA of the CHUID; the card id is its GUID (tag 34).
    std::array<std::uint8_t, 16> read_card_id(ApduChannel& channel) override {
        const ResponseApdu chuid = transmit(channel, detail::get_data(0x3FFF, chuid_tag));
        if (detail::not_found(chuid.sw())) {
            throw CardError(CardErrorCode::missing_card_id,
                            "PIV: GET DATA of the CHUID (5FC102) answered " +
                                sw_to_string(chuid.sw()) +
                                "; the card has no CHUID, so no CHUID GUID to use as the card "
                                "id: write a CHUID with a unique GUID (tag 34) first",
                            chuid.sw());
        }
        detail::expect_ok(chuid, "PIV", "GET DATA of the CHUID (5FC102)");
        return card_id_from_chuid(chuid.data);
    }

    /// The algorithm of the 9B management key, once per session: GET METADATA
    /// 00 F7 00 9B 00 (YubiKey 5.3+) -> 01 01 <alg> ...; std::nullopt when the card does not
    /// offer GET METADATA.
    std::optional<std::uint8_t> management_key_algorithm(ApduChannel& channel) {
        if (!metadata_read_) {
            const ResponseApdu answer =
                transmit(channel, CommandApdu(0x00, 0xF7, 0x00, management_key, Le::max()));
            if (answer.ok()) {
                const auto items = tlv::parse(answer.data, "PIV: GET METADATA of key 9B");
                const tlv::Item* alg = tlv::find(items, 0x01);
                if (!alg || alg->value.size() != 1) {
                    throw CardError(CardErrorCode::malformed,
                                    "PIV: GET METADATA of key 9B has no algorithm (tag 01)");
                }
                algorithm_ = alg->value[0];
            } else if (!detail::command_refused(answer.sw()) && !detail::not_found(answer.sw())) {
                throw detail::status_error("PIV", "GET METADATA of key 9B", answer.sw());
            }
            metadata_read_ = true;
        }
        return algorithm_;
    }

    /// GENERAL AUTHENTICATE 00 87 03 9B 04 7C 02 81 00 00 -> 7C 0A 81 08 <challenge>, after
    /// checking the management key is 3DES (GET METADATA where the card has it). An AES
    /// management key (YubiKey 5.7+ default: AES-192, 0A), or a card refusing algorithm 03
    /// with 6A80: CardError{not_supported} (the CM admin key is 3DES with 8-byte challenges).
    Bytes get_challenge(ApduChannel& channel) override {
        if (const auto alg = management_key_algorithm(channel); alg && *alg != algorithm_3des)
            throw not_3des("GET METADATA says its algorithm is " + algorithm_name(*alg));
        const ResponseApdu answer =
            transmit(channel, CommandApdu(0x00, 0x87, algorithm_3des, management_key,
                                          Bytes{0x7C, 0x02, 0x81, 0x00}, Le::max()));
        if (answer.sw() == 0x6A80 || answer.sw() == 0x6A86)
            throw not_3des("GENERAL AUTHENTICATE with algorithm 03 answered " +
                           sw_to_string(answer.sw()));
        detail::expect_ok(answer, "PIV", "GENERAL AUTHENTICATE (challenge for key 9B)");
        return challenge_from_response(answer.data);
    }

    /// GENERAL AUTHENTICATE 00 87 03 9B 0C 7C 0A 82 08 <response>. 6A80 (PivApplet, YubiKey:
    /// wrong response, or no pending challenge): CardError{admin_auth_refused}; 69 82:
    /// {admin_auth_failed}; 69 85: {challenge_expired}.
    void authenticate_admin(ApduChannel& channel, const SecretBytes& response) override {
        detail::check_admin_response(response, "PIV");
        const ResponseApdu answer = detail::transmit_secret(
            channel, CommandApdu(0x00, 0x87, algorithm_3des, management_key,
                                 detail::secret_data({0x7C, 0x0A, 0x82, 0x08}, response.reveal())));
        if (answer.sw() == 0x6A80) {
            throw CardError(CardErrorCode::admin_auth_refused,
                            "PIV: the card refused the admin challenge response (GENERAL "
                            "AUTHENTICATE for key 9B answered 6A80): either the response does "
                            "not match the card's management key (another card's response, the "
                            "wrong key on the server, diversified true/false mixed up), or the "
                            "challenge expired (card reset or applet selected again): read the "
                            "card again for a fresh challenge",
                            answer.sw());
        }
        detail::expect_admin_accepted(answer, "PIV", "GENERAL AUTHENTICATE (response for key 9B)",
                                      {0x6982});
    }

    /// Mutual authentication with the 3DES management key (what yubico-piv-tool does):
    /// 7C 02 80 00 -> 7C 0A 80 08 <E(K, witness)>; 7C 14 80 08 <witness> 81 08 <C>
    /// -> 7C 0A 82 08 <E(K, C)>, which is checked. 6A80: CardError{admin_auth_refused}.
    void authenticate_admin_with_key(ApduChannel& channel, const SecretBytes& key) override {
        detail::check_admin_key(key, "PIV");
        if (const auto alg = management_key_algorithm(channel); alg && *alg != algorithm_3des)
            throw not_3des("GET METADATA says its algorithm is " + algorithm_name(*alg));
        const ResponseApdu first =
            transmit(channel, CommandApdu(0x00, 0x87, algorithm_3des, management_key,
                                          Bytes{0x7C, 0x02, 0x80, 0x00}, Le::max()));
        if (first.sw() == 0x6A80 || first.sw() == 0x6A86)
            throw not_3des("GENERAL AUTHENTICATE with algorithm 03 answered " +
                           sw_to_string(first.sw()));
        detail::expect_ok(first, "PIV", "GENERAL AUTHENTICATE (mutual, witness for key 9B)");
        Bytes witness = des3_cbc(
            key, detail::template_value(first.data, 0x80, 8, "PIV: GENERAL AUTHENTICATE witness"),
            CipherDirection::decrypt);
        const Bytes challenge = detail::random_bytes(8);
        Bytes body{0x7C, 0x14, 0x80, 0x08};
        body.insert(body.end(), witness.begin(), witness.end());
        secure_wipe(witness);
        body.push_back(0x81);
        body.push_back(0x08);
        body.insert(body.end(), challenge.begin(), challenge.end());
        const ResponseApdu answer = detail::transmit_secret(
            channel,
            CommandApdu(0x00, 0x87, algorithm_3des, management_key, std::move(body), Le::max()));
        if (answer.sw() == 0x6A80) {
            throw CardError(CardErrorCode::admin_auth_refused,
                            "PIV: the card refused the mutual authentication (GENERAL "
                            "AUTHENTICATE for key 9B answered 6A80): the card does not hold "
                            "this management key",
                            answer.sw());
        }
        detail::expect_admin_accepted(answer, "PIV", "GENERAL AUTHENTICATE (mutual, key 9B)",
                                      {0x6982});
        const Bytes expected = des3_cbc(key, challenge);
        if (!detail::same_bytes(
                detail::template_value(answer.data, 0x82, 8, "PIV: GENERAL AUTHENTICATE answer"),
                expected))
            throw detail::card_proof_wrong("PIV");
    }

    /// SET MANAGEMENT KEY, the Yubico PIV extension (no NIST command exists):
    /// 00 FF FF FF 1B 03 9B 18 <24-byte key> (P2 FF: no touch policy). A card without the
    /// extension (6D00): CardError{not_supported}.
    void set_admin_key(ApduChannel& channel, const SecretBytes& key) override {
        detail::check_admin_key(key, "PIV");
        const ResponseApdu answer = detail::transmit_secret(
            channel,
            CommandApdu(0x00, 0xFF, 0xFF, 0xFF,
                        detail::secret_data({algorithm_3des, management_key, 0x18}, key.reveal())));
        if (answer.sw() == 0x6D00) {
            throw CardError(CardErrorCode::not_supported,
                            "PIV: the card does not support SET MANAGEMENT KEY (the Yubico "
                            "extension INS FF answered 6D00)",
                            answer.sw());
        }
        if (!answer.ok())
            throw detail::admin_command_error("PIV", "SET MANAGEMENT KEY (9B)", answer.sw());
    }

    /// RESET RETRY COUNTER 00 2C 00 80 10 <PUK, FF-padded to 8> <new PIN, FF-padded to 8>.
    /// PUK and PIN have 6 to 8 bytes (std::invalid_argument, nothing sent). 63 Cx, 63 00 (wrong
    /// PUK) and 69 83 (PUK blocked): CardError{puk_refused}.
    void reset_pin_with_puk(ApduChannel& channel, const SecretString& puk,
                            const SecretString& pin) override {
        check_pin(puk, "PUK");
        check_pin(pin, "PIN");
        Bytes data;
        data.reserve(2 * max_pin_size);
        for (const SecretString* value : {&puk, &pin}) {
            const std::string_view text = value->reveal();
            for (const char c : text)
                data.push_back(static_cast<std::uint8_t>(c));
            data.insert(data.end(), max_pin_size - text.size(), 0xFF);
        }
        const ResponseApdu answer =
            detail::transmit_secret(channel, CommandApdu(0x00, 0x2C, 0x00, 0x80, std::move(data)));
        const std::uint16_t sw = answer.sw();
        if (answer.ok())
            return;
        if ((sw & 0xFFF0) == 0x63C0 || sw == 0x6300) {
            throw CardError(CardErrorCode::puk_refused,
                            "PIV: the card refused the PUK (RESET RETRY COUNTER answered " +
                                sw_to_string(sw) +
                                (sw == 0x6300 ? std::string()
                                              : ": " + std::to_string(sw & 0x0F) + " tries left") +
                                "); the PIN is unchanged",
                            sw);
        }
        if (sw == 0x6983) {
            throw CardError(CardErrorCode::puk_refused,
                            "PIV: the PUK is blocked (RESET RETRY COUNTER answered 6983); the PIN "
                            "is unchanged",
                            sw);
        }
        throw detail::status_error("PIV", "RESET RETRY COUNTER of the PIN", sw);
    }

    /// std::invalid_argument unless `value` has 6 to 8 bytes.
    static void check_pin(const SecretString& value, std::string_view what) {
        if (value.size() < min_pin_size || value.size() > max_pin_size) {
            throw std::invalid_argument(
                "PIV: a " + std::string(what) + " has " + std::to_string(min_pin_size) + " to " +
                std::to_string(max_pin_size) + " bytes, got " + std::to_string(value.size()));
        }
    }

    [[nodiscard]] bool supports(CardOperation operation) const override {
        return operation != CardOperation::set_pin_with_admin_key;
    }

    /// The GUID (tag 34) of a CHUID response `53 L { ... 34 10 GUID ... }`.
    /// Throws CardError{missing_card_id} when it is absent or all zero, {malformed} otherwise.
    static std::array<std::uint8_t, 16> card_id_from_chuid(const Bytes& response) {
        const auto outer = tlv::parse(response, "PIV: CHUID");
        const tlv::Item* container = tlv::find(outer, 0x53);
        if (!container) {
            throw CardError(CardErrorCode::malformed,
                            "PIV: GET DATA of the CHUID did not return tag 53");
        }
        const auto inner = tlv::parse(container->value, "PIV: CHUID contents");
        const tlv::Item* guid = tlv::find(inner, 0x34);
        if (!guid) {
            throw CardError(CardErrorCode::missing_card_id,
                            "PIV: the CHUID has no GUID (tag 34); the card id is the CHUID GUID: "
                            "write a CHUID with a unique GUID first");
        }
        if (guid->value.size() != 16) {
            throw CardError(CardErrorCode::malformed, "PIV: the CHUID GUID has " +
                                                          std::to_string(guid->value.size()) +
                                                          " bytes; expected 16");
        }
        if (detail::all_zero(guid->value.data(), guid->value.size())) {
            throw CardError(CardErrorCode::missing_card_id,
                            "PIV: the CHUID GUID (tag 34) is all zero, so the card has no card "
                            "id: write a CHUID with a unique GUID first");
        }
        std::array<std::uint8_t, 16> id{};
        std::copy(guid->value.begin(), guid->value.end(), id.begin());
        return id;
    }

    /// The challenge in a GENERAL AUTHENTICATE response `7C L { 81|80 08 <8 bytes> }`.
    static Bytes challenge_from_response(const Bytes& response) {
        return detail::challenge_from_template(response, "PIV");
    }

  private:
    static std::string algorithm_name(std::uint8_t alg) {
        switch (alg) {
            case algorithm_3des:
                return "03 (3DES)";
            case algorithm_aes128:
                return "08 (AES-128)";
            case algorithm_aes192:
                return "0A (AES-192)";
            case algorithm_aes256:
                return "0C (AES-256)";
            default:
                return to_hex(&alg, 1);
        }
    }

    static CardError not_3des(const std::string& evidence) {
        return CardError(CardErrorCode::not_supported,
                         "PIV: the card management key (9B) is not a 3DES key (" + evidence +
                             "); the MIM CM admin key is 3DES with 8-byte challenges: give the "
                             "card a 3DES management key first (e.g. YubiKey 5.7 and later "
                             "ship an AES-192 one)");
    }

    bool metadata_read_ = false;
    std::optional<std::uint8_t> algorithm_;
};

}  // namespace mimcm::card
