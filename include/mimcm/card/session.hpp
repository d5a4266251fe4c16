// A card session: one card, its profile resolved once, its applet selected once. Every
// operation after that runs on the selected applet and sends no SELECT, so a challenge stays
// valid until it is answered and the admin login stays valid for the admin writes (Java Card
// clears both when the applet is selected again). The session also knows the card's rules:
// a response needs a pending challenge, an admin write needs the admin login, and on GIDS the
// PIN change ends the admin login (the next admin command needs a new challenge and response).
//
// It works on any ApduChannel (mimcm::pcsc::Card, or a scripted card in tests); the PC/SC
// session (mimcm/pcsc/session.hpp) adds the reader, the ATR and the same-card checks.
//
// Threads: one thread at a time per session (and per card); movable, not copyable.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "mimcm/card/apdu.hpp"
#include "mimcm/card/profile.hpp"
#include "mimcm/card/resolver.hpp"
#include "mimcm/identifiers.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::card {

/// One card, its profile resolved once. Threads: one thread at a time; movable, not copyable.
class Session {
  public:
    /// Resolves the profile (SELECTs the applets the resolver tries; the one found stays
    /// selected) and reads the card id. CardError{no_profile} when the card has none of the
    /// applets; the profile's errors (e.g. missing_card_id). The channel must outlive the
    /// session (or be re-pointed with rebind()).
    explicit Session(ApduChannel& channel, const ProfileResolver& resolver = {})
        : channel_(&channel),
          profile_(resolver.resolve(channel)),
          card_id_(profile_->read_card_id(channel)) {}

    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    /// Moving hands over the card, the profile, the pending challenge and the admin login. A
    /// moved-from session throws mimcm::UsageError from every card operation until a session is
    /// assigned to it; card_id() still gives the card id it read.
    Session(Session&& other) noexcept
        : channel_(std::exchange(other.channel_, nullptr)),
          profile_(std::move(other.profile_)),
          card_id_(other.card_id_),
          pending_(std::exchange(other.pending_, false)),
          authenticated_(std::exchange(other.authenticated_, false)) {}
    Session& operator=(Session&& other) noexcept {
        if (this != &other) {
            channel_ = std::exchange(other.channel_, nullptr);
            profile_ = std::move(other.profile_);
            card_id_ = other.card_id_;
            pending_ = std::exchange(other.pending_, false);
            authenticated_ = std::exchange(other.authenticated_, false);
        }
        return *this;
    }
    ~Session() = default;

    /// The profile of the card ("gids", "piv", ...).
    [[nodiscard]] std::string_view profile_name() const { return live().name(); }
    /// The card's profile (mimcm::UsageError for a moved-from session).
    [[nodiscard]] CardProfile& profile() { return live(); }
    /// Whether the card's profile offers `operation` (ask before writing anything).
    [[nodiscard]] bool supports(CardOperation operation) const {
        return live().supports(operation);
    }

    /// The card id read when the session opened.
    [[nodiscard]] const CardId& card_id() const noexcept { return card_id_; }

    /// Reads the card id again, by GET DATA on the selected applet (no SELECT, no challenge:
    /// a pending challenge and the admin login stay valid).
    [[nodiscard]] CardId read_card_id() { return CardId(live().read_card_id(channel())); }

    /// A fresh admin challenge. Replaces a pending one; the admin login ends (the card logs
    /// the admin out when it issues a new challenge, or may).
    [[nodiscard]] Challenge challenge() {
        pending_ = false;
        authenticated_ = false;
        Bytes bytes = live().get_challenge(channel());
        pending_ = true;
        return Challenge(std::move(bytes));
    }

    /// Answers the pending challenge with the server's response. CardError{challenge_expired}
    /// when there is none in this session (nothing is sent); the profile's errors else
    /// (admin_auth_failed, challenge_expired, admin_auth_refused). A challenge is used by one
    /// answer, right or wrong.
    void authenticate_admin(const SecretBytes& response) {
        if (!pending_) {
            throw CardError("card::Session::authenticate_admin", CardErrorCode::challenge_expired,
                            std::string(profile_name()) +
                                ": no admin challenge is pending in this card session (none was "
                                "read, or it was answered already, or the card was reset): read "
                                "a fresh challenge and ask the server for its response");
        }
        pending_ = false;
        authenticated_ = false;
        live().authenticate_admin(channel(), response);
        authenticated_ = true;
    }

    /// Logs in as admin with a 3DES admin key the application holds (mutual authentication;
    /// no challenge from the server). Ends a pending challenge.
    void authenticate_admin_with_key(const SecretBytes& key) {
        pending_ = false;
        authenticated_ = false;
        live().authenticate_admin_with_key(channel(), key);
        authenticated_ = true;
    }

    /// A new 24-byte admin key. CardError{not_authenticated} without the admin login of this
    /// session (nothing is sent).
    void set_admin_key(const SecretBytes& key) {
        require_admin("setting the admin key");
        live().set_admin_key(channel(), key);
    }

    /// A new user PIN with the admin rights (GIDS). CardError{not_authenticated} without the
    /// admin login of this session (nothing is sent). Where the card logs the admin out
    /// afterwards, so does the session.
    void set_user_pin(const SecretString& pin) {
        require_admin("setting the user PIN");
        try {
            live().set_user_pin(channel(), pin);
        } catch (const CardError&) {
            // The card may have logged the admin out before it refused: assume it did.
            if (live().pin_change_ends_admin_login())
                authenticated_ = false;
            throw;
        }
        if (live().pin_change_ends_admin_login())
            authenticated_ = false;
    }

    /// A new user PIN with the PUK (PIV); no admin login needed.
    void reset_pin_with_puk(const SecretString& puk, const SecretString& pin) {
        live().reset_pin_with_puk(channel(), puk, pin);
    }

    /// True between a challenge and its answer.
    [[nodiscard]] bool challenge_pending() const noexcept { return pending_; }
    /// True after an accepted response, until the card logs the admin out.
    [[nodiscard]] bool admin_authenticated() const noexcept { return authenticated_; }

    /// Forgets the challenge and the admin login, e.g. after the card was reset.
    void forget_authentication() noexcept {
        pending_ = false;
        authenticated_ = false;
    }

    /// Points the session at the channel's new address (after the channel was moved).
    void rebind(ApduChannel& channel) noexcept { channel_ = &channel; }

  private:
    CardProfile& live() const {
        if (!profile_ || channel_ == nullptr) {
            throw UsageError(
                "card::Session::live",
                "mimcm::card::Session: this card session was moved from; use the session it "
                "was moved to");
        }
        return *profile_;
    }
    ApduChannel& channel() const {
        (void)live();
        return *channel_;
    }

    void require_admin(std::string_view operation) const {
        if (!authenticated_) {
            throw CardError("card::Session::require_admin", CardErrorCode::not_authenticated,
                            std::string(profile_name()) + ": " + std::string(operation) +
                                " needs the admin authentication of this card session (a fresh "
                                "challenge and the server's response)" +
                                (live().pin_change_ends_admin_login()
                                     ? "; the card logs the admin out after a PIN change"
                                     : ""));
        }
    }

    ApduChannel* channel_;
    std::unique_ptr<CardProfile> profile_;
    CardId card_id_;
    bool pending_ = false;
    bool authenticated_ = false;
};

}  // namespace mimcm::card
