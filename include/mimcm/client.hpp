// mimcm::BasicClient<Transport>: the CM REST API over any transport (see mimcm/http.hpp).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "mimcm/detail/json.hpp"
#include "mimcm/http.hpp"
#include "mimcm/identifiers.hpp"
#include "mimcm/outcome.hpp"
#include "mimcm/version.hpp"

namespace mimcm {

enum class LogLevel { debug, info, warning, error };

/// Receives the client's log lines. Lines never carry secrets: query values (challenge, card id,
/// ATR) are shown as REDACTED, bodies are never logged, only their sizes.
using Logger = std::function<void(LogLevel, std::string_view)>;

/// Why the client asks for a bearer token.
enum class TokenRequest {
    initial,             ///< before a request
    after_unauthorized,  ///< the server answered 401 to the last token: give a fresh one
};

/// Supplies OAuth bearer tokens (ADFS). Called before each request and, when the server answers
/// 401, once more with TokenRequest::after_unauthorized; the request is retried once if that gives
/// a different token. An empty token sends the request without one.
using TokenProvider = std::function<SecretString(TokenRequest)>;

/// A provider that always gives the same token.
inline TokenProvider static_token(SecretString token) {
    return [token = std::move(token)](TokenRequest) { return token; };
}

struct ClientOptions {
    Logger logger;                 ///< empty: no logging
    TokenProvider token_provider;  ///< empty: no bearer token (e.g. Negotiate or NTLM instead)
    std::string user_agent = std::string("mimcm/") + std::string(version_string);
};

namespace detail {
/// The URL with every query value replaced by REDACTED, for logs.
inline std::string redact_query(std::string_view url) {
    const auto q = url.find('?');
    if (q == std::string_view::npos)
        return std::string(url);
    std::string out(url.substr(0, q + 1));
    std::string_view query = url.substr(q + 1);
    bool first = true;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        if (!first)
            out.push_back('&');
        first = false;
        out.append(pair.substr(0, pair.find('=')));
        out.append("=REDACTED");
        if (amp == std::string_view::npos)
            break;
        query.remove_prefix(amp + 1);
    }
    return out;
}

/// The outcome for a response that is not one of the operation's successes.
template <class Result>
Result failure_outcome(const HttpResponse& response) {
    ErrorDetails details =
        error_details(response.status, response.body.reveal(), response.header("Content-Type"));
    switch (response.status) {
        case 401: {
            Unauthorized u{std::move(details), {}};
            for (const auto& h : response.headers) {
                if (iequals(h.name, "WWW-Authenticate"))
                    u.authenticate.push_back(h.value);
            }
            return u;
        }
        case 403:
            return Forbidden{std::move(details)};
        case 404:
            return NotFound{std::move(details)};
        default:
            break;
    }
    if (response.status >= 500 && response.status <= 599)
        return ServerError{std::move(details)};
    return UnexpectedStatus{std::move(details)};
}
}  // namespace detail

template <class Transport>
class BasicClient {
    static_assert(is_transport_v<Transport>,
                  "mimcm::BasicClient<Transport>: Transport must have a member function "
                  "`mimcm::TransportResult send(const mimcm::HttpRequest&)` (see mimcm/http.hpp)");

  public:
    BasicClient(CmUrl server, Transport transport, ClientOptions options = {})
        : server_(std::move(server)),
          transport_(std::move(transport)),
          options_(std::move(options)) {}

    [[nodiscard]] const CmUrl& server() const noexcept { return server_; }
    [[nodiscard]] Transport& transport() noexcept { return transport_; }

    /// GET smartcards/{id}/serverproposedpin?atr=&cardid=&challenge= (CM REST operation 15).
    /// 200 gives PinProposed (the PIN, leading zeros kept), 204 NoPinProposed.
    [[nodiscard]] ProposedPinResult server_proposed_pin(const SmartcardId& smartcard,
                                                        const CardData& card) {
        const std::string url =
            server_.api("smartcards/" + smartcard.str() + "/serverproposedpin") +
            "?atr=" + percent_encode(card.atr.hex()) +
            "&cardid=" + percent_encode(card.card_id.guid()) +
            "&challenge=" + percent_encode(card.challenge.base64());
        auto sent = send("GET", url);
        if (auto* failure = std::get_if<TransportError>(&sent)) {
            return TransportFailure{std::move(*failure)};
        }
        const HttpResponse& response = std::get<HttpResponse>(sent);
        switch (response.status) {
            case 200: {
                std::string why;
                auto pin = detail::parse_json_string(response.body.reveal(), why);
                if (!pin)
                    return ProtocolError{200, "the proposed PIN " + why};
                if (pin->empty())
                    return ProtocolError{200, "the proposed PIN is an empty string"};
                return PinProposed{std::move(*pin)};
            }
            case 204:
                return NoPinProposed{};
            default:
                return detail::failure_outcome<ProposedPinResult>(response);
        }
    }

  private:
    TransportResult send(std::string method, std::string url) {
        HttpRequest request;
        request.method = std::move(method);
        request.url = std::move(url);
        request.headers.push_back({"Accept", "application/json"});
        request.headers.push_back({"User-Agent", options_.user_agent});
        if (options_.token_provider) {
            request.bearer_token = options_.token_provider(TokenRequest::initial);
        }
        TransportResult result = send_logged(request);
        const auto* response = std::get_if<HttpResponse>(&result);
        if (options_.token_provider && response && response->status == 401) {
            SecretString fresh = options_.token_provider(TokenRequest::after_unauthorized);
            if (!fresh.empty() && fresh != request.bearer_token) {
                log(LogLevel::info, "401 with the current token: retrying once with a fresh one");
                request.bearer_token = std::move(fresh);
                result = send_logged(request);
            }
        }
        return result;
    }

    TransportResult send_logged(const HttpRequest& request) {
        log(LogLevel::debug, request.method + " " + detail::redact_query(request.url));
        const auto started = std::chrono::steady_clock::now();
        TransportResult result = transport_.send(request);
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
        if (const auto* response = std::get_if<HttpResponse>(&result)) {
            log(LogLevel::info, request.method + " " + detail::redact_query(request.url) + " -> " +
                                    std::to_string(response->status) + " (" +
                                    std::to_string(response->body.size()) + " bytes, " +
                                    std::to_string(ms) + " ms)");
        } else {
            const auto& error = std::get<TransportError>(result);
            log(LogLevel::warning, request.method + " " + detail::redact_query(request.url) +
                                       " failed after " + std::to_string(ms) +
                                       " ms: " + error.message);
        }
        return result;
    }

    void log(LogLevel level, const std::string& line) const {
        if (options_.logger)
            options_.logger(level, line);
    }

    CmUrl server_;
    Transport transport_;
    ClientOptions options_;
};

}  // namespace mimcm
