// mimcm-cli's API commands end to end against the stateful CM emulator (and a virtual card for
// smartcard find and enroll).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "cli.hpp"
#include "emulator.hpp"
#include "fault_server.hpp"
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

const char* const kUserPinTemplate =
    "7e570000-0000-4000-8000-000000000011";  // Test UserPin Diversified

Run api(std::vector<std::string> args, const std::string& env = {}) {
    Emulator emulator;
    args.insert(args.end(), {"--server", emulator.https_url(), "--ca-file", Emulator::ca_file()});
    return cli(args, env);
}

std::string make_csr() {
    const std::string path = rig_path("cli-enroll.csr");
    const auto made = rig::run(
        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
        rig::shell_quote(path + ".key") + " -subj /CN=kiosk-user -out " + rig::shell_quote(path));
    REQUIRE(made.exit_code == 0);
    return path;
}

}  // namespace

TEST_CASE("templates lists what the user may enroll for", "[cli][api]") {
    const auto run = api({"templates", "--json"});
    INFO(run.err);
    CHECK(run.code == 0);
    CHECK_THAT(run.out,
               Catch::Contains("Test UserPin Diversified") && Catch::Contains(kUserPinTemplate));
    const auto plain = api({"templates"});
    CHECK_THAT(plain.out, Catch::Contains(std::string(kUserPinTemplate) +
                                          "\tTest UserPin Diversified\tsmart card"));
}

TEST_CASE("a server sending more than the transport's limits is a transport failure, exit 7",
          "[cli][api][limits]") {
    mimcm_test::FaultServer server;
    for (const char* mode : {"endless", "manyheaders"}) {
        INFO(mode);
        const auto run =
            cli({"templates", "--server", server.url(mode), "--timeout", "8", "--json"});
        INFO(run.err);
        CHECK(run.code == 7);
        const auto doc = json_of(run.out);
        CHECK(std::string(doc["outcome"].GetString()) == "transport_failure");
        const std::string kind =
            std::string(mode) == "endless" ? "response size limit" : "header limit";
        CHECK_THAT(doc["message"].GetString(), Catch::StartsWith(kind + " failure"));
        REQUIRE(doc.HasMember("transport_error"));
        CHECK(doc["transport_error"].GetString() == kind);
    }
}

TEST_CASE("request create, show and cancel", "[cli][api]") {
    auto run = api({"request", "create", "--template", kUserPinTemplate, "--comment",
                    "from the CLI test", "--data", "Request Reason=Lost card"});
    INFO(run.err);
    REQUIRE(run.code == 0);
    const std::string id = run.out.substr(0, run.out.find('\n'));
    REQUIRE(mimcm::Guid::try_parse(id).has_value());
    run = api({"request", "show", "--request", id, "--json"});
    CHECK(run.code == 0);
    CHECK(json_of(run.out)["status"].GetInt() == 3);  // Approved
    run = api({"request", "cancel", "--request", id, "--json"});
    CHECK(run.code == 0);
    CHECK(json_of(run.out)["status"].GetInt() == 6);  // Canceled
    CHECK(api({"request", "show", "--request", "not-a-guid"}).code == 2);
    CHECK(api({"request", "frobnicate"}).code == 2);
}

TEST_CASE("smartcard show and find (by card id and by the card in the reader)", "[cli][api]") {
    auto run = api(
        {"smartcard", "show", "--smartcard-id", "438d1b30-f3b4-4bed-85fa-285e08605ba7", "--json"});
    INFO(run.err);
    CHECK(run.code == 0);
    CHECK(std::string(json_of(run.out)["serial_number"].GetString()) ==
          "{d1ef6869-5517-42a0-8f05-16ca1a0b834d}");
    run = api({"smartcard", "find", "--card-id", "d1ef6869-5517-42a0-8f05-16ca1a0b834d"});
    CHECK(run.code == 0);
    CHECK_THAT(run.out, Catch::Contains("438d1b30-f3b4-4bed-85fa-285e08605ba7"));
    // The virtual card's card id is the docs' bc88f13f..., bound to 17cf063d in the examples.
    rig::insert_card(0, "--profile gids");
    run = api({"smartcard", "find", "--reader", rig::reader_name(0)});
    CHECK(run.code == 0);
    CHECK_THAT(run.out, Catch::Contains("{bc88f13f-83ba-4037-8262-46eba1291c6e}"));
}

TEST_CASE("enroll runs the whole flow with progress on stderr", "[cli][api][enroll]") {
    rig::insert_card(0, "--profile gids");
    const std::string csr = make_csr();
    auto run =
        api({"enroll", "--template", "Test UserPin Diversified", "--reader", rig::reader_name(0),
             "--csr", csr, "--data", "Request Reason=New card", "--json"},
            "MIMCM_PIN=27182818");
    INFO(run.err);
    CHECK(run.code == 0);
    CHECK(std::string(json_of(run.out)["outcome"].GetString()) == "enrolled");
    CHECK_THAT(run.err, Catch::Contains("assign the card to the request ... done") &&
                            Catch::Contains("complete the request ... done"));
    CHECK(run.err.find("27182818") == std::string::npos);

    // A failing step: the exit code follows the outcome, the message names the step.
    rig::insert_card(0, "--profile gids");
    Emulator emulator;
    mimcm::CurlTransport control(mimcm::CurlOptions{});
    mimcm::HttpRequest fault;
    fault.method = "PUT";
    fault.url = "http://127.0.0.1:" + std::to_string(emulator.http_port()) + "/_emulator/faults";
    fault.headers.push_back({"Content-Type", "application/json"});
    fault.body.append(R"({"GetSmartcardDiversifiedAdminKey":{"status":403,"times":1}})");
    REQUIRE(std::holds_alternative<mimcm::HttpResponse>(control.send(fault)));
    run = api({"enroll", "--template", "Test UserPin Diversified", "--reader", rig::reader_name(0),
               "--csr", csr, "--data", "Request Reason=New card", "--json"},
              "MIMCM_PIN=27182818");
    CHECK(run.code == 4);
    CHECK_THAT(run.err, Catch::Contains("failed at 'get the diversified admin key'") &&
                            Catch::Contains("set to Canceled on the server"));
    const auto failed = json_of(run.out);
    CHECK(std::string(failed["outcome"].GetString()) == "forbidden");
    CHECK(std::string(failed["failure_source"].GetString()) == "server");
    CHECK(std::string(failed["request_cleanup"].GetString()) == "canceled");

    // When the cancel fails too, the request is said to be open, with the command to cancel it.
    rig::insert_card(0, "--profile gids");
    fault.body =
        mimcm::SecretString(R"({"GetSmartcardDiversifiedAdminKey":{"status":403,"times":1},)"
                            R"("SetRequestStatus":{"status":500,"times":1}})");
    REQUIRE(std::holds_alternative<mimcm::HttpResponse>(control.send(fault)));
    run = api({"enroll", "--template", "Test UserPin Diversified", "--reader", rig::reader_name(0),
               "--csr", csr, "--data", "Request Reason=New card", "--json"},
              "MIMCM_PIN=27182818");
    CHECK(run.code == 4);
    CHECK_THAT(run.err, Catch::Contains("is still open on the server") &&
                            Catch::Contains("request cancel --request"));
    CHECK(std::string(json_of(run.out)["request_cleanup"].GetString()) == "cancel_failed");
}

TEST_CASE("enroll on a PIV card takes the PUK from MIMCM_PUK, or leaves the PIN to the user",
          "[cli][api][enroll]") {
    const std::string csr = make_csr();
    const std::string state = rig_path("cli-enroll-piv.json");
    const std::string card = "--profile piv --puk 24681357 --state-file " + rig::shell_quote(state);
    const std::vector<std::string> args{"enroll",
                                        "--template",
                                        "Test UserPin NotDiversified",
                                        "--reader",
                                        rig::reader_name(1),
                                        "--csr",
                                        csr,
                                        "--data",
                                        "Request Reason=New card",
                                        "--json"};
    rig::insert_card(1, card);
    auto run = api(args, "MIMCM_PIN=27182818 MIMCM_PUK=24681357");
    INFO(run.err);
    CHECK(run.code == 0);
    CHECK(std::string(json_of(run.out)["pin"].GetString()) == "set");
    CHECK(slurp(state).find("\"pin\": \"27182818\"") != std::string::npos);
    CHECK(run.err.find("24681357") == std::string::npos);

    rig::insert_card(1, card);
    run = api(args, "MIMCM_PIN=27182818");
    CHECK(run.code == 0);
    CHECK(std::string(json_of(run.out)["pin"].GetString()) == "left_to_user");
    CHECK_THAT(run.err, Catch::Contains("the PIN was not set") && Catch::Contains("MIMCM_PUK"));
    rig::remove_card(1);
}

TEST_CASE("the CLI option --retries N: a GET that gets 503 is sent N+1 times, once for 0",
          "[cli][api][retry]") {
    Emulator emulator;
    struct Case {
        std::vector<std::string> option;
        std::size_t sent;
    };
    for (const Case& c : {Case{{"--retries", "0"}, 1}, Case{{}, 3}, Case{{"--retries", "1"}, 2},
                          Case{{"--retries=4"}, 5}}) {
        const std::string id = mimcm_test::fresh_smartcard_id();
        INFO(id);
        emulator.set_faults(R"({"GetSmartcard":{"status":503,"times":10,"retry_after":0,)"
                            R"("request_contains":")" +
                            id + R"("}})");
        std::vector<std::string> args = {"smartcard", "show",   "--smartcard-id",
                                         id,          "--json", "--verbose"};
        args.insert(args.end(), c.option.begin(), c.option.end());
        const auto run = api(args);
        INFO(run.err);
        CHECK(run.code == 5);
        CHECK(std::string(json_of(run.out)["outcome"].GetString()) == "server_error");
        CHECK(emulator.requests_for(id).size() == c.sent);
        std::size_t retries = 0;
        for (std::size_t at = run.err.find("-> 503: retrying"); at != std::string::npos;
             at = run.err.find("-> 503: retrying", at + 1))
            ++retries;
        CHECK(retries == c.sent - 1);
    }
    for (const char* bad : {"11", "-1", "x", "", "1.5", "007"}) {
        CAPTURE(bad);
        const auto run = api({"smartcard", "show", "--smartcard-id",
                              mimcm_test::fresh_smartcard_id(), "--retries", bad});
        CHECK(run.code == 2);
        CHECK_THAT(run.err, Catch::Contains("--retries needs a whole number from 0 to 10"));
    }
}
