// The retry policy against the CM emulator over loopback: what the server sees, and how long the
// client takes. Faults are scoped to the test's own fresh ids ("request_contains"), so suites
// running side by side do not take each other's.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "emulator.hpp"
#include "mimcm/transport/curl.hpp"
#include "test_data.hpp"

using namespace mimcm;
using mimcm_test::docs_card;
using mimcm_test::Emulator;
using mimcm_test::fresh_smartcard_id;
using Clock = std::chrono::steady_clock;

namespace {

const CurlGlobal curl_global;  // test binary: initialised before main, no threads yet

const char* const kUserPinTemplate = "7e570000-0000-4000-8000-000000000011";

double seconds_since(Clock::time_point started) {
    return std::chrono::duration<double>(Clock::now() - started).count();
}

struct Logged {
    std::vector<std::string> lines;
    std::size_t count(const std::string& needle) const {
        std::size_t n = 0;
        for (const auto& line : lines)
            n += line.find(needle) != std::string::npos ? 1 : 0;
        return n;
    }
};

Client make_client(const std::string& url, Logged& log, RetryPolicy policy = {}) {
    CurlOptions http;
    http.ca_file = Emulator::ca_file();
    http.proxy = "";
    http.timeout = std::chrono::seconds(10);
    ClientOptions options;
    options.retry = std::move(policy);
    options.logger = [&log](LogLevel, std::string_view line) { log.lines.emplace_back(line); };
    return Client(CmUrl::parse(url), CurlTransport(std::move(http)), std::move(options));
}

}  // namespace

TEST_CASE("Retry over HTTP: GET 503 with Retry-After, then 200: the value after one retry",
          "[http][retry]") {
    Emulator emulator;
    for (const int retry_after : {1, 0}) {
        CAPTURE(retry_after);
        const auto id = fresh_smartcard_id();
        emulator.set_outcome(id, R"({"outcome":"pin","pin":"24681357"})");
        emulator.set_faults(R"({"GetSmartcardServerProposedPin":{"status":503,"retry_after":)" +
                            std::to_string(retry_after) + R"(,"request_contains":")" + id +
                            R"("}})");
        Logged log;
        Client client = make_client(emulator.https_url(), log);
        const auto started = Clock::now();
        const auto result = client.server_proposed_pin(SmartcardId::parse(id), docs_card());
        const double seconds = seconds_since(started);
        INFO(describe(result));
        const auto* pin = std::get_if<PinProposed>(&result);
        REQUIRE(pin != nullptr);
        CHECK(pin->pin.reveal() == "24681357");
        const auto seen = emulator.requests_for(id);
        REQUIRE(seen.size() == 2);
        CHECK(seen[0].status == 503);
        CHECK(seen[1].status == 200);
        CHECK(log.count("-> 503: retrying in " + std::to_string(retry_after * 1000) +
                        " ms (Retry-After), attempt 2 of 3") == 1);
        if (retry_after == 1) {
            CHECK(seconds >= 1.0);
            CHECK(seconds < 3.0);
        } else {
            CHECK(seconds < 1.0);
        }
        std::printf(
            "retry: GET 503 (Retry-After: %d) then 200 -> PIN after %zu requests, %.0f ms\n",
            retry_after, seen.size(), seconds * 1000);
    }
}

TEST_CASE("Retry over HTTP: a POST that gets 503 is sent once", "[http][retry]") {
    Emulator emulator;
    const std::string comment = "retry-post-" + fresh_smartcard_id();
    emulator.set_faults(R"({"CreateRequest":{"status":503,"retry_after":0,"request_contains":")" +
                        comment + R"("}})");
    Logged log;
    Client client = make_client(emulator.https_url(), log);
    NewRequest request;
    request.profile_template = ProfileTemplateId::parse(kUserPinTemplate);
    request.comment = comment;
    request.data_collection = {{"Request Reason", "retry test"}};
    const auto result = client.create_request(request);
    INFO(describe(result));
    const auto* error = std::get_if<ServerError>(&result);
    REQUIRE(error != nullptr);
    CHECK(error->details.status == 503);
    const auto seen = emulator.requests_containing(comment);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].method == "POST");
    CHECK(log.count("retrying") == 0);
    std::printf("retry: POST 503 -> sent %zu time(s)\n", seen.size());
}

TEST_CASE("Retry over HTTP: a status PUT that gets 503 is sent again with the same body",
          "[http][retry]") {
    Emulator emulator;
    Logged log;
    Client client = make_client(emulator.https_url(), log);
    NewRequest request;
    request.profile_template = ProfileTemplateId::parse(kUserPinTemplate);
    request.comment = "retry-put";
    request.data_collection = {{"Request Reason", "retry test"}};
    const auto created = client.create_request(request);
    INFO(describe(created));
    REQUIRE(std::holds_alternative<Created<RequestId>>(created));
    const RequestId id = std::get<Created<RequestId>>(created).id;
    emulator.set_faults(
        R"({"SetRequestStatus":{"status":502,"retry_after":0,"request_contains":")" + id.str() +
        R"("}})");
    const auto canceled = client.set_request_status(id, RequestStatus::canceled);
    INFO(describe(canceled));
    REQUIRE(std::holds_alternative<Request>(canceled));
    CHECK(std::get<Request>(canceled).status == 6);  // Canceled
    std::vector<mimcm_test::Recorded> puts;
    for (auto& r : emulator.requests_for(id.str())) {
        if (r.method == "PUT")
            puts.push_back(std::move(r));
    }
    REQUIRE(puts.size() == 2);
    CHECK(puts[0].status == 502);
    CHECK(puts[1].status == 200);
    CHECK(puts[0].body == puts[1].body);
    CHECK(puts[1].body.find("Canceled") != std::string::npos);
}

TEST_CASE("Retry over HTTP: a connection closed before any answer is retried", "[http][retry]") {
    Emulator emulator;
    for (const bool reset : {false, true}) {
        CAPTURE(reset);
        const auto id = fresh_smartcard_id();
        emulator.set_outcome(
            id, reset ? R"({"outcome":"close","reset":true})" : R"({"outcome":"close"})");
        Logged log;
        RetryPolicy policy;
        policy.initial_delay = std::chrono::milliseconds(50);
        Client client = make_client(emulator.http_url(), log, policy);
        const auto result = client.server_proposed_pin(SmartcardId::parse(id), docs_card());
        const auto* failure = std::get_if<TransportFailure>(&result);
        REQUIRE(failure != nullptr);
        CHECK(failure->error.kind == TransportError::Kind::send_receive);
        CHECK_FALSE(failure->error.response_started);
        CHECK(emulator.requests_for(id).size() == 3);
        CHECK(log.count("failed (send/receive): retrying") == 2);
    }
}

TEST_CASE("Retry over HTTP: a refused connection is tried the policy's number of times",
          "[http][retry]") {
    // Port 1 on loopback: nothing listens there. A seeded jitter makes the waits known.
    RetryPolicy policy;  // the defaults: 2 retries, 500 ms doubling, full jitter
    policy.random = seeded_random(10);
    std::vector<long long> expected;
    {
        const auto same = seeded_random(10);
        detail::Backoff backoff(policy, same);
        for (int i = 0; i < policy.max_retries; ++i)
            expected.push_back(backoff.next().count());
    }
    Logged log;
    Client client = make_client("http://127.0.0.1:1", log, policy);
    const auto started = Clock::now();
    const auto result = client.list_profile_templates();
    const double seconds = seconds_since(started);
    const auto* failure = std::get_if<TransportFailure>(&result);
    REQUIRE(failure != nullptr);
    CHECK(failure->error.kind == TransportError::Kind::connect);
    const std::size_t attempts = log.count("failed after");  // one line per attempt
    CHECK(attempts == 3);
    REQUIRE(expected.size() == 2);
    CHECK(log.count("failed (connection): retrying in " + std::to_string(expected[0]) +
                    " ms, attempt 2 of 3") == 1);
    CHECK(log.count("failed (connection): retrying in " + std::to_string(expected[1]) +
                    " ms, attempt 3 of 3") == 1);
    const double waits = double(expected[0] + expected[1]) / 1000;
    CHECK(seconds >= waits);
    CHECK(seconds < waits + 1.0);
    std::printf("retry: connection refused -> %zu attempts, waits %lld + %lld ms, %.0f ms in all\n",
                attempts, expected[0], expected[1], seconds * 1000);

    SECTION("retries off: one attempt") {
        Logged once;
        Client off = make_client("http://127.0.0.1:1", once, RetryPolicy::disabled());
        CHECK(std::holds_alternative<TransportFailure>(off.list_profile_templates()));
        CHECK(once.count("failed after") == 1);
        CHECK(once.count("retrying") == 0);
    }
}
