// The curl transport and the client against the CM emulator on loopback, over HTTP and HTTPS.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "emulator.hpp"
#include "mimcm/transport/curl.hpp"
#include "results.hpp"
#include "test_data.hpp"

using namespace mimcm_test;  // NOLINT: test helpers over mimcm::Result
using namespace mimcm;
using mimcm_test::docs_card;
using mimcm_test::Emulator;
using mimcm_test::fresh_smartcard_id;

namespace {

const CurlGlobal curl_global;  // test binary: initialised before main, no threads yet

CurlOptions trusting(const std::string& ca_file = Emulator::ca_file()) {
    CurlOptions options;
    options.ca_file = ca_file;
    options.proxy = "";
    options.timeout = std::chrono::seconds(10);
    return options;
}

Result<PinProposal> ask(const std::string& url, const std::string& smartcard, CurlOptions options,
                        std::vector<std::string>* log = nullptr) {
    ClientOptions client_options;
    if (log) {
        client_options.logger = [log](LogLevel, std::string_view line) { log->emplace_back(line); };
    }
    Client client(CmUrl::parse(url), CurlTransport(std::move(options)), client_options);
    return client.server_proposed_pin(SmartcardId::parse(smartcard), docs_card());
}

}  // namespace

TEST_CASE("HTTP: 200 gives the PIN, and the request on the wire is the documented one", "[http]") {
    Emulator emulator;
    const auto id = fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"pin","pin":"00123456"})");

    const auto result = ask(emulator.http_url(), id, trusting());
    INFO(description(result));
    const auto* pin = proposed_pin(result);
    REQUIRE(pin != nullptr);
    CHECK(pin->pin.reveal() == "00123456");

    const auto requests = emulator.requests_for(id);
    REQUIRE(requests.size() == 1);
    const auto& r = requests[0];
    CHECK(r.method == "GET");
    CHECK(r.path == "/CertificateManagement/api/v1.0/smartcards/" + id + "/serverproposedpin");
    CHECK(r.query_value("atr") == "3b8d0180fba000000397425446590301c8");
    CHECK(r.query_value("cardid") == "bc88f13f-83ba-4037-8262-46eba1291c6e");
    CHECK(r.query_value("challenge") == "1hFD%2Bcz%2F0so%3D");
    CHECK_FALSE(r.tls);
    CHECK(r.status == 200);
    CHECK_THAT(r.headers.at("user-agent"), Catch::StartsWith("mimcm/"));
    CHECK(r.headers.at("accept") == "application/json");
}

TEST_CASE("HTTPS with the test CA: every outcome maps to its type", "[http][tls]") {
    Emulator emulator;
    const auto id = fresh_smartcard_id();

    SECTION("200") {
        emulator.set_outcome(id, R"({"outcome":"pin","pin":"0000"})");
        const auto result = ask(emulator.https_url(), id, trusting());
        INFO(description(result));
        REQUIRE(pin_proposed(result));
        CHECK((*proposed_pin(result)).pin.reveal() == "0000");
    }
    SECTION("204") {
        emulator.set_outcome(id, R"({"outcome":"none"})");
        CHECK(no_pin_proposed(ask(emulator.https_url(), id, trusting())));
    }
    SECTION("401 with the offered schemes") {
        emulator.set_outcome(id, R"({"outcome":"unauthorized"})");
        const auto result = ask(emulator.https_url(), id, trusting());
        const auto* u = failed_with(result, ErrorKind::unauthorized);
        REQUIRE(u != nullptr);
        CHECK(u->status == 401);
        CHECK(std::find(u->authenticate.begin(), u->authenticate.end(), "Negotiate") !=
              u->authenticate.end());
    }
    SECTION("403 with the server's message") {
        emulator.set_outcome(id, R"({"outcome":"forbidden","message":"Access is denied."})");
        const auto result = ask(emulator.https_url(), id, trusting());
        const auto* f = failed_with(result, ErrorKind::forbidden);
        REQUIRE(f != nullptr);
        CHECK(f->message == "Access is denied.");
    }
    SECTION("500 with the correlation id in the message") {
        emulator.set_outcome(
            id, R"({"outcome":"error","correlation_id":"5f0c2d7e-8a41-4c39-b1e2-0d9f6a3b7c15"})");
        const auto result = ask(emulator.https_url(), id, trusting());
        const auto* e = failed_with(result, ErrorKind::server_error);
        REQUIRE(e != nullptr);
        CHECK(e->status == 500);
        CHECK(e->correlation_id == "5f0c2d7e-8a41-4c39-b1e2-0d9f6a3b7c15");
    }
    SECTION("500 with a CorrelationId field") {
        emulator.set_outcome(
            id,
            R"({"outcome":"error","style":"field","correlation_id":"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"})");
        const auto result = ask(emulator.https_url(), id, trusting());
        const auto* e = failed_with(result, ErrorKind::server_error);
        REQUIRE(e != nullptr);
        CHECK(e->correlation_id == "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
    }
    SECTION("another status is kept") {
        emulator.set_outcome(
            id,
            R"({"outcome":"status","status":409,"body":"{\"Message\":\"busy\"}","content_type":"application/json"})");
        const auto result = ask(emulator.https_url(), id, trusting());
        const auto* e = failed_with(result, ErrorKind::unexpected_status);
        REQUIRE(e != nullptr);
        CHECK(e->status == 409);
        CHECK(e->message == "busy");
    }
    SECTION("a 200 that is not a JSON string is a protocol error") {
        emulator.set_outcome(id, R"({"outcome":"raw","body":"31415926"})");
        const auto result = ask(emulator.https_url(), id, trusting());
        const auto* e = failed_with(result, ErrorKind::protocol);
        REQUIRE(e != nullptr);
        CHECK(e->message.find("31415926") == std::string::npos);
    }
}

TEST_CASE("404 for a path outside the CM application", "[http]") {
    Emulator emulator;
    const auto result = ask("http://127.0.0.1:" + std::to_string(emulator.http_port()) + "/NotCM",
                            fresh_smartcard_id(), trusting());
    REQUIRE(fails_with(result, ErrorKind::not_found));
    CHECK(result.error().status == 404);
}

TEST_CASE("TLS: an untrusted server fails as a TLS transport failure", "[http][tls]") {
    Emulator emulator;
    const auto id = fresh_smartcard_id();
    SECTION("wrong CA") {
        const auto result = ask(emulator.https_url(), id, trusting(Emulator::other_ca_file()));
        const auto* f = transport_failure(result);
        REQUIRE(f != nullptr);
        CHECK(f->transport->kind == TransportError::Kind::tls);
        CHECK(f->transport->native_code == CURLE_PEER_FAILED_VERIFICATION);
    }
    SECTION("system store only") {
        CurlOptions options = trusting();
        options.ca_file.clear();
        const auto result = ask(emulator.https_url(), id, std::move(options));
        const auto* f = transport_failure(result);
        REQUIRE(f != nullptr);
        CHECK(f->transport->kind == TransportError::Kind::tls);
    }
    SECTION("host name not in the certificate") {
        // The certificate names localhost, 127.0.0.1 and ::1; 127.0.0.2 is loopback but not named.
        const auto result =
            ask("https://127.0.0.2:" + std::to_string(emulator.https_port()), id, trusting());
        const auto* f = transport_failure(result);
        REQUIRE(f != nullptr);
        // Either refused (bound to 127.0.0.1 only) or rejected by name: never a response.
        CHECK((f->transport->kind == TransportError::Kind::tls ||
               f->transport->kind == TransportError::Kind::connect));
    }
}

TEST_CASE("timeouts are distinguishable and bounded", "[http]") {
    Emulator emulator;
    const auto id = fresh_smartcard_id();
    emulator.set_outcome(id,
                         R"({"outcome":"slow","delay":3,"then":{"outcome":"pin","pin":"1234"}})");
    CurlOptions options = trusting();
    options.timeout = std::chrono::milliseconds(500);
    const auto started = std::chrono::steady_clock::now();
    const auto result = ask(emulator.http_url(), id, std::move(options));
    const auto elapsed = std::chrono::steady_clock::now() - started;
    const auto* f = transport_failure(result);
    REQUIRE(f != nullptr);
    CHECK(f->transport->timed_out());
    CHECK(f->transport->native_code == CURLE_OPERATION_TIMEDOUT);
    CHECK(elapsed < std::chrono::milliseconds(2500));
}

TEST_CASE("a connection closed without an answer is a transport failure", "[http]") {
    Emulator emulator;
    const auto id = fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"close"})");
    const auto result = ask(emulator.http_url(), id, trusting());
    const auto* f = transport_failure(result);
    REQUIRE(f != nullptr);
    CHECK(f->transport->kind == TransportError::Kind::send_receive);
}

TEST_CASE("connection refused", "[http]") {
    // Port 1 on loopback: nothing listens there.
    const auto result = ask("http://127.0.0.1:1", fresh_smartcard_id(), trusting());
    const auto* f = transport_failure(result);
    REQUIRE(f != nullptr);
    CHECK(f->transport->kind == TransportError::Kind::connect);
}

TEST_CASE("a success keeps only its Content-Type, any other status every header", "[http]") {
    Emulator emulator;
    const auto id = fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"pin","pin":"2468"})");
    CurlTransport transport(trusting());
    const std::string base = emulator.http_url() + "/api/v1.0/smartcards/" + id;
    // Twice each, alternating: what one call keeps does not depend on the call before.
    for (int round = 0; round < 2; ++round) {
        CAPTURE(round);
        HttpRequest ok;
        ok.url = base +
                 "/serverproposedpin?atr=3b8d0180fba000000397425446590301c8"
                 "&cardid=bc88f13f-83ba-4037-8262-46eba1291c6e&challenge=1hFD%2Bcz%2F0so%3D";
        auto answered = transport.send(ok);
        const auto* response = std::get_if<HttpResponse>(&answered);
        REQUIRE(response != nullptr);
        CHECK(response->status == 200);
        REQUIRE(response->headers.size() == 1);
        CHECK(response->header("content-type").find("application/json") != std::string::npos);

        HttpRequest missing;
        missing.url = "http://127.0.0.1:" + std::to_string(emulator.http_port()) + "/NotCM";
        answered = transport.send(missing);
        response = std::get_if<HttpResponse>(&answered);
        REQUIRE(response != nullptr);
        CHECK(response->status == 404);
        CHECK(response->headers.size() > 1);
        CHECK_FALSE(response->header("Content-Type").empty());
        CHECK_FALSE(response->header("Date").empty());
    }
}

TEST_CASE("one client keeps one connection alive across calls", "[http][tls]") {
    Emulator emulator;
    for (const bool tls : {false, true}) {
        CAPTURE(tls);
        const auto id = fresh_smartcard_id();
        emulator.set_outcome(id, R"({"outcome":"pin","pin":"2468"})");
        Client client(CmUrl::parse(tls ? emulator.https_url() : emulator.http_url()),
                      CurlTransport(trusting()));
        for (int i = 0; i < 5; ++i) {
            const auto result = client.server_proposed_pin(SmartcardId::parse(id), docs_card());
            REQUIRE(pin_proposed(result));
        }
        const auto requests = emulator.requests_for(id);
        REQUIRE(requests.size() == 5);
        for (const auto& r : requests) {
            CHECK(r.connection == requests[0].connection);
            CHECK(r.tls == tls);
        }
    }
}

TEST_CASE("proxy option: explicit none beats the environment, an explicit proxy is used",
          "[http]") {
    Emulator emulator;
    const auto id = fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"pin","pin":"1357"})");
    // A proxy on loopback where nothing listens: using it fails to connect.
    ::setenv("http_proxy", "http://127.0.0.1:1", 1);
    CurlOptions no_proxy = trusting();
    no_proxy.proxy = "";
    const auto direct = ask(emulator.http_url(), id, std::move(no_proxy));
    CurlOptions from_env = trusting();
    from_env.proxy.reset();
    const auto via_env = ask(emulator.http_url(), id, std::move(from_env));
    ::unsetenv("http_proxy");
    CurlOptions explicit_proxy = trusting();
    explicit_proxy.proxy = "http://127.0.0.1:1";
    const auto via_explicit = ask(emulator.http_url(), id, std::move(explicit_proxy));

    CHECK(pin_proposed(direct));
    REQUIRE((transport_failure(via_env) != nullptr));
    CHECK(via_env.error().transport->kind == TransportError::Kind::connect);
    REQUIRE((transport_failure(via_explicit) != nullptr));
    CHECK(via_explicit.error().transport->kind == TransportError::Kind::connect);
}

TEST_CASE("extra curl options through the configure hook", "[http]") {
    Emulator emulator;
    const auto id = fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"none"})");
    CurlOptions options = trusting();
    options.configure = [](CURL* curl) { curl_easy_setopt(curl, CURLOPT_REFERER, "kiosk/7"); };
    CHECK(no_pin_proposed(ask(emulator.http_url(), id, std::move(options))));
    const auto requests = emulator.requests_for(id);
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].headers.at("referer") == "kiosk/7");
}

TEST_CASE("the emulator is strict: an unencoded base64 challenge is refused", "[http]") {
    // Proves the rig would catch a client that forgot to percent-encode: '+' decodes to a space.
    Emulator emulator;
    CurlTransport transport(trusting());
    HttpRequest request;
    request.url = emulator.http_url() + "/api/v1.0/smartcards/" + fresh_smartcard_id() +
                  "/serverproposedpin?atr=3b8d0180fba000000397425446590301c8"
                  "&cardid=bc88f13f-83ba-4037-8262-46eba1291c6e&challenge=1hFD+cz/0so=";
    const auto result = transport.send(request);
    REQUIRE(std::holds_alternative<HttpResponse>(result));
    CHECK(std::get<HttpResponse>(result).status == 400);
}

TEST_CASE("secrets stay out of the log over a real exchange", "[http][secrets]") {
    Emulator emulator;
    const auto id = fresh_smartcard_id();
    emulator.set_outcome(id, R"({"outcome":"pin","pin":"77553311"})");
    std::vector<std::string> log;
    const auto result = ask(emulator.https_url(), id, trusting(), &log);
    REQUIRE(pin_proposed(result));
    REQUIRE_FALSE(log.empty());
    for (const auto& line : log) {
        CAPTURE(line);
        CHECK(line.find("77553311") == std::string::npos);
        CHECK(line.find("1hFD") == std::string::npos);
    }
}

TEST_CASE("CurlOptions are move-only, and clone() copies every field, passwords into own buffers",
          "[http][secrets]") {
    static_assert(!std::is_copy_constructible_v<CurlOptions>);
    static_assert(!std::is_copy_constructible_v<NtlmAuth>);
    static_assert(!std::is_copy_constructible_v<ClientCertificate>);
    static_assert(std::is_nothrow_move_constructible_v<CurlOptions>);

    CurlOptions options;
    options.ca_file = "ca.pem";
    options.ca_path = "/etc/cas";
    options.ca_pem = "-----BEGIN CERTIFICATE-----";
    options.pinned_public_key = "sha256//AAAA";
    options.insecure_skip_tls_verification = true;
    options.client_certificate = ClientCertificate{
        "client.p12", "client.key", ClientCertificate::Format::pkcs12, SecretString("p12-pass")};
    options.auth = NtlmAuth{"CONTOSO", "kiosk", SecretString("ntlm-pass")};
    options.cookies = false;
    options.follow_redirects = true;
    options.max_redirects = 2;
    options.connect_timeout = std::chrono::milliseconds(1234);
    options.timeout = std::chrono::milliseconds(5678);
    options.max_response_body = 111;
    options.max_header_bytes = 222;
    options.max_header_count = 33;
    options.low_speed_bytes = 44;
    options.low_speed_time = std::chrono::seconds(55);
    options.proxy = "http://proxy:3128";
    options.proxy_user = "proxy-user";
    options.proxy_password = SecretString("proxy-pass");
    int configured = 0;
    options.configure = [&configured](CURL*) { ++configured; };

    const CurlOptions copy = options.clone();
    CHECK(copy.ca_file == "ca.pem");
    CHECK(copy.ca_path == "/etc/cas");
    CHECK(copy.ca_pem == "-----BEGIN CERTIFICATE-----");
    CHECK(copy.pinned_public_key == "sha256//AAAA");
    CHECK(copy.insecure_skip_tls_verification);
    REQUIRE(copy.client_certificate.has_value());
    CHECK(copy.client_certificate->certificate_file == "client.p12");
    CHECK(copy.client_certificate->key_file == "client.key");
    CHECK(copy.client_certificate->format == ClientCertificate::Format::pkcs12);
    CHECK(copy.client_certificate->password.reveal() == "p12-pass");
    CHECK(copy.client_certificate->password.reveal().data() !=
          options.client_certificate->password.reveal().data());
    const auto* ntlm = std::get_if<NtlmAuth>(&copy.auth);
    REQUIRE(ntlm != nullptr);
    CHECK(ntlm->domain == "CONTOSO");
    CHECK(ntlm->user == "kiosk");
    CHECK(ntlm->password.reveal() == "ntlm-pass");
    CHECK(ntlm->password.reveal().data() !=
          std::get<NtlmAuth>(options.auth).password.reveal().data());
    CHECK_FALSE(copy.cookies);
    CHECK(copy.follow_redirects);
    CHECK(copy.max_redirects == 2);
    CHECK(copy.connect_timeout == std::chrono::milliseconds(1234));
    CHECK(copy.timeout == std::chrono::milliseconds(5678));
    CHECK(copy.max_response_body == 111);
    CHECK(copy.max_header_bytes == 222);
    CHECK(copy.max_header_count == 33);
    CHECK(copy.low_speed_bytes == 44);
    CHECK(copy.low_speed_time == std::chrono::seconds(55));
    CHECK(copy.proxy == std::optional<std::string>("http://proxy:3128"));
    CHECK(copy.proxy_user == "proxy-user");
    CHECK(copy.proxy_password.reveal() == "proxy-pass");
    CHECK(copy.proxy_password.reveal().data() != options.proxy_password.reveal().data());
    REQUIRE(copy.configure);
    copy.configure(nullptr);
    CHECK(configured == 1);

    // The other authentications are copied as they are.
    options.auth = NegotiateAuth{"HTTPS"};
    const CurlOptions negotiating = options.clone();
    const auto* negotiate = std::get_if<NegotiateAuth>(&negotiating.auth);
    REQUIRE(negotiate != nullptr);
    CHECK(negotiate->service_name == "HTTPS");
    options.auth = std::monostate{};
    CHECK(std::holds_alternative<std::monostate>(options.clone().auth));

    // Moving leaves the passwords of the source empty.
    const CurlOptions moved = std::move(options);
    CHECK(moved.proxy_password.reveal() == "proxy-pass");
    CHECK(options.proxy_password.empty());  // NOLINT(bugprone-use-after-move)
}
