#include <catch2/catch.hpp>

#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fake_transport.hpp"
#include "mimcm/core.hpp"
#include "results.hpp"

using namespace mimcm_test;  // NOLINT: test helpers over mimcm::Result
using namespace mimcm;
using mimcm_test::FakeTransport;

namespace {

template <class T, class = void>
struct streamable : std::false_type {};
template <class T>
struct streamable<T,
                  std::void_t<decltype(std::declval<std::ostream&>() << std::declval<const T&>())>>
    : std::true_type {};

static_assert(!streamable<SecretString>::value, "a secret must not be printable by accident");
static_assert(!streamable<SecretBytes>::value, "a secret must not be printable by accident");
static_assert(is_transport_v<FakeTransport>);
static_assert(!is_transport_v<int>);
static_assert(!is_transport_v<std::string>);

CardData docs_card() {
    return CardData{Atr::from_hex("3b8d0180fba000000397425446590301c8"),
                    CardId::from_guid("bc88f13f-83ba-4037-8262-46eba1291c6e"),
                    Challenge::from_base64("1hFD+cz/0so=")};
}

const char* const kSmartcard = "17cf063d-e337-4aa9-a822-346554ddd3c9";

Result<PinProposal> call(FakeTransport& transport, std::vector<std::string>* log = nullptr,
                         TokenProvider tokens = {}) {
    ClientOptions options;
    options.token_provider = std::move(tokens);
    if (log)
        options.logger = [log](LogLevel, std::string_view line) { log->emplace_back(line); };
    BasicClient<FakeTransport> client(CmUrl::parse("https://cm.contoso.com"), transport, options);
    return client.server_proposed_pin(SmartcardId::parse(kSmartcard), docs_card());
}

}  // namespace

TEST_CASE("the proposed-PIN request is built as the API documents", "[client]") {
    FakeTransport transport(FakeTransport::answer(200, "\"00123456\""));
    const auto result = call(transport);
    REQUIRE(transport.requests().size() == 1);
    const auto& request = transport.requests()[0];
    CHECK(request.method == "GET");
    CHECK(request.url ==
          "https://cm.contoso.com/CertificateManagement/api/v1.0/smartcards/"
          "17cf063d-e337-4aa9-a822-346554ddd3c9/serverproposedpin"
          "?atr=3b8d0180fba000000397425446590301c8"
          "&cardid=bc88f13f-83ba-4037-8262-46eba1291c6e"
          "&challenge=1hFD%2Bcz%2F0so%3D");
    bool accepts_json = false;
    for (const auto& h : request.headers) {
        if (h.name == "Accept" && h.value == "application/json")
            accepts_json = true;
    }
    CHECK(accepts_json);
    REQUIRE(pin_proposed(result));
}

TEST_CASE("200 gives the PIN with its leading zeros", "[client]") {
    FakeTransport transport(FakeTransport::answer(200, "\"00123456\""));
    const auto result = call(transport);
    const auto* pin = proposed_pin(result);
    REQUIRE(pin != nullptr);
    CHECK(pin->pin.reveal() == "00123456");
    CHECK(name_of(result) == "pin_proposed");
    CHECK(description(result).find("00123456") == std::string::npos);
}

TEST_CASE("200 with JSON escapes in the string is decoded", "[client]") {
    FakeTransport transport(FakeTransport::answer(200, "\"12\\u00334\""));
    const auto result = call(transport);
    REQUIRE(pin_proposed(result));
    CHECK((*proposed_pin(result)).pin.reveal() == "1234");
}

TEST_CASE("204 means the user chooses the PIN", "[client]") {
    FakeTransport transport(FakeTransport::answer(204));
    const auto result = call(transport);
    CHECK(no_pin_proposed(result));
    CHECK(name_of(result) == "no_pin_proposed");
}

TEST_CASE("a 200 body that is not a JSON string is a protocol error that hides the body",
          "[client]") {
    for (const char* body : {"98765432", "\"98765432\" x", "{\"pin\":\"98765432\"}", "",
                             "\"98765432", "[\"98765432\"]", "\"\""}) {
        CAPTURE(body);
        FakeTransport transport(FakeTransport::answer(200, body));
        const auto result = call(transport);
        const auto* error = failed_with(result, ErrorKind::protocol);
        REQUIRE(error != nullptr);
        CHECK(error->status == 200);
        CHECK(error->message.find("98765432") == std::string::npos);
        CHECK(description(result).find("98765432") == std::string::npos);
    }
}

TEST_CASE("statuses map to typed errors", "[client]") {
    SECTION("401 keeps the offered schemes") {
        FakeTransport transport(FakeTransport::answer(401, "<html>401</html>",
                                                      {{"Content-Type", "text/html"},
                                                       {"WWW-Authenticate", "Negotiate"},
                                                       {"WWW-Authenticate", "NTLM"}}));
        const auto result = call(transport);
        const auto* u = failed_with(result, ErrorKind::unauthorized);
        REQUIRE(u != nullptr);
        CHECK(u->status == 401);
        CHECK(u->authenticate == std::vector<std::string>{"Negotiate", "NTLM"});
    }
    SECTION("403 keeps the server's message") {
        FakeTransport transport(FakeTransport::answer(403, R"({"Message":"Access is denied."})"));
        const auto result = call(transport);
        const auto* f = failed_with(result, ErrorKind::forbidden);
        REQUIRE(f != nullptr);
        CHECK(f->message == "Access is denied.");
    }
    SECTION("404 is not found / API disabled") {
        FakeTransport transport(FakeTransport::answer(404, "", {{"Content-Type", "text/html"}}));
        const auto result = call(transport);
        REQUIRE(fails_with(result, ErrorKind::not_found));
        CHECK(description(result).find("disabled") != std::string::npos);
    }
    SECTION("500 with the correlation id in the message") {
        FakeTransport transport(FakeTransport::answer(
            500,
            R"({"Message":"An error has occurred. Contact your administrator and provide the correlation ID 1C6D0F41-5B8E-4D5A-9C2B-1A3F5E7D9B20."})"));
        const auto result = call(transport);
        const auto* e = failed_with(result, ErrorKind::server_error);
        REQUIRE(e != nullptr);
        CHECK(e->status == 500);
        CHECK(e->correlation_id == "1c6d0f41-5b8e-4d5a-9c2b-1a3f5e7d9b20");
        CHECK_THAT(e->message, Catch::StartsWith("An error has occurred."));
        CHECK_THAT(description(result), Catch::Contains("1c6d0f41-5b8e-4d5a-9c2b-1a3f5e7d9b20"));
    }
    SECTION("503 with a CorrelationId field") {
        FakeTransport transport(FakeTransport::answer(
            503, R"({"message":"busy","CorrelationId":"{aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee}"})"));
        const auto result = call(transport);
        const auto* e = failed_with(result, ErrorKind::server_error);
        REQUIRE(e != nullptr);
        CHECK(e->status == 503);
        CHECK(e->message == "busy");
        CHECK(e->correlation_id == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
    }
    SECTION("500 without a body") {
        FakeTransport transport(FakeTransport::answer(500, "", {}));
        const auto result = call(transport);
        const auto* e = failed_with(result, ErrorKind::server_error);
        REQUIRE(e != nullptr);
        CHECK(e->correlation_id.empty());
    }
    SECTION("any other status is kept") {
        for (const int status : {400, 302, 409, 418, 201}) {
            CAPTURE(status);
            FakeTransport transport(FakeTransport::answer(status, R"({"Message":"nope"})"));
            const auto result = call(transport);
            const auto* e = failed_with(result, ErrorKind::unexpected_status);
            REQUIRE(e != nullptr);
            CHECK(e->status == status);
            CHECK(e->message == "nope");
        }
    }
}

TEST_CASE("transport failures keep their kind and code", "[client]") {
    FakeTransport transport([](const HttpRequest&) -> TransportResult {
        return TransportError{TransportError::Kind::timeout, 28, "Timeout was reached"};
    });
    const auto result = call(transport);
    const auto* f = transport_failure(result);
    REQUIRE(f != nullptr);
    CHECK(f->kind == ErrorKind::timeout);
    CHECK(f->status == 0);
    CHECK(f->transport->timed_out());
    CHECK(f->transport->native_code == 28);
    CHECK_THAT(description(result), Catch::StartsWith("timeout failure"));
}

TEST_CASE("a transport limit is a limit_exceeded error that names the limit", "[client]") {
    using Kind = TransportError::Kind;
    const std::pair<Kind, const char*> limits[] = {
        {Kind::response_too_large, "response size limit failure"},
        {Kind::headers_too_large, "header limit failure"},
        {Kind::too_slow, "low-speed limit failure"},
    };
    for (const auto& [kind, described] : limits) {
        FakeTransport transport([kind = kind](const HttpRequest&) -> TransportResult {
            return TransportError{kind, 23, "limit"};
        });
        const auto result = call(transport);
        const auto* f = transport_failure(result);
        REQUIRE(f != nullptr);
        CHECK(f->transport->limit_exceeded());
        CHECK_FALSE(f->transport->timed_out());
        CHECK(name_of(result) == "limit_exceeded");
        CHECK_THAT(description(result), Catch::StartsWith(described));
    }
    CHECK_FALSE(TransportError{Kind::timeout, 28, "t"}.limit_exceeded());
    CHECK_FALSE(TransportError{Kind::malformed_response, 8, "m"}.limit_exceeded());
}

TEST_CASE("every transport kind maps to one ErrorKind", "[client][result]") {
    using Kind = TransportError::Kind;
    const std::pair<Kind, ErrorKind> table[] = {
        {Kind::timeout, ErrorKind::timeout},
        {Kind::resolve, ErrorKind::transport},
        {Kind::connect, ErrorKind::transport},
        {Kind::tls, ErrorKind::transport},
        {Kind::send_receive, ErrorKind::transport},
        {Kind::invalid, ErrorKind::transport},
        {Kind::malformed_response, ErrorKind::transport},
        {Kind::response_too_large, ErrorKind::limit_exceeded},
        {Kind::headers_too_large, ErrorKind::limit_exceeded},
        {Kind::too_slow, ErrorKind::limit_exceeded},
        {Kind::cancelled, ErrorKind::cancelled},
        {Kind::other, ErrorKind::transport},
    };
    for (const auto& [kind, expected] : table) {
        CAPTURE(to_string(kind));
        FakeTransport transport([kind = kind](const HttpRequest&) -> TransportResult {
            return TransportError{kind, 7, "what the transport said"};
        });
        const auto result = call(transport);
        REQUIRE_FALSE(result.ok());
        const Error& error = result.error();
        CHECK(error.kind == expected);
        CHECK(error.name() == to_string(expected));
        CHECK(error.status == 0);
        REQUIRE(error.transport.has_value());
        CHECK(error.transport->kind == kind);
        CHECK(error.transport->native_code == 7);
        CHECK(error.message == "what the transport said");
        CHECK(error.describe() ==
              std::string(to_string(kind)) + " failure: what the transport said");
    }
}

TEST_CASE("every error status maps to one ErrorKind", "[client][result]") {
    const std::pair<int, ErrorKind> table[] = {
        {400, ErrorKind::unexpected_status}, {401, ErrorKind::unauthorized},
        {403, ErrorKind::forbidden},         {404, ErrorKind::not_found},
        {405, ErrorKind::unexpected_status}, {409, ErrorKind::unexpected_status},
        {302, ErrorKind::unexpected_status}, {500, ErrorKind::server_error},
        {502, ErrorKind::server_error},      {503, ErrorKind::server_error},
        {599, ErrorKind::server_error},      {600, ErrorKind::unexpected_status},
    };
    for (const auto& [status, expected] : table) {
        CAPTURE(status);
        CHECK(error_kind_for_status(status) == expected);
        FakeTransport transport(FakeTransport::answer(status, R"({"Message":"no"})"));
        const auto result = call(transport);
        REQUIRE_FALSE(result.ok());
        CHECK(result.error().kind == expected);
        CHECK(result.error().status == status);
        CHECK(result.error().message == "no");
        CHECK_FALSE(result.error().transport.has_value());
    }
}

TEST_CASE("ErrorKind names are stable snake_case", "[result]") {
    const std::pair<ErrorKind, const char*> names[] = {
        {ErrorKind::unauthorized, "unauthorized"},
        {ErrorKind::forbidden, "forbidden"},
        {ErrorKind::not_found, "not_found"},
        {ErrorKind::server_error, "server_error"},
        {ErrorKind::unexpected_status, "unexpected_status"},
        {ErrorKind::transport, "transport"},
        {ErrorKind::protocol, "protocol"},
        {ErrorKind::timeout, "timeout"},
        {ErrorKind::cancelled, "cancelled"},
        {ErrorKind::limit_exceeded, "limit_exceeded"},
    };
    for (const auto& [kind, name] : names)
        CHECK(to_string(kind) == name);
}

TEST_CASE("Result: ok, value, error, value_or, map", "[result]") {
    SECTION("a success") {
        Result<int> r = 42;
        CHECK(r.ok());
        CHECK(static_cast<bool>(r));
        CHECK(r.value() == 42);
        CHECK(*r == 42);
        CHECK(r.value_or(7) == 42);
        const auto doubled = r.map([](int v) { return v * 2; });
        REQUIRE(doubled.ok());
        CHECK(*doubled == 84);
        const auto text = r.map([](int v) { return std::to_string(v); });
        CHECK(text.value() == "42");
        Result<std::string> s = std::string("abc");
        CHECK(s->size() == 3);
        CHECK(std::move(s).value() == "abc");
    }
    SECTION("a failure") {
        Result<int> r = Error::from_status(403, "Access is denied.");
        CHECK_FALSE(r.ok());
        CHECK_FALSE(static_cast<bool>(r));
        CHECK(r.error().kind == ErrorKind::forbidden);
        CHECK(r.value_or(7) == 7);
        bool called = false;
        const auto mapped = r.map([&](int v) {
            called = true;
            return v;
        });
        CHECK_FALSE(called);
        REQUIRE_FALSE(mapped.ok());
        CHECK(mapped.error().kind == ErrorKind::forbidden);
        CHECK(mapped.error().message == "Access is denied.");
    }
    SECTION("value() on a failure throws ResultError with the description") {
        Result<int> r = Error::from_status(500, "boom", "1c6d0f41-5b8e-4d5a-9c2b-1a3f5e7d9b20");
        try {
            (void)r.value();
            FAIL("value() did not throw");
        } catch (const ResultError& e) {
            CHECK(std::string(e.what()) == r.error().describe());
            CHECK_THAT(e.what(), Catch::Contains("1c6d0f41-5b8e-4d5a-9c2b-1a3f5e7d9b20"));
            CHECK(e.error().kind == ErrorKind::server_error);
            CHECK(e.kind() == ExceptionKind::result);
            CHECK(std::string(e.where()) == "Result::value");
        }
        CHECK_THROWS_AS(*r, ResultError);
        CHECK_THROWS_AS(std::move(r).value(), Exception);
    }
    SECTION("error() on a success throws a usage error") {
        Result<int> r = 1;
        try {
            (void)r.error();
            FAIL("error() did not throw");
        } catch (const UsageError& e) {
            CHECK(e.kind() == ExceptionKind::usage);
            CHECK(std::string(e.where()) == "Result::error");
        }
    }
    SECTION("a secret success is move-only, and a failed one never shows the secret") {
        static_assert(!std::is_copy_constructible_v<Result<PinProposal>>);
        static_assert(!std::is_copy_constructible_v<Result<std::optional<SecretBlob>>>);
        static_assert(std::is_nothrow_move_constructible_v<Result<std::vector<int>>> ||
                      std::is_move_constructible_v<Result<std::vector<int>>>);
        static_assert(std::is_copy_constructible_v<Result<std::vector<int>>>);
        FakeTransport pin(FakeTransport::answer(200, "\"00123456\""));
        Result<PinProposal> proposed = call(pin);
        REQUIRE(proposed.ok());
        Result<PinProposal> moved = std::move(proposed);
        REQUIRE(proposed_pin(moved) != nullptr);
        CHECK(proposed_pin(moved)->pin.reveal() == "00123456");

        // A 200 whose body is the PIN in the wrong shape: the error never quotes it.
        FakeTransport shaped(FakeTransport::answer(200, "{\"pin\":\"98765432\"}"));
        const auto failed = call(shaped);
        REQUIRE(fails_with(failed, ErrorKind::protocol));
        try {
            (void)failed.value();
            FAIL("value() did not throw");
        } catch (const Exception& e) {
            CHECK(std::string(e.what()).find("98765432") == std::string::npos);
            CHECK(e.kind() == ExceptionKind::result);
        }
    }
}

TEST_CASE("logs redact the query and never carry the PIN", "[client][secrets]") {
    std::vector<std::string> log;
    FakeTransport transport(FakeTransport::answer(200, "\"00987654\""));
    const auto result = call(transport, &log);
    REQUIRE(pin_proposed(result));
    REQUIRE(log.size() == 2);
    for (const auto& line : log) {
        CAPTURE(line);
        CHECK(line.find("00987654") == std::string::npos);
        CHECK(line.find("1hFD") == std::string::npos);
        CHECK(line.find("bc88f13f") == std::string::npos);
        CHECK(line.find("3b8d0180") == std::string::npos);
    }
    CHECK_THAT(log[1], Catch::Contains("atr=REDACTED&cardid=REDACTED&challenge=REDACTED -> 200"));
}

namespace {
/// Answers 401 unless the request carries the token "fresh".
FakeTransport bearer_server() {
    return FakeTransport([](const HttpRequest& request) -> TransportResult {
        HttpResponse r;
        r.status = request.bearer_token.reveal() == "fresh" ? 200 : 401;
        r.body.append(r.status == 200 ? "\"2222\"" : "");
        if (r.status == 401)
            r.headers.push_back({"WWW-Authenticate", "Bearer"});
        return r;
    });
}
}  // namespace

TEST_CASE("a token provider is asked again after a 401 and the call retried once",
          "[client][auth]") {
    std::vector<TokenRequest> asked;
    FakeTransport transport = bearer_server();
    const auto result = call(transport, nullptr, [&asked](TokenRequest why) {
        asked.push_back(why);
        return SecretString(why == TokenRequest::initial ? "expired" : "fresh");
    });
    REQUIRE(pin_proposed(result));
    CHECK(asked ==
          std::vector<TokenRequest>{TokenRequest::initial, TokenRequest::after_unauthorized});
    REQUIRE(transport.requests().size() == 2);
    CHECK(transport.requests()[0].bearer_token == "expired");
    CHECK(transport.requests()[1].bearer_token == "fresh");
}

TEST_CASE("no retry when the provider has nothing new", "[client][auth]") {
    FakeTransport transport = bearer_server();
    const auto result = call(transport, nullptr, static_token(SecretString("stale")));
    REQUIRE(fails_with(result, ErrorKind::unauthorized));
    CHECK(transport.requests().size() == 1);
    CHECK(result.error().authenticate == std::vector<std::string>{"Bearer"});
}

TEST_CASE("a valid token is sent once, and never logged", "[client][auth][secrets]") {
    std::vector<std::string> log;
    FakeTransport transport = bearer_server();
    const auto result = call(transport, &log, static_token(SecretString("fresh")));
    REQUIRE(pin_proposed(result));
    CHECK(transport.requests().size() == 1);
    for (const auto& line : log)
        CHECK(line.find("fresh") == std::string::npos);
}

TEST_CASE("without a provider no token is sent", "[client][auth]") {
    FakeTransport transport = bearer_server();
    CHECK(fails_with(call(transport), ErrorKind::unauthorized));
    REQUIRE(transport.requests().size() == 1);
    CHECK(transport.requests()[0].bearer_token.empty());
}

TEST_CASE("SecretString: reserve and append keep the text in one buffer as it grows", "[secret]") {
    SecretString s("abc");
    s.reserve(1000);  // what is asked (the library may round up), not twice that
    CHECK(s.capacity() >= 1000);
    CHECK(s.capacity() < 1100);
    CHECK(s.reveal() == "abc");
    const char* buffer = s.reveal().data();
    for (int i = 0; i < 99; ++i)
        s.append("0123456789");
    CHECK(s.size() == 993);
    CHECK(s.reveal().data() == buffer);  // reserved: never moved
    s.append(std::string(100, 'x'));     // grows: moved, the old buffer wiped (tests/residue)
    CHECK(s.size() == 1093);
    CHECK(s.reveal().substr(0, 13) == "abc0123456789");
    s.reserve(10);  // never shrinks
    CHECK(s.size() == 1093);
}

TEST_CASE("ParsedJson: strings point into its own copy of the text, which it owns", "[secret]") {
    std::string text = R"({"Key":"secret-value","n":[1,2]})";
    detail::ParsedJson json;
    REQUIRE(json.parse(text, 64).empty());
    const rapidjson::Value& v = json.value();
    REQUIRE(v.IsObject());
    REQUIRE(v.MemberCount() == 2);
    const rapidjson::Value& key = v.MemberBegin()->value;  // no FindMember: ambiguous in C++20
    CHECK(std::string_view(key.GetString(), key.GetStringLength()) == "secret-value");
    // Parsed in situ in a copy: not in the caller's text, and the caller's text may go.
    CHECK((key.GetString() < text.data() || key.GetString() >= text.data() + text.size()));
    text.assign(text.size(), '#');
    CHECK(std::string_view(key.GetString(), key.GetStringLength()) == "secret-value");
    // Parsing again replaces the document.
    REQUIRE(json.parse(R"(["x"])", 64).empty());
    CHECK(json.value().IsArray());
    CHECK(json.parse("{", 64).rfind("is not JSON", 0) == 0);
}

TEST_CASE("the log level threshold filters lines before the logger sees them", "[client][log]") {
    struct Delivered {
        std::vector<LogLevel> levels;
        std::vector<std::string> lines;
    };
    const auto run = [](LogLevel threshold, FakeTransport::Handler handler, Delivered* delivered) {
        FakeTransport transport(std::move(handler));
        ClientOptions options;
        options.log_level = threshold;
        if (delivered) {
            options.logger = [delivered](LogLevel level, std::string_view line) {
                delivered->levels.push_back(level);
                delivered->lines.emplace_back(line);
            };
        }
        BasicClient<FakeTransport> client(CmUrl::parse("https://cm.contoso.com"), transport,
                                          options);
        const auto result = client.server_proposed_pin(SmartcardId::parse(kSmartcard), docs_card());
        CHECK(transport.requests().size() == 1);  // the threshold never changes what is sent
        return name_of(result);
    };
    const auto ok = FakeTransport::answer(200, "\"00123456\"");
    const FakeTransport::Handler broken = [](const HttpRequest&) -> TransportResult {
        return TransportError{TransportError::Kind::timeout, 28, "Timeout was reached"};
    };

    SECTION("the default delivers every level, as before the threshold existed") {
        CHECK(ClientOptions{}.log_level == LogLevel::debug);
        Delivered delivered;
        CHECK(run(ClientOptions{}.log_level, ok, &delivered) == "pin_proposed");
        CHECK(delivered.levels == std::vector<LogLevel>{LogLevel::debug, LogLevel::info});
        REQUIRE(delivered.lines.size() == 2);
        CHECK(delivered.lines[0].rfind("GET https://cm.contoso.com/", 0) == 0);
        CHECK(delivered.lines[1].find("-> 200") != std::string::npos);
    }
    SECTION("info drops the debug line and keeps the response line") {
        Delivered delivered;
        run(LogLevel::info, ok, &delivered);
        CHECK(delivered.levels == std::vector<LogLevel>{LogLevel::info});
    }
    SECTION("warning drops a success entirely and keeps a transport failure") {
        Delivered delivered;
        run(LogLevel::warning, ok, &delivered);
        CHECK(delivered.levels.empty());
        run(LogLevel::warning, broken, &delivered);
        CHECK(delivered.levels == std::vector<LogLevel>{LogLevel::warning});
        REQUIRE(delivered.lines.size() == 1);
        CHECK(delivered.lines[0].find("Timeout was reached") != std::string::npos);
    }
    SECTION("error delivers nothing for a warning") {
        Delivered delivered;
        run(LogLevel::error, broken, &delivered);
        CHECK(delivered.levels.empty());
    }
    SECTION("no logger: the calls still work and nothing is delivered anywhere") {
        CHECK(run(LogLevel::debug, ok, nullptr) == "pin_proposed");
        CHECK(run(LogLevel::debug, broken, nullptr) == "timeout");
    }
}

TEST_CASE("static_token gives a copy of its one token buffer on each call", "[client][secret]") {
    const TokenProvider provider = static_token(SecretString("bearer-123"));
    const TokenProvider copied = provider;  // std::function copies: the token is not copied
    const SecretString first = provider(TokenRequest::initial);
    const SecretString second = copied(TokenRequest::after_unauthorized);
    CHECK(first.reveal() == "bearer-123");
    CHECK(second == first);
    CHECK(second.reveal().data() != first.reveal().data());
}
