// Deadlines and cancellation on the wire: the curl transport against the CM emulator's slow answer
// and fault_server.py's silent one. A cancel from another thread ends the call within 100 ms (the
// median of several runs, printed); a deadline shorter than the transport's timeout ends it as a
// timeout near the deadline; the transport stays usable afterwards.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "emulator.hpp"
#include "fault_server.hpp"
#include "mimcm/transport/curl.hpp"
#include "test_data.hpp"

using namespace mimcm;
using mimcm_test::docs_card;
using mimcm_test::Emulator;
using mimcm_test::fresh_smartcard_id;
using Clock = std::chrono::steady_clock;

namespace {

const CurlGlobal curl_global;  // test binary: initialised before main, no threads yet

CurlOptions trusting() {
    CurlOptions options;
    options.ca_file = Emulator::ca_file();
    options.proxy = "";
    options.timeout = std::chrono::seconds(20);
    options.low_speed_time = std::chrono::seconds(20);
    return options;
}

double ms(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

/// Runs `call(context)` while another thread cancels after `after`; the time from cancel() to the
/// call's return, in ms.
template <class Call>
double cancel_latency(Call call, std::chrono::milliseconds after) {
    CancellationSource source;
    CallContext context;
    context.cancellation = source.token();
    Clock::time_point cancelled_at{};
    std::thread canceller([&] {
        std::this_thread::sleep_for(after);
        cancelled_at = Clock::now();
        source.cancel();
    });
    call(context);
    const auto returned_at = Clock::now();
    canceller.join();
    return ms(returned_at - cancelled_at);
}

const TransportError* transport_error(const ProposedPinResult& result) {
    const auto* failure = std::get_if<TransportFailure>(&result);
    return failure ? &failure->error : nullptr;
}

}  // namespace

TEST_CASE("a cancel during the emulator's slow answer ends the call within 100 ms",
          "[http][cancel]") {
    Emulator emulator;
    const auto id = fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"slow","delay":20,"then":{"outcome":"pin","pin":"1"}})");
    for (const bool https : {false, true}) {
        INFO((https ? "HTTPS" : "HTTP"));
        Client client(CmUrl::parse(https ? emulator.https_url() : emulator.http_url()),
                      CurlTransport(trusting()));
        std::vector<double> latencies;
        for (int run = 0; run < 7; ++run) {
            const auto started = Clock::now();
            const double latency = cancel_latency(
                [&](const CallContext& context) {
                    const auto result =
                        client.server_proposed_pin(SmartcardId::parse(id), docs_card(), context);
                    INFO(describe(result));
                    const auto* error = transport_error(result);
                    REQUIRE(error != nullptr);
                    CHECK(error->kind == TransportError::Kind::cancelled);
                },
                std::chrono::milliseconds(250));
            // The answer was still 20 s away: the call really was cut short.
            CHECK(Clock::now() - started < std::chrono::seconds(5));
            latencies.push_back(latency);
        }
        const double middle = median(latencies);
        std::printf(
            "cancel latency during a slow response (%s, emulator): median %.1f ms, max %.1f "
            "ms over %zu runs\n",
            https ? "HTTPS" : "HTTP", middle, *std::max_element(latencies.begin(), latencies.end()),
            latencies.size());
        CHECK(middle < 100.0);

        // The same client still works, and its next calls share one connection again.
        emulator.set_outcome(id, R"({"outcome":"pin","pin":"00123456"})");
        for (int i = 0; i < 3; ++i) {
            const auto result = client.server_proposed_pin(SmartcardId::parse(id), docs_card());
            INFO(describe(result));
            REQUIRE(std::holds_alternative<PinProposed>(result));
        }
        const auto recorded = emulator.requests_for(id);
        REQUIRE(recorded.size() >= 3);
        const auto last = recorded.size() - 1;
        CHECK(recorded[last].connection == recorded[last - 1].connection);
        CHECK(recorded[last - 1].connection == recorded[last - 2].connection);
        emulator.set_outcome(id,
                             R"({"outcome":"slow","delay":20,"then":{"outcome":"pin","pin":"1"}})");
    }
}

TEST_CASE("a cancel while a server says nothing ends the call within 100 ms", "[http][cancel]") {
    mimcm_test::FaultServer server;
    Client client(CmUrl::parse(server.url("silence")), CurlTransport(trusting()));
    std::vector<double> latencies;
    for (int run = 0; run < 5; ++run) {
        latencies.push_back(cancel_latency(
            [&](const CallContext& context) {
                const auto result = client.list_profile_templates({}, context);
                const auto* failure = std::get_if<TransportFailure>(&result);
                REQUIRE(failure != nullptr);
                CHECK(failure->error.kind == TransportError::Kind::cancelled);
                CHECK(failure->error.message == "the call was cancelled");
            },
            std::chrono::milliseconds(150)));
    }
    std::printf("cancel latency while the server is silent: median %.1f ms\n", median(latencies));
    CHECK(median(latencies) < 100.0);
}

TEST_CASE("a deadline shorter than the transport's timeout ends the call as a timeout near it",
          "[http][cancel]") {
    mimcm_test::FaultServer server;
    Client client(CmUrl::parse(server.url("silence")), CurlTransport(trusting()));
    const auto started = Clock::now();
    const auto result =
        client.list_profile_templates({}, CallContext::timeout(std::chrono::milliseconds(400)));
    const double took = ms(Clock::now() - started);
    std::printf("a 400 ms deadline ended the call after %.1f ms\n", took);
    const auto* failure = std::get_if<TransportFailure>(&result);
    REQUIRE(failure != nullptr);
    INFO(failure->error.message);
    CHECK(failure->error.kind == TransportError::Kind::timeout);
    CHECK_THAT(failure->error.message, Catch::Contains("deadline"));
    CHECK(took >= 390.0);
    CHECK(took < 1400.0);
}

TEST_CASE("a context already cancelled or past its deadline sends nothing to the emulator",
          "[http][cancel]") {
    Emulator emulator;
    const auto id = fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"pin","pin":"00123456"})");
    Client client(CmUrl::parse(emulator.http_url()), CurlTransport(trusting()));
    CancellationSource source;
    source.cancel();
    CallContext cancelled;
    cancelled.cancellation = source.token();
    const auto stopped = client.server_proposed_pin(SmartcardId::parse(id), docs_card(), cancelled);
    REQUIRE(transport_error(stopped) != nullptr);
    CHECK(transport_error(stopped)->kind == TransportError::Kind::cancelled);
    const auto expired = client.server_proposed_pin(SmartcardId::parse(id), docs_card(),
                                                    CallContext::timeout(std::chrono::seconds(-1)));
    REQUIRE(transport_error(expired) != nullptr);
    CHECK(transport_error(expired)->kind == TransportError::Kind::timeout);
    CHECK(emulator.requests_for(id).empty());
    // A context with a distant deadline and a live token goes through.
    CancellationSource live;
    auto context = CallContext::timeout(std::chrono::seconds(30));
    context.cancellation = live.token();
    CHECK(std::holds_alternative<PinProposed>(
        client.server_proposed_pin(SmartcardId::parse(id), docs_card(), context)));
    CHECK(emulator.requests_for(id).size() == 1);
}
