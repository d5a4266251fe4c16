// Card profiles: how one card family gives the card id and the 8-byte admin challenge, and the
// card half of the MIM CM admin flow (answer the challenge, set the admin key and the PIN).
//
//   GidsProfile  Microsoft GIDS (TPM virtual smart cards, GIDS applets): card id from the
//                "cardid" file named by the master file table; admin challenge and response by
//                MSE SET + GENERAL AUTHENTICATE on the admin key 80 (GET CHALLENGE + EXTERNAL
//                AUTHENTICATE only for a card that refuses those).
//   PivProfile   NIST PIV: card id = CHUID GUID (tag 34); challenge and response by GENERAL
//                AUTHENTICATE on the 9B management key (3DES only); PIN reset with the PUK.
//   ProfileResolver  stateless: finds the profile whose applet the card has (PIV, then GIDS,
//                the order of the Windows minidriver discovery, or a list of your own) and
//                leaves that applet selected.
//
// A profile works on an applet that is ALREADY SELECTED: select() is sent once per card
// session (see mimcm/card/session.hpp), every other operation sends no SELECT. Java Card
// clears the challenge and the admin login whenever the applet is selected again (also the
// same applet), so a SELECT between a challenge and its response, or between the admin
// authentication and an admin write, makes the card refuse them.
//
// The admin flow: get_challenge() gives the challenge; the CM server answers
// response = 3DES-EDE-ECB(admin key, challenge) (the SDK never computes it);
// authenticate_admin() sends the response; set_admin_key() / set_user_pin() may follow.
//
// A profile object belongs to one card session: it may remember what it learnt about the card
// (e.g. which challenge command the card answers). Your own card family: derive from
// CardProfile, implement name(), select() and read_card_id(), and whichever other operations
// the card offers (with supports()); the defaults throw CardError{not_supported}.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mimcm/card/apdu.hpp"
#include "mimcm/card/des.hpp"
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

/// What a card session may be asked to do; CardProfile::supports() answers before anything is
/// written, so an enrollment can refuse a card it could not finish.
enum class CardOperation {
    read_card_id,            ///< the card id, without a challenge
    admin_challenge,         ///< an 8-byte admin challenge for the CM server
    admin_authentication,    ///< the CM server's response to that challenge
    set_admin_key,           ///< a new 24-byte 3DES admin key (admin rights)
    set_pin_with_admin_key,  ///< a new user PIN with admin rights (GIDS)
    set_pin_with_puk,        ///< a new user PIN with the PUK (PIV RESET RETRY COUNTER)
    mutual_authentication,   ///< admin login with a 3DES admin key the application holds
};

/// The name of a CardOperation ("read_card_id", ...).
inline std::string_view to_string(CardOperation operation) noexcept {
    switch (operation) {
        case CardOperation::read_card_id:
            return "read_card_id";
        case CardOperation::admin_challenge:
            return "admin_challenge";
        case CardOperation::admin_authentication:
            return "admin_authentication";
        case CardOperation::set_admin_key:
            return "set_admin_key";
        case CardOperation::set_pin_with_admin_key:
            return "set_pin_with_admin_key";
        case CardOperation::set_pin_with_puk:
            return "set_pin_with_puk";
        case CardOperation::mutual_authentication:
            return "mutual_authentication";
    }
    return "unknown";
}

/// One card family, bound to one card session. See the top of this header.
class CardProfile {
  public:
    CardProfile() = default;
    virtual ~CardProfile() = default;
    CardProfile(const CardProfile&) = delete;
    CardProfile& operator=(const CardProfile&) = delete;

    /// Short lowercase name, e.g. "gids".
    [[nodiscard]] virtual std::string_view name() const = 0;

    /// SELECTs the applet: false when the card does not have it. Throws CardError when the
    /// card answers something unexpected; lets the channel's exceptions through.
    virtual bool select(ApduChannel& channel) = 0;

    /// Reads the card id from the selected applet, without a challenge and without SELECT
    /// (so a pending challenge and the admin login stay valid). Throws
    /// CardError{missing_card_id} when the card has none, CardError{malformed, status} else.
    virtual std::array<std::uint8_t, 16> read_card_id(ApduChannel& channel) = 0;

    /// Asks the selected applet for a fresh 8-byte admin challenge.
    /// Default: throws CardError{not_supported}.
    virtual Bytes get_challenge(ApduChannel& /*channel*/) {
        throw unsupported("an admin challenge");
    }

    /// Sends the server's 8-byte answer to the last challenge (3DES-EDE-ECB(admin key,
    /// challenge)). std::invalid_argument when it is not 8 bytes (nothing is sent);
    /// CardError{admin_auth_failed} when the card refuses it, {challenge_expired} when the card
    /// has no pending challenge, {admin_auth_refused} when the card does not say which.
    /// Default: throws CardError{not_supported}.
    virtual void authenticate_admin(ApduChannel& /*channel*/, const SecretBytes& /*response*/) {
        throw unsupported("admin authentication");
    }

    /// Logs in as admin with a 24-byte 3DES admin key the application holds itself, by mutual
    /// authentication (the card proves it holds the key too). std::invalid_argument when the
    /// key is not 24 bytes (nothing sent); CardError{admin_auth_failed, admin_auth_refused}
    /// when the card does not hold this key. Default: throws CardError{not_supported}.
    virtual void authenticate_admin_with_key(ApduChannel& /*channel*/, const SecretBytes& /*key*/) {
        throw unsupported("mutual authentication with the admin key");
    }

    /// Sets a new 24-byte 3DES admin key; needs the admin authentication of this session.
    /// std::invalid_argument when the key is not 24 bytes (nothing sent);
    /// CardError{not_authenticated} when the card answers 6982.
    /// Default: throws CardError{not_supported}.
    virtual void set_admin_key(ApduChannel& /*channel*/, const SecretBytes& /*key*/) {
        throw unsupported("setting the admin key");
    }

    /// Sets the user PIN with the admin rights of this session and resets its retry counter
    /// (GIDS). Default: throws CardError{not_supported}.
    virtual void set_user_pin(ApduChannel& /*channel*/, const SecretString& /*pin*/) {
        throw unsupported("setting the user PIN with the admin key");
    }

    /// Sets the user PIN with the PUK and resets its retry counter (PIV).
    /// Default: throws CardError{not_supported}.
    virtual void reset_pin_with_puk(ApduChannel& /*channel*/, const SecretString& /*puk*/,
                                    const SecretString& /*pin*/) {
        throw unsupported("setting the user PIN with the PUK");
    }

    /// Whether this card family offers `operation`. Default: reading the card id only.
    [[nodiscard]] virtual bool supports(CardOperation operation) const {
        return operation == CardOperation::read_card_id;
    }

    /// True when the card logs the admin out after set_user_pin(), so that a further admin
    /// command needs a new challenge and response (GIDS). Default: false.
    [[nodiscard]] virtual bool pin_change_ends_admin_login() const { return false; }

    /// select(), read_card_id() and get_challenge(): std::nullopt when the card does not have
    /// the applet. For a one-off reading; a card session selects once and keeps the applet.
    std::optional<CardIdentity> read(ApduChannel& channel) {
        if (!select(channel))
            return std::nullopt;
        CardIdentity identity;
        identity.card_id = read_card_id(channel);
        identity.challenge = get_challenge(channel);
        identity.profile = std::string(name());
        return identity;
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
                       static_cast<std::uint8_t>(ef & 0xFF), std::move(body), Le::max());
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
        return CardError(CardErrorCode::not_authenticated,
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
        throw CardError(CardErrorCode::malformed, what + " did not return template 7C");
    const auto inner = tlv::parse(templ->value, what + " template 7C");
    const tlv::Item* value = tlv::find(inner, tag);
    if (!value || value->value.size() != size) {
        throw CardError(CardErrorCode::malformed, what + " has no " + std::to_string(size) +
                                                      "-byte tag " + hex_tag(tag) +
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
    return CardError(CardErrorCode::admin_auth_failed,
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
        throw CardError(CardErrorCode::malformed,
                        p + ": GENERAL AUTHENTICATE did not return template 7C");
    const auto inner = tlv::parse(templ->value, p + ": GENERAL AUTHENTICATE template 7C");
    const tlv::Item* value = tlv::find(inner, 0x81);
    if (!value)
        value = tlv::find(inner, 0x80);
    if (!value) {
        throw CardError(CardErrorCode::malformed,
                        p + ": GENERAL AUTHENTICATE template 7C has no challenge (tag 81 or 80)");
    }
    if (value->value.size() != admin_response_size) {
        throw CardError(CardErrorCode::malformed,
                        p + ": GENERAL AUTHENTICATE returned a " +
                            std::to_string(value->value.size()) +
                            "-byte challenge; expected 8 (3DES admin key)");
    }
    return value->value;
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

    /// How the card gives its admin challenge.
    enum class ChallengeMethod {
        general_authenticate,  ///< MSE SET + GENERAL AUTHENTICATE (the GIDS card edge)
        get_challenge,         ///< GET CHALLENGE + EXTERNAL AUTHENTICATE (cards without the above)
    };

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
                     true);
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

// ---------------------------------------------------------------------------------------------
// PIV

/// NIST SP 800-73-4 PIV applet.
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
            true);
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

// ---------------------------------------------------------------------------------------------
// Finding the profile of a card

/// Makes a fresh profile object (one per card session).
using ProfileFactory = std::function<std::unique_ptr<CardProfile>()>;

/// Stateless: tries profiles in order and returns the first whose applet the card has, with
/// that applet left SELECTED. Default order: PIV, then GIDS (a card that answers the PIV
/// SELECT is treated as PIV, as Windows does). Copyable; resolve() creates fresh profiles.
class ProfileResolver {
  public:
    ProfileResolver()
        : factories_{[] { return std::unique_ptr<CardProfile>(std::make_unique<PivProfile>()); },
                     [] { return std::unique_ptr<CardProfile>(std::make_unique<GidsProfile>()); }} {
    }
    /// Your own list (e.g. with a custom profile). std::invalid_argument when it is empty or
    /// holds an empty factory.
    explicit ProfileResolver(std::vector<ProfileFactory> factories)
        : factories_(std::move(factories)) {
        if (factories_.empty())
            throw std::invalid_argument("ProfileResolver: no profiles given");
        for (const auto& f : factories_) {
            if (!f)
                throw std::invalid_argument("ProfileResolver: empty profile factory in the list");
        }
    }

    /// "auto" (PIV, then GIDS), "gids" or "piv" (ASCII case-insensitive).
    /// std::invalid_argument for other names, listing the valid ones.
    static ProfileResolver by_name(std::string_view name) {
        std::string lower(name);
        for (auto& c : lower) {
            if (c >= 'A' && c <= 'Z')
                c = static_cast<char>(c - 'A' + 'a');
        }
        if (lower == "auto")
            return ProfileResolver();
        if (lower == "gids")
            return ProfileResolver(
                {[] { return std::unique_ptr<CardProfile>(std::make_unique<GidsProfile>()); }});
        if (lower == "piv")
            return ProfileResolver(
                {[] { return std::unique_ptr<CardProfile>(std::make_unique<PivProfile>()); }});
        throw std::invalid_argument("unknown card profile \"" + std::string(name) +
                                    "\"; valid names: auto, gids, piv");
    }

    /// SELECTs each profile's applet in turn; returns the first profile the card answers, its
    /// applet now selected. CardError{no_profile} naming the profiles tried when none answers.
    /// A profile's other errors are not caught (a card with the applet but a broken answer is
    /// an error, not a reason to try the next profile).
    [[nodiscard]] std::unique_ptr<CardProfile> resolve(ApduChannel& channel) const {
        std::string tried;
        for (const auto& make : factories_) {
            std::unique_ptr<CardProfile> profile = make();
            if (!profile)
                throw std::invalid_argument("ProfileResolver: a profile factory returned null");
            if (profile->select(channel))
                return profile;
            if (!tried.empty())
                tried += ", ";
            tried += profile->name();
        }
        throw CardError(CardErrorCode::no_profile,
                        "the card answers none of the card profiles tried (" + tried + ")");
    }

  private:
    std::vector<ProfileFactory> factories_;
};

}  // namespace mimcm::card
