// Card profiles: how to read the card id and an 8-byte admin challenge from a card family, and
// the card half of the MIM CM admin flow (answer the challenge, set the admin key and PIN).
//
//   GidsProfile  Microsoft GIDS (TPM virtual smart cards, GIDS applets): card id from the
//                "cardid" file named by the master file table, challenge by GET CHALLENGE,
//                admin authentication by EXTERNAL AUTHENTICATE with key 80.
//   PivProfile   NIST PIV: card id = CHUID GUID (tag 34), challenge and admin authentication by
//                GENERAL AUTHENTICATE on the 9B management key (3DES).
//   AutoProfile  tries PIV, then GIDS (the order of the Windows minidriver discovery), or a
//                list of your own; admin operations go to the profile that last read the card.
//
// The admin flow: read() gives the card id and a challenge; the CM server answers
// response = 3DES-EDE-ECB(admin key, challenge) (the SDK never computes it); then, in a new
// PC/SC transaction, read_card_id() re-checks the card (it asks for no new challenge, so the
// pending one stays valid), authenticate_admin() sends the response, and set_admin_key() /
// set_user_pin() may follow. mimcm::pcsc::with_same_card() runs exactly that.
//
// Your own card family: derive from CardProfile and implement name() and read(). read() gets an
// ApduChannel (use card::transmit() to get 61xx/6Cxx handling), must return std::nullopt when
// the card does not have your applet (so AutoProfile moves on), and throw CardError when it does
// but something else is wrong. Pass it to AutoProfile's list constructor or to
// mimcm::pcsc::ReadOptions::profile. read_card_id() and the admin operations are optional: by
// default they throw CardError{not_supported}.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mimcm/card/apdu.hpp"
#include "mimcm/encoding.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::card {

/// Size of a 3DES admin key (GIDS key 80, PIV 9B management key).
inline constexpr std::size_t admin_key_size = 24;
/// Size of a 3DES admin challenge and of its response.
inline constexpr std::size_t admin_response_size = 8;

/// What a profile reads from a card.
struct CardIdentity {
    /// The 16 raw bytes of the minidriver card id (GIDS "cardid" file, PIV CHUID GUID), as stored
    /// on the card (no GUID byte swapping).
    std::array<std::uint8_t, 16> card_id{};
    /// The admin challenge (8 bytes for 3DES admin keys).
    Bytes challenge;
    /// The name of the profile that read it ("gids", "piv", or a custom profile's name).
    std::string profile;
};

/// One card family. See the top of this header for writing your own.
class CardProfile {
  public:
    CardProfile() = default;
    virtual ~CardProfile() = default;
    CardProfile(const CardProfile&) = delete;
    CardProfile& operator=(const CardProfile&) = delete;

    /// Short lowercase name, e.g. "gids".
    [[nodiscard]] virtual std::string_view name() const = 0;
    /// Reads the card id and a fresh challenge. std::nullopt: the card does not have this
    /// applet. Throws CardError when it does but the card answers something unexpected; lets
    /// the channel's exceptions (e.g. mimcm::pcsc::Error) through.
    virtual std::optional<CardIdentity> read(ApduChannel& channel) = 0;

    /// Reads only the card id, the way read() does but WITHOUT asking for a challenge, so the
    /// challenge read() got stays valid: used to re-check that the same card is still there
    /// before its challenge is answered. std::nullopt and errors as read().
    /// Default: throws CardError{not_supported}.
    virtual std::optional<std::array<std::uint8_t, 16>> read_card_id(ApduChannel& /*channel*/) {
        throw unsupported("reading the card id without a challenge");
    }

    // Admin operations. Each SELECTs the applet first (a card that lacks it: CardError{status})
    // and wipes its copy of the secret. The secret is never put in an exception message.

    /// Authenticates as admin with the server's answer to the challenge of the last read()
    /// (8 bytes: 3DES-EDE-ECB(admin key, challenge)). Throws std::invalid_argument when the
    /// response is not 8 bytes (nothing is sent); CardError{admin_auth_failed} when the card
    /// refuses it; CardError{challenge_expired} when the card has no pending challenge (reset,
    /// power-off or already used: read the card again and ask the server for a new response).
    /// Default: throws CardError{not_supported}.
    virtual void authenticate_admin(ApduChannel& /*channel*/, const SecretBytes& /*response*/) {
        throw unsupported("admin authentication");
    }

    /// Sets a new 24-byte 3DES admin key (e.g. the diversified key from the server); the card
    /// must be admin-authenticated in this session. std::invalid_argument when the key is not
    /// 24 bytes (nothing is sent); CardError{status} (6982) when not authenticated.
    /// Default: throws CardError{not_supported}.
    virtual void set_admin_key(ApduChannel& /*channel*/, const SecretBytes& /*key*/) {
        throw unsupported("setting the admin key");
    }

    /// Sets the user PIN with the admin rights of this session (no old PIN needed) and resets
    /// its retry counter. Only GIDS: a PIV PIN can be reset only with the PUK
    /// (CardError{not_supported}). Default: throws CardError{not_supported}.
    virtual void set_user_pin(ApduChannel& /*channel*/, const SecretString& /*pin*/) {
        throw unsupported("setting the user PIN with the admin key");
    }

  protected:
    [[nodiscard]] CardError unsupported(std::string_view operation) const {
        return CardError(CardErrorCode::not_supported, "the " + std::string(name()) +
                                                           " card profile does not support " +
                                                           std::string(operation));
    }
};

// ---------------------------------------------------------------------------------------------
// BER-TLV (ISO/IEC 7816-4 / X.690 subset used by GIDS and PIV)

namespace tlv {

struct Item {
    std::uint32_t tag = 0;  ///< tag bytes big-endian, e.g. 0xDF1F, 0x5FC102
    Bytes value;
};

/// Parses concatenated BER-TLV items (not recursing into constructed ones). Tags of up to 4
/// bytes; lengths in short form or 81 xx, 82 xx xx, 83 xx xx xx, 84 xx xx xx xx. Bytes 00 and
/// FF between items are padding and skipped. Throws CardError{malformed} naming `what`.
inline std::vector<Item> parse(const std::uint8_t* data, std::size_t size, std::string_view what) {
    auto fail = [&](const std::string& why, std::size_t at) {
        return CardError(CardErrorCode::malformed, std::string(what) + ": malformed TLV at byte " +
                                                       std::to_string(at) + " (" + why + ")");
    };
    std::vector<Item> items;
    std::size_t pos = 0;
    while (pos < size) {
        if (data[pos] == 0x00 || data[pos] == 0xFF) {
            ++pos;
            continue;
        }
        const std::size_t start = pos;
        std::uint32_t tag = data[pos++];
        if ((tag & 0x1F) == 0x1F) {  // multi-byte tag: more bytes while bit 8 is set
            int extra = 0;
            for (;;) {
                if (pos >= size)
                    throw fail("tag truncated", start);
                if (++extra > 3)
                    throw fail("tag longer than 4 bytes", start);
                const std::uint8_t b = data[pos++];
                tag = (tag << 8) | b;
                if ((b & 0x80) == 0)
                    break;
            }
        }
        if (pos >= size)
            throw fail("length missing", start);
        std::size_t length = data[pos++];
        if (length & 0x80) {
            const std::size_t count = length & 0x7F;
            if (count == 0 || count > 4)
                throw fail("unsupported length form", start);
            if (size - pos < count)
                throw fail("length truncated", start);
            length = 0;
            for (std::size_t i = 0; i < count; ++i)
                length = (length << 8) | data[pos++];
        }
        if (size - pos < length) {
            throw fail("length " + std::to_string(length) + " but only " +
                           std::to_string(size - pos) + " byte(s) left",
                       start);
        }
        items.push_back(Item{tag, Bytes(data + pos, data + pos + length)});
        pos += length;
    }
    return items;
}

inline std::vector<Item> parse(const Bytes& data, std::string_view what) {
    return parse(data.data(), data.size(), what);
}

/// The first item with this tag, or nullptr.
inline const Item* find(const std::vector<Item>& items, std::uint32_t tag) {
    for (const auto& item : items) {
        if (item.tag == tag)
            return &item;
    }
    return nullptr;
}

/// A tag's bytes, big-endian, without leading zero bytes (0xDF20 -> DF 20).
inline Bytes tag_bytes(std::uint32_t tag) {
    Bytes out;
    for (int shift = 24; shift >= 0; shift -= 8) {
        const auto b = static_cast<std::uint8_t>((tag >> shift) & 0xFF);
        if (!out.empty() || b != 0 || shift == 0)
            out.push_back(b);
    }
    return out;
}

}  // namespace tlv

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
    return CardError(CardErrorCode::status,
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
                       static_cast<std::uint8_t>(ef & 0xFF), std::move(body), 256);
}

inline bool all_zero(const std::uint8_t* data, std::size_t size) {
    return std::all_of(data, data + size, [](std::uint8_t b) { return b == 0; });
}

inline std::string hex_tag(std::uint32_t tag) {
    std::string s = to_hex(tlv::tag_bytes(tag));
    for (auto& c : s) {
        if (c >= 'a' && c <= 'f')
            c = static_cast<char>(c - 'a' + 'A');
    }
    return s;
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

/// SELECT before an admin operation: a missing applet is an error there.
inline void select_for_admin(ApduChannel& channel, const std::uint8_t* aid, std::size_t size,
                             std::string_view profile, std::string_view applet) {
    const ResponseApdu selected =
        transmit(channel, CommandApdu::select_aid(Bytes(aid, aid + size)));
    expect_ok(selected, profile, "SELECT of the " + std::string(applet) + " applet");
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
        throw std::invalid_argument(std::string(profile) + ": an admin key has " +
                                    std::to_string(admin_key_size) + " bytes (3DES), got " +
                                    std::to_string(key.size()));
    }
}

inline void check_admin_response(const SecretBytes& response, std::string_view profile) {
    if (response.size() != admin_response_size) {
        throw std::invalid_argument(std::string(profile) + ": an admin challenge response has " +
                                    std::to_string(admin_response_size) + " bytes (3DES), got " +
                                    std::to_string(response.size()));
    }
}

/// Status words of an admin command that may need the admin authentication first.
inline CardError admin_command_error(std::string_view profile, std::string_view operation,
                                     std::uint16_t sw) {
    if (sw == 0x6982) {
        return CardError(CardErrorCode::status,
                         std::string(profile) + ": " + std::string(operation) +
                             " answered 6982 (security status not satisfied): authenticate as "
                             "admin first, in the same card session",
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
        throw CardError(CardErrorCode::challenge_expired,
                        std::string(profile) + ": " + std::string(operation) +
                            " answered 6985: the card has no pending challenge (it was reset or "
                            "powered down since it was read, or the challenge was used): read the "
                            "card again for a fresh challenge and ask the server for a new "
                            "response",
                        sw);
    }
    if (sw == 0x6983) {
        throw CardError(CardErrorCode::admin_auth_failed,
                        std::string(profile) + ": " + std::string(operation) +
                            " answered 6983: the admin key is blocked",
                        sw);
    }
    bool wrong = (sw & 0xFFF0) == 0x63C0;
    for (const std::uint16_t r : refused)
        wrong = wrong || sw == r;
    if (wrong) {
        throw CardError(CardErrorCode::admin_auth_failed,
                        std::string(profile) + ": the card refused the admin challenge response (" +
                            std::string(operation) + " answered " + sw_to_string(sw) +
                            "): it does not match the card's admin key and challenge (another "
                            "card's response, the wrong key on the server, or diversified "
                            "true/false mixed up?)",
                        sw);
    }
    throw status_error(profile, operation, sw);
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// GIDS

/// One record of the GIDS master file table.
struct GidsFileRecord {
    std::string directory;        ///< "" for the root, e.g. "mscp"
    std::string file;             ///< e.g. "cardid", "cardapps"
    std::uint32_t data_object{};  ///< DO tag, e.g. 0xDF20
    std::uint32_t ef{};           ///< EF id, e.g. 0xA012
};

/// Microsoft GIDS applet.
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

    [[nodiscard]] std::string_view name() const override { return "gids"; }

    std::optional<CardIdentity> read(ApduChannel& channel) override {
        auto id = read_card_id(channel);
        if (!id)
            return std::nullopt;

        CardIdentity identity;
        identity.card_id = *id;
        identity.profile = std::string(name());

        const ResponseApdu challenge = transmit(channel, CommandApdu(0x00, 0x84, 0x00, 0x00, 8));
        detail::expect_ok(challenge, "GIDS", "GET CHALLENGE");
        if (challenge.data.size() != 8) {
            throw CardError(CardErrorCode::malformed, "GIDS: GET CHALLENGE returned " +
                                                          std::to_string(challenge.data.size()) +
                                                          " bytes; expected 8");
        }
        identity.challenge = challenge.data;
        return identity;
    }

    /// SELECT, master file table, cardid: read() without GET CHALLENGE.
    std::optional<std::array<std::uint8_t, 16>> read_card_id(ApduChannel& channel) override {
        if (!detail::select_applet(channel, aid.data(), aid.size(), "GIDS", "GIDS"))
            return std::nullopt;

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

    /// EXTERNAL AUTHENTICATE 00 82 00 80 08 <response> (one-way, admin key 80).
    /// 63 00 / 63 Cx: CardError{admin_auth_failed}; 69 85: CardError{challenge_expired}.
    void authenticate_admin(ApduChannel& channel, const SecretBytes& response) override {
        detail::check_admin_response(response, "GIDS");
        detail::select_for_admin(channel, aid.data(), aid.size(), "GIDS", "GIDS");
        const ResponseApdu answer = detail::transmit_secret(
            channel, CommandApdu(0x00, 0x82, 0x00, admin_key_reference,
                                 detail::secret_data({}, response.reveal())));
        detail::expect_admin_accepted(answer, "GIDS", "EXTERNAL AUTHENTICATE (admin key 80)",
                                      {0x6300, 0x6982});
    }

    /// PUT DATA of the admin key, the minidriver spec's bytes:
    /// 00 DB 3F FF 26 70 24 84 01 80 A5 1F 87 18 <24-byte key> 88 03 B0 73 DC.
    void set_admin_key(ApduChannel& channel, const SecretBytes& key) override {
        detail::check_admin_key(key, "GIDS");
        detail::select_for_admin(channel, aid.data(), aid.size(), "GIDS", "GIDS");
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
    void set_user_pin(ApduChannel& channel, const SecretString& pin) override {
        if (pin.size() < min_pin_size || pin.size() > max_pin_size) {
            throw std::invalid_argument("GIDS: a user PIN has " + std::to_string(min_pin_size) +
                                        " to " + std::to_string(max_pin_size) + " bytes, got " +
                                        std::to_string(pin.size()));
        }
        detail::select_for_admin(channel, aid.data(), aid.size(), "GIDS", "GIDS");
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
};

// ---------------------------------------------------------------------------------------------
// PIV

/// NIST SP 800-73-4 PIV applet.
class PivProfile : public CardProfile {
  public:
    static constexpr std::array<std::uint8_t, 9> aid{0xA0, 0x00, 0x00, 0x03, 0x08,
                                                     0x00, 0x00, 0x10, 0x00};
    static constexpr std::uint32_t chuid_tag = 0x5FC102;

    /// The card management key (9B) and its algorithm (03 = 3DES).
    static constexpr std::uint8_t management_key = 0x9B;
    static constexpr std::uint8_t algorithm_3des = 0x03;

    [[nodiscard]] std::string_view name() const override { return "piv"; }

    std::optional<CardIdentity> read(ApduChannel& channel) override {
        auto id = read_card_id(channel);
        if (!id)
            return std::nullopt;
        CardIdentity identity;
        identity.card_id = *id;
        identity.profile = std::string(name());
        identity.challenge = get_challenge(channel);
        return identity;
    }

    /// SELECT and CHUID: read() without GENERAL AUTHENTICATE.
    std::optional<std::array<std::uint8_t, 16>> read_card_id(ApduChannel& channel) override {
        if (!detail::select_applet(channel, aid.data(), aid.size(), "PIV", "PIV"))
            return std::nullopt;

        const ResponseApdu chuid = transmit(channel, detail::get_data(0x3FFF, chuid_tag));
        if (detail::not_found(chuid.sw())) {
            throw CardError(CardErrorCode::missing_card_id,
                            "PIV: GET DATA of the CHUID (5FC102) answered " +
                                sw_to_string(chuid.sw()) + "; the card has no CHUID",
                            chuid.sw());
        }
        detail::expect_ok(chuid, "PIV", "GET DATA of the CHUID (5FC102)");
        return card_id_from_chuid(chuid.data);
    }

    /// GENERAL AUTHENTICATE 00 87 03 9B 0C 7C 0A 82 08 <response>: the second step of the
    /// one-way external authentication to the 9B challenge of read(). 69 82 (how PIV cards say
    /// "wrong response"): CardError{admin_auth_failed}; 69 85: CardError{challenge_expired}.
    void authenticate_admin(ApduChannel& channel, const SecretBytes& response) override {
        detail::check_admin_response(response, "PIV");
        detail::select_for_admin(channel, aid.data(), aid.size(), "PIV", "PIV");
        const ResponseApdu answer = detail::transmit_secret(
            channel, CommandApdu(0x00, 0x87, algorithm_3des, management_key,
                                 detail::secret_data({0x7C, 0x0A, 0x82, 0x08}, response.reveal())));
        detail::expect_admin_accepted(answer, "PIV", "GENERAL AUTHENTICATE (response for key 9B)",
                                      {0x6982});
    }

    /// SET MANAGEMENT KEY, the Yubico PIV extension (no NIST command exists):
    /// 00 FF FF FF 1B 03 9B 18 <24-byte key> (P2 FF: no touch policy). A card without the
    /// extension (6D00): CardError{not_supported}.
    void set_admin_key(ApduChannel& channel, const SecretBytes& key) override {
        detail::check_admin_key(key, "PIV");
        detail::select_for_admin(channel, aid.data(), aid.size(), "PIV", "PIV");
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

    // set_user_pin: not overridden. The PIV PIN is reset with the PUK, never with the
    // management key, so it stays CardError{not_supported}.

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
                            "PIV: the CHUID has no GUID (tag 34); the card id is taken from it");
        }
        if (guid->value.size() != 16) {
            throw CardError(CardErrorCode::malformed, "PIV: the CHUID GUID has " +
                                                          std::to_string(guid->value.size()) +
                                                          " bytes; expected 16");
        }
        if (detail::all_zero(guid->value.data(), guid->value.size())) {
            throw CardError(CardErrorCode::missing_card_id,
                            "PIV: the CHUID GUID is all zero; the card has no card id");
        }
        std::array<std::uint8_t, 16> id{};
        std::copy(guid->value.begin(), guid->value.end(), id.begin());
        return id;
    }

    /// The challenge in a GENERAL AUTHENTICATE response `7C L { 81|80 08 <8 bytes> }`.
    static Bytes challenge_from_response(const Bytes& response) {
        const auto outer = tlv::parse(response, "PIV: GENERAL AUTHENTICATE response");
        const tlv::Item* templ = tlv::find(outer, 0x7C);
        if (!templ) {
            throw CardError(CardErrorCode::malformed,
                            "PIV: GENERAL AUTHENTICATE did not return template 7C");
        }
        const auto inner = tlv::parse(templ->value, "PIV: GENERAL AUTHENTICATE template 7C");
        const tlv::Item* value = tlv::find(inner, 0x81);
        if (!value)
            value = tlv::find(inner, 0x80);
        if (!value) {
            throw CardError(
                CardErrorCode::malformed,
                "PIV: GENERAL AUTHENTICATE template 7C has no challenge (tag 81 or 80)");
        }
        if (value->value.size() != 8) {
            throw CardError(CardErrorCode::malformed, "PIV: GENERAL AUTHENTICATE returned a " +
                                                          std::to_string(value->value.size()) +
                                                          "-byte challenge; expected 8 (3DES)");
        }
        return value->value;
    }

  private:
    static Bytes get_challenge(ApduChannel& channel) {
        // GENERAL AUTHENTICATE, algorithm 03 (3DES), key 9B (management key), ask for a challenge.
        const ResponseApdu answer =
            transmit(channel, CommandApdu(0x00, 0x87, algorithm_3des, management_key,
                                          Bytes{0x7C, 0x02, 0x81, 0x00}, 256));
        detail::expect_ok(answer, "PIV", "GENERAL AUTHENTICATE (challenge for key 9B)");
        return challenge_from_response(answer.data);
    }
};

// ---------------------------------------------------------------------------------------------
// Auto

/// Tries several profiles in order and returns the first identity read. Default order: PIV,
/// then GIDS (a card that answers the PIV SELECT is treated as PIV, as Windows does).
/// Unlike other profiles, read() and read_card_id() never return std::nullopt: they throw
/// CardError{no_profile} naming the profiles tried. Exceptions of a profile are not caught (a
/// card with the applet but a broken card id is an error, not a reason to try the next
/// profile).
///
/// The admin operations go to the profile whose read() or read_card_id() succeeded last (see
/// last_profile()); before any successful read they throw std::logic_error.
class AutoProfile : public CardProfile {
  public:
    AutoProfile() {
        profiles_.push_back(std::make_unique<PivProfile>());
        profiles_.push_back(std::make_unique<GidsProfile>());
    }
    explicit AutoProfile(std::vector<std::unique_ptr<CardProfile>> profiles)
        : profiles_(std::move(profiles)) {
        for (const auto& p : profiles_) {
            if (!p)
                throw std::invalid_argument("AutoProfile: null profile in the list");
        }
    }

    [[nodiscard]] std::string_view name() const override { return "auto"; }

    [[nodiscard]] const std::vector<std::unique_ptr<CardProfile>>& profiles() const noexcept {
        return profiles_;
    }

    std::optional<CardIdentity> read(ApduChannel& channel) override {
        last_ = nullptr;
        for (const auto& profile : profiles_) {
            if (auto identity = profile->read(channel)) {
                last_ = profile.get();
                return identity;
            }
        }
        throw none_answers();
    }

    std::optional<std::array<std::uint8_t, 16>> read_card_id(ApduChannel& channel) override {
        last_ = nullptr;
        for (const auto& profile : profiles_) {
            if (auto id = profile->read_card_id(channel)) {
                last_ = profile.get();
                return id;
            }
        }
        throw none_answers();
    }

    /// The profile whose read() or read_card_id() succeeded last; nullptr before that, or
    /// after a read that failed.
    [[nodiscard]] CardProfile* last_profile() const noexcept { return last_; }

    void authenticate_admin(ApduChannel& channel, const SecretBytes& response) override {
        active("admin authentication").authenticate_admin(channel, response);
    }
    void set_admin_key(ApduChannel& channel, const SecretBytes& key) override {
        active("setting the admin key").set_admin_key(channel, key);
    }
    void set_user_pin(ApduChannel& channel, const SecretString& pin) override {
        active("setting the user PIN").set_user_pin(channel, pin);
    }

  private:
    CardError none_answers() const {
        return CardError(CardErrorCode::no_profile,
                         "the card answers none of the card profiles tried (" + tried() + ")");
    }

    CardProfile& active(std::string_view operation) const {
        if (!last_) {
            throw std::logic_error("AutoProfile: " + std::string(operation) +
                                   " before the card was read; read() or read_card_id() with "
                                   "this profile first");
        }
        return *last_;
    }

    std::string tried() const {
        std::string out;
        for (const auto& p : profiles_) {
            if (!out.empty())
                out += ", ";
            out += p->name();
        }
        return out.empty() ? std::string("none") : out;
    }

    std::vector<std::unique_ptr<CardProfile>> profiles_;
    CardProfile* last_ = nullptr;
};

/// A profile by name: "auto", "gids" or "piv" (ASCII case-insensitive).
/// Throws std::invalid_argument for other names, listing the valid ones.
inline std::unique_ptr<CardProfile> make_profile(std::string_view name) {
    std::string lower(name);
    for (auto& c : lower) {
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    }
    if (lower == "auto")
        return std::make_unique<AutoProfile>();
    if (lower == "gids")
        return std::make_unique<GidsProfile>();
    if (lower == "piv")
        return std::make_unique<PivProfile>();
    throw std::invalid_argument("unknown card profile \"" + std::string(name) +
                                "\"; valid names: auto, gids, piv");
}

}  // namespace mimcm::card
