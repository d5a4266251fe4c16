// mimcm-cli against misbehaving cards (virtual_card.py --fault): a card pulled in the middle of
// an APDU, or one answering garbage, ends read-card, proposed-pin and enroll with exit 8
// (card_error) within 2 s of card time, and nothing goes to the server that the card did not give.
// An enrollment whose card is pulled says so (failure_source card) and what the card already took.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
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
using mimcm_test::rig_path;
using mimcm_test::Run;
using mimcm_test::slurp;
namespace rig = mimcm_test::rig;

namespace {

const mimcm::CurlGlobal curl_global;

const char* const kReader0 = "Virtual PCD 00 00";
const char* const kZeroKey = "000000000000000000000000000000000000000000000000";

struct Timed {
    Run run;
    long ms = 0;
};

Timed timed_cli(const std::vector<std::string>& args, const std::string& env = {}) {
    const auto started = std::chrono::steady_clock::now();
    Timed t;
    t.run = cli(args, env);
    t.ms = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now() - started)
                                 .count());
    return t;
}

void report(const std::string& command, const std::string& fault, const Timed& t) {
    std::printf("cli card fault: %-13s %-40s -> exit %d %5ld ms\n", command.c_str(), fault.c_str(),
                t.run.code, t.ms);
    std::fflush(stdout);
}

std::string make_csr() {
    const std::string path = rig_path("cli-fault-enroll.csr");
    const auto made = rig::run(
        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
        rig::shell_quote(path + ".key") + " -subj /CN=kiosk-user -out " + rig::shell_quote(path));
    REQUIRE(made.exit_code == 0);
    return path;
}

rapidjson::Document card_state(const std::string& path) {
    rapidjson::Document doc;
    doc.Parse(slurp(path).c_str());
    REQUIRE(doc.IsObject());
    return doc;
}

}  // namespace

TEST_CASE("read-card and proposed-pin exit 8 on a pulled or garbled card", "[cli][faults]") {
    rig::EmptyReadersAtExit cleanup;
    Emulator emulator;
    const auto id = mimcm_test::fresh_smartcard_id();
    struct Case {
        const char* card;
        const char* says;  // in the message
    };
    for (const Case c : {
             Case{"--profile gids --fault pull --fault-on CB", "removed"},
             Case{"--profile piv --fault pull --fault-on 87", "removed"},
             Case{"--profile gids --fault oversized", "more than 65536 data bytes"},
             Case{"--profile piv --fault 61xx-forever --fault-on CB", "GET RESPONSE rounds"},
             Case{"--profile gids --fault truncated-tlv", "malformed TLV"},
             Case{"--profile piv --fault short-answer", "status bytes"},
             Case{"--profile gids --fault long-cardid", "64 bytes"},
         }) {
        for (const std::string command : {"read-card", "proposed-pin"}) {
            CAPTURE(c.card, command);
            rig::insert_card(0, c.card);
            std::vector<std::string> args{command, "--reader", kReader0, "--json"};
            if (command == "proposed-pin")
                args.insert(args.end(), {"--server", emulator.http_url(), "--smartcard-id", id});
            const Timed t = timed_cli(args);
            report(command, c.card, t);
            INFO(t.run.err);
            CHECK(t.run.code == 8);
            CHECK(t.ms < 2000);
            const auto doc = json_of(t.run.out);
            CHECK(std::string(doc["outcome"].GetString()) == "card_error");
            CHECK_THAT(doc["message"].GetString(), Catch::Contains(c.says));
        }
    }
    CHECK(emulator.requests_for(id).empty());  // a card failure sends nothing
}

TEST_CASE("enroll with the card pulled: exit 8, the card's failure, what the card already took",
          "[cli][faults][enroll]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string csr = make_csr();
    const std::string state = rig_path("cli-fault-card-state.json");
    struct Case {
        const char* card;  // the profile, and the command at which the card leaves
        const char* failed_step;
        bool admin_key_changed;  // reported, and held by the card unless key_written says so
        bool pin_set;
        bool state_unknown;  // a write got no answer
        bool key_written;    // the card holds a new admin key (whatever the report knew)
        const char* initial_key;
    };
    // GIDS: PUT DATA (DB) writes the admin key, then RESET RETRY COUNTER (2C) sets the PIN.
    // PIV with a PUK: RESET RETRY COUNTER (2C) sets the PIN first, then SET MANAGEMENT KEY (FF).
    for (const Case c : {
             Case{"--profile gids --fault pull --fault-on DB", "set the admin key on the card",
                  false, false, true, false, kZeroKey},
             Case{"--profile gids --fault pull-after-command --fault-on DB",
                  "set the admin key on the card", false, false, true, true, kZeroKey},
             Case{"--profile gids --fault pull --fault-on 2C", "set the PIN on the card", true,
                  false, true, true, kZeroKey},
             Case{"--profile piv --puk 24681357 --fault pull --fault-on FF",
                  "set the admin key on the card", false, true, true, false, kZeroKey},
             // The card refuses the admin response with a status word: nothing unknown.
             Case{"--profile gids --admin-key 111111111111111111111111111111111111111111111111",
                  "set the admin key on the card", false, false, false, false,
                  "111111111111111111111111111111111111111111111111"},
         }) {
        CAPTURE(c.card);
        std::remove(state.c_str());
        rig::insert_card(
            0, std::string(c.card) + " --pin 00000000 --state-file " + rig::shell_quote(state));
        Emulator emulator;
        const Timed t =
            timed_cli({"enroll", "--template", "Test UserPin Diversified", "--reader", kReader0,
                       "--csr", csr, "--data", "Request Reason=New card", "--json", "--server",
                       emulator.https_url(), "--ca-file", Emulator::ca_file()},
                      "MIMCM_PIN=27182818 MIMCM_PUK=24681357");
        report("enroll", c.card, t);
        INFO(t.run.err);
        CHECK(t.run.code == 8);
        const auto doc = json_of(t.run.out);
        CHECK(std::string(doc["outcome"].GetString()) == "card_error");
        CHECK(std::string(doc["failure_source"].GetString()) == "card");
        CHECK(std::string(doc["failed_step"].GetString()) == c.failed_step);
        if (c.state_unknown)
            CHECK_THAT(doc["message"].GetString(), Catch::Contains("removed"));
        CHECK(doc["admin_key_changed"].GetBool() == c.admin_key_changed);
        CHECK(doc["card_state_unknown"].GetBool() == c.state_unknown);
        CHECK((t.run.err.find("may hold the new admin key") != std::string::npos) ==
              c.state_unknown);
        CHECK(std::string(doc["pin"].GetString()) == (c.pin_set ? "set" : "not_reached"));
        CHECK(doc.HasMember("request"));
        // The flow set its request to Canceled: nothing is left open on the server.
        CHECK(std::string(doc["request_cleanup"].GetString()) == "canceled");
        CHECK_THAT(t.run.err, Catch::Contains("set to Canceled on the server"));
        CHECK((t.run.err.find("admin key was already changed") != std::string::npos) ==
              c.admin_key_changed);
        CHECK((t.run.err.find("PIN was already changed") != std::string::npos) == c.pin_set);
        CHECK(t.run.err.find("27182818") == std::string::npos);
        CHECK(t.run.err.find("24681357") == std::string::npos);
        // The card as it was left matches the report.
        const auto card = card_state(state);
        CHECK(std::string(card["pin"].GetString()) == (c.pin_set ? "27182818" : "00000000"));
        CHECK((std::string(card["admin_key"].GetString()) != c.initial_key) == c.key_written);
    }
}
