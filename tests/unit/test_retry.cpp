// The retry policy: what is retried, the backoff, Retry-After, the deadline and cancellation,
// and the log lines, against a fake transport that plays a script of answers.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "fake_transport.hpp"
#include "mimcm/core.hpp"

using namespace mimcm;
using mimcm_test::FakeTransport;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

const char* const kRequest = "0c96d73f-967b-420e-854a-43ad2a1504bc";
const char* const kTemplate = "2b7044cf-aa96-4911-b886-177947e9271b";
const char* const kSmartcard = "17cf063d-e337-4aa9-a822-346554ddd3c9";

const char* const kRequestJson =
    R"({"Uuid":"0c96d73f-967b-420e-854a-43ad2a1504bc","RequestType":5,"Status":3,"Flags":2,
 "DataCollection":[{"Name":"Sample Data Item","Value":null}],"DataCollectionFlags":32,
 "Submitted":"2015-07-07T23:40:33.133Z","NewProfileUuid":"b99ff38c-6653-471f-ae3c-325bb351a6bc",
 "NewSmartcardUuid":"17cf063d-e337-4aa9-a822-346554ddd3c9","OldSmartcardUuid":"17cf063d-e337-4aa9-a822-346554ddd3c9"})";

/// Answers each request with the next step of `script`, the last one for ever after.
using Step = std::function<TransportResult()>;

Step status(int code, std::vector<Header> headers = {}, std::string body = {}) {
    return [=]() -> TransportResult {
        HttpResponse r;
        r.status = code;
        r.headers = headers;
        r.headers.push_back({"Content-Type", "application/json"});
        r.body.append(body.empty() && code >= 400 ? std::string(R"({"Message":"no"})") : body);
        return r;
    };
}

Step failure(TransportError::Kind kind, bool response_started = false) {
    return [=]() -> TransportResult {
        TransportError e{kind, 7, "scripted failure"};
        e.response_started = response_started;
        return e;
    };
}

FakeTransport scripted(std::vector<Step> script) {
    auto steps = std::make_shared<std::vector<Step>>(std::move(script));
    auto next = std::make_shared<std::size_t>(0);
    return FakeTransport([steps, next](const HttpRequest&) {
        const std::size_t at = std::min(*next, steps->size() - 1);
        ++*next;
        return (*steps)[at]();
    });
}

/// A policy with short, predictable waits.
RetryPolicy quick(int retries = 2) {
    RetryPolicy policy;
    policy.max_retries = retries;
    policy.initial_delay = milliseconds(1);
    policy.max_delay = milliseconds(50);
    policy.jitter = Jitter::none;
    return policy;
}

struct Fixture {
    explicit Fixture(std::vector<Step> script, RetryPolicy policy = quick())
        : transport(scripted(std::move(script))) {
        ClientOptions options;
        options.retry = std::move(policy);
        options.logger = [log = log](LogLevel level, std::string_view line) {
            log->emplace_back(level, std::string(line));
        };
        client = std::make_unique<BasicClient<FakeTransport>>(
            CmUrl::parse("https://cm.contoso.com"), transport, std::move(options));
    }
    std::size_t sent() const { return transport.requests().size(); }
    /// The warnings about retrying (the client also warns of each transport failure).
    std::vector<std::string> warnings() const {
        std::vector<std::string> out;
        for (const auto& [level, line] : *log) {
            if (level == LogLevel::warning && (line.find(": retrying in") != std::string::npos ||
                                               line.find(": not retried") != std::string::npos))
                out.push_back(line);
        }
        return out;
    }

    FakeTransport transport;
    std::shared_ptr<std::vector<std::pair<LogLevel, std::string>>> log =
        std::make_shared<std::vector<std::pair<LogLevel, std::string>>>();
    std::unique_ptr<BasicClient<FakeTransport>> client;
};

CardData docs_card() {
    return CardData{Atr::from_hex("3b8d0180fba000000397425446590301c8"),
                    CardId::from_guid("bc88f13f-83ba-4037-8262-46eba1291c6e"),
                    Challenge::from_base64("1hFD+cz/0so=")};
}

std::chrono::system_clock::time_point at_unix(std::int64_t seconds) {
    return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

/// 1994-11-06 08:49:37 UTC, the date of RFC 9110's examples.
constexpr std::int64_t kRfcExample = 784111777;

/// An IMF-fixdate, as a server writes it.
std::string http_date(std::chrono::system_clock::time_point when) {
    const std::time_t t = std::chrono::system_clock::to_time_t(when);
    char text[64] = {};
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", std::gmtime(&t));
    return text;
}

}  // namespace

TEST_CASE("Retry: GET 503 then 200 gives the value after exactly one retry", "[retry]") {
    Fixture f({status(503), status(200, {}, kRequestJson)});
    const auto result = f.client->get_request(RequestId::parse(kRequest));
    REQUIRE(std::holds_alternative<Request>(result));
    CHECK(std::get<Request>(result).uuid == RequestId::parse(kRequest));
    CHECK(f.sent() == 2);
    REQUIRE(f.warnings().size() == 1);
    CHECK_THAT(f.warnings()[0], Catch::Contains("GET https://cm.contoso.com/") &&
                                    Catch::Contains("-> 503: retrying in 1 ms, attempt 2 of 3"));
}

TEST_CASE("Retry: each retryable status is retried on a GET, the others are not", "[retry]") {
    for (const int code : {408, 429, 502, 503, 504}) {
        CAPTURE(code);
        Fixture f({status(code), status(200, {}, kRequestJson)});
        CHECK(std::holds_alternative<Request>(f.client->get_request(RequestId::parse(kRequest))));
        CHECK(f.sent() == 2);
    }
    for (const int code : {500, 501, 505, 400, 401, 403, 404, 409, 302}) {
        CAPTURE(code);
        Fixture f({status(code), status(200, {}, kRequestJson)});
        CHECK_FALSE(
            std::holds_alternative<Request>(f.client->get_request(RequestId::parse(kRequest))));
        CHECK(f.sent() == 1);
        CHECK(f.warnings().empty());
    }
}

TEST_CASE("Retry: a 500 is never retried, its correlation id reaches the caller", "[retry]") {
    Fixture f(
        {status(500, {},
                R"({"Message":"An error has occurred. Contact your administrator and provide )"
                R"(the correlation ID 1c6d0f41-5b8e-4d5a-9c2b-1a3f5e7d9b20."})"),
         status(200, {}, kRequestJson)});
    const auto result = f.client->get_request(RequestId::parse(kRequest));
    const auto* e = std::get_if<ServerError>(&result);
    REQUIRE(e != nullptr);
    CHECK(e->details.correlation_id == "1c6d0f41-5b8e-4d5a-9c2b-1a3f5e7d9b20");
    CHECK(f.sent() == 1);
}

TEST_CASE("Retry: a POST is sent once, whatever the answer", "[retry]") {
    SECTION("create_request") {
        Fixture f({status(503),
                   status(201, {}, R"("api/v1.0/requests/)" + std::string(kRequest) + R"(")")});
        NewRequest request;
        request.profile_template = ProfileTemplateId::parse(kTemplate);
        const auto result = f.client->create_request(request);
        const auto* e = std::get_if<ServerError>(&result);
        REQUIRE(e != nullptr);
        CHECK(e->details.status == 503);
        CHECK(f.sent() == 1);
        CHECK(f.warnings().empty());
    }
    SECTION("assign_smartcard, refused connection") {
        Fixture f({failure(TransportError::Kind::connect), status(201, {}, "\"x\"")});
        const auto result = f.client->assign_smartcard(
            RequestId::parse(kRequest), CardId::from_guid("bc88f13f-83ba-4037-8262-46eba1291c6e"));
        CHECK(std::holds_alternative<TransportFailure>(result));
        CHECK(f.sent() == 1);
    }
    SECTION("submit_certificate_requests") {
        Fixture f({status(502), status(200, {}, "[]")});
        const auto result =
            f.client->submit_certificate_requests(RequestId::parse(kRequest), CertificateData{});
        CHECK(std::holds_alternative<ServerError>(result));
        CHECK(f.sent() == 1);
    }
}

TEST_CASE("Retry: the status PUTs are retried, their body resent intact", "[retry]") {
    SECTION("set_request_status") {
        Fixture f({status(503), status(504), status(200, {}, kRequestJson)});
        const auto result =
            f.client->set_request_status(RequestId::parse(kRequest), RequestStatus::canceled);
        REQUIRE(std::holds_alternative<Request>(result));
        REQUIRE(f.sent() == 3);
        for (const auto& r : f.transport.requests()) {
            CHECK(r.method == "PUT");
            CHECK(r.body == R"({"status":"Canceled"})");
            CHECK(r.url == f.transport.requests()[0].url);
        }
    }
    SECTION("update_smartcard_status") {
        Fixture f({status(429), status(204)});
        const auto result = f.client->update_smartcard_status(
            RequestId::parse(kRequest), SmartcardId::parse(kSmartcard), SmartcardStatus::disabled);
        CHECK(std::holds_alternative<NoContent>(result));
        REQUIRE(f.sent() == 2);
        CHECK(f.transport.requests()[0].body == f.transport.requests()[1].body);
        CHECK_FALSE(f.transport.requests()[1].body.empty());
    }
}

TEST_CASE("Retry: a failure before any response is retried, any other failure is not", "[retry]") {
    using Kind = TransportError::Kind;
    for (const Kind kind : {Kind::resolve, Kind::connect, Kind::send_receive}) {
        CAPTURE(to_string(kind));
        Fixture f({failure(kind), status(200, {}, kRequestJson)});
        CHECK(std::holds_alternative<Request>(f.client->get_request(RequestId::parse(kRequest))));
        CHECK(f.sent() == 2);
        REQUIRE(f.warnings().size() == 1);
        CHECK_THAT(f.warnings()[0],
                   Catch::Contains("failed (" + std::string(to_string(kind)) + "): retrying"));
    }
    SECTION("a connection broken after a status line came") {
        Fixture f({failure(Kind::send_receive, true), status(200, {}, kRequestJson)});
        CHECK(std::holds_alternative<TransportFailure>(
            f.client->get_request(RequestId::parse(kRequest))));
        CHECK(f.sent() == 1);
    }
    for (const Kind kind : {Kind::timeout, Kind::cancelled, Kind::tls, Kind::response_too_large,
                            Kind::headers_too_large, Kind::too_slow, Kind::malformed_response,
                            Kind::invalid, Kind::other}) {
        CAPTURE(to_string(kind));
        Fixture f({failure(kind), status(200, {}, kRequestJson)});
        const auto result = f.client->get_request(RequestId::parse(kRequest));
        const auto* t = std::get_if<TransportFailure>(&result);
        REQUIRE(t != nullptr);
        CHECK(t->error.kind == kind);
        CHECK(f.sent() == 1);
    }
}

TEST_CASE("Retry: the last failure comes back once the retries are spent", "[retry]") {
    SECTION("the default policy: three attempts") {
        RetryPolicy policy = quick();
        policy.max_retries = RetryPolicy{}.max_retries;
        Fixture f({status(503)}, policy);
        const auto result = f.client->list_profile_templates();
        const auto* e = std::get_if<ServerError>(&result);
        REQUIRE(e != nullptr);
        CHECK(e->details.status == 503);
        CHECK(f.sent() == 3);
        const auto warnings = f.warnings();
        REQUIRE(warnings.size() == 2);
        CHECK_THAT(warnings[0], Catch::EndsWith("attempt 2 of 3"));
        CHECK_THAT(warnings[1], Catch::EndsWith("attempt 3 of 3"));
    }
    SECTION("max_retries = 0 sends once") {
        Fixture f({status(503), status(200, {}, "[]")}, quick(0));
        CHECK(std::holds_alternative<ServerError>(f.client->list_profile_templates()));
        CHECK(f.sent() == 1);
        CHECK(f.warnings().empty());
    }
    SECTION("RetryPolicy::disabled() sends once") {
        Fixture f({failure(TransportError::Kind::connect), status(200, {}, "[]")},
                  RetryPolicy::disabled());
        CHECK(std::holds_alternative<TransportFailure>(f.client->list_profile_templates()));
        CHECK(f.sent() == 1);
    }
}

TEST_CASE("Retry: a policy out of bounds is refused when the client is made", "[retry]") {
    auto make = [](RetryPolicy policy) {
        ClientOptions options;
        options.retry = std::move(policy);
        BasicClient<FakeTransport> client(CmUrl::parse("https://cm.contoso.com"),
                                          FakeTransport(FakeTransport::answer(200)),
                                          std::move(options));
    };
    RetryPolicy p;
    p.max_retries = -1;
    CHECK_THROWS_AS(make(p), InvalidArgument);
    p.max_retries = 11;
    CHECK_THROWS_WITH(make(p), Catch::Contains("from 0 to 10"));
    p = RetryPolicy{};
    p.multiplier = 0.5;
    CHECK_THROWS_AS(make(p), InvalidArgument);
    p.multiplier = std::numeric_limits<double>::infinity();
    CHECK_THROWS_AS(make(p), InvalidArgument);
    p = RetryPolicy{};
    p.max_delay = milliseconds(100);
    CHECK_THROWS_WITH(make(p), Catch::Contains("max_delay"));
    p = RetryPolicy{};
    p.initial_delay = milliseconds(-1);
    CHECK_THROWS_AS(make(p), InvalidArgument);
    CHECK_NOTHROW(make(RetryPolicy{}));
    CHECK_NOTHROW(make(RetryPolicy::disabled()));
}

TEST_CASE("Retry: backoff bounds grow by the multiplier up to max_delay", "[retry][backoff]") {
    RetryPolicy policy;
    policy.initial_delay = milliseconds(100);
    policy.multiplier = 2.0;
    policy.max_delay = milliseconds(1000);
    const std::int64_t bounds[] = {100, 200, 400, 800, 1000, 1000};

    SECTION("no jitter: exactly the bounds") {
        policy.jitter = Jitter::none;
        const std::function<double()> random;
        detail::Backoff backoff(policy, random);
        for (const auto bound : bounds)
            CHECK(backoff.next().count() == bound);
    }
    SECTION("full jitter: within [0, bound], reproducible with a seed, growing on average") {
        policy.jitter = Jitter::full;
        const auto random_a = seeded_random(42);
        const auto random_b = seeded_random(42);
        detail::Backoff a(policy, random_a);
        detail::Backoff b(policy, random_b);
        for (const auto bound : bounds) {
            const auto wait = a.next().count();
            CHECK(wait >= 0);
            CHECK(wait <= bound);
            CHECK(b.next().count() == wait);
        }
        const auto random = seeded_random(7);
        double sums[6] = {};
        for (int run = 0; run < 400; ++run) {
            detail::Backoff backoff(policy, random);
            for (double& sum : sums)
                sum += double(backoff.next().count());
        }
        for (int i = 0; i < 6; ++i) {
            CAPTURE(i);
            // The mean of uniform [0, bound] is bound / 2; 400 draws land within 15 % of it.
            CHECK(sums[i] / 400 == Approx(bounds[i] / 2.0).epsilon(0.15));
        }
        CHECK(sums[1] > sums[0]);
        CHECK(sums[2] > sums[1]);
        CHECK(sums[3] > sums[2]);
    }
    SECTION("decorrelated jitter: from initial_delay to three times the last wait, capped") {
        policy.jitter = Jitter::decorrelated;
        const auto random = seeded_random(3);
        for (int run = 0; run < 50; ++run) {
            detail::Backoff backoff(policy, random);
            std::int64_t previous = 100;
            for (int i = 0; i < 8; ++i) {
                const auto wait = backoff.next().count();
                CHECK(wait >= 100);
                CHECK(wait <= std::min<std::int64_t>(1000, previous * 3));
                previous = wait;
            }
        }
    }
    SECTION("a source out of [0, 1) is clamped") {
        policy.jitter = Jitter::full;
        const std::function<double()> too_big = [] { return 7.0; };
        const std::function<double()> negative = [] { return -1.0; };
        detail::Backoff big(policy, too_big);
        detail::Backoff low(policy, negative);
        CHECK(big.next().count() <= 100);
        CHECK(low.next().count() == 0);
    }
}

TEST_CASE("Retry: the client waits the policy's backoff between attempts", "[retry][backoff]") {
    RetryPolicy policy;
    policy.max_retries = 4;
    policy.initial_delay = milliseconds(20);
    policy.multiplier = 2.0;
    policy.max_delay = milliseconds(60);
    policy.jitter = Jitter::none;
    Fixture f({status(503)}, policy);
    const auto started = Clock::now();
    CHECK(std::holds_alternative<ServerError>(f.client->list_profile_templates()));
    const auto elapsed = Clock::now() - started;
    CHECK(f.sent() == 5);
    const auto warnings = f.warnings();
    REQUIRE(warnings.size() == 4);
    CHECK_THAT(warnings[0], Catch::Contains("retrying in 20 ms, attempt 2 of 5"));
    CHECK_THAT(warnings[1], Catch::Contains("retrying in 40 ms, attempt 3 of 5"));
    CHECK_THAT(warnings[2], Catch::Contains("retrying in 60 ms, attempt 4 of 5"));
    CHECK_THAT(warnings[3], Catch::Contains("retrying in 60 ms, attempt 5 of 5"));
    CHECK(elapsed >= milliseconds(180));
    CHECK(elapsed < milliseconds(1500));

    SECTION("a seeded jitter gives the same waits on every run") {
        auto waits = [&] {
            RetryPolicy seeded = policy;
            seeded.jitter = Jitter::full;
            seeded.random = seeded_random(2026);
            Fixture g({status(503)}, seeded);
            (void)g.client->list_profile_templates();
            return g.warnings();
        };
        const auto first = waits();
        CHECK(first.size() == 4);
        CHECK(first == waits());
    }
}

TEST_CASE("Retry-After: delay seconds and the three HTTP-date forms, parsed strictly",
          "[retry][retry-after]") {
    const auto now = at_unix(kRfcExample - 10);
    auto parse = [&](const char* text) { return detail::parse_retry_after(text, now); };
    CHECK(parse("0") == milliseconds(0));
    CHECK(parse("1") == milliseconds(1000));
    CHECK(parse("120") == milliseconds(120000));
    CHECK(parse(" 5\t") == milliseconds(5000));  // the field's surrounding whitespace
    CHECK(parse("99999999999999999999999") == milliseconds((std::int64_t(1) << 31) * 1000));
    CHECK(parse("Sun, 06 Nov 1994 08:49:37 GMT") == milliseconds(10000));
    CHECK(parse("Sunday, 06-Nov-94 08:49:37 GMT") == milliseconds(10000));
    CHECK(parse("Sun Nov  6 08:49:37 1994") == milliseconds(10000));
    CHECK(parse("Sun, 06 Nov 1994 08:49:27 GMT") == milliseconds(0));  // now
    CHECK(parse("Sat, 05 Nov 1994 08:49:37 GMT") == milliseconds(0));  // in the past
    for (const char* bad : {"",
                            " ",
                            "-1",
                            "+5",
                            "1.5",
                            "5s",
                            "0x10",
                            "1 2",
                            "soon",
                            "Mon, 06 Nov 1994 08:49:37 GMT",     // not that date's weekday
                            "sun, 06 Nov 1994 08:49:37 GMT",     // names are case-sensitive
                            "Sun, 06 nov 1994 08:49:37 GMT",     //
                            "Sun, 6 Nov 1994 08:49:37 GMT",      // two digits for the day
                            "Sun,  06 Nov 1994 08:49:37 GMT",    // one space
                            "Sun, 06 Nov 1994 08:49:37 UTC",     // GMT only
                            "Sun, 06 Nov 1994 08:49:37",         //
                            "Sun, 06 Nov 1994 08:49:37 GMT x",   //
                            "Sun, 06 Nov 94 08:49:37 GMT",       // four digits for the year
                            "Sun, 06 Nov 1994 8:49:37 GMT",      //
                            "Sun, 06 Nov 1994 24:00:00 GMT",     // hour out of range
                            "Sun, 06 Nov 1994 08:60:00 GMT",     //
                            "Sun, 06 Nov 1994 08:49:61 GMT",     //
                            "Wed, 31 Nov 1994 08:49:37 GMT",     // no 31 November
                            "Sun, 00 Nov 1994 08:49:37 GMT",     //
                            "Sun, 06-Nov-94 08:49:37 GMT",       // RFC 850 needs the long name
                            "Sunday, 06 Nov 1994 08:49:37 GMT",  //
                            "Sun Nov 6 08:49:37 1994",           //
                            "2026-12-01T08:00:00Z"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse(bad).has_value());
    }
}

TEST_CASE("Retry-After: leap days and RFC 850's two-digit years", "[retry][retry-after]") {
    // 2026-12-01 00:00:00 UTC as "now".
    const auto now = at_unix(1796083200);
    CHECK(detail::parse_http_date("Tue, 29 Feb 2028 00:00:00 GMT", now) == 1835395200);
    CHECK_FALSE(detail::parse_http_date("Mon, 29 Feb 2027 00:00:00 GMT", now).has_value());
    CHECK(detail::parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT", now) == 951782400);
    CHECK_FALSE(detail::parse_http_date("Thu, 29 Feb 1900 00:00:00 GMT", now).has_value());
    // 94 is 1994 (2094 is more than 50 years ahead); 70 is 2070; 80 is 1980.
    CHECK(detail::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", now) == kRfcExample);
    CHECK(detail::parse_http_date("Tuesday, 01-Jan-80 00:00:00 GMT", now) == 315532800);
    CHECK(detail::parse_http_date("Wednesday, 01-Jan-70 00:00:00 GMT", now) == 3155760000);
}

TEST_CASE("Retry-After: the client waits what the server asks", "[retry][retry-after]") {
    RetryPolicy policy;
    policy.initial_delay = milliseconds(3000);  // what the backoff would wait
    policy.max_delay = milliseconds(5000);
    policy.jitter = Jitter::none;
    SECTION("delay seconds") {
        Fixture f({status(503, {{"Retry-After", "1"}}), status(200, {}, "[]")}, policy);
        const auto started = Clock::now();
        CHECK(std::holds_alternative<std::vector<ProfileTemplateView>>(
            f.client->list_profile_templates()));
        const auto elapsed = Clock::now() - started;
        CHECK(f.sent() == 2);
        CHECK(elapsed >= milliseconds(1000));
        CHECK(elapsed < milliseconds(2500));
        REQUIRE(f.warnings().size() == 1);
        CHECK_THAT(f.warnings()[0], Catch::Contains("retrying in 1000 ms (Retry-After)"));
    }
    SECTION("an HTTP date") {
        const auto when = std::chrono::system_clock::now() + std::chrono::seconds(2);
        Fixture f({status(429, {{"Retry-After", http_date(when)}}), status(200, {}, "[]")}, policy);
        const auto started = Clock::now();
        CHECK(std::holds_alternative<std::vector<ProfileTemplateView>>(
            f.client->list_profile_templates()));
        const auto elapsed = Clock::now() - started;
        CHECK(f.sent() == 2);
        // The date has whole seconds: between 1 and 2 s from now.
        CHECK(elapsed >= milliseconds(900));
        CHECK(elapsed < milliseconds(2500));
        REQUIRE(f.warnings().size() == 1);
        CHECK_THAT(f.warnings()[0], Catch::Contains("(Retry-After)"));
    }
    SECTION("zero: at once") {
        Fixture f({status(503, {{"Retry-After", "0"}}), status(200, {}, "[]")}, policy);
        const auto started = Clock::now();
        CHECK(std::holds_alternative<std::vector<ProfileTemplateView>>(
            f.client->list_profile_templates()));
        CHECK(Clock::now() - started < milliseconds(1000));
        CHECK(f.sent() == 2);
    }
    SECTION("more than max_delay: no retry, the answer comes back at once") {
        Fixture f({status(503, {{"Retry-After", "3600"}}), status(200, {}, "[]")}, policy);
        const auto started = Clock::now();
        CHECK(std::holds_alternative<ServerError>(f.client->list_profile_templates()));
        CHECK(Clock::now() - started < milliseconds(1000));
        CHECK(f.sent() == 1);
        REQUIRE(f.warnings().size() == 1);
        CHECK_THAT(f.warnings()[0],
                   Catch::Contains("not retried, Retry-After asks for 3600000 ms, more than "
                                   "the policy's 5000 ms"));
    }
    SECTION("not a valid value: the backoff applies") {
        RetryPolicy fast = quick();
        Fixture f({status(503, {{"Retry-After", "in a minute"}}), status(200, {}, "[]")}, fast);
        CHECK(std::holds_alternative<std::vector<ProfileTemplateView>>(
            f.client->list_profile_templates()));
        REQUIRE(f.warnings().size() == 1);
        CHECK_THAT(f.warnings()[0], Catch::Contains("retrying in 1 ms, attempt 2 of 3"));
    }
}

namespace {

/// The client's retry loop run directly with a context (the operations take one the same way).
struct Loop {
    explicit Loop(std::vector<Step> script, RetryPolicy p)
        : transport(scripted(std::move(script))), policy(std::move(p)) {}

    TransportResult run(const CallContext& context, const char* method = "GET") {
        HttpRequest request;
        request.method = method;
        request.url =
            "https://cm.contoso.com/CertificateManagement/api/v1.0/smartcards"
            "?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e";
        return detail::send_with_retries(
            request, policy, random, context, [this](HttpRequest& r) { return transport.send(r); },
            [this](auto&& build) { log.push_back(build()); });
    }

    FakeTransport transport;
    RetryPolicy policy;
    std::function<double()> random = seeded_random(1);
    std::vector<std::string> log;
};

}  // namespace

TEST_CASE("Retry: no wait passes the deadline: the last failure comes back at once",
          "[retry][deadline]") {
    RetryPolicy policy;
    policy.initial_delay = milliseconds(1000);
    policy.jitter = Jitter::none;
    SECTION("backoff") {
        Loop loop({status(503), status(200)}, policy);
        const auto started = Clock::now();
        const auto result = loop.run(CallContext::timeout(milliseconds(300)));
        CHECK(Clock::now() - started < milliseconds(200));
        REQUIRE(std::holds_alternative<HttpResponse>(result));
        CHECK(std::get<HttpResponse>(result).status == 503);
        CHECK(loop.transport.requests().size() == 1);
        REQUIRE(loop.log.size() == 1);
        CHECK_THAT(loop.log[0], Catch::Contains("not retried, a wait of 1000 ms would pass the "
                                                "call's deadline"));
    }
    SECTION("Retry-After") {
        Loop loop({status(503, {{"Retry-After", "2"}}), status(200)}, policy);
        const auto started = Clock::now();
        const auto result = loop.run(CallContext::timeout(milliseconds(1500)));
        CHECK(Clock::now() - started < milliseconds(500));
        CHECK(std::get<HttpResponse>(result).status == 503);
        CHECK(loop.transport.requests().size() == 1);
    }
    SECTION("a wait that fits is waited") {
        Loop loop({failure(TransportError::Kind::connect), status(200)}, policy);
        const auto result = loop.run(CallContext::timeout(milliseconds(5000)));
        CHECK(std::get<HttpResponse>(result).status == 200);
        CHECK(loop.transport.requests().size() == 2);
    }
}

TEST_CASE("Retry: a cancel during the wait ends it at once, as cancelled", "[retry][cancel]") {
    RetryPolicy policy;
    policy.initial_delay = milliseconds(5000);
    policy.max_delay = milliseconds(5000);
    policy.jitter = Jitter::none;
    Loop loop({status(503), status(200)}, policy);
    CancellationSource stop;
    CallContext context;
    context.cancellation = stop.token();
    std::atomic<bool> waiting{false};
    loop.transport = scripted({[&]() -> TransportResult {
                                   waiting = true;
                                   return status(503)();
                               },
                               status(200)});
    Clock::time_point cancelled_at;
    std::thread canceller([&] {
        for (int i = 0; i < 500 && !waiting; ++i)
            std::this_thread::sleep_for(milliseconds(2));
        std::this_thread::sleep_for(milliseconds(100));
        cancelled_at = Clock::now();
        stop.cancel();
    });
    const auto result = loop.run(context);
    const auto returned_at = Clock::now();
    canceller.join();
    const auto* e = std::get_if<TransportError>(&result);
    REQUIRE(e != nullptr);
    CHECK(e->kind == TransportError::Kind::cancelled);
    CHECK(loop.transport.requests().size() == 1);
    const auto latency =
        std::chrono::duration_cast<milliseconds>(returned_at - cancelled_at).count();
    CAPTURE(latency);
    CHECK(latency < 100);

    SECTION("a context cancelled before the wait does not wait") {
        Loop again({status(503), status(200)}, policy);
        const auto started = Clock::now();
        const auto second = again.run(context);
        CHECK(Clock::now() - started < milliseconds(100));
        CHECK(std::get<TransportError>(second).kind == TransportError::Kind::cancelled);
    }
}

TEST_CASE("Retry: the log line names the call and redacts query values", "[retry][secrets]") {
    Loop loop({failure(TransportError::Kind::connect), status(200)}, quick());
    const auto result = loop.run(CallContext{});
    CHECK(std::get<HttpResponse>(result).status == 200);
    REQUIRE(loop.log.size() == 1);
    CHECK(loop.log[0] ==
          "GET https://cm.contoso.com/CertificateManagement/api/v1.0/smartcards?cardid=REDACTED "
          "failed (connection): retrying in 1 ms, attempt 2 of 3");
    CHECK(loop.log[0].find("bc88f13f") == std::string::npos);

    SECTION("through the client, with the proposed-PIN query and a bearer token") {
        ClientOptions options;
        options.retry = quick();
        options.token_provider = static_token(SecretString("tok-s3cr3t"));
        std::vector<std::string> lines;
        options.logger = [&lines](LogLevel, std::string_view line) { lines.emplace_back(line); };
        FakeTransport transport = scripted({status(503), status(200, {}, "\"00987654\"")});
        BasicClient<FakeTransport> client(CmUrl::parse("https://cm.contoso.com"), transport,
                                          std::move(options));
        const auto pin = client.server_proposed_pin(SmartcardId::parse(kSmartcard), docs_card());
        REQUIRE(std::holds_alternative<PinProposed>(pin));
        CHECK(transport.requests().size() == 2);
        for (const auto& r : transport.requests())
            CHECK(r.bearer_token == "tok-s3cr3t");
        bool retry_logged = false;
        for (const auto& line : lines) {
            CAPTURE(line);
            CHECK(line.find("00987654") == std::string::npos);
            CHECK(line.find("1hFD") == std::string::npos);
            CHECK(line.find("bc88f13f") == std::string::npos);
            CHECK(line.find("3b8d0180") == std::string::npos);
            CHECK(line.find("s3cr3t") == std::string::npos);
            retry_logged =
                retry_logged || line.find(
                                    "atr=REDACTED&cardid=REDACTED&challenge=REDACTED -> 503: "
                                    "retrying") != std::string::npos;
        }
        CHECK(retry_logged);
    }
}

TEST_CASE("Retry: a level threshold above warning builds no retry line", "[retry][log]") {
    ClientOptions options;
    options.retry = quick();
    options.log_level = LogLevel::error;
    int lines = 0;
    options.logger = [&lines](LogLevel, std::string_view) { ++lines; };
    FakeTransport transport = scripted({status(503), status(200, {}, "[]")});
    BasicClient<FakeTransport> client(CmUrl::parse("https://cm.contoso.com"), transport,
                                      std::move(options));
    CHECK(
        std::holds_alternative<std::vector<ProfileTemplateView>>(client.list_profile_templates()));
    CHECK(transport.requests().size() == 2);
    CHECK(lines == 0);
}
