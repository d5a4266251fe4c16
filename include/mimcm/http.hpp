// The HTTP seam: what the client hands a transport and what it gets back. A transport is any type
// with one operation,
//
//     mimcm::TransportResult send(const mimcm::HttpRequest& request);
//
// checked at compile time by mimcm::is_transport_v. A transport that can stop a call early also
// offers
//
//     mimcm::TransportResult send(const mimcm::HttpRequest& request, const mimcm::CallContext&
//     context);
//
// and the client then calls that one (mimcm::transport_takes_context_v): it ends the call with
// TransportError::Kind::cancelled when context.cancellation is cancelled, and with Kind::timeout at
// context.deadline. With the one-argument send only, the client still checks the context before
// each request, but cannot stop a request on the wire. mimcm::CurlTransport
// (mimcm/transport/curl.hpp) is the default transport; tests and users on other HTTP stacks bring
// their own.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "mimcm/call.hpp"
#include "mimcm/detail/text.hpp"
#include "mimcm/secret.hpp"

namespace mimcm {

struct Header {
    std::string name;
    std::string value;
};

/// One request. The body is a SecretString because request bodies can carry secrets (passwords,
/// PINs) in later operations; it is wiped when the request dies.
struct HttpRequest {
    std::string method = "GET";
    std::string url;  ///< absolute, already percent-encoded
    std::vector<Header> headers;
    SecretString body;
    /// An OAuth bearer token (ADFS) for this request, or empty. A transport sends it as
    /// "Authorization: Bearer ..." to the request's host only, never to a host it is redirected to.
    SecretString bearer_token;
};

/// One response. The body is wiped when the response dies: it may hold a PIN or a key.
struct HttpResponse {
    int status = 0;
    std::vector<Header> headers;
    SecretString body;

    /// First header with that name (case-insensitive), or an empty view.
    [[nodiscard]] std::string_view header(std::string_view name) const noexcept {
        for (const auto& h : headers) {
            if (detail::iequals(h.name, name))
                return h.value;
        }
        return {};
    }
};

/// Why a request got no HTTP response at all.
struct TransportError {
    enum class Kind {
        timeout,             ///< connect or total timeout elapsed
        resolve,             ///< host (or proxy) name did not resolve
        connect,             ///< TCP connection refused or unreachable
        tls,                 ///< TLS handshake or peer verification failed
        send_receive,        ///< the connection broke while sending or receiving
        invalid,             ///< the transport rejected the request or its own configuration
        malformed_response,  ///< the server's answer is not HTTP (a garbage status line...)
        /// The response body is (or announced by Content-Length) larger than the transport allows
        response_too_large,
        /// The response headers exceed the transport's size or count limit
        headers_too_large,
        /// The server sent too little for too long (the low-speed limit)
        too_slow,
        /// The call's CancellationToken was cancelled (see mimcm/call.hpp)
        cancelled,
        other,
    };
    Kind kind = Kind::other;
    int native_code = 0;  ///< the transport's own code (CURLcode for the curl transport)
    std::string message;  ///< what happened, in words (never carries secrets)
    /// True when a response had begun (a status line came) before the failure: the server got the
    /// request and may have acted on it. A transport that cannot tell leaves it false.
    bool response_started = false;

    [[nodiscard]] bool timed_out() const noexcept { return kind == Kind::timeout; }
    /// True when one of the transport's limits (size, headers, speed) ended the call.
    [[nodiscard]] bool limit_exceeded() const noexcept {
        return kind == Kind::response_too_large || kind == Kind::headers_too_large ||
               kind == Kind::too_slow;
    }
};

[[nodiscard]] inline std::string_view to_string(TransportError::Kind kind) noexcept {
    switch (kind) {
        case TransportError::Kind::timeout:
            return "timeout";
        case TransportError::Kind::resolve:
            return "name resolution";
        case TransportError::Kind::connect:
            return "connection";
        case TransportError::Kind::tls:
            return "TLS";
        case TransportError::Kind::send_receive:
            return "send/receive";
        case TransportError::Kind::invalid:
            return "invalid request";
        case TransportError::Kind::malformed_response:
            return "malformed response";
        case TransportError::Kind::response_too_large:
            return "response size limit";
        case TransportError::Kind::headers_too_large:
            return "header limit";
        case TransportError::Kind::too_slow:
            return "low-speed limit";
        case TransportError::Kind::cancelled:
            return "cancelled";
        case TransportError::Kind::other:
            return "transport";
    }
    return "transport";
}

using TransportResult = std::variant<HttpResponse, TransportError>;

namespace detail {
template <class T, class = void>
struct has_send : std::false_type {};
template <class T>
struct has_send<T,
                std::void_t<decltype(std::declval<T&>().send(std::declval<const HttpRequest&>()))>>
    : std::is_convertible<decltype(std::declval<T&>().send(std::declval<const HttpRequest&>())),
                          TransportResult> {};

template <class T, class = void>
struct has_send_with_context : std::false_type {};
template <class T>
struct has_send_with_context<
    T, std::void_t<decltype(std::declval<T&>().send(std::declval<const HttpRequest&>(),
                                                    std::declval<const CallContext&>()))>>
    : std::is_convertible<decltype(std::declval<T&>().send(std::declval<const HttpRequest&>(),
                                                           std::declval<const CallContext&>())),
                          TransportResult> {};
}  // namespace detail

/// True when T can serve as a mimcm transport.
template <class T>
inline constexpr bool is_transport_v = detail::has_send<T>::value;

/// True when T's send also takes the call's context (so it can stop a call on the wire).
template <class T>
inline constexpr bool transport_takes_context_v = detail::has_send_with_context<T>::value;

}  // namespace mimcm
