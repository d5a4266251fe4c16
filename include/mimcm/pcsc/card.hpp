// A connection to a card (Card, an ApduChannel) and a PC/SC transaction on it (Transaction).
//
// Threads: not thread-safe; one thread at a time per Card and per Transaction.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "mimcm/card/apdu.hpp"
#include "mimcm/encoding.hpp"
#include "mimcm/pcsc/context.hpp"
#include "mimcm/pcsc/error.hpp"
#include "mimcm/pcsc/platform.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::pcsc {

/// What to do with the card when a connection or transaction ends. A plain value: safe from
/// any thread.
enum class Disposition {
    leave,    ///< SCARD_LEAVE_CARD: keep the card's state (read-only work)
    reset,    ///< SCARD_RESET_CARD: warm reset, drops PIN/admin authentication state
    unpower,  ///< SCARD_UNPOWER_CARD
};

namespace detail {

inline DWORD native_disposition(Disposition d) noexcept {
    switch (d) {
        case Disposition::reset:
            return SCARD_RESET_CARD;
        case Disposition::unpower:
            return SCARD_UNPOWER_CARD;
        case Disposition::leave:
            break;
    }
    return SCARD_LEAVE_CARD;
}

}  // namespace detail

/// A connection to the card in one reader (SCardConnect, SHARED, T=0 or T=1), usable as an
/// ApduChannel. Non-copyable, movable. Keeps the native context alive, so it may outlive the
/// Context object it was made from.
/// Threads: not thread-safe; one thread at a time (another thread may end a wait on its
/// Context with Context::cancel()).
class Card final : public card::ApduChannel {
  public:
    /// Largest response accepted from SCardTransmit (extended length + SW).
    static constexpr std::size_t max_response = 65536 + 2;

    Card(const Context& context, std::string reader)
        : context_(context.share()), reader_(std::move(reader)) {
        check("pcsc::Card::Card",
              detail::connect(context_->native(), reader_.c_str(), SCARD_SHARE_SHARED,
                              SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &handle_, &protocol_),
              "SCardConnect", reader_);
        connected_ = true;
    }
    ~Card() override { release(); }

    Card(const Card&) = delete;
    Card& operator=(const Card&) = delete;
    Card(Card&& other) noexcept
        : card::ApduChannel(std::move(other)),
          context_(std::move(other.context_)),
          reader_(std::move(other.reader_)),
          handle_(other.handle_),
          protocol_(other.protocol_),
          connected_(std::exchange(other.connected_, false)) {}
    Card& operator=(Card&& other) noexcept {
        if (this != &other) {
            release();
            context_ = std::move(other.context_);
            reader_ = std::move(other.reader_);
            handle_ = other.handle_;
            protocol_ = other.protocol_;
            connected_ = std::exchange(other.connected_, false);
        }
        return *this;
    }

    [[nodiscard]] const std::string& reader() const noexcept { return reader_; }
    /// The active protocol: SCARD_PROTOCOL_T0 or SCARD_PROTOCOL_T1.
    [[nodiscard]] DWORD protocol() const noexcept { return protocol_; }
    [[nodiscard]] bool connected() const noexcept { return connected_; }
    /// The native handle. Throws mimcm::UsageError when not connected.
    [[nodiscard]] SCARDHANDLE native() const {
        if (!connected_)
            throw UsageError("pcsc::Card::native",
                             "mimcm::pcsc::Card used after disconnect or move");
        return handle_;
    }

    /// The card's ATR (from SCardStatus, which works on every platform and reader driver).
    [[nodiscard]] Bytes atr() const {
        BYTE buffer[64] = {};
        DWORD length = sizeof(buffer);
        DWORD state = 0;
        DWORD protocol = 0;
        check("pcsc::Card::atr", detail::status(native(), &state, &protocol, buffer, &length),
              "SCardStatus", reader_);
        return Bytes(buffer, buffer + (std::min)(static_cast<std::size_t>(length), sizeof(buffer)));
    }

    /// The ATR, after checking the reader's state for this handle (SCardStatus): a card
    /// reset by another application is Error{card_reset}; a card that is gone, or whose state
    /// says absent, Error{card_removed}; an active protocol other than this connection's
    /// (the card was reset and renegotiated) Error{card_reset}.
    [[nodiscard]] Bytes checked_atr() const {
        BYTE buffer[64] = {};
        DWORD length = sizeof(buffer);
        DWORD state = 0;
        DWORD protocol = 0;
        check("pcsc::Card::checked_atr",
              detail::status(native(), &state, &protocol, buffer, &length), "SCardStatus", reader_);
        if (detail::state_absent(state)) {
            throw Error::from_native(
                "pcsc::Card::checked_atr", static_cast<LONG>(SCARD_W_REMOVED_CARD), "SCardStatus",
                reader_, "the reader reports no card", ErrorCode::card_removed);
        }
        if (protocol != protocol_) {
            throw Error::from_native("pcsc::Card::checked_atr",
                                     static_cast<LONG>(SCARD_W_RESET_CARD), "SCardStatus", reader_,
                                     "the card's active protocol changed", ErrorCode::card_reset);
        }
        return Bytes(buffer, buffer + (std::min)(static_cast<std::size_t>(length), sizeof(buffer)));
    }

    /// SCardReconnect (SHARED, T=0|T=1) with the given initialisation, e.g. after
    /// Error{card_reset}. Any applet selection and authentication state is gone afterwards.
    void reconnect(Disposition initialization = Disposition::leave) {
        check("pcsc::Card::reconnect",
              SCardReconnect(native(), SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                             detail::native_disposition(initialization), &protocol_),
              "SCardReconnect", reader_);
    }

    /// SCardDisconnect. Use Disposition::reset after admin or PIN authentication. Throws on
    /// failure (the handle is given up anyway); does nothing when not connected.
    void disconnect(Disposition disposition = Disposition::leave) {
        if (!connected_)
            return;
        connected_ = false;
        check("pcsc::Card::disconnect",
              SCardDisconnect(handle_, detail::native_disposition(disposition)), "SCardDisconnect",
              reader_);
    }

    /// Disconnects (by default with SCARD_LEAVE_CARD), ignoring errors; never throws.
    void release(Disposition disposition = Disposition::leave) noexcept {
        if (connected_) {
            connected_ = false;
            SCardDisconnect(handle_, detail::native_disposition(disposition));
        }
    }

    /// SCardTransmit of one command; no 61xx/6Cxx handling (card::transmit() does that).
    /// A card that vanished mid-APDU (SCARD_E_NOT_TRANSACTED or an empty answer, then no card
    /// within 1 s) is reported as Error{card_removed}.
    Bytes transmit_raw(const Bytes& command) override {
        const SCARD_IO_REQUEST* pci = protocol_ == SCARD_PROTOCOL_T0   ? SCARD_PCI_T0
                                      : protocol_ == SCARD_PROTOCOL_T1 ? SCARD_PCI_T1
                                                                       : SCARD_PCI_RAW;
        Bytes buffer(max_response);
        DWORD length = static_cast<DWORD>(buffer.size());
        const LONG rv =
            SCardTransmit(native(), pci, command.data(), static_cast<DWORD>(command.size()),
                          nullptr, buffer.data(), &length);
        if (rv == static_cast<LONG>(SCARD_E_NOT_TRANSACTED) && card_gone()) {
            throw Error::from_native("pcsc::Card::transmit_raw", rv, "SCardTransmit", reader_,
                                     "the card was removed during the exchange",
                                     ErrorCode::card_removed);
        }
        check("pcsc::Card::transmit_raw", rv, "SCardTransmit", reader_);
        if (length == 0 && card_gone()) {
            // Some reader drivers (vpcd among them) report a card that left mid-APDU as an
            // exchange that succeeded with no byte at all.
            throw Error::from_native("pcsc::Card::transmit_raw",
                                     static_cast<LONG>(SCARD_W_REMOVED_CARD), "SCardTransmit",
                                     reader_, "the card was removed during the exchange",
                                     ErrorCode::card_removed);
        }
        const auto n = (std::min)(static_cast<std::size_t>(length), buffer.size());
        Bytes response(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
        secure_wipe(buffer.data(), n);
        return response;
    }

  private:
    // After SCARD_E_NOT_TRANSACTED or an empty answer: is the card gone? pcscd notices a
    // removal when it next polls the reader (every 400 ms), so look a few times (bounded:
    // 20 x 50 ms).
    bool card_gone() const {
        for (int i = 0; i < 20; ++i) {
            BYTE atr[64];
            DWORD atr_len = sizeof(atr);
            DWORD state = 0;
            DWORD protocol = 0;
            const LONG rv = detail::status(handle_, &state, &protocol, atr, &atr_len);
            if (rv == static_cast<LONG>(SCARD_W_REMOVED_CARD) ||
                rv == static_cast<LONG>(SCARD_E_NO_SMARTCARD)) {
                return true;
            }
            if (rv == SCARD_S_SUCCESS && detail::state_absent(state))
                return true;
            if (rv != SCARD_S_SUCCESS)
                return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return false;
    }

    std::shared_ptr<const detail::ContextHandle> context_;  // released after the handle
    std::string reader_;
    SCARDHANDLE handle_{};
    DWORD protocol_ = 0;
    bool connected_ = false;
};

/// SCardBeginTransaction for the lifetime of this object: no other application can talk to
/// the card in between. The destructor ends it with SCARD_LEAVE_CARD and never throws.
/// Keep transactions short and never hold one across a network call (Windows resets a card
/// whose transaction is idle for more than 5 s; pcsc-lite blocks every other application).
/// End it before its Card is disconnected or destroyed. Threads: not thread-safe; use it on
/// the thread that uses its Card.
class Transaction {
  public:
    explicit Transaction(const Card& card) : handle_(card.native()), reader_(card.reader()) {
        check("pcsc::Transaction::Transaction", SCardBeginTransaction(handle_),
              "SCardBeginTransaction", reader_);
        active_ = true;
    }
    ~Transaction() { release(); }

    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    Transaction(Transaction&& other) noexcept
        : handle_(other.handle_),
          reader_(std::move(other.reader_)),
          active_(std::exchange(other.active_, false)) {}
    Transaction& operator=(Transaction&& other) noexcept {
        if (this != &other) {
            release();
            handle_ = other.handle_;
            reader_ = std::move(other.reader_);
            active_ = std::exchange(other.active_, false);
        }
        return *this;
    }

    [[nodiscard]] bool active() const noexcept { return active_; }

    /// SCardEndTransaction; throws on failure. Does nothing when already ended.
    void end(Disposition disposition = Disposition::leave) {
        if (!active_)
            return;
        active_ = false;
        check("pcsc::Transaction::end",
              SCardEndTransaction(handle_, detail::native_disposition(disposition)),
              "SCardEndTransaction", reader_);
    }

    /// Ends the transaction with SCARD_LEAVE_CARD, ignoring errors; never throws.
    void release() noexcept {
        if (active_) {
            active_ = false;
            SCardEndTransaction(handle_, SCARD_LEAVE_CARD);
        }
    }

  private:
    SCARDHANDLE handle_{};
    std::string reader_;
    bool active_ = false;
};
}  // namespace mimcm::pcsc
