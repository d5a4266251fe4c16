// PC/SC, RAII style: Context, Card (an ApduChannel), Transaction, reader listing and selection.
// The card session on top of it (one applet selection per card; read_card(), the admin steps)
// is in mimcm/pcsc_session.hpp.
//
// This is the only mimcm header that includes the PC/SC headers:
//   Linux/BSD: <winscard.h> from pcsc-lite (pkg-config libpcsclite adds -I/usr/include/PCSC)
//   macOS:     <PCSC/winscard.h> (-framework PCSC)
//   Windows:   <winsock2.h>, <windows.h>, then <winscard.h> (winscard.lib); the ...A functions
//              are called explicitly, so reader names are narrow (ANSI) strings whatever UNICODE
//              says. NOMINMAX is not needed: mimcm writes (std::min)(a, b).
//
// Errors: every failing PC/SC call throws mimcm::pcsc::Error, which carries a portable
// ErrorCode, the native PC/SC code, the operation and the reader; describe(code) tells the user
// what to do. Card-level failures (status words, malformed data) are mimcm::card::CardError.
//
// Threads: use one Context (and the Cards made from it) per thread; Context::cancel() may be
// called from another thread to end a wait.
#pragma once

#if defined(MIMCM_NO_PCSC)
#error "mimcm/pcsc.hpp needs PC/SC, but mimcm was configured without it (MIMCM_WITH_PCSC=OFF)"
#endif

#if defined(_WIN32)
// winsock2.h first: <windows.h> alone brings in the old winsock.h, which clashes with the
// winsock2.h that libcurl's headers (and many applications) include later.
#include <winsock2.h>

#include <windows.h>
#include <winscard.h>
#elif defined(__APPLE__)
#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>
#else
#include <winscard.h>
#endif

// Old macOS PCSC.framework headers lack this code; its value is the same everywhere.
#ifndef SCARD_E_NO_READERS_AVAILABLE
#define SCARD_E_NO_READERS_AVAILABLE ((LONG)0x8010002E)
#endif

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "mimcm/card/apdu.hpp"
#include "mimcm/card/profiles.hpp"
#include "mimcm/encoding.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::pcsc {

/// What went wrong, independent of the platform's PC/SC codes.
enum class ErrorCode {
    service_not_running,  ///< SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED
    no_readers,           ///< no reader connected (SCARD_E_NO_READERS_AVAILABLE)
    unknown_reader,       ///< SCARD_E_UNKNOWN_READER, SCARD_E_READER_UNAVAILABLE
    no_card,              ///< SCARD_E_NO_SMARTCARD, or no reader has a card
    card_removed,         ///< SCARD_W_REMOVED_CARD, or the card vanished mid-APDU
    card_reset,           ///< SCARD_W_RESET_CARD: another application reset the card
    sharing_violation,    ///< another application holds the card exclusively
    timeout,              ///< SCARD_E_TIMEOUT: e.g. no card inserted in time
    cancelled,            ///< SCARD_E_CANCELLED and friends
    not_transacted,       ///< SCARD_E_NOT_TRANSACTED with the card still present
    communication,        ///< reader/card I/O trouble (F_COMM_ERROR, UNRESPONSIVE, ...)
    no_profile,           ///< the card answers none of the card profiles tried
    card_changed,         ///< CardSession: another card than the one read is in the reader
    other,                ///< anything else; see native()
};

/// The name of an ErrorCode ("no_card", ...).
inline std::string_view to_string(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::service_not_running:
            return "service_not_running";
        case ErrorCode::no_readers:
            return "no_readers";
        case ErrorCode::unknown_reader:
            return "unknown_reader";
        case ErrorCode::no_card:
            return "no_card";
        case ErrorCode::card_removed:
            return "card_removed";
        case ErrorCode::card_reset:
            return "card_reset";
        case ErrorCode::sharing_violation:
            return "sharing_violation";
        case ErrorCode::timeout:
            return "timeout";
        case ErrorCode::cancelled:
            return "cancelled";
        case ErrorCode::not_transacted:
            return "not_transacted";
        case ErrorCode::communication:
            return "communication";
        case ErrorCode::no_profile:
            return "no_profile";
        case ErrorCode::card_changed:
            return "card_changed";
        case ErrorCode::other:
            return "other";
    }
    return "other";
}

/// What the user should do about an error.
inline std::string_view describe(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::service_not_running:
            return "start the PC/SC service (pcscd on Linux, the \"Smart Card\" service SCardSvr "
                   "on Windows) and try again";
        case ErrorCode::no_readers:
            return "connect a smart card reader";
        case ErrorCode::unknown_reader:
            return "check the reader name against the list of readers, and that the reader is "
                   "connected";
        case ErrorCode::no_card:
            return "insert a card";
        case ErrorCode::card_removed:
            return "the card was removed: insert it again and start over";
        case ErrorCode::card_reset:
            return "another application reset the card: try again";
        case ErrorCode::sharing_violation:
            return "another application is using the card exclusively: close it and try again";
        case ErrorCode::timeout:
            return "no card arrived in time: insert a card, or allow more time";
        case ErrorCode::cancelled:
            return "the operation was cancelled: start it again if needed";
        case ErrorCode::not_transacted:
            return "the card stopped answering: reinsert it and try again";
        case ErrorCode::communication:
            return "the reader or card does not communicate properly: reinsert the card or "
                   "reconnect the reader, then try again";
        case ErrorCode::no_profile:
            return "use a supported card (GIDS or PIV), or choose the card profile that fits it";
        case ErrorCode::card_changed:
            return "a different card is in the reader: put the card that was read back in, or "
                   "start over with this one";
        case ErrorCode::other:
            return "see the PC/SC error code";
    }
    return "see the PC/SC error code";
}

namespace detail {

struct ErrorInfo {
    LONG value;
    const char* name;
    const char* text;
    ErrorCode code;
};

// Our own table (pcsc_stringify_error is pcsc-lite only). Looked up by value in order, so where
// two names share a value (pcsc-lite: SCARD_E_UNSUPPORTED_FEATURE == SCARD_E_UNEXPECTED) the
// first wins. Every entry is guarded: not every platform defines every code.
inline const ErrorInfo* find_error(LONG value) noexcept {
    static const ErrorInfo table[] = {
#ifdef SCARD_E_NO_SERVICE
        {static_cast<LONG>(SCARD_E_NO_SERVICE), "SCARD_E_NO_SERVICE",
         "the PC/SC service is not running", ErrorCode::service_not_running},
#endif
#ifdef SCARD_E_SERVICE_STOPPED
        {static_cast<LONG>(SCARD_E_SERVICE_STOPPED), "SCARD_E_SERVICE_STOPPED",
         "the PC/SC service has stopped", ErrorCode::service_not_running},
#endif
#ifdef SCARD_E_NO_READERS_AVAILABLE
        {static_cast<LONG>(SCARD_E_NO_READERS_AVAILABLE), "SCARD_E_NO_READERS_AVAILABLE",
         "no smart card reader is connected", ErrorCode::no_readers},
#endif
#ifdef SCARD_E_UNKNOWN_READER
        {static_cast<LONG>(SCARD_E_UNKNOWN_READER), "SCARD_E_UNKNOWN_READER",
         "no reader of that name", ErrorCode::unknown_reader},
#endif
#ifdef SCARD_E_READER_UNAVAILABLE
        {static_cast<LONG>(SCARD_E_READER_UNAVAILABLE), "SCARD_E_READER_UNAVAILABLE",
         "the reader is not available", ErrorCode::unknown_reader},
#endif
#ifdef SCARD_E_NO_SMARTCARD
        {static_cast<LONG>(SCARD_E_NO_SMARTCARD), "SCARD_E_NO_SMARTCARD",
         "no smart card in the reader", ErrorCode::no_card},
#endif
#ifdef SCARD_W_REMOVED_CARD
        {static_cast<LONG>(SCARD_W_REMOVED_CARD), "SCARD_W_REMOVED_CARD", "the card was removed",
         ErrorCode::card_removed},
#endif
#ifdef SCARD_W_RESET_CARD
        {static_cast<LONG>(SCARD_W_RESET_CARD), "SCARD_W_RESET_CARD",
         "the card was reset by another application", ErrorCode::card_reset},
#endif
#ifdef SCARD_E_SHARING_VIOLATION
        {static_cast<LONG>(SCARD_E_SHARING_VIOLATION), "SCARD_E_SHARING_VIOLATION",
         "the card is in exclusive use by another application", ErrorCode::sharing_violation},
#endif
#ifdef SCARD_E_TIMEOUT
        {static_cast<LONG>(SCARD_E_TIMEOUT), "SCARD_E_TIMEOUT", "timed out", ErrorCode::timeout},
#endif
#ifdef SCARD_E_CANCELLED
        {static_cast<LONG>(SCARD_E_CANCELLED), "SCARD_E_CANCELLED", "the operation was cancelled",
         ErrorCode::cancelled},
#endif
#ifdef SCARD_E_SYSTEM_CANCELLED
        {static_cast<LONG>(SCARD_E_SYSTEM_CANCELLED), "SCARD_E_SYSTEM_CANCELLED",
         "the operation was cancelled by the system (logoff or shutdown)", ErrorCode::cancelled},
#endif
#ifdef SCARD_W_CANCELLED_BY_USER
        {static_cast<LONG>(SCARD_W_CANCELLED_BY_USER), "SCARD_W_CANCELLED_BY_USER",
         "the user cancelled", ErrorCode::cancelled},
#endif
#ifdef SCARD_E_NOT_TRANSACTED
        {static_cast<LONG>(SCARD_E_NOT_TRANSACTED), "SCARD_E_NOT_TRANSACTED",
         "the card did not complete the exchange", ErrorCode::not_transacted},
#endif
#ifdef SCARD_F_COMM_ERROR
        {static_cast<LONG>(SCARD_F_COMM_ERROR), "SCARD_F_COMM_ERROR",
         "communication error with the reader", ErrorCode::communication},
#endif
#ifdef SCARD_E_COMM_DATA_LOST
        {static_cast<LONG>(SCARD_E_COMM_DATA_LOST), "SCARD_E_COMM_DATA_LOST",
         "data was lost in the communication with the card", ErrorCode::communication},
#endif
#ifdef SCARD_W_UNRESPONSIVE_CARD
        {static_cast<LONG>(SCARD_W_UNRESPONSIVE_CARD), "SCARD_W_UNRESPONSIVE_CARD",
         "the card does not respond to a reset", ErrorCode::communication},
#endif
#ifdef SCARD_W_UNPOWERED_CARD
        {static_cast<LONG>(SCARD_W_UNPOWERED_CARD), "SCARD_W_UNPOWERED_CARD",
         "the card is not powered", ErrorCode::communication},
#endif
#ifdef SCARD_W_UNSUPPORTED_CARD
        {static_cast<LONG>(SCARD_W_UNSUPPORTED_CARD), "SCARD_W_UNSUPPORTED_CARD",
         "the reader cannot communicate with the card (ATR conflict)", ErrorCode::communication},
#endif
#ifdef SCARD_E_PROTO_MISMATCH
        {static_cast<LONG>(SCARD_E_PROTO_MISMATCH), "SCARD_E_PROTO_MISMATCH",
         "the card does not speak the requested protocol", ErrorCode::communication},
#endif
#ifdef SCARD_E_NOT_READY
        {static_cast<LONG>(SCARD_E_NOT_READY), "SCARD_E_NOT_READY",
         "the reader or card is not ready", ErrorCode::communication},
#endif
#ifdef SCARD_F_WAITED_TOO_LONG
        {static_cast<LONG>(SCARD_F_WAITED_TOO_LONG), "SCARD_F_WAITED_TOO_LONG",
         "an internal wait timed out", ErrorCode::communication},
#endif
#ifdef SCARD_F_INTERNAL_ERROR
        {static_cast<LONG>(SCARD_F_INTERNAL_ERROR), "SCARD_F_INTERNAL_ERROR",
         "internal error in the PC/SC service", ErrorCode::other},
#endif
#ifdef SCARD_E_INVALID_HANDLE
        {static_cast<LONG>(SCARD_E_INVALID_HANDLE), "SCARD_E_INVALID_HANDLE",
         "invalid handle (stale after a service restart?)", ErrorCode::other},
#endif
#ifdef SCARD_E_INVALID_PARAMETER
        {static_cast<LONG>(SCARD_E_INVALID_PARAMETER), "SCARD_E_INVALID_PARAMETER",
         "invalid parameter", ErrorCode::other},
#endif
#ifdef SCARD_E_INVALID_TARGET
        {static_cast<LONG>(SCARD_E_INVALID_TARGET), "SCARD_E_INVALID_TARGET", "invalid target",
         ErrorCode::other},
#endif
#ifdef SCARD_E_INVALID_VALUE
        {static_cast<LONG>(SCARD_E_INVALID_VALUE), "SCARD_E_INVALID_VALUE", "invalid value",
         ErrorCode::other},
#endif
#ifdef SCARD_E_NO_MEMORY
        {static_cast<LONG>(SCARD_E_NO_MEMORY), "SCARD_E_NO_MEMORY", "out of memory",
         ErrorCode::other},
#endif
#ifdef SCARD_E_INSUFFICIENT_BUFFER
        {static_cast<LONG>(SCARD_E_INSUFFICIENT_BUFFER), "SCARD_E_INSUFFICIENT_BUFFER",
         "buffer too small", ErrorCode::other},
#endif
#ifdef SCARD_E_UNKNOWN_CARD
        {static_cast<LONG>(SCARD_E_UNKNOWN_CARD), "SCARD_E_UNKNOWN_CARD", "unknown card",
         ErrorCode::other},
#endif
#ifdef SCARD_E_CANT_DISPOSE
        {static_cast<LONG>(SCARD_E_CANT_DISPOSE), "SCARD_E_CANT_DISPOSE",
         "the card cannot be disposed of as asked", ErrorCode::other},
#endif
#ifdef SCARD_F_UNKNOWN_ERROR
        {static_cast<LONG>(SCARD_F_UNKNOWN_ERROR), "SCARD_F_UNKNOWN_ERROR",
         "unknown internal error", ErrorCode::other},
#endif
#ifdef SCARD_E_INVALID_ATR
        {static_cast<LONG>(SCARD_E_INVALID_ATR), "SCARD_E_INVALID_ATR", "invalid ATR",
         ErrorCode::other},
#endif
#ifdef SCARD_P_SHUTDOWN
        {static_cast<LONG>(SCARD_P_SHUTDOWN), "SCARD_P_SHUTDOWN",
         "the PC/SC service is shutting down", ErrorCode::other},
#endif
#ifdef SCARD_E_PCI_TOO_SMALL
        {static_cast<LONG>(SCARD_E_PCI_TOO_SMALL), "SCARD_E_PCI_TOO_SMALL",
         "PCI receive buffer too small", ErrorCode::other},
#endif
#ifdef SCARD_E_READER_UNSUPPORTED
        {static_cast<LONG>(SCARD_E_READER_UNSUPPORTED), "SCARD_E_READER_UNSUPPORTED",
         "reader not supported", ErrorCode::other},
#endif
#ifdef SCARD_E_DUPLICATE_READER
        {static_cast<LONG>(SCARD_E_DUPLICATE_READER), "SCARD_E_DUPLICATE_READER",
         "duplicate reader", ErrorCode::other},
#endif
#ifdef SCARD_E_CARD_UNSUPPORTED
        {static_cast<LONG>(SCARD_E_CARD_UNSUPPORTED), "SCARD_E_CARD_UNSUPPORTED",
         "card not supported", ErrorCode::other},
#endif
#ifdef SCARD_E_UNSUPPORTED_FEATURE
        {static_cast<LONG>(SCARD_E_UNSUPPORTED_FEATURE), "SCARD_E_UNSUPPORTED_FEATURE",
         "the feature is not supported", ErrorCode::other},
#endif
#ifdef SCARD_E_UNEXPECTED
        {static_cast<LONG>(SCARD_E_UNEXPECTED), "SCARD_E_UNEXPECTED", "unexpected card error",
         ErrorCode::other},
#endif
#ifdef SCARD_E_SERVER_TOO_BUSY
        {static_cast<LONG>(SCARD_E_SERVER_TOO_BUSY), "SCARD_E_SERVER_TOO_BUSY",
         "the PC/SC service is too busy", ErrorCode::other},
#endif
#ifdef SCARD_W_SECURITY_VIOLATION
        {static_cast<LONG>(SCARD_W_SECURITY_VIOLATION), "SCARD_W_SECURITY_VIOLATION",
         "access denied (security violation)", ErrorCode::other},
#endif
#ifdef SCARD_W_WRONG_CHV
        {static_cast<LONG>(SCARD_W_WRONG_CHV), "SCARD_W_WRONG_CHV", "wrong PIN", ErrorCode::other},
#endif
#ifdef SCARD_W_CHV_BLOCKED
        {static_cast<LONG>(SCARD_W_CHV_BLOCKED), "SCARD_W_CHV_BLOCKED", "PIN blocked",
         ErrorCode::other},
#endif
#ifdef SCARD_W_CARD_NOT_AUTHENTICATED
        {static_cast<LONG>(SCARD_W_CARD_NOT_AUTHENTICATED), "SCARD_W_CARD_NOT_AUTHENTICATED",
         "no PIN was presented", ErrorCode::other},
#endif
#if defined(_WIN32)
        // Win32 errors WinSCard passes through (as web-eid's libpcsc-cpp also maps them).
        {static_cast<LONG>(ERROR_NO_MEDIA_IN_DRIVE), "ERROR_NO_MEDIA_IN_DRIVE",
         "no smart card in the reader", ErrorCode::no_card},
        {static_cast<LONG>(ERROR_IO_DEVICE), "ERROR_IO_DEVICE", "I/O device error",
         ErrorCode::communication},
#endif
    };
    for (const auto& entry : table) {
        if (entry.value == value)
            return &entry;
    }
    return nullptr;
}

inline std::string hex32(LONG value) {
    const auto v = static_cast<std::uint32_t>(static_cast<unsigned long>(value) & 0xFFFFFFFFul);
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out = "0x";
    for (int shift = 28; shift >= 0; shift -= 4)
        out.push_back(digits[(v >> shift) & 0xF]);
    return out;
}

inline std::string where(std::string_view operation, std::string_view reader) {
    std::string out(operation);
    if (!reader.empty()) {
        out += "(\"";
        out += reader;
        out += "\")";
    }
    return out;
}

}  // namespace detail

/// The portable ErrorCode of a native PC/SC result (ErrorCode::other when unknown).
inline ErrorCode error_code_of(LONG native) noexcept {
    const auto* info = detail::find_error(native);
    return info ? info->code : ErrorCode::other;
}

/// The name of a native PC/SC result ("SCARD_E_NO_SMARTCARD"), or "" when unknown.
inline std::string_view error_name(LONG native) noexcept {
    const auto* info = detail::find_error(native);
    return info ? info->name : "";
}

/// A PC/SC failure. what() reads like
///   SCardConnect("Virtual PCD 00 00"): no smart card in the reader (SCARD_E_NO_SMARTCARD
///   0x8010000C)
class Error : public card::DeviceError {
  public:
    /// A complete message is given; native may be 0 when no PC/SC call failed as such.
    Error(ErrorCode code, long native, std::string operation, std::string reader,
          const std::string& message)
        : card::DeviceError(message),
          code_(code),
          native_(native),
          operation_(std::move(operation)),
          reader_(std::move(reader)) {}

    /// From a failed PC/SC call. `detail` replaces the standard text of the code if given;
    /// `code` overrides the ErrorCode derived from `native`.
    static Error from_native(LONG native, std::string_view operation, std::string_view reader = {},
                             std::string_view detail = {},
                             std::optional<ErrorCode> code = std::nullopt) {
        const auto* info = detail::find_error(native);
        std::string message = detail::where(operation, reader) + ": ";
        message +=
            !detail.empty() ? std::string(detail) : std::string(info ? info->text : "PC/SC error");
        message += " (";
        if (info) {
            message += info->name;
            message += ' ';
        }
        message += detail::hex32(native) + ")";
        return Error(code   ? *code
                     : info ? info->code
                            : ErrorCode::other,
                     static_cast<long>(native), std::string(operation), std::string(reader),
                     message);
    }

    [[nodiscard]] ErrorCode code() const noexcept { return code_; }
    /// The native PC/SC result (e.g. 0x8010000C), 0 when no PC/SC call failed as such.
    [[nodiscard]] long native() const noexcept { return native_; }
    /// The failed operation, e.g. "SCardConnect" or "read_card".
    [[nodiscard]] std::string_view operation() const noexcept { return operation_; }
    /// The reader concerned, empty when none.
    [[nodiscard]] std::string_view reader() const noexcept { return reader_; }

  private:
    ErrorCode code_;
    long native_;
    std::string operation_;
    std::string reader_;
};

/// The ScardCall-style wrapper: throws Error naming the operation (and reader) unless rv is
/// SCARD_S_SUCCESS. Every PC/SC call site is then one line:
///   check(SCardBeginTransaction(handle), "SCardBeginTransaction", reader);
inline void check(LONG rv, std::string_view operation, std::string_view reader = {}) {
    if (rv != SCARD_S_SUCCESS)
        throw Error::from_native(rv, operation, reader);
}

/// What to do with the card when a connection or transaction ends.
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

// The narrow-string PC/SC entry points, whatever UNICODE says on Windows.
#if defined(_WIN32)
using ReaderState = SCARD_READERSTATEA;
inline LONG list_readers(SCARDCONTEXT c, LPSTR buffer, DWORD* size) {
    return SCardListReadersA(c, nullptr, buffer, size);
}
inline LONG connect(SCARDCONTEXT c, const char* reader, DWORD share, DWORD protocols,
                    SCARDHANDLE* handle, DWORD* active) {
    return SCardConnectA(c, reader, share, protocols, handle, active);
}
inline LONG status(SCARDHANDLE h, DWORD* state, DWORD* protocol, BYTE* atr, DWORD* atr_len) {
    DWORD name_len = 0;
    return SCardStatusA(h, nullptr, &name_len, state, protocol, atr, atr_len);
}
inline LONG get_status_change(SCARDCONTEXT c, DWORD timeout, ReaderState* states, DWORD count) {
    return SCardGetStatusChangeA(c, timeout, states, count);
}
#else
using ReaderState = SCARD_READERSTATE;
inline LONG list_readers(SCARDCONTEXT c, LPSTR buffer, DWORD* size) {
    return SCardListReaders(c, nullptr, buffer, size);
}
inline LONG connect(SCARDCONTEXT c, const char* reader, DWORD share, DWORD protocols,
                    SCARDHANDLE* handle, DWORD* active) {
    return SCardConnect(c, reader, share, protocols, handle, active);
}
inline LONG status(SCARDHANDLE h, DWORD* state, DWORD* protocol, BYTE* atr, DWORD* atr_len) {
    DWORD name_len = 0;
    return SCardStatus(h, nullptr, &name_len, state, protocol, atr, atr_len);
}
inline LONG get_status_change(SCARDCONTEXT c, DWORD timeout, ReaderState* states, DWORD count) {
    return SCardGetStatusChange(c, timeout, states, count);
}
#endif

/// SCardStatus' dwState says "no card" (pcsc-lite: bit flags; Windows: enumerated values).
inline bool state_absent(DWORD state) noexcept {
#if defined(_WIN32)
    return state == SCARD_ABSENT || state == SCARD_UNKNOWN;
#else
    return (state & SCARD_ABSENT) != 0;
#endif
}

constexpr const char* pnp_notification = "\\\\?PnP?\\Notification";

}  // namespace detail

/// A PC/SC context (SCardEstablishContext, user scope). Non-copyable, movable.
namespace detail {
/// The native context, released when the Context and every Card made from it are gone.
class ContextHandle {
  public:
    ContextHandle() {
        check(SCardEstablishContext(SCARD_SCOPE_USER, nullptr, nullptr, &handle_),
              "SCardEstablishContext");
    }
    ~ContextHandle() { SCardReleaseContext(handle_); }
    ContextHandle(const ContextHandle&) = delete;
    ContextHandle& operator=(const ContextHandle&) = delete;
    [[nodiscard]] SCARDCONTEXT native() const noexcept { return handle_; }

  private:
    SCARDCONTEXT handle_{};
};
}  // namespace detail

class Context {
  public:
    Context() : state_(std::make_shared<const detail::ContextHandle>()) {}
    ~Context() = default;

    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;
    Context(Context&& other) noexcept = default;
    Context& operator=(Context&& other) noexcept = default;

    /// The native handle. Throws std::logic_error on a moved-from or released Context.
    [[nodiscard]] SCARDCONTEXT native() const {
        if (!state_)
            throw std::logic_error("mimcm::pcsc::Context used after move or release");
        return state_->native();
    }
    /// True while this object owns a context (not a liveness check of the service).
    [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }

    /// The shared native context: a Card keeps it alive for as long as it needs it.
    [[nodiscard]] std::shared_ptr<const detail::ContextHandle> share() const {
        if (!state_)
            throw std::logic_error("mimcm::pcsc::Context used after move or release");
        return state_;
    }

    /// Ends a blocking SCardGetStatusChange of this context (callable from another thread);
    /// the waiting call then throws Error{cancelled}.
    void cancel() const { check(SCardCancel(native()), "SCardCancel"); }

    /// Gives up this object's context (SCardReleaseContext once no Card made from it is left
    /// either); never throws.
    void release() noexcept { state_.reset(); }

  private:
    std::shared_ptr<const detail::ContextHandle> state_;
};

/// A connection to the card in one reader (SCardConnect, SHARED, T=0 or T=1), usable as an
/// ApduChannel. Non-copyable, movable. Keeps the native context alive, so it may outlive the
/// Context object it was made from.
class Card final : public card::ApduChannel {
  public:
    /// Largest response accepted from SCardTransmit (extended length + SW).
    static constexpr std::size_t max_response = 65536 + 2;

    Card(const Context& context, std::string reader)
        : context_(context.share()), reader_(std::move(reader)) {
        check(detail::connect(context_->native(), reader_.c_str(), SCARD_SHARE_SHARED,
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
    /// The native handle. Throws std::logic_error when not connected.
    [[nodiscard]] SCARDHANDLE native() const {
        if (!connected_)
            throw std::logic_error("mimcm::pcsc::Card used after disconnect or move");
        return handle_;
    }

    /// The card's ATR (from SCardStatus, which works on every platform and reader driver).
    [[nodiscard]] Bytes atr() const {
        BYTE buffer[64] = {};
        DWORD length = sizeof(buffer);
        DWORD state = 0;
        DWORD protocol = 0;
        check(detail::status(native(), &state, &protocol, buffer, &length), "SCardStatus", reader_);
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
        check(detail::status(native(), &state, &protocol, buffer, &length), "SCardStatus", reader_);
        if (detail::state_absent(state)) {
            throw Error::from_native(static_cast<LONG>(SCARD_W_REMOVED_CARD), "SCardStatus",
                                     reader_, "the reader reports no card",
                                     ErrorCode::card_removed);
        }
        if (protocol != protocol_) {
            throw Error::from_native(static_cast<LONG>(SCARD_W_RESET_CARD), "SCardStatus", reader_,
                                     "the card's active protocol changed", ErrorCode::card_reset);
        }
        return Bytes(buffer, buffer + (std::min)(static_cast<std::size_t>(length), sizeof(buffer)));
    }

    /// SCardReconnect (SHARED, T=0|T=1) with the given initialisation, e.g. after
    /// Error{card_reset}. Any applet selection and authentication state is gone afterwards.
    void reconnect(Disposition initialization = Disposition::leave) {
        check(SCardReconnect(native(), SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                             detail::native_disposition(initialization), &protocol_),
              "SCardReconnect", reader_);
    }

    /// SCardDisconnect. Use Disposition::reset after admin or PIN authentication. Throws on
    /// failure (the handle is given up anyway); does nothing when not connected.
    void disconnect(Disposition disposition = Disposition::leave) {
        if (!connected_)
            return;
        connected_ = false;
        check(SCardDisconnect(handle_, detail::native_disposition(disposition)), "SCardDisconnect",
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
            throw Error::from_native(rv, "SCardTransmit", reader_,
                                     "the card was removed during the exchange",
                                     ErrorCode::card_removed);
        }
        check(rv, "SCardTransmit", reader_);
        if (length == 0 && card_gone()) {
            // Some reader drivers (vpcd among them) report a card that left mid-APDU as an
            // exchange that succeeded with no byte at all.
            throw Error::from_native(static_cast<LONG>(SCARD_W_REMOVED_CARD), "SCardTransmit",
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
class Transaction {
  public:
    explicit Transaction(const Card& card) : handle_(card.native()), reader_(card.reader()) {
        check(SCardBeginTransaction(handle_), "SCardBeginTransaction", reader_);
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
        check(SCardEndTransaction(handle_, detail::native_disposition(disposition)),
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

// ---------------------------------------------------------------------------------------------
// Readers

struct ReaderInfo {
    std::string name;
    bool card_present = false;  ///< a card is in the reader (possibly mute)
    bool card_mute = false;     ///< the card does not answer (unusable)
    Bytes atr;                  ///< the card's ATR as the reader state reports it (may be empty)
};

/// The names of all readers (SCardListReaders). No readers -> an empty list, not an error.
inline std::vector<std::string> reader_names(const Context& context) {
    for (int attempt = 0; attempt < 4; ++attempt) {  // the list may grow between the two calls
        DWORD size = 0;
        LONG rv = detail::list_readers(context.native(), nullptr, &size);
        if (rv == static_cast<LONG>(SCARD_E_NO_READERS_AVAILABLE))
            return {};
        check(rv, "SCardListReaders");
        std::string buffer(size, '\0');
        rv = detail::list_readers(context.native(), size ? &buffer[0] : nullptr, &size);
        if (rv == static_cast<LONG>(SCARD_E_NO_READERS_AVAILABLE))
            return {};
        if (rv == static_cast<LONG>(SCARD_E_INSUFFICIENT_BUFFER))
            continue;
        check(rv, "SCardListReaders");
        buffer.resize((std::min)(static_cast<std::size_t>(size), buffer.size()));
        std::vector<std::string> names;
        std::size_t start = 0;
        while (start < buffer.size()) {
            const std::size_t end = buffer.find('\0', start);
            const std::size_t stop = end == std::string::npos ? buffer.size() : end;
            if (stop > start)
                names.push_back(buffer.substr(start, stop - start));
            start = stop + 1;
        }
        return names;
    }
    throw Error::from_native(static_cast<LONG>(SCARD_E_INSUFFICIENT_BUFFER), "SCardListReaders", {},
                             "the reader list kept changing");
}

/// All readers with their state (SCardListReaders + SCardGetStatusChange with timeout 0).
/// No readers -> an empty list, not an error: the caller decides whether that is one.
inline std::vector<ReaderInfo> list_readers(const Context& context) {
    for (int attempt = 0; attempt < 4; ++attempt) {  // a reader may vanish between the calls
        const auto names = reader_names(context);
        if (names.empty())
            return {};
        std::vector<detail::ReaderState> states(names.size());
        for (std::size_t i = 0; i < names.size(); ++i) {
            states[i] = detail::ReaderState{};
            states[i].szReader = names[i].c_str();
            states[i].dwCurrentState = SCARD_STATE_UNAWARE;
        }
        const LONG rv = detail::get_status_change(context.native(), 0, states.data(),
                                                  static_cast<DWORD>(states.size()));
        if (rv == static_cast<LONG>(SCARD_E_UNKNOWN_READER))
            continue;
        if (rv != static_cast<LONG>(SCARD_E_TIMEOUT))
            check(rv, "SCardGetStatusChange");
        std::vector<ReaderInfo> readers;
        for (std::size_t i = 0; i < names.size(); ++i) {
            const DWORD event = states[i].dwEventState;
            if (event & (SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE))
                continue;  // vanished
            ReaderInfo info;
            info.name = names[i];
            info.card_present = (event & SCARD_STATE_PRESENT) != 0;
            info.card_mute = (event & SCARD_STATE_MUTE) != 0;
            if (info.card_present) {
                const auto n =
                    (std::min)(static_cast<std::size_t>(states[i].cbAtr), sizeof(states[i].rgbAtr));
                info.atr.assign(states[i].rgbAtr, states[i].rgbAtr + n);
            }
            readers.push_back(std::move(info));
        }
        return readers;
    }
    throw Error::from_native(static_cast<LONG>(SCARD_E_UNKNOWN_READER), "SCardGetStatusChange", {},
                             "the reader list kept changing");
}

namespace detail {

inline bool usable_card(DWORD event) noexcept {
    return (event & SCARD_STATE_PRESENT) != 0 && (event & SCARD_STATE_MUTE) == 0;
}

inline std::string seconds_text(std::chrono::milliseconds ms) {
    const auto count = ms.count();
    std::string text = std::to_string(count / 1000);
    if (const auto frac = count % 1000; frac != 0) {
        std::string f = std::to_string(frac);
        f.insert(0, 3 - f.size(), '0');
        while (!f.empty() && f.back() == '0')
            f.pop_back();
        text += "." + f;
    }
    return text + " s";
}

inline std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) {
        if (!out.empty())
            out += ", ";
        out += "\"" + n + "\"";
    }
    return out;
}

/// Waits (bounded by `timeout`) until `wanted` (or, without a name, any reader) holds a usable
/// card; returns the reader's name. Without a name, a reader plugged in meanwhile is noticed
/// through the "\\?PnP?\Notification" pseudo-reader where the platform supports it.
inline std::string wait_for_card(const Context& context, const std::optional<std::string>& wanted,
                                 std::chrono::milliseconds timeout) {
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + timeout;
    const std::string reader_label = wanted ? *wanted : std::string();
    auto timed_out = [&] {
        return Error::from_native(static_cast<LONG>(SCARD_E_TIMEOUT), "SCardGetStatusChange",
                                  reader_label,
                                  "no card was inserted within " + seconds_text(timeout));
    };
    bool use_pnp = !wanted;
    for (int rebuild = 0; rebuild < 64; ++rebuild) {  // the reader list changed
        const std::vector<std::string> names =
            wanted ? std::vector<std::string>{*wanted} : reader_names(context);
        if (names.empty() && !use_pnp) {
            throw Error::from_native(static_cast<LONG>(SCARD_E_NO_READERS_AVAILABLE),
                                     "SCardListReaders");
        }
        std::vector<ReaderState> states(names.size() + (use_pnp ? 1 : 0));
        for (std::size_t i = 0; i < states.size(); ++i) {
            states[i] = ReaderState{};
            states[i].szReader = i < names.size() ? names[i].c_str() : pnp_notification;
            states[i].dwCurrentState = SCARD_STATE_UNAWARE;
        }
        DWORD wait_ms = 0;  // the first call takes a snapshot
        bool list_changed = false;
        for (int round = 0; round < 100000 && !list_changed; ++round) {
            const LONG rv = get_status_change(context.native(), wait_ms, states.data(),
                                              static_cast<DWORD>(states.size()));
            if (rv == static_cast<LONG>(SCARD_E_TIMEOUT)) {
                if (round > 0)
                    throw timed_out();
            } else if (rv == static_cast<LONG>(SCARD_E_UNKNOWN_READER) && !wanted) {
                if (use_pnp && round == 0) {
                    use_pnp = false;  // no PnP notification here
                }
                list_changed = true;
                continue;
            } else {
                check(rv, "SCardGetStatusChange", reader_label);
            }
            for (std::size_t i = 0; i < names.size(); ++i) {
                const DWORD event = states[i].dwEventState;
                if (event & (SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE)) {
                    if (wanted) {
                        throw Error::from_native(static_cast<LONG>(SCARD_E_UNKNOWN_READER),
                                                 "SCardGetStatusChange", reader_label);
                    }
                    list_changed = true;
                }
                if (usable_card(event))
                    return names[i];
            }
            if (use_pnp) {
                ReaderState& pnp = states.back();
                if (pnp.dwEventState & SCARD_STATE_UNKNOWN) {
                    use_pnp = false;  // pseudo-reader not supported
                    list_changed = true;
                } else if (round > 0 && (pnp.dwEventState & SCARD_STATE_CHANGED)) {
                    list_changed = true;
                }
            }
            for (auto& s : states)
                s.dwCurrentState = s.dwEventState & ~DWORD{SCARD_STATE_CHANGED};
            const auto remaining =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
            if (remaining.count() <= 0)
                throw timed_out();
            constexpr std::chrono::milliseconds longest_slice{24L * 3600 * 1000};
            wait_ms = static_cast<DWORD>((std::min)(remaining, longest_slice).count() + 1);
        }
        if (clock::now() >= deadline)
            throw timed_out();
    }
    throw timed_out();
}

}  // namespace detail

/// Picks the reader to use.
///  - `reader` given: that reader. With wait_for_card > 0 and no card in it, waits for one
///    (Error{timeout} when none arrives in time; Error{unknown_reader} when the reader is
///    not there). With no wait, the name is returned as is: connecting reports a missing
///    card (Error{no_card}) or reader (Error{unknown_reader}).
///  - no `reader`: the first reader (in PC/SC order) with a usable card; with
///    wait_for_card > 0, waits for a card in any reader. Error{no_readers} when there is no
///    reader and no waiting; Error{no_card} when no reader has a card.
inline std::string select_reader(const Context& context, const std::optional<std::string>& reader,
                                 std::chrono::milliseconds wait_for_card = {}) {
    const bool wait = wait_for_card.count() > 0;
    if (reader) {
        if (!wait)
            return *reader;
        for (const auto& info : list_readers(context)) {
            if (info.name == *reader && info.card_present && !info.card_mute)
                return *reader;
        }
        return detail::wait_for_card(context, reader, wait_for_card);
    }
    const auto readers = list_readers(context);
    for (const auto& info : readers) {
        if (info.card_present && !info.card_mute)
            return info.name;
    }
    if (wait)
        return detail::wait_for_card(context, std::nullopt, wait_for_card);
    if (readers.empty()) {
        throw Error::from_native(static_cast<LONG>(SCARD_E_NO_READERS_AVAILABLE),
                                 "SCardListReaders");
    }
    std::vector<std::string> names;
    for (const auto& info : readers)
        names.push_back(info.name);
    throw Error::from_native(static_cast<LONG>(SCARD_E_NO_SMARTCARD), "SCardGetStatusChange", {},
                             "no smart card in any reader (readers: " + detail::join(names) + ")");
}

}  // namespace mimcm::pcsc
