// Typed outcomes of a CM call. Every operation returns a std::variant of its success cases and
// the failure cases below, so the caller has to look at which one it got (std::visit, or
// std::get_if). Nothing here throws; none of these types carries a secret in printable form.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "mimcm/http.hpp"
#include "mimcm/secret.hpp"

namespace mimcm {

/// What the server said when it refused or failed: status, its message, its correlation id.
struct ErrorDetails {
    int status = 0;
    std::string message;         ///< the server's message, when the body carries one
    std::string correlation_id;  ///< for the event log on the CM server, when the body has one
};

/// 200: the server proposes this PIN. The PIN is wiped from memory when this object dies.
struct PinProposed {
    static constexpr std::string_view name = "pin_proposed";
    SecretString pin;
};

/// 204: the server proposes no PIN; the user chooses one.
struct NoPinProposed {
    static constexpr std::string_view name = "no_pin_proposed";
};

/// 204 on an operation that returns one object: the server has nothing to return.
struct NoContent {
    static constexpr std::string_view name = "no_content";
};

/// 401: authentication is required or failed.
struct Unauthorized {
    static constexpr std::string_view name = "unauthorized";
    ErrorDetails details;
    std::vector<std::string>
        authenticate;  ///< WWW-Authenticate challenges offered (Negotiate, NTLM...)
};

/// 403: authenticated, but not allowed.
struct Forbidden {
    static constexpr std::string_view name = "forbidden";
    ErrorDetails details;
};

/// 404: no such object, or the CM REST API is disabled (Clm.WebApi.Enabled=false).
struct NotFound {
    static constexpr std::string_view name = "not_found";
    ErrorDetails details;
};

/// 5xx: the server failed. Give the correlation id to the CM administrator.
struct ServerError {
    static constexpr std::string_view name = "server_error";
    ErrorDetails details;
};

/// Any other status (400, 409, 3xx when redirects are off...). The status is kept.
struct UnexpectedStatus {
    static constexpr std::string_view name = "unexpected_status";
    ErrorDetails details;
};

/// No HTTP answer at all: connection, TLS, timeout...
struct TransportFailure {
    static constexpr std::string_view name = "transport_failure";
    TransportError error;
};

/// An answer that does not follow the API (e.g. a 200 whose body is not a JSON string).
/// The message describes the problem, never the body itself (it could hold a secret).
struct ProtocolError {
    static constexpr std::string_view name = "protocol_error";
    int status = 0;
    std::string message;
};

/// The result of an operation whose success cases are Success...
template <class... Success>
using ApiResult = std::variant<Success..., Unauthorized, Forbidden, NotFound, ServerError,
                               UnexpectedStatus, TransportFailure, ProtocolError>;

/// Result of BasicClient::server_proposed_pin.
using ProposedPinResult = ApiResult<PinProposed, NoPinProposed>;

namespace detail {
template <class T, class = void>
struct has_outcome_name : std::false_type {};
template <class T>
struct has_outcome_name<T, std::void_t<decltype(T::name)>> : std::true_type {};
}  // namespace detail

/// The outcome's name ("pin_proposed", "forbidden", ...; "ok" for a plain success value such as a
/// list), stable for logs and JSON.
template <class... Cases>
[[nodiscard]] std::string_view outcome_name(const std::variant<Cases...>& result) noexcept {
    return std::visit(
        [](const auto& outcome) -> std::string_view {
            using T = std::decay_t<decltype(outcome)>;
            if constexpr (detail::has_outcome_name<T>::value) {
                return T::name;
            } else {
                return "ok";
            }
        },
        result);
}

namespace detail {
inline std::string describe_details(std::string what, const ErrorDetails& d) {
    what += " (HTTP " + std::to_string(d.status) + ")";
    if (!d.message.empty())
        what += ": " + d.message;
    if (!d.correlation_id.empty())
        what += " [correlation id " + d.correlation_id + "]";
    return what;
}

inline std::string describe_one(const PinProposed&) {
    return "the server proposed a PIN";
}
inline std::string describe_one(const NoPinProposed&) {
    return "the server proposes no PIN for this card: the user chooses one";
}
template <class Success>
std::string describe_one(const Success&) {
    return "success";
}
inline std::string describe_one(const NoContent&) {
    return "the server answered 204: nothing to return";
}
inline std::string describe_one(const Unauthorized& o) {
    std::string text = describe_details("not authenticated", o.details);
    if (!o.authenticate.empty()) {
        text += "; the server accepts:";
        for (const auto& a : o.authenticate)
            text += " " + a;
    }
    return text;
}
inline std::string describe_one(const Forbidden& o) {
    return describe_details("access denied by the CM server", o.details);
}
inline std::string describe_one(const NotFound& o) {
    return describe_details(
        "not found: the object does not exist or the CM REST API is disabled on the server",
        o.details);
}
inline std::string describe_one(const ServerError& o) {
    return describe_details("the CM server failed", o.details);
}
inline std::string describe_one(const UnexpectedStatus& o) {
    return describe_details("unexpected answer from the CM server", o.details);
}
inline std::string describe_one(const TransportFailure& o) {
    return std::string(to_string(o.error.kind)) + " failure: " + o.error.message;
}
inline std::string describe_one(const ProtocolError& o) {
    return "the CM server's answer (HTTP " + std::to_string(o.status) +
           ") does not follow the API: " + o.message;
}
}  // namespace detail

/// One line saying what happened, safe to log or show (no PIN, no token, no key).
template <class... Cases>
[[nodiscard]] std::string describe(const std::variant<Cases...>& result) {
    return std::visit([](const auto& outcome) { return detail::describe_one(outcome); }, result);
}

}  // namespace mimcm
