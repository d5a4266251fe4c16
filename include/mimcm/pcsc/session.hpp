// A card session over PC/SC: one card connection, its profile resolved once and its applet
// selected ONCE. Everything after that runs on the selected applet without another SELECT:
//
//   pcsc::Context context;
//   pcsc::CardSession session = pcsc::CardSession::open(context, options);  // SELECT, card id
//   const CardData card = session.read();    // same card? then a fresh challenge
//   ... ask the CM server for the response to card.challenge ...
//   session.authenticate_admin(response);    // no SELECT in between
//   session.set_admin_key(new_key);          // admin login of this session
//   session.close();                         // disconnect (reset after admin work)
//
// Java Card clears a challenge and the admin login when the applet is selected again or the
// card is reset, so the session re-checks "same card" WITHOUT selecting: the ATR and state from
// the reader (SCardStatus; a reset says the challenge is gone) and, unless the session's
// transaction has been held since the card id was read, the card id by GET DATA on the
// selected applet (see verify_same_card()). It holds a PC/SC transaction from open() to close()
// (see ReadOptions::transaction), so no other application can select, reset or ask a challenge
// in between; keep the server calls in between short (Windows resets a card whose transaction
// is idle for more than 5 s: the next call then reports Error{card_reset}, challenge gone).
//
// read_card() is the one-off reading (ATR, card id, challenge) for the calls that only send the
// challenge to the server, e.g. the server-proposed PIN.
//
// Threads: not thread-safe; one session per thread. Movable, not copyable; keeps its PC/SC
// context alive, so it may outlive the Context it was opened with.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "mimcm/call.hpp"
#include "mimcm/card/resolver.hpp"
#include "mimcm/card/session.hpp"
#include "mimcm/identifiers.hpp"
#include "mimcm/pcsc/card.hpp"
#include "mimcm/pcsc/context.hpp"
#include "mimcm/pcsc/error.hpp"
#include "mimcm/pcsc/readers.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::pcsc {

/// Whether a card session holds a PC/SC transaction for its whole life (see
/// ReadOptions::transaction).
enum class SessionTransaction { held, not_held };

/// How CardSession::open() and read_card() find the card. A plain value: share it between
/// threads only read-only.
struct ReadOptions {
    /// Exact reader name; empty: the first reader with a card.
    std::optional<std::string> reader;
    /// Which card profiles to try, in order (default: PIV, then GIDS).
    card::ProfileResolver profiles;
    /// How long to wait for a card when there is none; 0: do not wait.
    std::chrono::milliseconds wait_for_card{0};
    /// Ends that wait early (Error{cancelled}) when cancelled, e.g. from a Cancel button.
    CancellationToken cancellation;
    /// Hold a PC/SC transaction for the whole session, so that no other application can
    /// SELECT, reset or take a challenge between a challenge and its answer. not_held only
    /// when other applications must use the card meanwhile (the session then detects a reset,
    /// but not another application's SELECT: the card refuses the answer instead).
    SessionTransaction transaction = SessionTransaction::held;
};

/// What read_card() read. A plain value: share it between threads only read-only.
struct CardReading {
    std::string reader;   ///< the reader that held the card
    std::string profile;  ///< the card profile that read it ("gids", "piv", or a custom one)
    CardData card;        ///< ATR, card id and challenge, as server_proposed_pin takes them
};

namespace detail {

inline Error no_profile_error(std::string_view reader, const std::string& why) {
    return Error("pcsc::read_card", ErrorCode::no_profile, 0, "read_card", std::string(reader),
                 where("read_card", reader) + ": " + why);
}

inline Error card_changed_error(std::string_view reader, std::string_view why) {
    return Error("pcsc::CardSession", ErrorCode::card_changed, 0, "CardSession",
                 std::string(reader),
                 where("CardSession", reader) + ": a different card is in the reader (" +
                     std::string(why) + ")");
}

/// Error{card_reset} with the consequence spelt out: the challenge died with the reset.
inline Error challenge_lost_error(const Error& e) {
    return Error(e.where(), ErrorCode::card_reset, e.native(), std::string(e.operation()),
                 std::string(e.reader()),
                 where(e.operation(), e.reader()) +
                     ": the card was reset since it was read, so its admin challenge and admin "
                     "login are gone: read the card again for a fresh challenge and ask the "
                     "server for a new response (" +
                     std::string(error_name(static_cast<LONG>(e.native()))) + " " +
                     hex32(static_cast<LONG>(e.native())) + ")");
}

}  // namespace detail

/// One card connection with its profile resolved and its applet selected once (see above).
/// Threads: not thread-safe; one thread at a time.
class CardSession {
  public:
    /// Picks the reader (see select_reader()), connects (SHARED), and in a transaction reads
    /// the ATR, resolves the profile (its applet stays selected) and reads the card id.
    /// A card reset by another application meanwhile is reconnected once; a card pcscd
    /// reports removed (e.g. right after a card swap) is connected afresh once, and when the
    /// reader is empty then, the removal is the error (Error{card_removed}).
    /// Errors: Error{service_not_running, no_readers, unknown_reader, no_card, card_removed,
    /// sharing_violation, timeout, ...}; Error{no_profile} when the card answers none of the
    /// profiles; card::CardError (missing_card_id, malformed, status) from the profile.
    static CardSession open(Context& context, const ReadOptions& options = {}) {
        const std::string name =
            select_reader(context, options.reader, options.wait_for_card, options.cancellation);
        try {
            return CardSession(Card(context, name), options.profiles, options.transaction);
        } catch (const Error& removed) {
            if (removed.code() != ErrorCode::card_removed)
                throw;
            try {
                return CardSession(Card(context, name), options.profiles, options.transaction);
            } catch (const Error& again) {
                // The reader is empty now: the card left while it was read, so say that.
                if (again.code() == ErrorCode::no_card)
                    throw removed;
                throw;
            }
        }
    }

    /// The same on a card already connected (the session takes it over).
    explicit CardSession(Card card, const card::ProfileResolver& profiles = {},
                         SessionTransaction transaction = SessionTransaction::held)
        : card_(std::make_unique<Card>(std::move(card))),
          hold_(transaction == SessionTransaction::held) {
        for (int attempt = 0;; ++attempt) {
            try {
                begin();
                atr_.emplace(card_->atr());
                try {
                    session_.emplace(*card_, profiles);
                } catch (const card::CardError& e) {
                    if (e.code() != card::CardErrorCode::no_profile)
                        throw;
                    throw detail::no_profile_error(card_->reader(), e.what());
                }
                card_id_.emplace(session_->card_id());
                id_checked_in_transaction_ = holds_transaction();
                return;
            } catch (const Error& e) {
                transaction_.reset();
                if (attempt > 0 || e.code() != ErrorCode::card_reset)
                    throw;
                card_->reconnect(Disposition::leave);
            }
        }
    }

    CardSession(const CardSession&) = delete;
    CardSession& operator=(const CardSession&) = delete;
    CardSession(CardSession&&) noexcept = default;
    CardSession& operator=(CardSession&& other) noexcept {
        if (this != &other) {
            close();
            card_ = std::move(other.card_);
            session_ = std::move(other.session_);
            atr_ = std::move(other.atr_);
            card_id_ = std::move(other.card_id_);
            transaction_ = std::move(other.transaction_);
            hold_ = other.hold_;
            id_checked_in_transaction_ = std::exchange(other.id_checked_in_transaction_, false);
            privileged_ = other.privileged_;
        }
        return *this;
    }
    /// close(); never throws.
    ~CardSession() { close(); }

    [[nodiscard]] bool open() const noexcept { return card_ && card_->connected(); }
    [[nodiscard]] const std::string& reader() const { return connected().reader(); }
    /// The ATR read when the session opened.
    [[nodiscard]] const Atr& atr() const { return *atr_; }
    /// The card id read when the session opened.
    [[nodiscard]] const CardId& card_id() const { return *card_id_; }
    /// The card's profile ("gids", "piv", ...).
    [[nodiscard]] std::string_view profile_name() const { return session_->profile_name(); }
    /// Whether the card's profile offers `operation`: ask before writing anything.
    [[nodiscard]] bool supports(card::CardOperation operation) const {
        return session_->supports(operation);
    }
    /// The card-level session (state of the challenge and the admin login).
    [[nodiscard]] const card::Session& card_session() const { return *session_; }

    /// Checks, without selecting anything, that the card read at open() is still there and
    /// was not reset: always the reader's state and the ATR (SCardStatus), and the card id by
    /// GET DATA unless this session's PC/SC transaction has been held without a break since
    /// the card id was read on it.
    ///
    /// Why SCardStatus alone is enough while the transaction is held: from
    /// SCardBeginTransaction to SCardEndTransaction no other handle can send an APDU to the
    /// card, reset or reconnect it (pcsc-lite and WinSCard make their BeginTransaction,
    /// Connect, Transmit and resetting Disconnect/Reconnect wait for the end of the
    /// transaction, or refuse them), so nothing but this session has talked to the card since
    /// the card id was read. What remains is the card itself: a removal (a swap is one) or a
    /// reset by the reader or the system (e.g. Windows' 5-second idle rule) marks every
    /// handle, and the next call on this one, SCardStatus included, reports
    /// SCARD_W_REMOVED_CARD or SCARD_W_RESET_CARD (Error{card_removed}, Error{card_reset});
    /// a card is only powered for APDUs after the resource manager has seen it inserted. So
    /// the card id cannot have changed under a transaction held since it was read.
    ///
    /// The card id is read again (GIDS: two GET DATA; PIV: the CHUID) whenever that chain may
    /// be broken: with SessionTransaction::not_held; after the transaction was ended or lost
    /// (a reset ends it; so does close()); after ANY error in this session, whether or not it
    /// cost the transaction (the session does not guess which ones did). After a successful
    /// re-read under a held transaction, the chain starts again from that read.
    ///
    /// Error{card_changed} (ATR or card id differ, or the card has no card id any more);
    /// Error{card_reset} (message: the challenge is gone); Error{card_removed}, ...
    void verify_same_card() {
        guarded([&] {
            begin();
            if (connected().checked_atr() != atr_->bytes())
                throw detail::card_changed_error(reader(), "its ATR differs from the one read");
            if (id_checked_in_transaction_ && holds_transaction())
                return;
            id_checked_in_transaction_ = false;
            std::optional<CardId> now;
            try {
                now.emplace(session_->read_card_id());
            } catch (const card::CardError& e) {
                if (e.code() == card::CardErrorCode::missing_card_id)
                    throw detail::card_changed_error(reader(), "it has no card id");
                if (e.sw())
                    throw detail::card_changed_error(reader(),
                                                     std::string("it answers ") + e.what());
                throw;
            }
            if (now->bytes() != card_id_->bytes())
                throw detail::card_changed_error(reader(), "its card id differs from the one read");
            id_checked_in_transaction_ = holds_transaction();
        });
    }

    /// verify_same_card(), then a fresh admin challenge from the selected applet.
    [[nodiscard]] Challenge challenge() {
        verify_same_card();
        return guarded([&] { return session_->challenge(); });
    }

    /// The ATR, the card id (re-checked) and a fresh challenge.
    [[nodiscard]] CardData read() {
        Challenge fresh = challenge();
        return CardData{*atr_, *card_id_, std::move(fresh)};
    }

    /// Answers the pending challenge (see card::Session::authenticate_admin).
    void authenticate_admin(const SecretBytes& response) {
        privileged_ = true;
        guarded([&] { session_->authenticate_admin(response); });
    }
    /// verify_same_card(), then the admin login with a 3DES admin key the application holds
    /// (mutual authentication, see card::Session::authenticate_admin_with_key).
    void authenticate_admin_with_key(const SecretBytes& key) {
        verify_same_card();
        privileged_ = true;
        guarded([&] { session_->authenticate_admin_with_key(key); });
    }
    /// A new admin key; needs the admin login of this session.
    void set_admin_key(const SecretBytes& key) {
        guarded([&] { session_->set_admin_key(key); });
    }
    /// A new user PIN with the admin rights (GIDS); the card may log the admin out after it.
    void set_user_pin(const SecretString& pin) {
        guarded([&] { session_->set_user_pin(pin); });
    }
    /// A new user PIN with the PUK (PIV).
    void reset_pin_with_puk(const SecretString& puk, const SecretString& pin) {
        privileged_ = true;
        guarded([&] { session_->reset_pin_with_puk(puk, pin); });
    }

    /// Ends the transaction and disconnects: with SCARD_RESET_CARD after an admin or PUK
    /// command (the card drops the admin and PIN state), else SCARD_LEAVE_CARD. Errors are
    /// ignored (they cannot undo what the card did); never throws.
    void close() noexcept {
        id_checked_in_transaction_ = false;
        if (transaction_)
            transaction_->release();
        transaction_.reset();
        if (card_)
            card_->release(privileged_ ? Disposition::reset : Disposition::leave);
        if (session_)
            session_->forget_authentication();
    }

  private:
    Card& connected() const {
        if (!card_ || !card_->connected())
            throw UsageError("pcsc::CardSession::connected",
                             "mimcm::pcsc::CardSession used after close() or move");
        return *card_;
    }

    void begin() {
        if (hold_ && !transaction_)
            transaction_.emplace(connected());
    }

    [[nodiscard]] bool holds_transaction() const noexcept {
        return transaction_ && transaction_->active();
    }

    /// Runs `body`; a reset seen on the way forgets the challenge and the admin login and
    /// says so. Any error makes the next verify_same_card() read the card id again.
    template <class Body>
    auto guarded(Body body) -> decltype(body()) {
        connected();
        try {
            return body();
        } catch (const Error& e) {
            id_checked_in_transaction_ = false;
            if (e.code() != ErrorCode::card_reset)
                throw;
            session_->forget_authentication();
            transaction_.reset();
            throw detail::challenge_lost_error(e);
        } catch (...) {
            id_checked_in_transaction_ = false;
            throw;
        }
    }

    std::unique_ptr<Card> card_;  // on the heap: session_ points at it across moves
    std::optional<card::Session> session_;
    std::optional<Atr> atr_;
    std::optional<CardId> card_id_;
    std::optional<Transaction> transaction_;
    bool hold_ = true;
    bool privileged_ = false;
    // The card id was read (at open() or by verify_same_card()) under the transaction held
    // now, and nothing has broken it since: see verify_same_card().
    bool id_checked_in_transaction_ = false;
};

/// Opens a session (see CardSession::open()), reads its ATR, card id and a challenge, and
/// closes it (SCARD_LEAVE_CARD) before returning, so the caller can make its HTTP call without
/// holding the card. For calls that only send the challenge to the server (server-proposed
/// PIN); answer a challenge in the session that read it instead.
inline CardReading read_card(Context& context, const ReadOptions& options = {}) {
    CardSession session = CardSession::open(context, options);
    CardReading reading{std::string(session.reader()), std::string(session.profile_name()),
                        session.read()};
    session.close();
    return reading;
}

}  // namespace mimcm::pcsc
