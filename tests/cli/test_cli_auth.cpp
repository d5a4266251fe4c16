// mimcm-cli's login and TLS flags end to end: virtual card -> pcscd -> CLI -> real servers.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "cli.hpp"
#include "emulator.hpp"
#include "rig.hpp"

using mimcm_test::cli;
using mimcm_test::Emulator;
using mimcm_test::read_env_file;
using mimcm_test::rig_path;
using mimcm_test::Run;
using mimcm_test::slurp;
namespace rig = mimcm_test::rig;

namespace {

const mimcm::CurlGlobal curl_global;

const char* const kSmartcard = "17cf063d-e337-4aa9-a822-346554ddd3c9";
const char* const kGoodToken = "rig-bearer-token-4c1d";  // what tests/rig/rig.sh configures

void insert_card() {
    rig::insert_card(0, "--profile gids");
}

Run proposed_pin(const std::string& url, std::vector<std::string> extra,
                 const std::string& env = {}) {
    std::vector<std::string> args = {"proposed-pin",      "--server",  url,
                                     "--smartcard-id",    kSmartcard,  "--reader",
                                     "Virtual PCD 00 00", "--ca-file", Emulator::ca_file()};
    args.insert(args.end(), extra.begin(), extra.end());
    return cli(args, env);
}

std::string write_file(const std::string& name, const std::string& content) {
    const std::string path = rig_path(name);
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    std::fwrite(content.data(), 1, content.size(), f);
    std::fclose(f);
    return path;
}

std::string shell_env(const std::string& name, const std::string& value) {
    return name + "=" + rig::shell_quote(value);
}

}  // namespace

TEST_CASE("negotiate logs in with the Kerberos ticket, and no ticket gives exit 4", "[cli][auth]") {
    insert_card();
    const auto krb = read_env_file("kerberos.env");
    const std::string config = shell_env("KRB5_CONFIG", krb.at("KRB5_CONFIG"));
    auto run = proposed_pin(krb.at("KERBEROS_URL"), {"--negotiate"},
                            config + " " + shell_env("KRB5CCNAME", krb.at("KRB5CCNAME_ALICE")));
    INFO(run.err);
    CHECK(run.code == 0);
    CHECK(run.out == "12345678\n");
    run = proposed_pin(krb.at("KERBEROS_URL"), {"--negotiate"},
                       config + " " + shell_env("KRB5CCNAME", krb.at("KRB5CCNAME_EMPTY")));
    CHECK(run.code == 4);
    CHECK_THAT(run.err, Catch::Contains("not authenticated"));
}

TEST_CASE("ntlm-user takes the password from MIMCM_PASSWORD, never from a flag", "[cli][auth]") {
    insert_card();
    const auto ntlm = read_env_file("ntlm.env");
    const std::string user = ntlm.at("NTLM_DOMAIN") + "\\" + ntlm.at("NTLM_USER");
    auto run = proposed_pin(ntlm.at("NTLM_HTTPS_URL"), {"--ntlm-user", user},
                            shell_env("MIMCM_PASSWORD", ntlm.at("NTLM_PASSWORD")));
    INFO(run.err);
    CHECK(run.code == 0);
    run = proposed_pin(ntlm.at("NTLM_HTTPS_URL"), {"--ntlm-user", user},
                       shell_env("MIMCM_PASSWORD", "Wr0ng-Passw0rd-Zq"));
    CHECK(run.code == 4);
    // No MIMCM_PASSWORD and no terminal to prompt on (setsid: no controlling terminal).
    run = cli({"proposed-pin", "--server", ntlm.at("NTLM_HTTPS_URL"), "--smartcard-id", kSmartcard,
               "--ntlm-user", user},
              "env -u MIMCM_PASSWORD setsid -w");
    CHECK(run.code == 2);
    CHECK_THAT(run.err, Catch::Contains("MIMCM_PASSWORD"));
    // Malformed user, and no way to pass the password as a flag.
    CHECK(proposed_pin(ntlm.at("NTLM_HTTPS_URL"), {"--ntlm-user", "kiosk"}).code == 2);
    CHECK(proposed_pin(ntlm.at("NTLM_HTTPS_URL"), {"--ntlm-user", user, "--password", "x"}).code ==
          2);
}

TEST_CASE("token-file sends the ADFS token, and a wrong one gives exit 4", "[cli][auth]") {
    insert_card();
    Emulator emulator("auth-emulator.json");
    auto run =
        proposed_pin(emulator.https_url(),
                     {"--token-file", write_file("good.token", std::string(kGoodToken) + "\n")});
    INFO(run.err);
    CHECK(run.code == 0);
    run = proposed_pin(emulator.https_url(),
                       {"--token-file", write_file("bad.token", "forged-token-Xy9")});
    CHECK(run.code == 4);
    CHECK(proposed_pin(emulator.https_url(), {"--token-file", "/nonexistent.token"}).code == 2);
    CHECK(proposed_pin(emulator.https_url(), {"--token-file", write_file("t", "x"), "--negotiate"})
              .code == 2);
}

TEST_CASE("TLS flags: --pin-pubkey, --client-cert, --insecure (which warns)", "[cli][auth][tls]") {
    insert_card();
    Emulator emulator("auth-emulator.json");
    const std::vector<std::string> token = {"--token-file", write_file("good.token", kGoodToken)};
    auto with_token = [&token](std::vector<std::string> extra) {
        extra.insert(extra.end(), token.begin(), token.end());
        return extra;
    };
    auto run = proposed_pin(emulator.https_url(),
                            with_token({"--pin-pubkey", slurp(rig_path("certs/server.pin"))}));
    INFO(run.err);
    CHECK(run.code == 0);
    run = proposed_pin(emulator.https_url(),
                       with_token({"--pin-pubkey", slurp(rig_path("certs/wrong.pin"))}));
    CHECK(run.code == 7);

    const std::string client_cert_url =
        "https://localhost:" + std::to_string(emulator.port("https_client_cert")) +
        "/CertificateManagement";
    run = proposed_pin(
        client_cert_url, with_token({"--client-cert", rig_path("certs/client.p12")}),
        shell_env("MIMCM_CLIENT_CERT_PASSWORD", slurp(rig_path("certs/client.p12.password"))));
    CHECK(run.code == 0);
    run = proposed_pin(client_cert_url, with_token({"--client-cert", rig_path("certs/client.pem"),
                                                    "--client-key", rig_path("certs/client.key")}));
    CHECK(run.code == 0);
    run = proposed_pin(client_cert_url, with_token({}));
    CHECK(run.code == 7);

    const std::string expired_url =
        "https://localhost:" + std::to_string(emulator.port("https_expired")) +
        "/CertificateManagement";
    run = proposed_pin(expired_url, with_token({}));
    CHECK(run.code == 7);
    CHECK_THAT(run.err, Catch::Contains("expired"));
    run = proposed_pin(expired_url, with_token({"--insecure"}));
    CHECK(run.code == 0);
    CHECK_THAT(run.err, Catch::Contains("WARNING") && Catch::Contains("--insecure"));
}

TEST_CASE("the CLI never prints a password or a token, failing or succeeding",
          "[cli][auth][secrets]") {
    insert_card();
    const auto ntlm = read_env_file("ntlm.env");
    const std::string user = ntlm.at("NTLM_DOMAIN") + "\\" + ntlm.at("NTLM_USER");
    const std::string bad_password = "Wr0ng-Passw0rd-Zq";
    const std::string bad_token = "forged-token-Xy9";
    Emulator emulator("auth-emulator.json");
    std::vector<Run> runs;
    for (const auto& pw : {ntlm.at("NTLM_PASSWORD"), bad_password}) {
        for (const char* json : {"--verbose", "--json"}) {
            runs.push_back(proposed_pin(ntlm.at("NTLM_HTTP_URL"),
                                        {"--ntlm-user", user, json, "--verbose"},
                                        shell_env("MIMCM_PASSWORD", pw)));
        }
    }
    for (const auto& t : {std::string(kGoodToken), bad_token}) {
        for (const char* json : {"--verbose", "--json"}) {
            runs.push_back(
                proposed_pin(emulator.https_url(),
                             {"--token-file", write_file("secret.token", t), json, "--verbose"}));
        }
    }
    REQUIRE(runs.size() == 8);
    CHECK(runs[0].code == 0);
    CHECK(runs[2].code == 4);
    CHECK(runs[4].code == 0);
    CHECK(runs[6].code == 4);
    for (const auto& run : runs) {
        CAPTURE(run.out, run.err);
        CHECK_THAT(run.err, Catch::Contains("mimcm: GET"));  // logging really was on
        for (const auto& secret :
             {ntlm.at("NTLM_PASSWORD"), bad_password, std::string(kGoodToken), bad_token}) {
            CHECK(run.out.find(secret) == std::string::npos);
            CHECK(run.err.find(secret) == std::string::npos);
        }
    }
}
