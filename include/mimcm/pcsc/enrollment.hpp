// The card side of mimcm::Enrollment on a real card through PC/SC, as one card session
// (mimcm/pcsc/session.hpp): the applet is selected once; every later read() re-checks the card
// without selecting and asks for a fresh challenge; the server's response is answered and the
// admin key or the PIN changed in that same session, with nothing selected in between.
#pragma once

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "mimcm/call.hpp"
#include "mimcm/card/resolver.hpp"
#include "mimcm/identifiers.hpp"
#include "mimcm/pcsc/context.hpp"
#include "mimcm/pcsc/readers.hpp"
#include "mimcm/pcsc/session.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::pcsc {

/// Movable (construct and assign), not copyable. It shares the native context of the Context it
/// was made with and keeps it alive, so it may outlive that Context object; Context::cancel() on
/// that object still ends this card's reader wait.
/// Threads: not thread-safe; one thread at a time.
class EnrollmentCard {
  public:
    /// options.reader: a reader name, or the first reader with a card (then kept for the whole
    /// flow); options.profiles: which card profiles to try (default: PIV, then GIDS).
    EnrollmentCard(const Context& context, ReadOptions options)
        : context_(context.share()), options_(std::move(options)) {}

    /// Opens the card session on the first call (SELECT once, card id); then, every time, the
    /// same-card check and a fresh admin challenge. A wait for the card (ReadOptions::
    /// wait_for_card) is cut short by the context's deadline, and ends with Error{cancelled} when
    /// its token (or ReadOptions::cancellation) is cancelled.
    CardData read(const CallContext& call = {}) {
        if (!session_ || !session_->open()) {
            ReadOptions options = options_;
            if (call.cancellation.can_be_cancelled())
                options.cancellation = call.cancellation;
            if (const auto left = call.remaining())
                options.wait_for_card = (std::min)(options.wait_for_card, *left);
            if (!options.reader) {
                options.reader = select_reader(context_, options.reader, options.wait_for_card,
                                               options.cancellation);
                options_.reader = options.reader;
            }
            session_.emplace(CardSession::open(context_, options));
        }
        return session_->read();
    }

    /// Whether the card read offers `operation` (std::logic_error before read()).
    [[nodiscard]] bool supports(card::CardOperation operation) const {
        return session().supports(operation);
    }

    /// Answers the last challenge with the server's response, then sets the new admin key.
    void set_admin_key(const SecretBytes& response, const SecretBytes& new_key) {
        session().authenticate_admin(response);
        session().set_admin_key(new_key);
    }

    /// Answers the last challenge with the server's response, then sets the user PIN with
    /// the admin rights (GIDS; the card logs the admin out afterwards).
    void set_user_pin(const SecretBytes& response, const SecretString& pin) {
        session().authenticate_admin(response);
        session().set_user_pin(pin);
    }

    /// Sets the user PIN with the PUK (PIV).
    void reset_pin_with_puk(const SecretString& puk, const SecretString& pin) {
        session().reset_pin_with_puk(puk, pin);
    }

    /// Ends the card session (disconnects; resets the card after admin work).
    void finish() noexcept {
        if (session_)
            session_->close();
    }

    /// The reader in use (empty before the first read).
    [[nodiscard]] std::string reader() const { return options_.reader.value_or(std::string()); }

  private:
    CardSession& session() const {
        if (!session_ || !session_->open()) {
            throw std::logic_error(
                "mimcm::pcsc::EnrollmentCard: read() the card before acting on it");
        }
        return *session_;
    }

    Context context_;  ///< shares the native context of the Context given
    ReadOptions options_;
    mutable std::optional<CardSession> session_;
};

}  // namespace mimcm::pcsc
