// The client end to end over a fake transport (tests/support/fake_transport.hpp) that answers
// what the input says. The input picks one of the 24 operations of BasicClient, whether a token
// provider is set (so a 401 is retried once) and the JSON depth limit; then, for each request
// the client sends, a transport error or a status, headers and a body. Whatever the server says,
// the operation returns, throws nothing, and its outcome is the typed alternative the status
// calls for; a protocol error never quotes the body.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "fake_transport.hpp"
#include "fuzz_input.hpp"
#include "mimcm/client.hpp"
#include "results.hpp"

using namespace mimcm_test;  // NOLINT: test helpers over mimcm::Result
namespace {

using mimcm::HttpResponse;
using mimcm::TransportError;

constexpr int operation_count = 24;
/// Stands for a secret in a body (a seed and the dictionary hold it).
constexpr std::string_view secret_marker = "s3cr3t";

/// What the fake server said last.
struct Answered {
    std::optional<TransportError::Kind> error;
    int status = 0;
    std::vector<mimcm::Header> headers;
    std::string body;
    int sends = 0;
};

mimcm::TransportResult answer(mimcm_fuzz::Input& input, Answered& last) {
    ++last.sends;
    const std::uint8_t kind = input.byte();
    last.error.reset();
    last.headers.clear();
    last.body.clear();
    if ((kind & 0x0F) == 0x0F) {
        TransportError e;
        e.kind = static_cast<TransportError::Kind>(
            (kind >> 4) % (static_cast<int>(TransportError::Kind::other) + 1));
        e.message = "fuzz";
        last.error = e.kind;
        return e;
    }
    HttpResponse r;
    r.status = input.u16();
    const int headers = input.byte() % 16;
    for (int i = 0; i < headers; ++i) {
        const std::string_view name = input.field();
        const std::string_view value = input.field();
        r.headers.push_back({std::string(name), std::string(value)});
    }
    const std::string_view body = input.field();
    r.body.append(body);
    last.status = r.status;
    last.headers = r.headers;
    last.body = std::string(body);
    return r;
}

bool in(std::string_view name, std::initializer_list<std::string_view> names) {
    for (const auto n : names) {
        if (n == name)
            return true;
    }
    return false;
}

template <class Result>
void check(const Result& result, const Answered& last, std::initializer_list<int> own) {
    const std::string name = name_of(result);
    MIMCM_FUZZ_CHECK(!description(result).empty());
    if (last.error) {
        const auto* failure = transport_failure(result);
        MIMCM_FUZZ_CHECK(failure && failure->transport->kind == *last.error);
        MIMCM_FUZZ_CHECK(failure->kind == mimcm::error_kind_for(*last.error));
        return;
    }
    MIMCM_FUZZ_CHECK(result.ok() || !result.error().transport);
    const bool body_error = fails_with(result, mimcm::ErrorKind::protocol) ||
                            fails_with(result, mimcm::ErrorKind::limit_exceeded);
    if (body_error) {
        const auto& p = result.error();
        MIMCM_FUZZ_CHECK(p.status == last.status);
        // Never a quote of the body (it may hold a PIN or a key): no message of the client holds
        // the marker, so only a quote of a body that holds it could.
        if (last.body.find(secret_marker) != std::string::npos)
            MIMCM_FUZZ_CHECK(p.message.find(secret_marker) == std::string::npos);
        // limit_exceeded with an answer: only a body too deep to look at.
        if (p.kind == mimcm::ErrorKind::limit_exceeded)
            MIMCM_FUZZ_CHECK(p.message.find("depth limit") != std::string::npos);
    }
    bool is_own = false;
    for (const int s : own)
        is_own = is_own || s == last.status;
    if (is_own) {
        MIMCM_FUZZ_CHECK(in(name, {"ok", "no_content", "pin_proposed", "no_pin_proposed",
                                   "protocol", "limit_exceeded"}));
        if (last.status == 204)
            MIMCM_FUZZ_CHECK(!body_error);
        return;
    }
    if (name == "limit_exceeded")
        return;  // an error body too deep to look at
    MIMCM_FUZZ_CHECK(name == to_string(mimcm::error_kind_for_status(last.status)));
    std::string_view expected = "unexpected_status";
    if (last.status == 401)
        expected = "unauthorized";
    else if (last.status == 403)
        expected = "forbidden";
    else if (last.status == 404)
        expected = "not_found";
    else if (last.status >= 500 && last.status <= 599)
        expected = "server_error";
    MIMCM_FUZZ_CHECK(name == expected);
    const mimcm::Error& error = result.error();
    MIMCM_FUZZ_CHECK(error.status == last.status);
    std::size_t offered = 0;
    for (const auto& h : last.headers)
        offered += mimcm::detail::iequals(h.name, "WWW-Authenticate") ? 1 : 0;
    MIMCM_FUZZ_CHECK(error.authenticate.size() == (last.status == 401 ? offered : 0));
}

/// The operation's own success checks, on top of the common ones.
void check_value(const mimcm::Result<mimcm::PinProposal>& result) {
    if (const auto* pin = proposed_pin(result)) {
        MIMCM_FUZZ_CHECK(!pin->pin.empty());
        MIMCM_FUZZ_CHECK(!mimcm::detail::has_control_character(pin->pin.reveal()));
    }
}
void check_value(const mimcm::Result<std::optional<mimcm::SecretBlob>>& result) {
    if (const auto* blob = object_of(result))
        MIMCM_FUZZ_CHECK(!blob->bytes.empty());
}
template <class Id>
void check_value(const mimcm::Result<std::optional<mimcm::Created<Id>>>& result) {
    if (const auto* created = object_of(result)) {
        MIMCM_FUZZ_CHECK(Id::try_parse(created->id.str()) == created->id);
        MIMCM_FUZZ_CHECK(!mimcm::detail::has_control_character(created->uri));
    }
}
template <class Result>
void check_value(const Result&) {}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const mimcm::CmUrl server = mimcm::CmUrl::parse("https://cm.example");
    static const mimcm::RequestId request =
        mimcm::RequestId::parse("a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099");
    static const mimcm::ProfileTemplateId profile_template =
        mimcm::ProfileTemplateId::parse("a039b4d0-5ce8-4eff-8651-181c6576fda3");
    static const mimcm::ProfileId profile =
        mimcm::ProfileId::parse("c0dd5c7d-ec35-4346-baca-3ad711e9722f");
    static const mimcm::SmartcardId smartcard =
        mimcm::SmartcardId::parse("17cf063d-e337-4aa9-a822-346554ddd3c9");
    static const mimcm::CardId card =
        mimcm::CardId::from_guid("bc88f13f-83ba-4037-8262-46eba1291c6e");
    static const mimcm::Atr atr = mimcm::Atr::from_hex("3b8d0180fba000000397425446590301");
    static const mimcm::CardData card_data{atr, card,
                                           mimcm::Challenge::from_base64("1hFD+cz/0so=")};

    mimcm_fuzz::Input input(data, size);
    const int operation = input.byte() % operation_count;
    const std::uint8_t flags = input.byte();

    Answered last;
    mimcm::ClientOptions options;
    if (flags & 1) {
        options.token_provider = [](mimcm::TokenRequest why) {
            return mimcm::SecretString(why == mimcm::TokenRequest::initial ? "token-1" : "token-2");
        };
    }
    if (flags & 2)
        options.max_json_depth = 3;
    // Retries without waiting (a wait would make each input slow): the retry decisions are
    // fuzzed, the backoff itself is tested in tests/unit/test_retry.cpp.
    const bool retries = (flags & 4) != 0;
    options.retry = mimcm::RetryPolicy::disabled();
    if (retries) {
        options.retry.max_retries = 2;
        options.retry.initial_delay = std::chrono::milliseconds(0);
        options.retry.max_delay = std::chrono::milliseconds(0);
    }
    std::size_t log_lines = 0;
    options.logger = [&](mimcm::LogLevel, std::string_view line) {
        ++log_lines;
        MIMCM_FUZZ_CHECK(!line.empty());
    };
    mimcm_test::FakeTransport transport(
        [&](const mimcm::HttpRequest&) -> mimcm::TransportResult { return answer(input, last); });
    mimcm::BasicClient<mimcm_test::FakeTransport> client(server, transport, std::move(options));

    const auto run = [&](const auto& result, std::initializer_list<int> own) {
        check(result, last, own);
        check_value(result);
    };
    const std::initializer_list<int> ok = {200, 204};
    const std::initializer_list<int> created = {200, 201, 204};
    switch (operation) {
        case 0:
            run(client.server_proposed_pin(smartcard, card_data), ok);
            break;
        case 1:
            run(client.list_profile_templates(mimcm::TargetUser::current()), ok);
            break;
        case 2:
            run(client.get_workflow_policy(profile_template, mimcm::WorkflowType::enroll), ok);
            break;
        case 3:
            run(client.get_smartcard_policy(profile_template), ok);
            break;
        case 4: {
            mimcm::NewRequest r;
            r.profile_template = profile_template;
            r.data_collection = {{"Reason", "fuzz"}};
            r.priority = 4;
            run(client.create_request(r), created);
            break;
        }
        case 5:
            run(client.list_requests(mimcm::RequestStatus::approved), ok);
            break;
        case 6:
            run(client.get_request(request), ok);
            break;
        case 7:
            run(client.set_request_status(request, mimcm::RequestStatus::completed), ok);
            break;
        case 8:
            run(client.get_certificate_request_generation_options(request), ok);
            break;
        case 9: {
            mimcm::CertificateData d;
            d.pfx_password = mimcm::SecretString("pfx \"password\"");
            d.certificate_requests = {"MIIBfzCB6QIBADBAMT4w"};
            d.comments = "fuzz";
            run(client.submit_certificate_requests(request, d), ok);
            break;
        }
        case 10:
            run(client.assign_smartcard(request, card, atr), created);
            break;
        case 11:
            run(client.find_smartcards(card), ok);
            break;
        case 12:
            run(client.get_smartcard(smartcard), ok);
            break;
        case 13:
            run(client.get_authentication_response(
                    request, smartcard, card, card_data.challenge,
                    (flags & 4) ? mimcm::AdminKey::diversified : mimcm::AdminKey::default_key, atr),
                ok);
            break;
        case 14:
            run(client.get_diversified_admin_key(request, smartcard, card, atr), ok);
            break;
        case 15:
            run(client.update_smartcard_status(request, smartcard, mimcm::SmartcardStatus::retired),
                ok);
            break;
        case 16:
            run(client.get_smartcard_operations(smartcard), ok);
            break;
        case 17:
            run(client.get_smartcard_certificates(smartcard), ok);
            break;
        case 18:
            run(client.list_profiles("Active"), ok);
            break;
        case 19:
            run(client.get_profile(profile), ok);
            break;
        case 20:
            run(client.list_request_profiles(request), ok);
            break;
        case 21:
            run(client.get_profile_operations(profile), ok);
            break;
        case 22:
            run(client.get_profile_certificates(profile), ok);
            break;
        default:
            run(client.get_user_certificates(), ok);
            break;
    }
    // One request, and one more only after a 401 with a token provider; retries repeat that.
    MIMCM_FUZZ_CHECK(last.sends == static_cast<int>(transport.requests().size()));
    const int per_attempt = (flags & 1) ? 2 : 1;
    if (retries) {
        MIMCM_FUZZ_CHECK(last.sends >= 1 && last.sends <= 3 * per_attempt);
    } else {
        MIMCM_FUZZ_CHECK(last.sends == 1 || (last.sends == 2 && (flags & 1)));
        MIMCM_FUZZ_CHECK(log_lines ==
                         2 * static_cast<std::size_t>(last.sends) + (last.sends == 2 ? 1 : 0));
    }
    return 0;
}
