// Ctrl-C: SIGINT (and SIGTERM) to a blocked mimcm-cli ends it with exit 130 within a second and a
// one-line "cancelled" message; an interrupted enroll first sets its request to Canceled.
#include <catch2/catch.hpp>

#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "cli.hpp"
#include "emulator.hpp"
#include "fault_server.hpp"
#include "rig.hpp"
#include "test_data.hpp"

using mimcm_test::Emulator;
using mimcm_test::interrupt_cli;
using mimcm_test::Interrupted;
using mimcm_test::json_of;
using mimcm_test::slurp;
namespace rig = mimcm_test::rig;

namespace {

const mimcm::CurlGlobal curl_global;

/// The Request::status number of a canceled request on the emulator (tests/rig/cm_api.py).
constexpr std::int64_t kEmulatorCanceled = 6;

std::vector<std::string> with_server(std::vector<std::string> args, const Emulator& emulator) {
    args.insert(args.end(), {"--server", emulator.https_url(), "--ca-file", Emulator::ca_file()});
    return args;
}

/// The whole output of an interrupted run, for the failure message.
std::string shown(const Interrupted& run) {
    return "exit " + std::to_string(run.code) + " after " + std::to_string(run.exit_ms) +
           " ms\nstdout: " + run.out + "\nstderr: " + run.err;
}

void check_cancelled(const Interrupted& run, const char* what) {
    INFO(what << ": " << shown(run));
    std::printf("%s: exit %d, %.1f ms after the signal\n", what, run.code, run.exit_ms);
    REQUIRE(run.signalled);
    CHECK(run.code == 130);
    CHECK(run.exit_ms >= 0);
    CHECK(run.exit_ms < 1000.0);
    CHECK_THAT(run.err, Catch::Contains("mimcm-cli: cancelled"));
}

}  // namespace

TEST_CASE("Ctrl-C during enroll's wait for a card: exit 130 within 1 s, the request Canceled",
          "[cli][cancel][enroll]") {
    rig::remove_card(0);
    Emulator emulator;
    const auto run = interrupt_cli(
        with_server(
            {"enroll", "--template", "Test UserPin Diversified", "--reader", rig::reader_name(0),
             "--wait-card", "30", "--data", "Request Reason=New card", "--json"},
            emulator),
        [] {
            // The request exists and the flow waits for the card.
            return slurp(mimcm_test::rig_path("cli-interrupted.err")).find("read the card ...") !=
                   std::string::npos;
        });
    check_cancelled(run, "enroll interrupted in its card wait");
    CHECK_THAT(run.err, Catch::Contains("set to Canceled on the server"));
    const auto json = json_of(run.out);
    CHECK(std::string(json["outcome"].GetString()) == "cancelled");
    REQUIRE(json.HasMember("request"));
    CHECK(std::string(json["request_cleanup"].GetString()) == "canceled");
    const std::string request = json["request"].GetString();

    // The emulator saw the PUT {"status":"Canceled"} and answered it; the request is Canceled.
    bool put_seen = false;
    for (const auto& r : emulator.requests_for("/requests/" + request)) {
        if (r.method == "PUT" && r.body.find("Canceled") != std::string::npos)
            put_seen = r.status == 200;
    }
    CHECK(put_seen);
    mimcm::CurlOptions http;
    http.proxy = "";
    mimcm::Client client(mimcm::CmUrl::parse(emulator.http_url()),
                         mimcm::CurlTransport(std::move(http)));
    const auto state = client.get_request(mimcm::RequestId::parse(request));
    REQUIRE(std::holds_alternative<mimcm::Request>(state));
    CHECK(std::get<mimcm::Request>(state).status == kEmulatorCanceled);
}

TEST_CASE("Ctrl-C during proposed-pin's slow server call: exit 130 within 1 s", "[cli][cancel]") {
    rig::insert_card(0, "--profile gids");
    Emulator emulator;
    const auto id = mimcm_test::fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"slow","delay":30,"then":{"outcome":"pin","pin":"1"}})");
    const auto run = interrupt_cli(
        with_server({"proposed-pin", "--smartcard-id", id, "--reader", rig::reader_name(0)},
                    emulator),
        [&] { return !emulator.requests_for(id).empty(); });
    check_cancelled(run, "proposed-pin interrupted during the server call");
    CHECK(run.out.empty());  // no PIN, nothing on stdout
}

TEST_CASE("SIGINT or SIGTERM to an API command blocked on a silent server: exit 130 within 1 s",
          "[cli][cancel]") {
    mimcm_test::FaultServer server;
    for (const int signal : {SIGINT, SIGTERM}) {
        const auto started = std::chrono::steady_clock::now();
        const auto run = interrupt_cli(
            {"templates", "--server", server.url("silence"), "--json"},
            [&] {
                return std::chrono::steady_clock::now() - started > std::chrono::milliseconds(500);
            },
            signal);
        check_cancelled(run,
                        signal == SIGINT ? "templates after SIGINT" : "templates after SIGTERM");
        CHECK(std::string(json_of(run.out)["outcome"].GetString()) == "cancelled");
    }
}

TEST_CASE("Ctrl-C during read-card's wait for a card: exit 130 within 1 s", "[cli][cancel]") {
    rig::remove_card(0);
    const auto started = std::chrono::steady_clock::now();
    const auto run =
        interrupt_cli({"read-card", "--reader", rig::reader_name(0), "--wait-card", "30"}, [&] {
            return std::chrono::steady_clock::now() - started > std::chrono::milliseconds(500);
        });
    check_cancelled(run, "read-card interrupted in its card wait");
}
