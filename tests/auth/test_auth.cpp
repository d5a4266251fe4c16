// Logging in like a real deployment, against real servers on loopback: Kerberos through Apache
// with mod_auth_gssapi and a real KDC, NTLM verified by Samba's ntlm_auth, bearer tokens, TLS
// trust and client certificates, cookies, redirects. Each test case runs in its own process
// (catch_discover_tests), so setting KRB5CCNAME and friends here affects only that case.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "emulator.hpp"
#include "mimcm/transport/curl.hpp"
#include "results.hpp"
#include "test_data.hpp"

using namespace mimcm_test;  // NOLINT: test helpers over mimcm::Result
using namespace mimcm;
using mimcm_test::docs_card;
using mimcm_test::Emulator;
using mimcm_test::fresh_smartcard_id;
using mimcm_test::read_env_file;
using mimcm_test::rig_path;
using mimcm_test::slurp;

namespace {

const CurlGlobal curl_global;

// The token the auth emulator accepts (tests/rig/rig.sh starts it with this one).
const char* const kGoodToken = "rig-bearer-token-4c1d";

CurlOptions trusting() {
    CurlOptions options;
    options.ca_file = Emulator::ca_file();
    options.proxy = "";
    options.timeout = std::chrono::seconds(10);
    return options;
}

struct Call {
    Result<PinProposal> result;
    std::vector<std::string> log;
};

Call ask(const std::string& url, CurlOptions options, TokenProvider tokens = {},
         const std::string& smartcard = fresh_smartcard_id()) {
    Call call{NoPinProposed{}, {}};
    ClientOptions client_options;
    client_options.token_provider = std::move(tokens);
    client_options.logger = [&call](LogLevel, std::string_view line) {
        call.log.emplace_back(line);
    };
    Client client(CmUrl::parse(url), CurlTransport(std::move(options)), client_options);
    call.result = client.server_proposed_pin(SmartcardId::parse(smartcard), docs_card());
    return call;
}

std::string pin_of(const Result<PinProposal>& result) {
    INFO(description(result));
    REQUIRE(pin_proposed(result));
    return std::string((*proposed_pin(result)).pin.reveal());
}

/// Points the Kerberos library at the rig's KDC and the given ticket cache.
void use_kerberos(const std::string& ccache_key) {
    const auto env = read_env_file("kerberos.env");
    ::setenv("KRB5_CONFIG", env.at("KRB5_CONFIG").c_str(), 1);
    ::setenv("KRB5CCNAME", env.at(ccache_key).c_str(), 1);
}

std::string kerberos_url() {
    return read_env_file("kerberos.env").at("KERBEROS_URL");
}

NtlmAuth ntlm_account(const std::string& password) {
    const auto env = read_env_file("ntlm.env");
    NtlmAuth ntlm;
    ntlm.domain = env.at("NTLM_DOMAIN");
    ntlm.user = env.at("NTLM_USER");
    ntlm.password = SecretString(password);
    return ntlm;
}

std::string ntlm_password() {
    return read_env_file("ntlm.env").at("NTLM_PASSWORD");
}

/// The last request the (open) emulator recorded for this smart card id.
mimcm_test::Recorded last_request_for(Emulator& emulator, const std::string& smartcard) {
    const auto all = emulator.requests_for(smartcard);
    REQUIRE_FALSE(all.empty());
    return all.back();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Negotiate / Kerberos

TEST_CASE("Negotiate with a Kerberos ticket passes Apache's mod_auth_gssapi", "[auth][kerberos]") {
    use_kerberos("KRB5CCNAME_ALICE");
    Emulator emulator;
    const auto id = fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"pin","pin":"31337"})");
    CurlOptions options = trusting();
    options.auth = NegotiateAuth{};
    const auto call = ask(kerberos_url(), std::move(options), {}, id);
    CHECK(pin_of(call.result) == "31337");
    // Apache authenticated the user and told the CM emulator who it is.
    CHECK(last_request_for(emulator, id).headers.at("x-remote-user") == "alice@TEST.LOCAL");
}

TEST_CASE("Negotiate without a ticket, or with one the server cannot accept, is unauthorized",
          "[auth][kerberos]") {
    for (const char* ccache : {"KRB5CCNAME_EMPTY", "KRB5CCNAME_WRONG"}) {
        CAPTURE(ccache);
        use_kerberos(ccache);
        CurlOptions options = trusting();
        options.auth = NegotiateAuth{};
        const auto call = ask(kerberos_url(), std::move(options));
        INFO(description(call.result));
        const auto* u = failed_with(call.result, ErrorKind::unauthorized);
        REQUIRE(u != nullptr);
        CHECK(u->status == 401);
    }
    // And with no authentication configured at all.
    use_kerberos("KRB5CCNAME_ALICE");
    const auto call = ask(kerberos_url(), trusting());
    REQUIRE(fails_with(call.result, ErrorKind::unauthorized));
    const auto& offered = call.result.error().authenticate;
    CHECK(std::find(offered.begin(), offered.end(), "Negotiate") != offered.end());
}

TEST_CASE("an application 401 behind Kerberos ends at once as unauthorized", "[auth][kerberos]") {
    // Apache accepts the ticket, the CM application behind it still answers 401: libcurl would
    // renegotiate forever (it counts auth rounds as redirects); the transport stops and reports it.
    use_kerberos("KRB5CCNAME_ALICE");
    Emulator emulator;
    const auto id = fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"unauthorized"})");
    CurlOptions options = trusting();
    options.auth = NegotiateAuth{};
    const auto started = std::chrono::steady_clock::now();
    const auto call = ask(kerberos_url(), std::move(options), {}, id);
    INFO(description(call.result));
    CHECK(fails_with(call.result, ErrorKind::unauthorized));
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
}

TEST_CASE("one client reuses its Kerberos-authenticated connection", "[auth][kerberos]") {
    use_kerberos("KRB5CCNAME_ALICE");
    CurlOptions options = trusting();
    options.auth = NegotiateAuth{};
    Client client(CmUrl::parse(kerberos_url()), CurlTransport(std::move(options)));
    for (int i = 0; i < 20; ++i) {
        const auto result =
            client.server_proposed_pin(SmartcardId::parse(fresh_smartcard_id()), docs_card());
        REQUIRE(pin_proposed(result));
    }
}

// ---------------------------------------------------------------------------------------------
// NTLM

TEST_CASE("NTLM with the right password, over HTTP and HTTPS", "[auth][ntlm]") {
    const auto env = read_env_file("ntlm.env");
    Emulator emulator;
    for (const char* key : {"NTLM_HTTP_URL", "NTLM_HTTPS_URL"}) {
        CAPTURE(key);
        const auto id = fresh_smartcard_id();
        emulator.set_outcome(id, R"({"outcome":"pin","pin":"4711"})");
        CurlOptions options = trusting();
        options.auth = ntlm_account(ntlm_password());
        const auto call = ask(env.at(key), std::move(options), {}, id);
        CHECK(pin_of(call.result) == "4711");
        CHECK(last_request_for(emulator, id).headers.at("x-remote-user") == "CONTOSO\\kiosk");
    }
}

TEST_CASE("NTLM with a wrong password or user is unauthorized", "[auth][ntlm]") {
    const auto url = read_env_file("ntlm.env").at("NTLM_HTTP_URL");
    CurlOptions options = trusting();
    options.auth = ntlm_account("not-the-password");
    CHECK(fails_with(ask(url, options.clone()).result, ErrorKind::unauthorized));
    NtlmAuth stranger = ntlm_account(ntlm_password());
    stranger.user = "mallory";
    options.auth = std::move(stranger);
    CHECK(fails_with(ask(url, std::move(options)).result, ErrorKind::unauthorized));
}

TEST_CASE("one NTLM handshake serves many calls of one client", "[auth][ntlm]") {
    const auto url = read_env_file("ntlm.env").at("NTLM_HTTP_URL");
    auto handshakes = [&url] {
        CurlTransport plain(trusting());
        HttpRequest request;
        request.url = url.substr(0, url.find("/CertificateManagement")) + "/_ntlm/stats";
        auto result = plain.send(request);
        REQUIRE(std::holds_alternative<HttpResponse>(result));
        rapidjson::Document doc;
        doc.Parse(std::string(std::get<HttpResponse>(result).body.reveal()).c_str());
        return doc["handshakes"].GetInt();
    };
    const int before = handshakes();
    CurlOptions options = trusting();
    options.auth = ntlm_account(ntlm_password());
    Client client(CmUrl::parse(url), CurlTransport(std::move(options)));
    for (int i = 0; i < 10; ++i) {
        REQUIRE(pin_proposed(
            client.server_proposed_pin(SmartcardId::parse(fresh_smartcard_id()), docs_card())));
    }
    CHECK(handshakes() - before == 1);
}

// ---------------------------------------------------------------------------------------------
// Bearer tokens (ADFS)

TEST_CASE("bearer: an expired token is refreshed after the 401, with exactly one retry",
          "[auth][bearer]") {
    Emulator emulator("auth-emulator.json");
    const auto id = fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"pin","pin":"90210"})");
    int asked = 0;
    const auto call = ask(
        emulator.https_url(), trusting(),
        [&asked](TokenRequest why) {
            ++asked;
            return SecretString(why == TokenRequest::initial ? "expired-token" : kGoodToken);
        },
        id);
    CHECK(pin_of(call.result) == "90210");
    CHECK(asked == 2);
    const auto requests = emulator.requests_for(id);
    REQUIRE(requests.size() == 2);
    CHECK_FALSE(requests[0].authorized);
    CHECK(requests[0].status == 401);
    CHECK(requests[1].authorized);
    CHECK(requests[1].headers.at("authorization") == std::string("Bearer ") + kGoodToken);
}

TEST_CASE("bearer: no token or a wrong one is unauthorized", "[auth][bearer]") {
    Emulator emulator("auth-emulator.json");
    const auto none = ask(emulator.https_url(), trusting());
    REQUIRE(fails_with(none.result, ErrorKind::unauthorized));
    CHECK(none.result.error().authenticate.at(0).rfind("Bearer", 0) == 0);
    const auto wrong = ask(emulator.https_url(), trusting(), static_token(SecretString("forged")));
    CHECK(fails_with(wrong.result, ErrorKind::unauthorized));
}

// ---------------------------------------------------------------------------------------------
// TLS: trust, pinning, client certificates

TEST_CASE("TLS failures name their reason", "[auth][tls]") {
    Emulator emulator("auth-emulator.json");
    auto tls_failure = [](const Call& call) {
        INFO(description(call.result));
        const auto* f = transport_failure(call.result);
        REQUIRE(f != nullptr);
        CHECK(f->transport->kind == TransportError::Kind::tls);
        return *f->transport;
    };
    SECTION("expired certificate") {
        const auto error = tls_failure(
            ask("https://localhost:" + std::to_string(emulator.port("https_expired")), trusting()));
        CHECK_THAT(error.message, Catch::Contains("expired"));
    }
    SECTION("wrong host name") {
        const auto error = tls_failure(ask(
            "https://localhost:" + std::to_string(emulator.port("https_wrong_host")), trusting()));
        CHECK_THAT(error.message, Catch::Contains("localhost"));
    }
    SECTION("public key pin mismatch") {
        CurlOptions options = trusting();
        options.pinned_public_key = slurp(rig_path("certs/wrong.pin"));
        const auto error = tls_failure(ask(emulator.https_url(), std::move(options)));
        CHECK(error.native_code == CURLE_SSL_PINNEDPUBKEYNOTMATCH);
    }
    SECTION("client certificate required but none given") {
        const auto error = tls_failure(
            ask("https://localhost:" + std::to_string(emulator.port("https_client_cert")),
                trusting(), static_token(SecretString(kGoodToken))));
        (void)error;
    }
}

TEST_CASE("TLS successes: pin, in-memory CA, client certificates", "[auth][tls]") {
    Emulator emulator("auth-emulator.json");
    const auto token = static_token(SecretString(kGoodToken));
    SECTION("matching pin") {
        CurlOptions options = trusting();
        options.pinned_public_key = slurp(rig_path("certs/server.pin"));
        pin_of(ask(emulator.https_url(), std::move(options), token).result);
    }
    SECTION("CA given as PEM text") {
        CurlOptions options = trusting();
        options.ca_file.clear();
        options.ca_pem = slurp(Emulator::ca_file());
        pin_of(ask(emulator.https_url(), std::move(options), token).result);
    }
    const std::string client_cert_url =
        "https://localhost:" + std::to_string(emulator.port("https_client_cert"));
    SECTION("PEM client certificate") {
        CurlOptions options = trusting();
        options.client_certificate = ClientCertificate{rig_path("certs/client.pem"),
                                                       rig_path("certs/client.key"),
                                                       ClientCertificate::Format::pem,
                                                       {}};
        pin_of(ask(client_cert_url, std::move(options), token).result);
    }
    SECTION("PKCS#12 client certificate with its password") {
        CurlOptions options = trusting();
        options.client_certificate =
            ClientCertificate{rig_path("certs/client.p12"),
                              {},
                              ClientCertificate::Format::pkcs12,
                              SecretString(slurp(rig_path("certs/client.p12.password")))};
        pin_of(ask(client_cert_url, std::move(options), token).result);
    }
    SECTION("a client certificate from another CA is refused") {
        CurlOptions options = trusting();
        options.client_certificate = ClientCertificate{rig_path("certs/other-client.pem"),
                                                       rig_path("certs/other-client.key"),
                                                       ClientCertificate::Format::pem,
                                                       {}};
        CHECK(
            (transport_failure(ask(client_cert_url, std::move(options), token).result) != nullptr));
    }
    SECTION("verification off, by the flag that says it is insecure") {
        CurlOptions options = trusting();
        options.ca_file = Emulator::other_ca_file();
        options.insecure_skip_tls_verification = true;
        pin_of(ask("https://localhost:" + std::to_string(emulator.port("https_expired")),
                   std::move(options), token)
                   .result);
    }
}

// ---------------------------------------------------------------------------------------------
// Cookies and redirects

TEST_CASE("a session cookie set by the server is sent back by the same client", "[auth][cookies]") {
    Emulator emulator("auth-emulator.json");
    std::vector<std::string> ids;
    for (int i = 0; i < 4; ++i)
        ids.push_back(fresh_smartcard_id());
    CurlOptions options = trusting();
    ClientOptions client_options;
    client_options.token_provider = static_token(SecretString(kGoodToken));
    Client client(CmUrl::parse(emulator.https_url()), CurlTransport(options.clone()),
                  client_options);
    for (int i = 0; i < 3; ++i) {
        pin_of(client.server_proposed_pin(SmartcardId::parse(ids[i]), docs_card()));
    }
    Client stranger(CmUrl::parse(emulator.https_url()), CurlTransport(std::move(options)),
                    client_options);
    pin_of(stranger.server_proposed_pin(SmartcardId::parse(ids[3]), docs_card()));
    std::vector<mimcm_test::Recorded> requests;
    for (const auto& id : ids) {
        const auto mine = emulator.requests_for(id);
        REQUIRE(mine.size() == 1);
        requests.push_back(mine[0]);
    }
    CHECK_FALSE(requests[0].session);
    CHECK(requests[1].session);
    CHECK(requests[2].session);
    CHECK_FALSE(requests[3].session);  // a new client has no cookie of the old one
}

TEST_CASE("redirects are off by default and, followed, never carry credentials to another host",
          "[auth][redirect]") {
    Emulator emulator("auth-emulator.json");
    const auto id = fresh_smartcard_id();
    const auto target = fresh_smartcard_id();
    const std::string query =
        "?atr=3b8d0180fba000000397425446590301c8&cardid=bc88f13f-83ba-4037-8262-46eba1291c6e"
        "&challenge=1hFD%2Bcz%2F0so%3D";
    auto redirect_to = [&](const std::string& host) {
        emulator.set_outcome(id, R"({"outcome":"redirect","status":302,"location":"http://)" +
                                     host + ":" + std::to_string(emulator.http_port()) +
                                     "/CertificateManagement/api/v1.0/smartcards/" + target +
                                     "/serverproposedpin" + query + R"("})");
    };
    emulator.set_outcome(target, R"({"outcome":"pin","pin":"8080"})");
    const auto token = static_token(SecretString(kGoodToken));

    SECTION("not followed by default") {
        redirect_to("127.0.0.1");
        const auto call = ask(emulator.http_url(), trusting(), token, id);
        REQUIRE(fails_with(call.result, ErrorKind::unexpected_status));
        CHECK(call.result.error().status == 302);
    }
    SECTION("same host: followed with the token") {
        redirect_to("127.0.0.1");
        CurlOptions options = trusting();
        options.follow_redirects = true;
        CHECK(pin_of(ask(emulator.http_url(), std::move(options), token, id).result) == "8080");
    }
    SECTION("another host: followed without the token") {
        redirect_to("127.0.0.2");
        CurlOptions options = trusting();
        options.follow_redirects = true;
        const auto call = ask(emulator.http_url(), std::move(options), token, id);
        CHECK(fails_with(call.result, ErrorKind::unauthorized));
        const auto first = emulator.requests_for(id);
        REQUIRE(first.size() == 1);
        CHECK(first[0].headers.count("authorization") == 1);
        bool saw_other_host = false;
        for (const auto& r : emulator.requests_for(target)) {
            if (r.local_addr.rfind("127.0.0.2:", 0) != 0)
                continue;
            saw_other_host = true;
            CHECK(r.headers.count("authorization") == 0);
            CHECK(r.headers.count("cookie") == 0);
        }
        CHECK(saw_other_host);
    }
}

// ---------------------------------------------------------------------------------------------
// Proxies

TEST_CASE("a proxy that wants credentials, over HTTP and HTTPS", "[auth][proxy]") {
    rapidjson::Document proxy;
    proxy.Parse(slurp(rig_path("proxy.json")).c_str());
    REQUIRE(proxy.IsObject());
    const std::string proxy_url = "http://127.0.0.1:" + std::to_string(proxy["port"].GetInt());
    Emulator emulator;
    const auto id = fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"pin","pin":"7007"})");
    for (const auto& url : {emulator.http_url(), emulator.https_url()}) {
        CAPTURE(url);
        CurlOptions options = trusting();
        options.proxy = proxy_url;
        options.proxy_user = "proxy-user";
        options.proxy_password = SecretString(slurp(rig_path("proxy.password")));
        CHECK(pin_of(ask(url, options.clone(), {}, id).result) == "7007");

        options.proxy_password = SecretString("not-the-proxy-password");
        const auto refused = ask(url, std::move(options), {}, id);
        INFO(description(refused.result));
        CHECK_FALSE(pin_proposed(refused.result));
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets never reach logs or messages

TEST_CASE("passwords and tokens never reach a log line or an outcome's text", "[auth][secrets]") {
    const std::string password = ntlm_password();
    const std::string bad_password = "Wr0ng-Passw0rd-Zq";
    const std::string token = kGoodToken;
    const std::string bad_token = "forged-token-Xy9";
    const auto ntlm_url = read_env_file("ntlm.env").at("NTLM_HTTP_URL");
    Emulator auth_emulator("auth-emulator.json");

    std::vector<Call> calls;
    for (const auto& pw : {password, bad_password}) {
        CurlOptions options = trusting();
        options.auth = ntlm_account(pw);
        calls.push_back(ask(ntlm_url, std::move(options)));
    }
    for (const auto& t : {token, bad_token}) {
        calls.push_back(ask(auth_emulator.https_url(), trusting(), static_token(SecretString(t))));
    }
    calls.push_back(ask("https://localhost:" + std::to_string(auth_emulator.port("https_expired")),
                        trusting(), static_token(SecretString(token))));

    CHECK(pin_proposed(calls[0].result));
    CHECK(fails_with(calls[1].result, ErrorKind::unauthorized));
    CHECK(pin_proposed(calls[2].result));
    CHECK(fails_with(calls[3].result, ErrorKind::unauthorized));
    CHECK((transport_failure(calls[4].result) != nullptr));
    for (const auto& call : calls) {
        std::vector<std::string> texts = call.log;
        texts.push_back(description(call.result));
        for (const auto& text : texts) {
            CAPTURE(text);
            for (const auto& secret : {password, bad_password, token, bad_token}) {
                CHECK(text.find(secret) == std::string::npos);
            }
        }
    }
}
