// The card side of mimcm::Enrollment on a real card through PC/SC: reads the ATR, card id and a
// fresh challenge, keeps the card connected (without a transaction) across the HTTP calls so
// the challenge survives, and answers the challenge and changes the admin key or the PIN only
// after re-checking that the same card is still there (pcsc::with_same_card).
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "mimcm/card/profiles.hpp"
#include "mimcm/identifiers.hpp"
#include "mimcm/pcsc.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::pcsc {

class EnrollmentCard {
  public:
    /// options.reader: a reader name, or the first reader with a card (then kept for the whole
    /// flow); options.profile: nullptr for auto (PIV, then GIDS). Not owned.
    EnrollmentCard(Context& context, ReadOptions options)
        : context_(context), options_(std::move(options)) {}

    /// The card's ATR, card id and a fresh admin challenge (one transaction).
    CardData read() {
        if (!card_ || !card_->connected()) {
            if (!options_.reader)
                options_.reader = select_reader(context_, options_.reader, options_.wait_for_card);
            card_.emplace(context_, *options_.reader);
        }
        last_ = read_card(*card_, &profile());
        return CardData{Atr(last_->atr), CardId(last_->identity.card_id),
                        Challenge(last_->identity.challenge)};
    }

    /// Authenticates as admin with the server's response to the last challenge, then sets the
    /// new admin key, on the card that was read.
    void set_admin_key(const SecretBytes& response, const SecretBytes& new_key) {
        act([&](card::ApduChannel& channel, card::CardProfile& profile) {
            profile.authenticate_admin(channel, response);
            profile.set_admin_key(channel, new_key);
        });
    }

    /// Authenticates as admin with the server's response to the last challenge, then sets the
    /// user PIN, on the card that was read.
    void set_user_pin(const SecretBytes& response, const SecretString& pin) {
        act([&](card::ApduChannel& channel, card::CardProfile& profile) {
            profile.authenticate_admin(channel, response);
            profile.set_user_pin(channel, pin);
        });
    }

    /// The reader in use (empty before the first read).
    [[nodiscard]] std::string reader() const { return options_.reader.value_or(std::string()); }

  private:
    card::CardProfile& profile() { return options_.profile ? *options_.profile : auto_profile_; }

    void act(const CardAction& action) {
        if (!last_ || !card_ || !card_->connected()) {
            throw std::logic_error(
                "mimcm::pcsc::EnrollmentCard: read() the card before acting on it");
        }
        with_same_card(*card_, *last_, profile(), action);
    }

    Context& context_;
    ReadOptions options_;
    card::AutoProfile auto_profile_;
    std::optional<Card> card_;
    std::optional<CardReading> last_;
};

}  // namespace mimcm::pcsc
