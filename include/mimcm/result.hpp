// mimcm::Result<T>: what every client operation returns, either its value or one mimcm::Error.
//
//     auto templates = client.list_profile_templates();
//     if (!templates) {
//         switch (templates.error().kind) { ... }   // exhaustive over ErrorKind
//     }
//     for (const auto& t : *templates) ...
//
// Result itself throws only when asked for what it does not hold: value() (and * and ->) on a
// failure throws mimcm::ResultError, error() on a success throws mimcm::UsageError. Nothing here
// carries a secret in printable form: describe() and what() never quote a body, PIN or token.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "mimcm/error.hpp"
#include "mimcm/http.hpp"
#include "mimcm/secret.hpp"

namespace mimcm {

/// Why an operation failed. A switch over it is exhaustive (-Wswitch catches a missing case).
enum class ErrorKind {
    unauthorized,       ///< 401: authentication is required or failed (see Error::authenticate)
    forbidden,          ///< 403: authenticated, but not allowed
    not_found,          ///< 404: no such object, or the CM REST API is disabled on the server
    server_error,       ///< 5xx: the server failed; give the correlation id to its administrator
    unexpected_status,  ///< any other status (400, 409, a 3xx when redirects are off...)
    transport,          ///< no HTTP answer: name resolution, connection, TLS, broken connection...
    protocol,           ///< an answer that does not follow the API (e.g. a PIN that is no string)
    timeout,            ///< the transport's or the call's time ran out
    cancelled,          ///< the call's CancellationToken was cancelled (mimcm/call.hpp)
    limit_exceeded,     ///< a size, header, speed or JSON depth limit ended the call
};

/// The kind's stable snake_case name ("forbidden", "limit_exceeded", ...), for logs and JSON.
[[nodiscard]] inline std::string_view to_string(ErrorKind kind) noexcept {
    switch (kind) {
        case ErrorKind::unauthorized:
            return "unauthorized";
        case ErrorKind::forbidden:
            return "forbidden";
        case ErrorKind::not_found:
            return "not_found";
        case ErrorKind::server_error:
            return "server_error";
        case ErrorKind::unexpected_status:
            return "unexpected_status";
        case ErrorKind::transport:
            return "transport";
        case ErrorKind::protocol:
            return "protocol";
        case ErrorKind::timeout:
            return "timeout";
        case ErrorKind::cancelled:
            return "cancelled";
        case ErrorKind::limit_exceeded:
            return "limit_exceeded";
    }
    return "unknown";
}

/// The ErrorKind of an HTTP status that is not one of an operation's successes.
[[nodiscard]] constexpr ErrorKind error_kind_for_status(int status) noexcept {
    switch (status) {
        case 401:
            return ErrorKind::unauthorized;
        case 403:
            return ErrorKind::forbidden;
        case 404:
            return ErrorKind::not_found;
        default:
            break;
    }
    return status >= 500 && status <= 599 ? ErrorKind::server_error : ErrorKind::unexpected_status;
}

/// The ErrorKind of a call that got no HTTP answer.
[[nodiscard]] constexpr ErrorKind error_kind_for(TransportError::Kind kind) noexcept {
    switch (kind) {
        case TransportError::Kind::timeout:
            return ErrorKind::timeout;
        case TransportError::Kind::cancelled:
            return ErrorKind::cancelled;
        case TransportError::Kind::response_too_large:
        case TransportError::Kind::headers_too_large:
        case TransportError::Kind::too_slow:
            return ErrorKind::limit_exceeded;
        case TransportError::Kind::resolve:
        case TransportError::Kind::connect:
        case TransportError::Kind::tls:
        case TransportError::Kind::send_receive:
        case TransportError::Kind::invalid:
        case TransportError::Kind::malformed_response:
        case TransportError::Kind::other:
            return ErrorKind::transport;
    }
    return ErrorKind::transport;
}

/// Why an operation failed: the kind, and everything the answer (or its absence) told.
/// Threads: a plain value; safe to read from any thread.
struct Error {
    ErrorKind kind = ErrorKind::unexpected_status;
    int status = 0;              ///< the HTTP status; 0 when there was no HTTP answer
    std::string message;         ///< the server's message, or what does not fit (never the body)
    std::string correlation_id;  ///< for the CM server's event log, when the body has one
    /// 401: the WWW-Authenticate challenges the server offers (Negotiate, NTLM, Bearer...)
    std::vector<std::string> authenticate;
    /// No HTTP answer (transport, timeout, cancelled, a transport limit): what the transport said
    std::optional<TransportError> transport;

    /// An error answer: the kind follows the status (error_kind_for_status).
    static Error from_status(int status, std::string message = {},
                             std::string correlation_id = {}) {
        Error e;
        e.kind = error_kind_for_status(status);
        e.status = status;
        e.message = std::move(message);
        e.correlation_id = std::move(correlation_id);
        return e;
    }
    /// No HTTP answer: the kind follows the transport's (error_kind_for).
    static Error from_transport(TransportError error) {
        Error e;
        e.kind = error_kind_for(error.kind);
        e.message = error.message;
        e.transport = std::move(error);
        return e;
    }
    /// An answer that does not follow the API; `message` says why without quoting it.
    static Error protocol(int status, std::string message) {
        Error e;
        e.kind = ErrorKind::protocol;
        e.status = status;
        e.message = std::move(message);
        return e;
    }
    /// An answer beyond one of the client's limits (e.g. JSON nested too deep).
    static Error limit(int status, std::string message) {
        Error e;
        e.kind = ErrorKind::limit_exceeded;
        e.status = status;
        e.message = std::move(message);
        return e;
    }

    /// The kind's stable name ("forbidden", "timeout", ...).
    [[nodiscard]] std::string_view name() const noexcept { return to_string(kind); }

    /// One line saying what happened, safe to log or show (no PIN, no token, no key).
    [[nodiscard]] std::string describe() const {
        if (transport)
            return std::string(to_string(transport->kind)) + " failure: " + transport->message;
        switch (kind) {
            case ErrorKind::unauthorized: {
                std::string text = with_details("not authenticated");
                if (!authenticate.empty()) {
                    text += "; the server accepts:";
                    for (const auto& a : authenticate)
                        text += " " + a;
                }
                return text;
            }
            case ErrorKind::forbidden:
                return with_details("access denied by the CM server");
            case ErrorKind::not_found:
                return with_details(
                    "not found: the object does not exist or the CM REST API is disabled on the "
                    "server");
            case ErrorKind::server_error:
                return with_details("the CM server failed");
            case ErrorKind::unexpected_status:
                return with_details("unexpected answer from the CM server");
            case ErrorKind::protocol:
                return "the CM server's answer (HTTP " + std::to_string(status) +
                       ") does not follow the API: " + message;
            case ErrorKind::limit_exceeded:
                return "the CM server's answer (HTTP " + std::to_string(status) +
                       ") exceeds a limit: " + message;
            case ErrorKind::transport:
            case ErrorKind::timeout:
            case ErrorKind::cancelled:
                break;
        }
        return std::string(name()) + " failure: " + message;
    }

  private:
    [[nodiscard]] std::string with_details(std::string what) const {
        what += " (HTTP " + std::to_string(status) + ")";
        if (!message.empty())
            what += ": " + message;
        if (!correlation_id.empty())
            what += " [correlation id " + correlation_id + "]";
        return what;
    }
};

/// Thrown by Result<T>::value() (and * and ->) on a failed operation. what() is
/// error().describe(): never a secret.
class ResultError : public Exception {
  public:
    explicit ResultError(Error error)
        : Exception(ExceptionKind::result, "Result::value", error.describe()),
          error_(std::move(error)) {}

    [[nodiscard]] const Error& error() const noexcept { return error_; }

  private:
    Error error_;
};

/// 200 on the seed operation: the server proposes this PIN, wiped from memory when this dies.
struct PinProposed {
    SecretString pin;
};

/// 204 on the seed operation: the server proposes no PIN; the user chooses one.
struct NoPinProposed {};

/// The two successes of BasicClient::server_proposed_pin.
using PinProposal = std::variant<PinProposed, NoPinProposed>;

/// The value T of a successful operation, or the Error of a failed one.
/// Move-only when T is (e.g. a Result holding a secret). Threads: a plain value; one object may
/// be read from several threads, not changed while it is read.
template <class T>
class [[nodiscard]] Result {
    static_assert(!std::is_reference_v<T>, "mimcm::Result<T>: T must not be a reference");
    static_assert(!std::is_same_v<std::decay_t<T>, Error>,
                  "mimcm::Result<T>: T must not be mimcm::Error");

  public:
    using value_type = T;

    /// A success.
    template <class U = T, std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                                !std::is_same_v<std::decay_t<U>, Result> &&
                                                !std::is_same_v<std::decay_t<U>, Error>,
                                            int> = 0>
    Result(U&& value)  // NOLINT(google-explicit-constructor): `return value;` reads best
        : state_(std::in_place_index<0>, std::forward<U>(value)) {}
    /// A failure.
    Result(Error error)  // NOLINT(google-explicit-constructor): `return error;` reads best
        : state_(std::in_place_index<1>, std::move(error)) {}

    [[nodiscard]] bool ok() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    /// The value; ResultError (what() = error().describe()) on a failure.
    [[nodiscard]] T& value() & {
        check();
        return *std::get_if<0>(&state_);
    }
    [[nodiscard]] const T& value() const& {
        check();
        return *std::get_if<0>(&state_);
    }
    /// The value, moved out; ResultError on a failure.
    [[nodiscard]] T value() && {
        check();
        return std::move(*std::get_if<0>(&state_));
    }

    [[nodiscard]] T& operator*() & { return value(); }
    [[nodiscard]] const T& operator*() const& { return value(); }
    [[nodiscard]] T operator*() && { return std::move(*this).value(); }
    [[nodiscard]] T* operator->() { return &value(); }
    [[nodiscard]] const T* operator->() const { return &value(); }

    /// The error. Precondition: !ok(); a success throws UsageError.
    [[nodiscard]] const Error& error() const& {
        if (ok())
            throw UsageError("Result::error", "Result::error() called on a success");
        return *std::get_if<1>(&state_);
    }
    [[nodiscard]] Error error() && {
        if (ok())
            throw UsageError("Result::error", "Result::error() called on a success");
        return std::move(*std::get_if<1>(&state_));
    }

    /// The value, or `fallback` on a failure.
    template <class U>
    [[nodiscard]] T value_or(U&& fallback) const& {
        return ok() ? *std::get_if<0>(&state_) : static_cast<T>(std::forward<U>(fallback));
    }
    template <class U>
    [[nodiscard]] T value_or(U&& fallback) && {
        return ok() ? std::move(*std::get_if<0>(&state_))
                    : static_cast<T>(std::forward<U>(fallback));
    }

    /// f(value) as a Result, or the same error.
    template <class F>
    [[nodiscard]] auto map(
        F&& f) const& -> Result<std::decay_t<std::invoke_result_t<F, const T&>>> {
        if (ok())
            return std::forward<F>(f)(*std::get_if<0>(&state_));
        return *std::get_if<1>(&state_);
    }
    template <class F>
    [[nodiscard]] auto map(F&& f) && -> Result<std::decay_t<std::invoke_result_t<F, T&&>>> {
        if (ok())
            return std::forward<F>(f)(std::move(*std::get_if<0>(&state_)));
        return std::move(*std::get_if<1>(&state_));
    }

  private:
    void check() const {
        if (!ok())
            throw ResultError(*std::get_if<1>(&state_));
    }

    std::variant<T, Error> state_;
};

}  // namespace mimcm
