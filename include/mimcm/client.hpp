// mimcm::BasicClient<Transport>: the CM REST API over any transport (see mimcm/http.hpp).
// Every operation returns a mimcm::Result<T> (mimcm/result.hpp): its value, or one mimcm::Error
// for an error answer, no answer or an answer that does not follow the API. Only bad arguments and
// options throw (mimcm::InvalidArgument), before anything goes on the wire.
//
// A client serves one call at a time: it is not thread-safe. Give each thread its own client; a
// call started while another is still running on the same client throws mimcm::UsageError.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "mimcm/call.hpp"
#include "mimcm/detail/json.hpp"
#include "mimcm/detail/request.hpp"
#include "mimcm/detail/response.hpp"
#include "mimcm/detail/retry.hpp"
#include "mimcm/error.hpp"
#include "mimcm/http.hpp"
#include "mimcm/identifiers.hpp"
#include "mimcm/models.hpp"
#include "mimcm/result.hpp"
#include "mimcm/retry.hpp"
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

/// A provider that always gives the same token (one buffer, shared by the provider's copies).
inline TokenProvider static_token(SecretString token) {
    return [token = std::make_shared<const SecretString>(std::move(token))](TokenRequest) {
        return token->clone();
    };
}

struct ClientOptions {
    Logger logger;  ///< empty: no logging
    /// The least severe level delivered to the logger; a line below it (or any line without a
    /// logger) is never built.
    LogLevel log_level = LogLevel::debug;
    TokenProvider token_provider;  ///< empty: no bearer token (e.g. Negotiate or NTLM instead)
    std::string user_agent = std::string("mimcm/") + std::string(version_string);
    /// The deepest nesting of JSON arrays and objects accepted in a response body; a deeper body
    /// is an ErrorKind::limit_exceeded error before any parser sees it (so a hostile server cannot
    /// exhaust the stack). JSON inside a string field always has the limit
    /// detail::default_max_json_depth.
    std::size_t max_json_depth = detail::default_max_json_depth;
    /// When and how idempotent calls are sent again (see mimcm/retry.hpp); checked when the
    /// client is made. RetryPolicy::disabled() (or max_retries = 0) sends every call once.
    RetryPolicy retry;
};

namespace detail {
/// The error of a call whose context is already cancelled or past its deadline, if it is.
inline std::optional<TransportError> stopped_before_sending(const CallContext& context) {
    if (context.cancelled())
        return TransportError{TransportError::Kind::cancelled, 0, "the call was cancelled"};
    if (context.expired()) {
        return TransportError{TransportError::Kind::timeout, 0,
                              "the call's deadline passed before the request was sent"};
    }
    return std::nullopt;
}

/// Set while a client's call runs: a second call meanwhile (another thread using the same client)
/// is refused. A copied or moved client starts idle.
class CallInProgress {
  public:
    CallInProgress() = default;
    CallInProgress(const CallInProgress&) noexcept {}
    CallInProgress& operator=(const CallInProgress&) noexcept { return *this; }

    /// Marks the call started until the Guard dies; throws UsageError if one already runs.
    class Guard {
      public:
        explicit Guard(CallInProgress& flag) : flag_(flag.busy_) {
            if (flag_.exchange(true, std::memory_order_acquire)) {
                throw UsageError("BasicClient",
                                 "a client serves one call at a time, and another call on this "
                                 "client is still running: give each thread its own client");
            }
        }
        ~Guard() { flag_.store(false, std::memory_order_release); }
        Guard(const Guard&) = delete;
        Guard& operator=(const Guard&) = delete;

      private:
        std::atomic<bool>& flag_;
    };

  private:
    std::atomic<bool> busy_{false};
};

/// The request a client reuses call after call (see BasicClient::send), and whether its headers
/// are those of a call with a body. Between calls it holds no body and no token. A copied or
/// moved client starts with a fresh one.
struct ReusedRequest {
    ReusedRequest() = default;
    ReusedRequest(const ReusedRequest&) noexcept {}
    ReusedRequest& operator=(const ReusedRequest&) noexcept { return *this; }
    ~ReusedRequest() = default;

    HttpRequest request;
    bool has_body_headers = false;
};
}  // namespace detail

/// The CM REST API over `Transport`. Every operation takes a last, optional CallContext
/// (mimcm/call.hpp): its deadline bounds the whole call (retries and the token retry after a 401
/// included) and its cancellation token ends it early with TransportError::Kind::cancelled. A
/// context that is already cancelled or expired sends nothing.
///
/// Not thread-safe: one call at a time per client. A call made while another one is running on
/// the same client (from another thread) throws UsageError without sending anything.
template <class Transport>
class BasicClient {
    static_assert(is_transport_v<Transport>,
                  "mimcm::BasicClient<Transport>: Transport must have a member function "
                  "`mimcm::TransportResult send(const mimcm::HttpRequest&)` (see mimcm/http.hpp)");

  public:
    /// Throws InvalidArgument for a RetryPolicy out of its bounds.
    BasicClient(CmUrl server, Transport transport, ClientOptions options = {})
        : server_(std::move(server)),
          transport_(std::move(transport)),
          options_(std::move(options)) {
        detail::check_retry_policy(options_.retry);
        random_ = options_.retry.random ? options_.retry.random : detail::default_retry_random();
    }

    [[nodiscard]] const CmUrl& server() const noexcept { return server_; }
    [[nodiscard]] Transport& transport() noexcept { return transport_; }

    /// GET smartcards/{id}/serverproposedpin?atr=&cardid=&challenge= (CM REST operation 15).
    /// 200 gives PinProposed (the PIN, leading zeros kept), 204 NoPinProposed.
    [[nodiscard]] Result<PinProposal> server_proposed_pin(const SmartcardId& smartcard,
                                                          const CardData& card,
                                                          const CallContext& context = {}) {
        std::string url = api_url(192)
                              .path("smartcards/")
                              .path(smartcard.str())
                              .path("/serverproposedpin")
                              .hex_param("atr", card.atr.bytes())
                              .param("cardid", card.card_id.guid())
                              .param("challenge", card.challenge.base64())
                              .take();
        auto answered = exchange("GET", std::move(url), {200, 204}, {}, context);
        if (auto* error = std::get_if<Error>(&answered))
            return std::move(*error);
        return detail::proposal_result(std::get<HttpResponse>(answered), options_.max_json_depth);
    }

    // ------------------------------------------------------------------------------------
    // Profile templates and policies

    /// 1. GET profiletemplates[?targetuser=]: the templates the user may enroll for.
    [[nodiscard]] Result<std::vector<ProfileTemplateView>> list_profile_templates(
        const std::optional<TargetUser>& target_user = std::nullopt,
        const CallContext& context = {}) {
        return list(api_url()
                        .path("profiletemplates")
                        .param("targetuser", target_query(target_user))
                        .take(),
                    parse_profile_template_view, context);
    }

    /// 2. GET profiletemplates/{id}/policies/{type} (the examples' path;
    /// docs/api-discrepancies.md AD-07).
    [[nodiscard]] Result<std::optional<WorkflowPolicy>> get_workflow_policy(
        const ProfileTemplateId& profile_template, WorkflowType type,
        const CallContext& context = {}) {
        return object("GET",
                      api_url()
                          .path("profiletemplates/")
                          .path(profile_template.str())
                          .path("/policies/")
                          .path(to_string(type))
                          .take(),
                      {}, parse_workflow_policy, context);
    }

    /// 3. GET profiletemplates/{id}/configuration/smartcards (walkthrough step 12;
    /// docs/api-discrepancies.md AD-11).
    [[nodiscard]] Result<std::optional<SmartcardPolicy>> get_smartcard_policy(
        const ProfileTemplateId& profile_template, const CallContext& context = {}) {
        return object("GET",
                      api_url()
                          .path("profiletemplates/")
                          .path(profile_template.str())
                          .path("/configuration/smartcards")
                          .take(),
                      {}, parse_smartcard_policy, context);
    }

    // ------------------------------------------------------------------------------------
    // Requests

    /// 4. POST requests: 201 with the new request's URI.
    [[nodiscard]] Result<std::optional<Created<RequestId>>> create_request(
        const NewRequest& request, const CallContext& context = {}) {
        if (!request.profile_template && !request.smartcard) {
            throw InvalidArgument(
                "BasicClient::create_request",
                "a new request needs a profile template (or a smart card for Unblock)");
        }
        return created<RequestId>(api_url().path("requests").take(),
                                  detail::new_request_body(request), context);
    }

    /// 5. GET requests[?status=&targetuser=].
    [[nodiscard]] Result<std::vector<Request>> list_requests(
        std::optional<RequestStatus> status = std::nullopt,
        const std::optional<TargetUser>& target_user = std::nullopt,
        const CallContext& context = {}) {
        return list(api_url()
                        .path("requests")
                        .param("targetuser", target_query(target_user))
                        .param("status", status ? to_string(*status) : std::string_view())
                        .take(),
                    parse_request, context);
    }

    /// 6. GET requests/{id}.
    [[nodiscard]] Result<std::optional<Request>> get_request(const RequestId& request,
                                                             const CallContext& context = {}) {
        return object("GET", api_url().path("requests/").path(request.str()).take(), {},
                      parse_request, context);
    }

    /// 7. PUT requests/{id} {"status": Completed|Canceled|Abandoned}.
    [[nodiscard]] Result<std::optional<Request>> set_request_status(
        const RequestId& request, RequestStatus status, const CallContext& context = {}) {
        if (status != RequestStatus::completed && status != RequestStatus::canceled &&
            status != RequestStatus::abandoned) {
            throw InvalidArgument("BasicClient::set_request_status",
                                  "a request can only be set to Completed, Canceled or Abandoned");
        }
        return object("PUT", api_url().path("requests/").path(request.str()).take(),
                      detail::status_body(to_string(status)), parse_request, context);
    }

    /// 8. GET requests/{id}/certificaterequestgenerationoptions: one entry per PKCS#10 to make.
    [[nodiscard]] Result<std::vector<CertificateRequestGenerationOptions>>
    get_certificate_request_generation_options(const RequestId& request,
                                               const CallContext& context = {}) {
        return list(api_url()
                        .path("requests/")
                        .path(request.str())
                        .path("/certificaterequestgenerationoptions")
                        .take(),
                    parse_certificate_request_generation_options, context);
    }

    /// 9. POST requests/{id}/certificatedata: submit PKCS#10 requests, get the certificates.
    [[nodiscard]] Result<std::vector<Certificate>> submit_certificate_requests(
        const RequestId& request, const CertificateData& data, const CallContext& context = {}) {
        return list(api_url().path("requests/").path(request.str()).path("/certificatedata").take(),
                    parse_certificate, context, "POST", detail::certificate_data_body(data));
    }

    // ------------------------------------------------------------------------------------
    // Smart cards

    /// 10. POST smartcards {requestid, cardid, atr}: bind the card to the request.
    [[nodiscard]] Result<std::optional<Created<SmartcardId>>> assign_smartcard(
        const RequestId& request, const CardId& card, const std::optional<Atr>& atr = std::nullopt,
        const CallContext& context = {}) {
        return created<SmartcardId>(api_url().path("smartcards").take(),
                                    detail::assign_smartcard_body(request, card, atr), context);
    }

    /// 11. GET smartcards[?cardid=]: the docs return one object; a list is accepted too
    /// (docs/api-discrepancies.md AD-31).
    [[nodiscard]] Result<std::vector<Smartcard>> find_smartcards(
        const std::optional<CardId>& card = std::nullopt, const CallContext& context = {}) {
        return list(api_url()
                        .path("smartcards")
                        .param("cardid", card ? card->guid() : std::string())
                        .take(),
                    parse_smartcard, context);
    }

    /// 12. GET smartcards/{id}.
    [[nodiscard]] Result<std::optional<Smartcard>> get_smartcard(const SmartcardId& smartcard,
                                                                 const CallContext& context = {}) {
        return object("GET", api_url().path("smartcards/").path(smartcard.str()).take(), {},
                      parse_smartcard, context);
    }

    /// 13. GET requests/{r}/smartcards/{s}/authenticationresponse: the server's answer to the
    /// card's admin challenge, computed with the template's default admin key
    /// (AdminKey::default_key, diversified=false) or the card's diversified one
    /// (AdminKey::diversified). The challenge travels as base64 (docs/api-discrepancies.md AD-32).
    [[nodiscard]] Result<std::optional<SecretBlob>> get_authentication_response(
        const RequestId& request, const SmartcardId& smartcard, const CardId& card,
        const Challenge& challenge, AdminKey key, const std::optional<Atr>& atr = std::nullopt,
        const CallContext& context = {}) {
        return blob(api_url()
                        .path("requests/")
                        .path(request.str())
                        .path("/smartcards/")
                        .path(smartcard.str())
                        .path("/authenticationresponse")
                        .param("cardid", card.guid())
                        .param("challenge", challenge.base64())
                        .param("diversified", key == AdminKey::diversified ? "true" : "false")
                        .param("atr", atr ? atr->hex() : std::string())
                        .take(),
                    context);
    }

    /// 14. GET requests/{r}/smartcards/{s}/diversifiedkey: the card's new admin key.
    [[nodiscard]] Result<std::optional<SecretBlob>> get_diversified_admin_key(
        const RequestId& request, const SmartcardId& smartcard, const CardId& card,
        const std::optional<Atr>& atr = std::nullopt, const CallContext& context = {}) {
        return blob(api_url()
                        .path("requests/")
                        .path(request.str())
                        .path("/smartcards/")
                        .path(smartcard.str())
                        .path("/diversifiedkey")
                        .param("cardid", card.guid())
                        .param("atr", atr ? atr->hex() : std::string())
                        .take(),
                    context);
    }

    /// 16. PUT requests/{r}/smartcards/{s} {"status": ...} (the table says GET;
    /// docs/api-discrepancies.md AD-36).
    [[nodiscard]] Result<std::optional<Smartcard>> update_smartcard_status(
        const RequestId& request, const SmartcardId& smartcard, SmartcardStatus status,
        const CallContext& context = {}) {
        return object("PUT",
                      api_url()
                          .path("requests/")
                          .path(request.str())
                          .path("/smartcards/")
                          .path(smartcard.str())
                          .take(),
                      detail::status_body(to_string(status)), parse_smartcard, context);
    }

    /// 21. GET smartcards/{id}/operations: what the user may request for the card (lower case).
    [[nodiscard]] Result<std::vector<std::string>> get_smartcard_operations(
        const SmartcardId& smartcard, const CallContext& context = {}) {
        return list(api_url().path("smartcards/").path(smartcard.str()).path("/operations").take(),
                    detail::string_item, context);
    }

    /// 23. GET smartcards/{id}/certificates.
    [[nodiscard]] Result<std::vector<ClmCertificate>> get_smartcard_certificates(
        const SmartcardId& smartcard, const CallContext& context = {}) {
        return list(
            api_url().path("smartcards/").path(smartcard.str()).path("/certificates").take(),
            parse_clm_certificate, context);
    }

    // ------------------------------------------------------------------------------------
    // Software profiles and certificates

    /// 17. GET profiles[?status=].
    [[nodiscard]] Result<std::vector<Profile>> list_profiles(const std::string& status = {},
                                                             const CallContext& context = {}) {
        return list(api_url().path("profiles").param("status", status).take(), parse_profile,
                    context);
    }

    /// 18. GET profiles/{id}: documented as a list (one profile).
    [[nodiscard]] Result<std::vector<Profile>> get_profile(const ProfileId& profile,
                                                           const CallContext& context = {}) {
        return list(api_url().path("profiles/").path(profile.str()).take(), parse_profile, context);
    }

    /// 19. GET requests/{id}/profiles[?status=].
    [[nodiscard]] Result<std::vector<Profile>> list_request_profiles(
        const RequestId& request, const std::string& status = {}, const CallContext& context = {}) {
        return list(api_url()
                        .path("requests/")
                        .path(request.str())
                        .path("/profiles")
                        .param("status", status)
                        .take(),
                    parse_profile, context);
    }

    /// 20. GET profiles/{id}/operations.
    [[nodiscard]] Result<std::vector<std::string>> get_profile_operations(
        const ProfileId& profile, const CallContext& context = {}) {
        return list(api_url().path("profiles/").path(profile.str()).path("/operations").take(),
                    detail::string_item, context);
    }

    /// 22. GET profiles/{id}/certificates (6-field view).
    [[nodiscard]] Result<std::vector<ClmCertificate>> get_profile_certificates(
        const ProfileId& profile, const CallContext& context = {}) {
        return list(api_url().path("profiles/").path(profile.str()).path("/certificates").take(),
                    parse_clm_certificate, context);
    }

    /// 24. GET certificates: the caller's certificates (11-field view).
    [[nodiscard]] Result<std::vector<ClmCertificate>> get_user_certificates(
        const CallContext& context = {}) {
        return list(api_url().path("certificates").take(), parse_clm_certificate, context);
    }

  private:
    /// A URL of this server's API, written into one buffer (see detail::UrlBuilder).
    [[nodiscard]] detail::UrlBuilder api_url(std::size_t reserve = 96) const {
        return detail::UrlBuilder(server_, reserve);
    }

    /// GET (or POST) of a list at `url` (see detail::list_result).
    template <class Parse>
    Result<std::vector<detail::parsed_t<Parse>>> list(std::string url, Parse parse,
                                                      const CallContext& context,
                                                      std::string method = "GET",
                                                      SecretString body = {}) {
        auto answered =
            exchange(std::move(method), std::move(url), {200, 204}, std::move(body), context);
        if (auto* error = std::get_if<Error>(&answered))
            return std::move(*error);
        return detail::list_result(std::get<HttpResponse>(answered), parse,
                                   options_.max_json_depth);
    }

    /// One object (see detail::object_result).
    template <class Parse>
    Result<std::optional<detail::parsed_t<Parse>>> object(std::string method, std::string url,
                                                          SecretString body, Parse parse,
                                                          const CallContext& context) {
        auto answered =
            exchange(std::move(method), std::move(url), {200, 204}, std::move(body), context);
        if (auto* error = std::get_if<Error>(&answered))
            return std::move(*error);
        return detail::object_result(std::get<HttpResponse>(answered), parse,
                                     options_.max_json_depth);
    }

    /// The targetuser query value (empty: left out).
    static std::string target_query(const std::optional<TargetUser>& target_user) {
        return target_user ? target_user->query_value() : std::string();
    }

    /// POST that creates an object with an id of type Id (see detail::created_result).
    template <class Id>
    Result<std::optional<Created<Id>>> created(std::string url, SecretString body,
                                               const CallContext& context) {
        auto answered = exchange("POST", std::move(url), {200, 201, 204}, std::move(body), context);
        if (auto* error = std::get_if<Error>(&answered))
            return std::move(*error);
        return detail::created_result<Id>(std::get<HttpResponse>(answered),
                                          options_.max_json_depth);
    }

    /// GET of a secret base64 JSON string (see detail::blob_result).
    Result<std::optional<SecretBlob>> blob(std::string url, const CallContext& context) {
        auto answered = exchange("GET", std::move(url), {200, 204}, {}, context);
        if (auto* error = std::get_if<Error>(&answered))
            return std::move(*error);
        return detail::blob_result(std::get<HttpResponse>(answered), options_.max_json_depth);
    }

    /// Sends, and maps what every operation maps alike: no answer at all, and a status that is
    /// not one of the operation's own (`own`). Otherwise gives the response back to the operation.
    std::variant<HttpResponse, Error> exchange(std::string method, std::string url,
                                               std::initializer_list<int> own, SecretString body,
                                               const CallContext& context) {
        auto sent = send(std::move(method), std::move(url), std::move(body), context);
        if (auto* failure = std::get_if<TransportError>(&sent))
            return Error::from_transport(std::move(*failure));
        auto& response = std::get<HttpResponse>(sent);
        for (const int status : own) {
            if (response.status == status)
                return std::move(response);
        }
        return detail::failure_error(response, options_.max_json_depth);
    }

    /// Sends the request, again while the retry policy allows (see mimcm/retry.hpp). The request
    /// object is kept for every attempt, so a PUT's body goes out intact each time. It is the
    /// client's one request object, reused call after call (one call at a time): its headers are
    /// made again only when a call with a body follows one without, or the other way round.
    TransportResult send(std::string method, std::string url, SecretString body,
                         const CallContext& context) {
        const detail::CallInProgress::Guard one_at_a_time(in_call_);
        HttpRequest& request = request_.request;
        // The body and the token leave the request (wiped) when the call ends, however it ends.
        struct Forget {
            HttpRequest& request;
            ~Forget() {
                request.body = SecretString();
                request.bearer_token = SecretString();
            }
        } const forget{request};
        request.method = std::move(method);
        request.url = std::move(url);
        const bool json_body = !body.empty();
        if (request.headers.empty() || json_body != request_.has_body_headers) {
            request.headers.clear();
            if (json_body)
                request.headers.push_back({"Content-Type", "application/json"});
            request.headers.push_back({"Accept", "application/json"});
            request.headers.push_back({"User-Agent", options_.user_agent});
            request_.has_body_headers = json_body;
        }
        request.body = std::move(body);
        return detail::send_with_retries(
            request, options_.retry, random_, context,
            [this, &context](HttpRequest& r) { return send_authenticated(r, context); },
            [this](auto&& build) { this->log(LogLevel::warning, build); });
    }

    /// One attempt: a bearer token from the provider, and once more with a fresh one after a 401;
    /// `context` bounds both.
    TransportResult send_authenticated(HttpRequest& request, const CallContext& context) {
        if (options_.token_provider) {
            request.bearer_token = options_.token_provider(TokenRequest::initial);
        }
        TransportResult result = send_logged(request, context);
        const auto* response = std::get_if<HttpResponse>(&result);
        if (options_.token_provider && response && response->status == 401) {
            SecretString fresh = options_.token_provider(TokenRequest::after_unauthorized);
            if (!fresh.empty() && fresh != request.bearer_token) {
                log(LogLevel::info, [] {
                    return std::string(
                        "401 with the current token: retrying once with a fresh one");
                });
                request.bearer_token = std::move(fresh);
                result = send_logged(request, context);
            }
        }
        return result;
    }

    /// One request: nothing goes on the wire when the context is already cancelled or expired.
    TransportResult send_logged(const HttpRequest& request, const CallContext& context) {
        if (auto stopped = detail::stopped_before_sending(context)) {
            log(LogLevel::info, [&] {
                return request.method + " " + detail::redact_query(request.url) +
                       " not sent: " + stopped->message;
            });
            return std::move(*stopped);
        }
        log(LogLevel::debug,
            [&] { return request.method + " " + detail::redact_query(request.url); });
        const auto started = std::chrono::steady_clock::now();
        TransportResult result = [&] {
            if constexpr (transport_takes_context_v<Transport>)
                return TransportResult(transport_.send(request, context));
            else
                return TransportResult(transport_.send(request));
        }();
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
        if (const auto* response = std::get_if<HttpResponse>(&result)) {
            log(LogLevel::info, [&] {
                return request.method + " " + detail::redact_query(request.url) + " -> " +
                       std::to_string(response->status) + " (" +
                       std::to_string(response->body.size()) + " bytes, " + std::to_string(ms) +
                       " ms)";
            });
        } else {
            const auto& error = std::get<TransportError>(result);
            log(LogLevel::warning, [&] {
                return request.method + " " + detail::redact_query(request.url) + " failed after " +
                       std::to_string(ms) + " ms: " + error.message;
            });
        }
        return result;
    }

    /// Delivers the line that `build()` makes, building it only when a logger wants `level`.
    template <class Build>
    void log(LogLevel level, Build&& build) const {
        if (options_.logger && level >= options_.log_level)
            options_.logger(level, std::forward<Build>(build)());
    }

    CmUrl server_;
    Transport transport_;
    ClientOptions options_;
    std::function<double()> random_;  ///< the retry jitter's source
    detail::CallInProgress in_call_;
    detail::ReusedRequest request_;
};

}  // namespace mimcm
