// mimcm::BasicClient<Transport>: the CM REST API over any transport (see mimcm/http.hpp).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <rapidjson/writer.h>

#include "mimcm/detail/json.hpp"
#include "mimcm/http.hpp"
#include "mimcm/identifiers.hpp"
#include "mimcm/models.hpp"
#include "mimcm/outcome.hpp"
#include "mimcm/version.hpp"

namespace mimcm {

enum class LogLevel { debug, info, warning, error };

/// The numbers the CM server returns in Request::status. The docs have no table for them; their
/// examples show 3 for a request just created and auto-approved, which the enrollment walkthrough
/// (step 8) calls "approved", and 8 after PUT {"status":"Completed"} (the REST API reference,
/// "Numeric values seen in examples": Request.Status 3 = Approved, 8 = Completed). RequestStatus
/// names the statuses in filters and PUT bodies; its enumerators are not these numbers.
namespace request_status {
/// Approved: execution (card, certificates) may start.
inline constexpr int approved = 3;
/// Completed: the request was executed and closed.
inline constexpr int completed = 8;
}  // namespace request_status

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
    /// The deepest nesting of JSON arrays and objects accepted in a response body; a deeper body
    /// is a ProtocolError before any parser sees it (so a hostile server cannot exhaust the
    /// stack). JSON inside a string field always has the limit detail::default_max_json_depth.
    std::size_t max_json_depth = detail::default_max_json_depth;
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
Result failure_outcome(const HttpResponse& response, std::size_t max_json_depth) {
    const std::string_view content_type = response.header("Content-Type");
    if (content_type.find("text/plain") == std::string_view::npos &&
        scan_json(response.body.reveal(), max_json_depth) == JsonScan::too_deep) {
        return ProtocolError{response.status,
                             "the error body " + json_depth_message(max_json_depth)};
    }
    ErrorDetails details =
        error_details(response.status, response.body.reveal(), content_type, max_json_depth);
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

/// Body of POST requests (create a request).
struct NewRequest {
    RequestType type = RequestType::enroll;
    std::optional<Guid> profile_template;  ///< required except for requests on a card (Unblock)
    std::optional<Guid> smartcard;         ///< the card an Unblock request is for (D15)
    /// Name/value items the workflow policy asks for; sent as the docs' examples send them:
    /// a JSON string holding an array of {"name":"value"} objects.
    std::vector<std::pair<std::string, std::string>> data_collection;
    std::string comment;
    std::optional<Guid> target_user;  ///< default: the caller
    std::optional<int> priority;      ///< default: the template's; sent as a string like the docs
};

/// Body of POST requests/{id}/certificatedata.
struct CertificateData {
    SecretString pfx_password;                      ///< protects server-generated PFX results
    std::vector<std::string> certificate_requests;  ///< base64 DER PKCS#10 requests
    std::optional<std::string> comments;
};

/// A base64 JSON-string result decoded to bytes: an admin challenge response or a diversified
/// admin key. Both are secrets.
struct SecretBlob {
    SecretBytes bytes;
};

namespace detail {
/// A RapidJSON output stream into a SecretString: a body that grows past its first buffer wipes
/// the buffer it leaves, whatever the escaping of its strings makes of their length.
class SecretOutput {
  public:
    using Ch = char;
    explicit SecretOutput(std::size_t reserve) { text_.reserve(reserve); }
    void Put(char c) { text_.append(std::string_view(&c, 1)); }
    void Flush() noexcept {}
    SecretString take() { return std::move(text_); }

  private:
    SecretString text_;
};

using JsonWriter =
    rapidjson::Writer<SecretOutput, rapidjson::UTF8<>, rapidjson::UTF8<>, WipingAllocator>;

/// Writes a JSON body straight into a SecretString (bodies may hold passwords and PINs); no
/// other buffer ever holds its text.
template <class Build>
SecretString json_body(Build build, std::size_t reserve = 256) {
    SecretOutput out(reserve);
    JsonWriter writer(out);
    build(writer);
    return out.take();
}

inline void write_string(JsonWriter& w, std::string_view text) {
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

/// "?a=1&b=2" with percent-encoded values; empty values are left out.
inline std::string query(std::initializer_list<std::pair<const char*, std::string>> params) {
    std::string out;
    for (const auto& [name, value] : params) {
        if (value.empty())
            continue;
        out += out.empty() ? '?' : '&';
        out += name;
        out += '=';
        out += percent_encode(value);
    }
    return out;
}

/// The id at the end of a returned URI: "api/v1.0/requests/{id}" or
/// "/CertificateManagement/api/v1.0/requests/{id}" (D3), possibly absolute.
inline std::optional<Guid> id_from_uri(std::string_view uri) {
    while (!uri.empty() && (uri.back() == '/' || uri.back() == ' '))
        uri.remove_suffix(1);
    const auto slash = uri.rfind('/');
    return Guid::try_parse(slash == std::string_view::npos ? uri : uri.substr(slash + 1));
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
            detail::query({{"atr", card.atr.hex()},
                           {"cardid", card.card_id.guid()},
                           {"challenge", card.challenge.base64()}});
        auto answered = exchange<ProposedPinResult>("GET", url, {200, 204});
        if (auto* outcome = std::get_if<ProposedPinResult>(&answered))
            return std::move(*outcome);
        const HttpResponse& response = std::get<HttpResponse>(answered);
        if (response.status == 204)
            return NoPinProposed{};
        std::string why;
        auto pin = detail::parse_json_string(response.body.reveal(), why, options_.max_json_depth);
        if (!pin)
            return ProtocolError{200, "the proposed PIN " + why};
        if (pin->empty())
            return ProtocolError{200, "the proposed PIN is an empty string"};
        if (detail::has_control_character(pin->reveal()))
            return ProtocolError{200, "the proposed PIN holds a control character"};
        return PinProposed{std::move(*pin)};
    }

    // ------------------------------------------------------------------------------------
    // Profile templates and policies

    /// 1. GET profiletemplates[?targetuser=]: the templates the user may enroll for.
    [[nodiscard]] ApiResult<std::vector<ProfileTemplateView>> list_profile_templates(
        const std::string& target_user = {}) {
        return list("profiletemplates" + detail::query({{"targetuser", target_user}}),
                    parse_profile_template_view);
    }

    /// 2. GET profiletemplates/{id}/policies/{type} (the docs' examples' path; D7).
    [[nodiscard]] ApiResult<WorkflowPolicy, NoContent> get_workflow_policy(
        const Guid& profile_template, WorkflowType type) {
        return object("GET",
                      "profiletemplates/" + profile_template.str() + "/policies/" +
                          std::string(to_string(type)),
                      {}, parse_workflow_policy);
    }

    /// 3. GET profiletemplates/{id}/configuration/smartcards (walkthrough step 12; D11).
    [[nodiscard]] ApiResult<SmartcardPolicy, NoContent> get_smartcard_policy(
        const Guid& profile_template) {
        return object("GET",
                      "profiletemplates/" + profile_template.str() + "/configuration/smartcards",
                      {}, parse_smartcard_policy);
    }

    // ------------------------------------------------------------------------------------
    // Requests

    /// 4. POST requests: 201 with the new request's URI.
    [[nodiscard]] ApiResult<Created, NoContent> create_request(const NewRequest& request) {
        if (!request.profile_template && !request.smartcard) {
            throw InvalidArgument(
                "a new request needs a profile template (or a smart card for Unblock)");
        }
        SecretString body = detail::json_body([&](auto& w) {
            // The data collection travels as a JSON string holding an array, as in the docs.
            const SecretString items = detail::json_body([&](auto& a) {
                a.StartArray();
                for (const auto& [name, value] : request.data_collection) {
                    a.StartObject();
                    detail::write_string(a, name);
                    detail::write_string(a, value);
                    a.EndObject();
                }
                a.EndArray();
            });
            w.StartObject();
            w.Key("datacollection");
            detail::write_string(w, items.reveal());
            w.Key("type");
            detail::write_string(w, to_string(request.type));
            if (request.profile_template) {
                w.Key("profiletemplateuuid");
                detail::write_string(w, request.profile_template->str());
            }
            if (request.smartcard) {
                w.Key("smartcard");
                detail::write_string(w, request.smartcard->str());
            }
            if (request.target_user) {
                w.Key("target");
                detail::write_string(w, request.target_user->str());
            }
            w.Key("comment");
            detail::write_string(w, request.comment);
            if (request.priority) {
                w.Key("priority");
                detail::write_string(w, std::to_string(*request.priority));
            }
            w.EndObject();
        });
        return created("requests", std::move(body));
    }

    /// 5. GET requests[?status=&targetuser=].
    [[nodiscard]] ApiResult<std::vector<Request>> list_requests(
        std::optional<RequestStatus> status = std::nullopt, const std::string& target_user = {}) {
        return list("requests" + detail::query({{"targetuser", target_user},
                                                {"status", status ? std::string(to_string(*status))
                                                                  : std::string()}}),
                    parse_request);
    }

    /// 6. GET requests/{id}.
    [[nodiscard]] ApiResult<Request, NoContent> get_request(const Guid& request) {
        return object("GET", "requests/" + request.str(), {}, parse_request);
    }

    /// 7. PUT requests/{id} {"status": Completed|Canceled|Abandoned}.
    [[nodiscard]] ApiResult<Request, NoContent> set_request_status(const Guid& request,
                                                                   RequestStatus status) {
        if (status != RequestStatus::completed && status != RequestStatus::canceled &&
            status != RequestStatus::abandoned) {
            throw InvalidArgument("a request can only be set to Completed, Canceled or Abandoned");
        }
        return object("PUT", "requests/" + request.str(), status_body(to_string(status)),
                      parse_request);
    }

    /// 8. GET requests/{id}/certificaterequestgenerationoptions: one entry per PKCS#10 to make.
    [[nodiscard]] ApiResult<std::vector<CertificateRequestGenerationOptions>>
    get_certificate_request_generation_options(const Guid& request) {
        return list("requests/" + request.str() + "/certificaterequestgenerationoptions",
                    parse_certificate_request_generation_options);
    }

    /// 9. POST requests/{id}/certificatedata: submit PKCS#10 requests, get the certificates.
    [[nodiscard]] ApiResult<std::vector<Certificate>> submit_certificate_requests(
        const Guid& request, const CertificateData& data) {
        // A first guess of the size; escaping may grow it (the body then wipes what it leaves).
        std::size_t size = 128 + data.pfx_password.size();
        for (const auto& csr : data.certificate_requests)
            size += csr.size() + 4;
        if (data.comments)
            size += data.comments->size();
        SecretString body = detail::json_body(
            [&](auto& w) {
                w.StartObject();
                w.Key("pfxpassword");
                detail::write_string(w, data.pfx_password.reveal());
                w.Key("certificaterequests");
                w.StartArray();
                for (const auto& csr : data.certificate_requests)
                    detail::write_string(w, csr);
                w.EndArray();
                if (data.comments) {
                    w.Key("comments");
                    detail::write_string(w, *data.comments);
                }
                w.EndObject();
            },
            size);
        return list("requests/" + request.str() + "/certificatedata", parse_certificate, "POST",
                    std::move(body));
    }

    // ------------------------------------------------------------------------------------
    // Smart cards

    /// 10. POST smartcards {requestid, cardid, atr}: bind the card to the request.
    [[nodiscard]] ApiResult<Created, NoContent> assign_smartcard(
        const Guid& request, const CardId& card, const std::optional<Atr>& atr = std::nullopt) {
        SecretString body = detail::json_body([&](auto& w) {
            w.StartObject();
            w.Key("requestid");
            detail::write_string(w, request.str());
            w.Key("cardid");
            detail::write_string(w, card.guid());
            if (atr) {
                w.Key("atr");
                detail::write_string(w, atr->hex());
            }
            w.EndObject();
        });
        return created("smartcards", std::move(body));
    }

    /// 11. GET smartcards[?cardid=]: the docs return one object; a list is accepted too (D31).
    [[nodiscard]] ApiResult<std::vector<Smartcard>> find_smartcards(
        const std::optional<CardId>& card = std::nullopt) {
        return list("smartcards" + detail::query({{"cardid", card ? card->guid() : std::string()}}),
                    parse_smartcard);
    }

    /// 12. GET smartcards/{id}.
    [[nodiscard]] ApiResult<Smartcard, NoContent> get_smartcard(const SmartcardId& smartcard) {
        return object("GET", "smartcards/" + smartcard.str(), {}, parse_smartcard);
    }

    /// 13. GET requests/{r}/smartcards/{s}/authenticationresponse: the server's answer to the
    /// card's admin challenge, computed with the default (diversified=false) or the diversified
    /// admin key. The challenge travels as base64 (D32).
    [[nodiscard]] ApiResult<SecretBlob, NoContent> get_authentication_response(
        const Guid& request, const SmartcardId& smartcard, const CardId& card,
        const Challenge& challenge, bool diversified,
        const std::optional<Atr>& atr = std::nullopt) {
        return blob("requests/" + request.str() + "/smartcards/" + smartcard.str() +
                    "/authenticationresponse" +
                    detail::query({{"cardid", card.guid()},
                                   {"challenge", challenge.base64()},
                                   {"diversified", diversified ? "true" : "false"},
                                   {"atr", atr ? atr->hex() : std::string()}}));
    }

    /// 14. GET requests/{r}/smartcards/{s}/diversifiedkey: the card's new admin key.
    [[nodiscard]] ApiResult<SecretBlob, NoContent> get_diversified_admin_key(
        const Guid& request, const SmartcardId& smartcard, const CardId& card,
        const std::optional<Atr>& atr = std::nullopt) {
        return blob(
            "requests/" + request.str() + "/smartcards/" + smartcard.str() + "/diversifiedkey" +
            detail::query({{"cardid", card.guid()}, {"atr", atr ? atr->hex() : std::string()}}));
    }

    /// 16. PUT requests/{r}/smartcards/{s} {"status": ...} (the table says GET; D36).
    [[nodiscard]] ApiResult<Smartcard, NoContent> update_smartcard_status(
        const Guid& request, const SmartcardId& smartcard, SmartcardStatus status) {
        return object("PUT", "requests/" + request.str() + "/smartcards/" + smartcard.str(),
                      status_body(to_string(status)), parse_smartcard);
    }

    /// 21. GET smartcards/{id}/operations: what the user may request for the card (lower case).
    [[nodiscard]] ApiResult<std::vector<std::string>> get_smartcard_operations(
        const SmartcardId& smartcard) {
        return list("smartcards/" + smartcard.str() + "/operations", string_item);
    }

    /// 23. GET smartcards/{id}/certificates.
    [[nodiscard]] ApiResult<std::vector<ClmCertificate>> get_smartcard_certificates(
        const SmartcardId& smartcard) {
        return list("smartcards/" + smartcard.str() + "/certificates", parse_clm_certificate);
    }

    // ------------------------------------------------------------------------------------
    // Software profiles and certificates

    /// 17. GET profiles[?status=].
    [[nodiscard]] ApiResult<std::vector<Profile>> list_profiles(const std::string& status = {}) {
        return list("profiles" + detail::query({{"status", status}}), parse_profile);
    }

    /// 18. GET profiles/{id}: documented as a list (one profile).
    [[nodiscard]] ApiResult<std::vector<Profile>> get_profile(const Guid& profile) {
        return list("profiles/" + profile.str(), parse_profile);
    }

    /// 19. GET requests/{id}/profiles[?status=].
    [[nodiscard]] ApiResult<std::vector<Profile>> list_request_profiles(
        const Guid& request, const std::string& status = {}) {
        return list("requests/" + request.str() + "/profiles" + detail::query({{"status", status}}),
                    parse_profile);
    }

    /// 20. GET profiles/{id}/operations.
    [[nodiscard]] ApiResult<std::vector<std::string>> get_profile_operations(const Guid& profile) {
        return list("profiles/" + profile.str() + "/operations", string_item);
    }

    /// 22. GET profiles/{id}/certificates (6-field view).
    [[nodiscard]] ApiResult<std::vector<ClmCertificate>> get_profile_certificates(
        const Guid& profile) {
        return list("profiles/" + profile.str() + "/certificates", parse_clm_certificate);
    }

    /// 24. GET certificates: the caller's certificates (11-field view).
    [[nodiscard]] ApiResult<std::vector<ClmCertificate>> get_user_certificates() {
        return list("certificates", parse_clm_certificate);
    }

  private:
    static std::string string_item(const rapidjson::Value& v) {
        if (!v.IsString())
            detail::wrong_type("a string", v);
        return detail::as_string(v);
    }

    static SecretString status_body(std::string_view status) {
        return detail::json_body([&](auto& w) {
            w.StartObject();
            w.Key("status");
            detail::write_string(w, status);
            w.EndObject();
        });
    }

    /// Parses a JSON body (detail::ParsedJson: in place in a wiped copy, depth limit, no NUL,
    /// nothing after the value); a ProtocolError result otherwise (the body is not quoted).
    template <class Result>
    std::optional<Result> parse_body(const HttpResponse& response, detail::ParsedJson& json) const {
        const std::string problem = json.parse(response.body.reveal(), options_.max_json_depth);
        if (problem.empty())
            return std::nullopt;
        return Result{ProtocolError{response.status, "the body " + problem}};
    }

    /// GET (or POST) of a list: 200 with an array (or one object: the docs show single objects
    /// where lists are described), 204 as an empty list. Items are parsed in one pass.
    template <class Parse>
    auto list(const std::string& relative, Parse parse, std::string method = "GET",
              SecretString body = {})
        -> ApiResult<
            std::vector<std::decay_t<decltype(parse(std::declval<const rapidjson::Value&>()))>>> {
        using Item = std::decay_t<decltype(parse(std::declval<const rapidjson::Value&>()))>;
        using Result = ApiResult<std::vector<Item>>;
        auto answered =
            exchange<Result>(std::move(method), server_.api(relative), {200, 204}, std::move(body));
        if (auto* outcome = std::get_if<Result>(&answered))
            return std::move(*outcome);
        const HttpResponse& response = std::get<HttpResponse>(answered);
        if (response.status == 204)
            return std::vector<Item>{};
        detail::ParsedJson json;
        if (auto bad = parse_body<Result>(response, json))
            return std::move(*bad);
        const rapidjson::Value& doc = json.value();
        std::vector<Item> items;
        if (doc.IsArray()) {
            items.reserve(doc.Size());
            for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
                try {
                    items.push_back(parse(doc[i]));
                } catch (const ModelError& e) {
                    return ProtocolError{200, detail::item_prefix(i) + e.what()};
                }
            }
        } else if (doc.IsObject() || doc.IsString()) {
            // One object where a list is described (the docs show both), or one string in a list
            // of strings; parse() rejects a string where it needs an object.
            try {
                items.push_back(parse(doc));
            } catch (const ModelError& e) {
                return ProtocolError{200, e.what()};
            }
        } else if (!doc.IsNull()) {
            return ProtocolError{
                200, std::string("expected a JSON array, got ") + detail::type_name(doc)};
        }
        return items;
    }

    /// One object: 200 with it, 204 as NoContent.
    template <class Parse>
    auto object(std::string method, const std::string& relative, SecretString body, Parse parse)
        -> ApiResult<std::decay_t<decltype(parse(std::declval<const rapidjson::Value&>()))>,
                     NoContent> {
        using Item = std::decay_t<decltype(parse(std::declval<const rapidjson::Value&>()))>;
        using Result = ApiResult<Item, NoContent>;
        auto answered =
            exchange<Result>(std::move(method), server_.api(relative), {200, 204}, std::move(body));
        if (auto* outcome = std::get_if<Result>(&answered))
            return std::move(*outcome);
        const HttpResponse& response = std::get<HttpResponse>(answered);
        if (response.status == 204)
            return NoContent{};
        detail::ParsedJson json;
        if (auto bad = parse_body<Result>(response, json))
            return std::move(*bad);
        const rapidjson::Value& doc = json.value();
        const rapidjson::Value* value = &doc;
        if (doc.IsArray() && doc.Size() == 1)
            value = &doc[0];
        if (!value->IsObject()) {
            return ProtocolError{
                200, std::string("expected a JSON object, got ") + detail::type_name(*value)};
        }
        try {
            return parse(*value);
        } catch (const ModelError& e) {
            return ProtocolError{200, e.what()};
        }
    }

    /// POST that creates: 201 (or 200) with the new object's URI as a JSON string.
    ApiResult<Created, NoContent> created(const std::string& relative, SecretString body) {
        using Result = ApiResult<Created, NoContent>;
        auto answered =
            exchange<Result>("POST", server_.api(relative), {200, 201, 204}, std::move(body));
        if (auto* outcome = std::get_if<Result>(&answered))
            return std::move(*outcome);
        const HttpResponse& response = std::get<HttpResponse>(answered);
        if (response.status == 204)
            return NoContent{};
        std::string why;
        auto uri = detail::parse_json_string(response.body.reveal(), why, options_.max_json_depth);
        if (!uri)
            return ProtocolError{response.status, "the new object's URI " + why};
        if (detail::has_control_character(uri->reveal()))
            return ProtocolError{response.status, "the new object's URI holds a control character"};
        auto id = detail::id_from_uri(uri->reveal());
        if (!id)
            return ProtocolError{response.status, "the returned URI does not end with an id"};
        return Created{std::string(uri->reveal()), *std::move(id)};
    }

    /// GET of a secret base64 JSON string (challenge response, admin key).
    ApiResult<SecretBlob, NoContent> blob(const std::string& relative) {
        using Result = ApiResult<SecretBlob, NoContent>;
        auto answered = exchange<Result>("GET", server_.api(relative), {200, 204});
        if (auto* outcome = std::get_if<Result>(&answered))
            return std::move(*outcome);
        const HttpResponse& response = std::get<HttpResponse>(answered);
        if (response.status == 204)
            return NoContent{};
        std::string why;
        auto text = detail::parse_json_string(response.body.reveal(), why, options_.max_json_depth);
        if (!text)
            return ProtocolError{200, "the value " + why};
        auto bytes = base64_decode(text->reveal());
        if (!bytes || bytes->empty())
            return ProtocolError{200, "the value is not base64"};
        return SecretBlob{SecretBytes(*std::move(bytes))};
    }

    /// Sends, and maps what every operation maps alike: no answer at all, and a status that is
    /// not one of the operation's own (`own`). Otherwise gives the response back to the operation.
    template <class Result>
    std::variant<HttpResponse, Result> exchange(std::string method, std::string url,
                                                std::initializer_list<int> own,
                                                SecretString body = {}) {
        auto sent = send(std::move(method), std::move(url), std::move(body));
        if (auto* failure = std::get_if<TransportError>(&sent))
            return Result{TransportFailure{std::move(*failure)}};
        auto& response = std::get<HttpResponse>(sent);
        for (const int status : own) {
            if (response.status == status)
                return std::move(response);
        }
        return detail::failure_outcome<Result>(response, options_.max_json_depth);
    }

    TransportResult send(std::string method, std::string url, SecretString body = {}) {
        HttpRequest request;
        request.method = std::move(method);
        request.url = std::move(url);
        if (!body.empty()) {
            request.headers.push_back({"Content-Type", "application/json"});
            request.body = std::move(body);
        }
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
