// PC/SC errors: the portable ErrorCode, the advice for the user, the table of native codes and
// mimcm::pcsc::Error, which every failing PC/SC call throws. Card-level failures (status words,
// malformed data) are mimcm::card::CardError.
//
// Threads: everything here is stateless or immutable (an Error is a value); safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "mimcm/card/apdu.hpp"
#include "mimcm/detail/text.hpp"
#include "mimcm/pcsc/platform.hpp"

namespace mimcm::pcsc {

/// What went wrong, independent of the platform's PC/SC codes. A plain value: safe from any
/// thread.
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

// The table of native codes: X(name, value, ErrorCode, text) per code, looked up by value in
// order, so where two names share a value (pcsc-lite: SCARD_E_UNSUPPORTED_FEATURE ==
// SCARD_E_UNEXPECTED) the first wins. The values are those of the PC/SC specification, which
// pcsc-lite, WinSCard and PCSC.framework share, written out so that a code some platform's
// headers lack still compiles (tests/unit checks them against the platform's own macros). The
// one code whose value differs between platforms, SCARD_E_UNSUPPORTED_FEATURE (pcsc-lite
// 0x8010001F, WinSCard 0x80100022), takes the platform's. pcsc_stringify_error is not used: it
// is pcsc-lite only.
// clang-format off
#define MIMCM_PCSC_ERRORS(X) \
    X(SCARD_E_NO_SERVICE, 0x8010001D, service_not_running, "the PC/SC service is not running") \
    X(SCARD_E_SERVICE_STOPPED, 0x8010001E, service_not_running, "the PC/SC service has stopped") \
    X(SCARD_E_NO_READERS_AVAILABLE, 0x8010002E, no_readers, "no smart card reader is connected") \
    X(SCARD_E_UNKNOWN_READER, 0x80100009, unknown_reader, "no reader of that name") \
    X(SCARD_E_READER_UNAVAILABLE, 0x80100017, unknown_reader, "the reader is not available") \
    X(SCARD_E_NO_SMARTCARD, 0x8010000C, no_card, "no smart card in the reader") \
    X(SCARD_W_REMOVED_CARD, 0x80100069, card_removed, "the card was removed") \
    X(SCARD_W_RESET_CARD, 0x80100068, card_reset, "the card was reset by another application") \
    X(SCARD_E_SHARING_VIOLATION, 0x8010000B, sharing_violation, "the card is in exclusive use by another application") \
    X(SCARD_E_TIMEOUT, 0x8010000A, timeout, "timed out") \
    X(SCARD_E_CANCELLED, 0x80100002, cancelled, "the operation was cancelled") \
    X(SCARD_E_SYSTEM_CANCELLED, 0x80100012, cancelled, "the operation was cancelled by the system (logoff or shutdown)") \
    X(SCARD_W_CANCELLED_BY_USER, 0x8010006E, cancelled, "the user cancelled") \
    X(SCARD_E_NOT_TRANSACTED, 0x80100016, not_transacted, "the card did not complete the exchange") \
    X(SCARD_F_COMM_ERROR, 0x80100013, communication, "communication error with the reader") \
    X(SCARD_E_COMM_DATA_LOST, 0x8010002F, communication, "data was lost in the communication with the card") \
    X(SCARD_W_UNRESPONSIVE_CARD, 0x80100066, communication, "the card does not respond to a reset") \
    X(SCARD_W_UNPOWERED_CARD, 0x80100067, communication, "the card is not powered") \
    X(SCARD_W_UNSUPPORTED_CARD, 0x80100065, communication, "the reader cannot communicate with the card (ATR conflict)") \
    X(SCARD_E_PROTO_MISMATCH, 0x8010000F, communication, "the card does not speak the requested protocol") \
    X(SCARD_E_NOT_READY, 0x80100010, communication, "the reader or card is not ready") \
    X(SCARD_F_WAITED_TOO_LONG, 0x80100007, communication, "an internal wait timed out") \
    X(SCARD_F_INTERNAL_ERROR, 0x80100001, other, "internal error in the PC/SC service") \
    X(SCARD_E_INVALID_HANDLE, 0x80100003, other, "invalid handle (stale after a service restart?)") \
    X(SCARD_E_INVALID_PARAMETER, 0x80100004, other, "invalid parameter") \
    X(SCARD_E_INVALID_TARGET, 0x80100005, other, "invalid target") \
    X(SCARD_E_INVALID_VALUE, 0x80100011, other, "invalid value") \
    X(SCARD_E_NO_MEMORY, 0x80100006, other, "out of memory") \
    X(SCARD_E_INSUFFICIENT_BUFFER, 0x80100008, other, "buffer too small") \
    X(SCARD_E_UNKNOWN_CARD, 0x8010000D, other, "unknown card") \
    X(SCARD_E_CANT_DISPOSE, 0x8010000E, other, "the card cannot be disposed of as asked") \
    X(SCARD_F_UNKNOWN_ERROR, 0x80100014, other, "unknown internal error") \
    X(SCARD_E_INVALID_ATR, 0x80100015, other, "invalid ATR") \
    X(SCARD_P_SHUTDOWN, 0x80100018, other, "the PC/SC service is shutting down") \
    X(SCARD_E_PCI_TOO_SMALL, 0x80100019, other, "PCI receive buffer too small") \
    X(SCARD_E_READER_UNSUPPORTED, 0x8010001A, other, "reader not supported") \
    X(SCARD_E_DUPLICATE_READER, 0x8010001B, other, "duplicate reader") \
    X(SCARD_E_CARD_UNSUPPORTED, 0x8010001C, other, "card not supported") \
    X(SCARD_E_UNSUPPORTED_FEATURE, SCARD_E_UNSUPPORTED_FEATURE, other, "the feature is not supported") \
    X(SCARD_E_UNEXPECTED, 0x8010001F, other, "unexpected card error") \
    X(SCARD_E_SERVER_TOO_BUSY, 0x80100031, other, "the PC/SC service is too busy") \
    X(SCARD_W_SECURITY_VIOLATION, 0x8010006A, other, "access denied (security violation)") \
    X(SCARD_W_WRONG_CHV, 0x8010006B, other, "wrong PIN") \
    X(SCARD_W_CHV_BLOCKED, 0x8010006C, other, "PIN blocked") \
    X(SCARD_W_CARD_NOT_AUTHENTICATED, 0x8010006F, other, "no PIN was presented")

// Win32 errors WinSCard passes through (as web-eid's libpcsc-cpp also maps them).
#define MIMCM_PCSC_WIN32_ERRORS(X) \
    X(ERROR_NO_MEDIA_IN_DRIVE, 1112, no_card, "no smart card in the reader") \
    X(ERROR_IO_DEVICE, 1117, communication, "I/O device error")
// clang-format on

struct ErrorInfo {
    LONG value;
    const char* name;
    const char* text;
    ErrorCode code;
};

#define MIMCM_PCSC_ERROR_INFO(name, value, code, text) \
    ErrorInfo{static_cast<LONG>(value), #name, text, ErrorCode::code},
inline constexpr ErrorInfo error_table[] = {MIMCM_PCSC_ERRORS(MIMCM_PCSC_ERROR_INFO)
#if defined(_WIN32)
                                                MIMCM_PCSC_WIN32_ERRORS(MIMCM_PCSC_ERROR_INFO)
#endif
};
#undef MIMCM_PCSC_ERROR_INFO

/// The table's entry for a native code, nullptr when it has none.
inline const ErrorInfo* find_error(LONG value) noexcept {
    for (const auto& entry : error_table) {
        if (entry.value == value)
            return &entry;
    }
    return nullptr;
}

inline std::string hex32(LONG value) {
    const auto v = static_cast<std::uint32_t>(static_cast<unsigned long>(value) & 0xFFFFFFFFul);
    std::string out = "0x";
    mimcm::detail::append_hex(out, v, 8, mimcm::detail::HexCase::upper);
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
/// Threads: immutable once made; its const members are safe from any thread.
class Error : public card::DeviceError {
  public:
    /// A complete message is given; native may be 0 when no PC/SC call failed as such.
    /// `where` names the SDK function that threw (a string literal).
    Error(const char* where, ErrorCode code, long native, std::string operation, std::string reader,
          const std::string& message)
        : card::DeviceError(ExceptionKind::pcsc, where, message),
          code_(code),
          native_(native),
          operation_(std::move(operation)),
          reader_(std::move(reader)) {}

    /// From a failed PC/SC call. `detail` replaces the standard text of the code if given;
    /// `code` overrides the ErrorCode derived from `native`.
    static Error from_native(const char* where, LONG native, std::string_view operation,
                             std::string_view reader = {}, std::string_view detail = {},
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
        return Error(where,
                     code   ? *code
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
///   check("pcsc::Card::begin", SCardBeginTransaction(handle), "SCardBeginTransaction", reader);
inline void check(const char* where, LONG rv, std::string_view operation,
                  std::string_view reader = {}) {
    if (rv != SCARD_S_SUCCESS)
        throw Error::from_native(where, rv, operation, reader);
}
}  // namespace mimcm::pcsc
