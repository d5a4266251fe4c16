// The card profile interface: how one card family gives the card id and the 8-byte admin
// challenge, and the card half of the MIM CM admin flow (answer the challenge, set the admin key
// and the PIN). The profiles of the SDK: mimcm/card/gids.hpp, mimcm/card/piv.hpp; finding the
// one a card has: mimcm/card/resolver.hpp.
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

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mimcm/card/apdu.hpp"
#include "mimcm/encoding.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::card {

/// Size of a 3DES admin key (GIDS key 80, PIV 9B management key).
inline constexpr std::size_t admin_key_size = 24;
/// Size of a 3DES admin challenge and of its response.
inline constexpr std::size_t admin_response_size = 8;

/// What a profile reads from a card.
/// Threads: a plain value; concurrent reads are safe, a write needs the only reference.
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
/// Threads: one thread at a time (a profile remembers what it learnt about its card).
/// A derived profile may be movable (moving hands over what it learnt), never copyable.
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
    /// challenge)). mimcm::InvalidArgument when it is not 8 bytes (nothing is sent);
    /// CardError{admin_auth_failed} when the card refuses it, {challenge_expired} when the card
    /// has no pending challenge, {admin_auth_refused} when the card does not say which.
    /// Default: throws CardError{not_supported}.
    virtual void authenticate_admin(ApduChannel& /*channel*/, const SecretBytes& /*response*/) {
        throw unsupported("admin authentication");
    }

    /// Logs in as admin with a 24-byte 3DES admin key the application holds itself, by mutual
    /// authentication (the card proves it holds the key too). mimcm::InvalidArgument when the
    /// key is not 24 bytes (nothing sent); CardError{admin_auth_failed, admin_auth_refused}
    /// when the card does not hold this key. Default: throws CardError{not_supported}.
    virtual void authenticate_admin_with_key(ApduChannel& /*channel*/, const SecretBytes& /*key*/) {
        throw unsupported("mutual authentication with the admin key");
    }

    /// Sets a new 24-byte 3DES admin key; needs the admin authentication of this session.
    /// mimcm::InvalidArgument when the key is not 24 bytes (nothing sent);
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
    // For derived profiles only: a CardProfile is not moved on its own (that would slice it).
    CardProfile(CardProfile&&) noexcept = default;
    CardProfile& operator=(CardProfile&&) noexcept = default;

    [[nodiscard]] CardError unsupported(std::string_view operation) const {
        return CardError("card::CardProfile::unsupported", CardErrorCode::not_supported,
                         "the " + std::string(name()) + " card profile does not support " +
                             std::string(operation));
    }
};

}  // namespace mimcm::card
