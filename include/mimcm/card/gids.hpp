// The Microsoft GIDS profile (TPM virtual smart cards, GIDS applets): card id from the "cardid"
// file named by the master file table; admin challenge and response by MSE SET + GENERAL
// AUTHENTICATE on the admin key 80 (GET CHALLENGE + EXTERNAL AUTHENTICATE only for a card that
// refuses those); admin key by PUT DATA; user PIN by RESET RETRY COUNTER with the admin rights.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mimcm/card/apdu.hpp"
#include "mimcm/card/des.hpp"
#include "mimcm/card/detail/commands.hpp"
#include "mimcm/card/profile.hpp"
#include "mimcm/card/tlv.hpp"
#include "mimcm/encoding.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::card {

/// One record of the GIDS master file table.
/// Threads: a plain value; concurrent reads are safe.
struct GidsFileRecord {
    std::string directory;        ///< "" for the root, e.g. "mscp"
    std::string file;             ///< e.g. "cardid", "cardapps"
    std::uint32_t data_object{};  ///< DO tag, e.g. 0xDF20
    std::uint32_t ef{};           ///< EF id, e.g. 0xA012
};

/// Microsoft GIDS applet.
/// Threads: one thread at a time; movable, not copyable.
class GidsProfile : public CardProfile {
  public:
    /// The GIDS AID without its 2 version bytes (what the minidriver selects).
    static constexpr std::array<std::uint8_t, 9> aid{0xA0, 0x00, 0x00, 0x03, 0x97,
                                                     0x42, 0x54, 0x46, 0x59};
    static constexpr std::uint32_t master_file_do = 0xDF1F;
    static constexpr std::uint16_t master_file_ef = 0xA000;
    static constexpr std::size_t record_size = 28;

    /// The admin key reference (EF B080, key 80, 3DES).
    static constexpr std::uint8_t admin_key_reference = 0x80;
    /// The user PIN reference.
    static constexpr std::uint8_t pin_reference = 0x80;
    static constexpr std::size_t min_pin_size = 4;
    static constexpr std::size_t max_pin_size = 16;

    /// How the card gives its admin challenge.
    enum class ChallengeMethod {
        general_authenticate,  ///< MSE SET + GENERAL AUTHENTICATE (the GIDS card edge)
        get_challenge,         ///< GET CHALLENGE + EXTERNAL AUTHENTICATE (cards without the above)
    };

    GidsProfile() = default;
    /// Moving hands over what the profile learnt about its card (the challenge method); the
    /// moved-from profile is like a new one.
    GidsProfile(GidsProfile&& other) noexcept
        : CardProfile(std::move(other)),
          method_(std::exchange(other.method_, ChallengeMethod::general_authenticate)) {}
    GidsProfile& operator=(GidsProfile&& other) noexcept {
        CardProfile::operator=(std::move(other));
        method_ = std::exchange(other.method_, ChallengeMethod::general_authenticate);
        return *this;
    }
    ~GidsProfile() override = default;

    [[nodiscard]] std::string_view name() const override { return "gids"; }

    bool select(ApduChannel& channel) override {
        return detail::select_applet(channel, aid.data(), aid.size(), "GIDS", "GIDS");
    }

    /// Master file table, then the "cardid" file it names (GET DATA only).
    std::array<std::uint8_t, 16> read_card_id(ApduChannel& channel) override {
        const ResponseApdu table =
            transmit(channel, detail::get_data(master_file_ef, master_file_do));
        detail::expect_ok(table, "GIDS", "GET DATA of the master file table");
        const auto records = parse_master_file(table.data);
        const GidsFileRecord* entry = nullptr;
        for (const auto& record : records) {
            if (record.directory.empty() && record.file == "cardid") {
                entry = &record;
                break;
            }
        }
        if (!entry) {
            throw CardError(CardErrorCode::missing_card_id,
                            "GIDS: the master file table (" + std::to_string(records.size()) +
                                " records) has no entry for file \"cardid\" in the root directory");
        }
        if (entry->ef > 0xFFFF || entry->data_object == 0 || entry->data_object > 0xFFFFFF) {
            throw CardError(CardErrorCode::malformed,
                            "GIDS: the master file table names an invalid location for "
                            "\"cardid\" (EF " +
                                std::to_string(entry->ef) + ", DO " +
                                std::to_string(entry->data_object) + ")");
        }

        const auto ef = static_cast<std::uint16_t>(entry->ef);
        const std::string where = "GET DATA of cardid (EF " + sw_to_string(ef) + ", DO " +
                                  detail::hex_tag(entry->data_object) + ")";
        const ResponseApdu cardid = transmit(channel, detail::get_data(ef, entry->data_object));
        if (detail::not_found(cardid.sw())) {
            throw CardError(CardErrorCode::missing_card_id,
                            "GIDS: " + where + " answered " + sw_to_string(cardid.sw()) +
                                "; the card has no card id",
                            cardid.sw());
        }
        detail::expect_ok(cardid, "GIDS", where);
        const auto items = tlv::parse(cardid.data, "GIDS: " + where);
        const tlv::Item* value = tlv::find(items, entry->data_object);
        if (!value) {
            throw CardError(CardErrorCode::malformed, "GIDS: " + where + " did not return tag " +
                                                          detail::hex_tag(entry->data_object));
        }
        if (value->value.size() != 16) {
            throw CardError(
                CardErrorCode::malformed,
                "GIDS: cardid has " + std::to_string(value->value.size()) + " bytes; expected 16");
        }
        if (detail::all_zero(value->value.data(), value->value.size())) {
            throw CardError(CardErrorCode::missing_card_id,
                            "GIDS: cardid is all zero; the card was never given a card id");
        }

        std::array<std::uint8_t, 16> id{};
        std::copy(value->value.begin(), value->value.end(), id.begin());
        return id;
    }

    /// MSE SET 00 22 81 A4 03 83 01 80 (external authentication, admin key 80), then GENERAL
    /// AUTHENTICATE 00 87 00 00 04 7C 02 81 00 00 -> 7C 0A 81 08 <challenge>. A card that
    /// refuses either command (6D00, 6E00, 6A81, 6A86, 6B00) is asked GET CHALLENGE
    /// 00 84 00 00 08 instead, and answered with EXTERNAL AUTHENTICATE.
    Bytes get_challenge(ApduChannel& channel) override {
        const ResponseApdu mse = transmit(
            channel, CommandApdu(0x00, 0x22, 0x81, 0xA4, Bytes{0x83, 0x01, admin_key_reference}));
        if (detail::command_refused(mse.sw()))
            return legacy_challenge(channel);
        detail::expect_ok(mse, "GIDS", "MSE SET (external authentication, admin key 80)");
        const ResponseApdu answer = transmit(
            channel, CommandApdu(0x00, 0x87, 0x00, 0x00, Bytes{0x7C, 0x02, 0x81, 0x00}, Le::max()));
        if (detail::command_refused(answer.sw()))
            return legacy_challenge(channel);
        detail::expect_ok(answer, "GIDS", "GENERAL AUTHENTICATE (challenge for admin key 80)");
        method_ = ChallengeMethod::general_authenticate;
        return detail::challenge_from_template(answer.data, "GIDS");
    }

    /// The command of the last get_challenge() (general_authenticate before any).
    [[nodiscard]] ChallengeMethod challenge_method() const noexcept { return method_; }

    /// GENERAL AUTHENTICATE 00 87 00 00 0C 7C 0A 82 08 <response> (or, after GET CHALLENGE,
    /// EXTERNAL AUTHENTICATE 00 82 00 80 08 <response>). 69 82, 63 00, 63 Cx:
    /// CardError{admin_auth_failed}; 69 85: CardError{challenge_expired}.
    void authenticate_admin(ApduChannel& channel, const SecretBytes& response) override {
        detail::check_admin_response(response, "GIDS");
        if (method_ == ChallengeMethod::get_challenge) {
            const ResponseApdu answer = detail::transmit_secret(
                channel, CommandApdu(0x00, 0x82, 0x00, admin_key_reference,
                                     detail::secret_data({}, response.reveal())));
            detail::expect_admin_accepted(answer, "GIDS", "EXTERNAL AUTHENTICATE (admin key 80)",
                                          {0x6300, 0x6982});
            return;
        }
        const ResponseApdu answer = detail::transmit_secret(
            channel, CommandApdu(0x00, 0x87, 0x00, 0x00,
                                 detail::secret_data({0x7C, 0x0A, 0x82, 0x08}, response.reveal())));
        detail::expect_admin_accepted(
            answer, "GIDS", "GENERAL AUTHENTICATE (response for admin key 80)", {0x6300, 0x6982});
    }

    /// Mutual authentication with the admin key (what OpenSC's gids-tool does): MSE SET
    /// 00 22 C1 A4 03 83 01 80; GENERAL AUTHENTICATE 7C 12 81 10 <R1> -> 7C 12 81 10 <R2>;
    /// 7C 2A 82 28 <3DES-CBC(K, R2 R1 Z1)> -> 7C 2A 82 28 <3DES-CBC(K, R1 R2 Z2)>, zero IV,
    /// 16-byte randoms, Z = 7 random bytes + 80. The card's answer is checked too.
    void authenticate_admin_with_key(ApduChannel& channel, const SecretBytes& key) override {
        detail::check_admin_key(key, "GIDS");
        const ResponseApdu mse = transmit(
            channel, CommandApdu(0x00, 0x22, 0xC1, 0xA4, Bytes{0x83, 0x01, admin_key_reference}));
        detail::expect_ok(mse, "GIDS", "MSE SET (mutual authentication, admin key 80)");
        const Bytes host_random = detail::random_bytes(16);
        Bytes ask{0x7C, 0x12, 0x81, 0x10};
        ask.insert(ask.end(), host_random.begin(), host_random.end());
        const ResponseApdu first =
            transmit(channel, CommandApdu(0x00, 0x87, 0x00, 0x00, std::move(ask), Le::max()));
        detail::expect_ok(first, "GIDS", "GENERAL AUTHENTICATE (mutual, card random)");
        const Bytes card_random = detail::template_value(
            first.data, 0x81, 16, "GIDS: GENERAL AUTHENTICATE (mutual, card random)");
        Bytes plain = card_random;
        plain.insert(plain.end(), host_random.begin(), host_random.end());
        const Bytes padding = detail::random_bytes(7);
        plain.insert(plain.end(), padding.begin(), padding.end());
        plain.push_back(0x80);
        Bytes proof{0x7C, 0x2A, 0x82, 0x28};
        const Bytes cryptogram = des3_cbc(key, plain);
        secure_wipe(plain);
        proof.insert(proof.end(), cryptogram.begin(), cryptogram.end());
        const ResponseApdu answer = detail::transmit_secret(
            channel, CommandApdu(0x00, 0x87, 0x00, 0x00, std::move(proof), Le::max()));
        detail::expect_admin_accepted(
            answer, "GIDS", "GENERAL AUTHENTICATE (mutual, host cryptogram)", {0x6300, 0x6982});
        Bytes card_plain =
            des3_cbc(key,
                     detail::template_value(answer.data, 0x82, 40,
                                            "GIDS: GENERAL AUTHENTICATE (mutual, card cryptogram)"),
                     CipherDirection::decrypt);
        const bool matches =
            detail::same_bytes(Bytes(card_plain.begin(), card_plain.begin() + 16), host_random) &&
            detail::same_bytes(Bytes(card_plain.begin() + 16, card_plain.begin() + 32),
                               card_random);
        secure_wipe(card_plain);
        if (!matches)
            throw detail::card_proof_wrong("GIDS");
    }

    /// PUT DATA of the admin key, the minidriver spec's bytes:
    /// 00 DB 3F FF 26 70 24 84 01 80 A5 1F 87 18 <24-byte key> 88 03 B0 73 DC.
    void set_admin_key(ApduChannel& channel, const SecretBytes& key) override {
        detail::check_admin_key(key, "GIDS");
        const ResponseApdu answer = detail::transmit_secret(
            channel,
            CommandApdu(0x00, 0xDB, 0x3F, 0xFF,
                        detail::secret_data(
                            {0x70, 0x24, 0x84, 0x01, admin_key_reference, 0xA5, 0x1F, 0x87, 0x18},
                            key.reveal(), {0x88, 0x03, 0xB0, 0x73, 0xDC})));
        if (!answer.ok())
            throw detail::admin_command_error("GIDS", "PUT DATA of the admin key", answer.sw());
    }

    /// RESET RETRY COUNTER 00 2C 02 80 Lc <new PIN> (admin rights, no old PIN): the PIN must
    /// have 4 to 16 bytes (std::invalid_argument, nothing sent); the retry counter is reset.
    /// The card logs the admin out afterwards.
    void set_user_pin(ApduChannel& channel, const SecretString& pin) override {
        check_pin(pin);
        const std::string_view text = pin.reveal();
        Bytes data;
        data.reserve(text.size());
        for (const char c : text)
            data.push_back(static_cast<std::uint8_t>(c));
        const ResponseApdu answer = detail::transmit_secret(
            channel, CommandApdu(0x00, 0x2C, 0x02, pin_reference, std::move(data)));
        if (!answer.ok()) {
            throw detail::admin_command_error("GIDS", "RESET RETRY COUNTER of the user PIN",
                                              answer.sw());
        }
    }

    /// std::invalid_argument unless the PIN has 4 to 16 bytes.
    static void check_pin(const SecretString& pin) {
        if (pin.size() < min_pin_size || pin.size() > max_pin_size) {
            throw std::invalid_argument("GIDS: a user PIN has " + std::to_string(min_pin_size) +
                                        " to " + std::to_string(max_pin_size) + " bytes, got " +
                                        std::to_string(pin.size()));
        }
    }

    [[nodiscard]] bool supports(CardOperation operation) const override {
        return operation != CardOperation::set_pin_with_puk;
    }

    [[nodiscard]] bool pin_change_ends_admin_login() const override { return true; }

    /// Parses the answer to GET DATA of the master file table: DF 1F L { 01, 28-byte records
    /// {char dir[9]; char file[9]; 2 pad; u32le DO; u32le EF} }. Throws CardError{malformed}.
    static std::vector<GidsFileRecord> parse_master_file(const Bytes& response) {
        const auto items = tlv::parse(response, "GIDS: master file table");
        const tlv::Item* item = tlv::find(items, master_file_do);
        if (!item) {
            throw CardError(CardErrorCode::malformed,
                            "GIDS: GET DATA of the master file table did not return tag DF1F");
        }
        const Bytes& table = item->value;
        if (table.empty() || table[0] != 0x01) {
            throw CardError(CardErrorCode::malformed,
                            table.empty()
                                ? std::string("GIDS: the master file table is empty; "
                                              "expected version byte 01")
                                : "GIDS: the master file table starts with " +
                                      to_hex(table.data(), 1) + "; expected version byte 01");
        }
        if ((table.size() - 1) % record_size != 0) {
            throw CardError(CardErrorCode::malformed,
                            "GIDS: the master file table has " + std::to_string(table.size() - 1) +
                                " bytes of records; expected a multiple of 28");
        }
        auto text = [](const std::uint8_t* p, std::size_t max) {
            std::size_t n = 0;
            while (n < max && p[n] != 0)
                ++n;
            return std::string(reinterpret_cast<const char*>(p), n);
        };
        auto u32le = [](const std::uint8_t* p) {
            return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
                   (std::uint32_t{p[3]} << 24);
        };
        std::vector<GidsFileRecord> records;
        for (std::size_t off = 1; off < table.size(); off += record_size) {
            const std::uint8_t* r = table.data() + off;
            records.push_back(
                GidsFileRecord{text(r, 9), text(r + 9, 9), u32le(r + 20), u32le(r + 24)});
        }
        return records;
    }

  private:
    Bytes legacy_challenge(ApduChannel& channel) {
        const ResponseApdu challenge =
            transmit(channel, CommandApdu(0x00, 0x84, 0x00, 0x00, Le(8)));
        detail::expect_ok(challenge, "GIDS",
                          "GET CHALLENGE (the card refused MSE SET or GENERAL AUTHENTICATE)");
        if (challenge.data.size() != admin_response_size) {
            throw CardError(CardErrorCode::malformed, "GIDS: GET CHALLENGE returned " +
                                                          std::to_string(challenge.data.size()) +
                                                          " bytes; expected 8");
        }
        method_ = ChallengeMethod::get_challenge;
        return challenge.data;
    }

    ChallengeMethod method_ = ChallengeMethod::general_authenticate;
};

}  // namespace mimcm::card
