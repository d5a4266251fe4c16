// End-to-end tests of mimcm-cli: virtual card -> pcscd -> CLI -> CM emulator, one per exit code.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "cli.hpp"
#include "emulator.hpp"
#include "rig.hpp"
#include "test_data.hpp"

using mimcm_test::cli;
using mimcm_test::Emulator;
using mimcm_test::json_of;
using mimcm_test::Run;
using mimcm_test::slurp;
namespace rig = mimcm_test::rig;

namespace {

const mimcm::CurlGlobal curl_global;

// The card both slots carry unless a test says otherwise, and what the CLI must derive from it.
const char* const kCardIdHex = "3ff188bcba833740826246eba1291c6e";
const char* const kCardGuid = "bc88f13f-83ba-4037-8262-46eba1291c6e";
const char* const kChallengeHex = "d61143f9ccffd2ca";
const char* const kChallengeQuery = "1hFD%2Bcz%2F0so%3D";
const char* const kGidsAtr = "3b8d0180fba000000397425446590301c8";
const char* const kReader0 = "Virtual PCD 00 00";

/// proposed-pin against the emulator over HTTPS for the card in slot 0.
Run proposed_pin(Emulator& emulator, const std::string& smartcard,
                 std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"proposed-pin",   "--server",  emulator.https_url(),
                                     "--smartcard-id", smartcard,   "--reader",
                                     kReader0,         "--ca-file", Emulator::ca_file()};
    args.insert(args.end(), extra.begin(), extra.end());
    return cli(args);
}

void insert_gids_card() {
    rig::insert_card(
        0, std::string("--profile gids --card-id ") + kCardIdHex + " --challenge " + kChallengeHex);
}

}  // namespace

TEST_CASE("help and version", "[cli]") {
    const auto help = cli({"--help"});
    CHECK(help.code == 0);
    CHECK_THAT(help.out, Catch::Contains("proposed-pin") && Catch::Contains("Exit codes"));
    const auto version = cli({"--version"});
    CHECK(version.code == 0);
    CHECK_THAT(version.out, Catch::StartsWith("mimcm-cli 0."));
}

TEST_CASE("exit 0 prints only the PIN, from card to server", "[cli]") {
    insert_gids_card();
    Emulator emulator;
    const auto id = mimcm_test::fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"pin","pin":"00123456"})");

    const auto run = proposed_pin(emulator, id);
    INFO(run.err);
    CHECK(run.code == 0);
    CHECK(run.out == "00123456\n");
    CHECK(run.err.find("00123456") == std::string::npos);

    const auto requests = emulator.requests_for(id);
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].tls);
    CHECK(requests[0].query_value("atr") == kGidsAtr);
    CHECK(requests[0].query_value("cardid") == kCardGuid);
    CHECK(requests[0].query_value("challenge") == kChallengeQuery);
}

TEST_CASE("json and verbose output never leak the PIN to stderr", "[cli][secrets]") {
    insert_gids_card();
    Emulator emulator;
    const auto id = mimcm_test::fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"pin","pin":"24681357"})");
    const auto run = proposed_pin(emulator, id, {"--json", "--verbose"});
    INFO(run.err);
    CHECK(run.code == 0);
    const auto doc = json_of(run.out);
    CHECK(std::string(doc["outcome"].GetString()) == "pin_proposed");
    CHECK(std::string(doc["pin"].GetString()) == "24681357");
    CHECK_THAT(run.err, Catch::Contains(
                            "serverproposedpin?atr=REDACTED&cardid=REDACTED&challenge=REDACTED"));
    CHECK(run.err.find("24681357") == std::string::npos);
    CHECK(run.err.find(kCardGuid) == std::string::npos);
}

TEST_CASE("a PIV card in the other reader", "[cli]") {
    rig::insert_card(
        1, std::string("--profile piv --card-id ") + kCardIdHex + " --challenge " + kChallengeHex);
    Emulator emulator;
    const auto id = mimcm_test::fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"pin","pin":"86420"})");
    const auto run = cli({"proposed-pin", "--server", emulator.http_url(), "--smartcard-id", id,
                          "--reader", "Virtual PCD 00 01", "--profile", "piv"});
    INFO(run.err);
    CHECK(run.code == 0);
    CHECK(run.out == "86420\n");
    const auto requests = emulator.requests_for(id);
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].query_value("cardid") == kCardGuid);
    CHECK(requests[0].query_value("challenge") == kChallengeQuery);
    rig::remove_card(1);
}

TEST_CASE("exit 3 when the server proposes no PIN", "[cli]") {
    insert_gids_card();
    Emulator emulator;
    const auto id = mimcm_test::fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"none"})");
    const auto run = proposed_pin(emulator, id, {"--json"});
    CHECK(run.code == 3);
    CHECK(std::string(json_of(run.out)["outcome"].GetString()) == "no_pin_proposed");
    CHECK_THAT(run.err, Catch::Contains("user chooses"));
}

TEST_CASE("exit 4 for forbidden and unauthorized", "[cli]") {
    insert_gids_card();
    Emulator emulator;
    const auto id = mimcm_test::fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"forbidden","message":"Access is denied."})");
    auto run = proposed_pin(emulator, id);
    CHECK(run.code == 4);
    CHECK(run.out.empty());
    CHECK_THAT(run.err, Catch::Contains("Access is denied."));
    emulator.set_outcome(id, R"({"outcome":"unauthorized"})");
    run = proposed_pin(emulator, id, {"--json"});
    CHECK(run.code == 4);
    CHECK(std::string(json_of(run.out)["outcome"].GetString()) == "unauthorized");
}

TEST_CASE("exit 5 for a server error, with its correlation id", "[cli]") {
    insert_gids_card();
    Emulator emulator;
    const auto id = mimcm_test::fresh_smartcard_id();
    emulator.set_outcome(
        id, R"({"outcome":"error","correlation_id":"9d3e2c1b-0a4f-4e5d-8c6b-7a8f9e0d1c2b"})");
    const auto run = proposed_pin(emulator, id, {"--json"});
    CHECK(run.code == 5);
    CHECK_THAT(run.err, Catch::Contains("9d3e2c1b-0a4f-4e5d-8c6b-7a8f9e0d1c2b"));
    const auto doc = json_of(run.out);
    CHECK(std::string(doc["outcome"].GetString()) == "server_error");
    CHECK(std::string(doc["correlation_id"].GetString()) == "9d3e2c1b-0a4f-4e5d-8c6b-7a8f9e0d1c2b");
    CHECK(doc["status"].GetInt() == 500);
}

TEST_CASE("exit 6 for another status, a protocol error, or an API that is not there", "[cli]") {
    insert_gids_card();
    Emulator emulator;
    const auto id = mimcm_test::fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"status","status":418,"body":""})");
    auto run = proposed_pin(emulator, id, {"--json"});
    CHECK(run.code == 6);
    CHECK(json_of(run.out)["status"].GetInt() == 418);

    emulator.set_outcome(id, R"({"outcome":"raw","body":"55667788"})");
    run = proposed_pin(emulator, id, {"--json"});
    CHECK(run.code == 6);
    CHECK(std::string(json_of(run.out)["outcome"].GetString()) == "protocol");
    CHECK(run.err.find("55667788") == std::string::npos);
    CHECK(run.out.find("55667788") == std::string::npos);

    run = cli({"proposed-pin", "--server",
               "http://127.0.0.1:" + std::to_string(emulator.http_port()) + "/Elsewhere",
               "--smartcard-id", id, "--reader", kReader0});
    CHECK(run.code == 6);
    CHECK_THAT(run.err, Catch::Contains("Clm.WebApi.Enabled"));
}

TEST_CASE("exit 7 for timeouts and TLS failures", "[cli]") {
    insert_gids_card();
    Emulator emulator;
    const auto id = mimcm_test::fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"slow","delay":3,"then":{"outcome":"pin","pin":"1"}})");
    auto run = proposed_pin(emulator, id, {"--timeout", "0.5", "--json"});
    CHECK(run.code == 7);
    const auto doc = json_of(run.out);
    CHECK(std::string(doc["outcome"].GetString()) == "timeout");
    CHECK(doc["timeout"].GetBool());
    CHECK(std::string(doc["transport_error"].GetString()) == "timeout");

    // HTTPS without the test CA: the system store does not trust the emulator.
    run = cli({"proposed-pin", "--server", emulator.https_url(), "--smartcard-id", id, "--reader",
               kReader0});
    CHECK(run.code == 7);
    CHECK_THAT(run.err, Catch::Contains("TLS"));
}

TEST_CASE("exit 8 for card and PC/SC failures", "[cli]") {
    Emulator emulator;
    const auto id = mimcm_test::fresh_smartcard_id();
    SECTION("empty reader") {
        rig::remove_card(1);
        const auto run = cli({"proposed-pin", "--server", emulator.http_url(), "--smartcard-id", id,
                              "--reader", "Virtual PCD 00 01", "--json"});
        CHECK(run.code == 8);
        CHECK(std::string(json_of(run.out)["outcome"].GetString()) == "card_error");
        CHECK_THAT(run.err, Catch::Contains("Virtual PCD 00 01"));
    }
    SECTION("a card that answers no profile") {
        rig::insert_card(1, "--profile none");
        const auto run = cli({"proposed-pin", "--server", emulator.http_url(), "--smartcard-id", id,
                              "--reader", "Virtual PCD 00 01"});
        CHECK(run.code == 8);
        rig::remove_card(1);
    }
    SECTION("no PC/SC service") {
        const auto run =
            cli({"proposed-pin", "--server", emulator.http_url(), "--smartcard-id", id},
                "PCSCLITE_CSOCK_NAME=/nonexistent/pcscd.comm");
        CHECK(run.code == 8);
        CHECK_THAT(run.err, Catch::Contains("pcscd"));
    }
    SECTION("unknown reader") {
        const auto run = cli({"proposed-pin", "--server", emulator.http_url(), "--smartcard-id", id,
                              "--reader", "No Such Reader"});
        CHECK(run.code == 8);
    }
    CHECK(emulator.requests_for(id).empty());  // a card failure sends nothing
}

TEST_CASE("exit 2 for bad input, before the card or the server is touched", "[cli]") {
    const std::string log = mimcm_test::rig_path("card0-apdu.log");
    std::remove(log.c_str());
    rig::insert_card(0, "--profile gids --log " + rig::shell_quote(log));
    Emulator emulator;
    const auto url = emulator.http_url();
    const std::vector<std::vector<std::string>> bad = {
        {"proposed-pin", "--server", url, "--smartcard-id", "not-a-guid"},
        {"proposed-pin", "--server", url, "--smartcard-id", "5e1f0000-0000-4000-8000-00000000abc"},
        {"proposed-pin", "--server", "ftp://127.0.0.1/", "--smartcard-id",
         mimcm_test::fresh_smartcard_id()},
        {"proposed-pin", "--server", "127.0.0.1", "--smartcard-id",
         mimcm_test::fresh_smartcard_id()},
        {"proposed-pin", "--smartcard-id", mimcm_test::fresh_smartcard_id()},
        {"proposed-pin", "--server", url},
        {"proposed-pin", "--server", url, "--smartcard-id", mimcm_test::fresh_smartcard_id(),
         "--profile", "cac"},
        {"proposed-pin", "--server", url, "--smartcard-id", mimcm_test::fresh_smartcard_id(),
         "--timeout", "soon"},
        {"proposed-pin", "--server", url, "--smartcard-id", mimcm_test::fresh_smartcard_id(),
         "--ca-file", "/nonexistent.pem"},
        {"proposed-pin", "--server", url, "--smartcard-id", mimcm_test::fresh_smartcard_id(),
         "--bogus", "1"},
        {"frobnicate"},
        {},
    };
    for (const auto& args : bad) {
        const auto run = cli(args);
        CAPTURE(args, run.err);
        CHECK(run.code == 2);
        CHECK(run.out.empty());
        CHECK_FALSE(run.err.empty());
    }
    const auto json = cli({"proposed-pin", "--server", url, "--smartcard-id", "x", "--json"});
    CHECK(json.code == 2);
    CHECK(std::string(json_of(json.out)["outcome"].GetString()) == "invalid_input");

    for (const auto& args : bad) {
        for (std::size_t i = 0; i + 1 < args.size(); ++i) {
            if (args[i] == "--smartcard-id")
                CHECK(emulator.requests_for(args[i + 1]).empty());
        }
    }
    CHECK(slurp(log).empty());  // not one APDU reached the card
}

TEST_CASE("readers and read-card", "[cli]") {
    insert_gids_card();
    rig::remove_card(1);
    auto run = cli({"readers"});
    CHECK(run.code == 0);
    CHECK_THAT(run.out, Catch::Contains("Virtual PCD 00 00\tcard present"));
    CHECK_THAT(run.out, Catch::Contains("Virtual PCD 00 01\tempty"));

    run = cli({"read-card", "--reader", kReader0, "--profile", "gids", "--json"});
    INFO(run.err);
    CHECK(run.code == 0);
    const auto doc = json_of(run.out);
    CHECK(std::string(doc["atr"].GetString()) == kGidsAtr);
    CHECK(std::string(doc["cardid"].GetString()) == kCardGuid);
    CHECK(std::string(doc["challenge"].GetString()) == "1hFD+cz/0so=");
    CHECK(std::string(doc["profile"].GetString()) == "gids");

    run = cli({"read-card"});
    CHECK(run.code == 0);
    CHECK_THAT(run.out, Catch::Contains(std::string("cardid:    ") + kCardGuid));
}
