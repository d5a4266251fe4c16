// mimcm::Exception: the one base of everything the SDK throws. Each exception says what kind of
// failure it is and where (the SDK function that threw); what() is one line that never holds a
// secret (no PIN, key, token or challenge response).
//
// Server and transport failures of client operations are not thrown: they come back as
// mimcm::Result<T> (mimcm/result.hpp), whose value() throws mimcm::ResultError when asked for a
// value it does not hold.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace mimcm {

/// What kind of failure an Exception is. A switch over it is exhaustive (-Wswitch).
enum class ExceptionKind {
    invalid_argument,  ///< InvalidArgument: malformed input, refused before anything is sent
    usage,             ///< UsageError: the SDK used against its contract (e.g. after a move)
    pcsc,              ///< mimcm::pcsc::Error: the reader or the PC/SC service
    card,              ///< mimcm::card::CardError: the card answered, but not as expected
    protocol,          ///< ModelError: JSON that does not fit the API's models
    result,            ///< ResultError: Result<T>::value() on a failed operation
    transport,         ///< TransportSetupError: the HTTP transport could not be set up
};

/// The kind's stable name ("invalid_argument", "pcsc", ...), for logs and JSON.
[[nodiscard]] inline std::string_view to_string(ExceptionKind kind) noexcept {
    switch (kind) {
        case ExceptionKind::invalid_argument:
            return "invalid_argument";
        case ExceptionKind::usage:
            return "usage";
        case ExceptionKind::pcsc:
            return "pcsc";
        case ExceptionKind::card:
            return "card";
        case ExceptionKind::protocol:
            return "protocol";
        case ExceptionKind::result:
            return "result";
        case ExceptionKind::transport:
            return "transport";
    }
    return "unknown";
}

/// The base of every exception the SDK throws. Catch it to handle any SDK failure in one place;
/// kind() says which one, where() names the SDK function that threw (e.g.
/// "BasicClient::create_request", "pcsc::Card::transmit").
/// Threads: immutable once thrown; safe to read from any thread.
class Exception : public std::runtime_error {
  public:
    /// `where` must be a string literal (or live as long as the exception).
    Exception(ExceptionKind kind, const char* where, const std::string& message)
        : std::runtime_error(message), kind_(kind), where_(where ? where : "mimcm") {}

    [[nodiscard]] ExceptionKind kind() const noexcept { return kind_; }
    [[nodiscard]] const char* where() const noexcept { return where_; }

  private:
    ExceptionKind kind_;
    const char* where_;
};

/// Thrown for malformed input (a bad URL, GUID, ATR, APDU length, PIN size...), always before
/// anything is sent to the server or the card.
class InvalidArgument : public Exception {
  public:
    InvalidArgument(const char* where, const std::string& message)
        : Exception(ExceptionKind::invalid_argument, where, message) {}
};

/// Thrown when the SDK is used against its contract: an object used after a move or close, or
/// Result::error() asked of a success.
class UsageError : public Exception {
  public:
    UsageError(const char* where, const std::string& message)
        : Exception(ExceptionKind::usage, where, message) {}
};

/// Thrown when the HTTP transport cannot be set up (libcurl too old, its initialisation failed).
class TransportSetupError : public Exception {
  public:
    TransportSetupError(const char* where, const std::string& message)
        : Exception(ExceptionKind::transport, where, message) {}
};

}  // namespace mimcm
