// The documented enrollment flow end to end: virtual GIDS card on pcscd, the stateful CM
// emulator over HTTPS, mimcm::Enrollment with mimcm::pcsc::EnrollmentCard.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>

#include "emulator.hpp"
#include "mimcm/mimcm.hpp"
#include "rig.hpp"

using namespace mimcm;
using mimcm_test::Emulator;
using mimcm_test::rig_path;
using mimcm_test::slurp;
namespace rig = mimcm_test::rig;

namespace {

const CurlGlobal curl_global;

const char* const kZeroKey = "000000000000000000000000000000000000000000000000";
const char* const kUserPin = "31415926";
/// The Request::status number of a canceled request on the emulator (tests/rig/cm_api.py; the
/// API reference documents only Approved = 3 and Completed = 8).
constexpr std::int64_t kEmulatorCanceled = 6;

/// Card state the virtual card writes after each change.
rapidjson::Document card_state(const std::string& path) {
    rapidjson::Document doc;
    doc.Parse(slurp(path).c_str());
    REQUIRE(doc.IsObject());
    return doc;
}

/// A PKCS#10 request (base64 DER) made with openssl, standing in for the card's key storage
/// provider.
std::vector<std::string> make_csrs(
    const std::vector<CertificateRequestGenerationOptions>& options) {
    std::vector<std::string> csrs;
    for (std::size_t i = 0; i < options.size(); ++i) {
        const std::string der = rig_path("enroll-csr-" + std::to_string(i) + ".der");
        const auto made = rig::run(
            "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
            rig::shell_quote(der + ".key") + " -subj /CN=kiosk-user -outform DER -out " +
            rig::shell_quote(der));
        REQUIRE(made.exit_code == 0);
        const std::string bytes = slurp(der);
        csrs.push_back(
            base64_encode(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    }
    return csrs;
}

struct Run {
    EnrollmentReport report;
    std::vector<EnrollmentStep> steps;
    double seconds = 0;
};

Run enroll(const std::string& profile_template,
           const std::function<void(EnrollmentStep)>& at_step = {}, int slot = 0,
           std::function<std::optional<SecretString>()> puk = {},
           const card::ProfileResolver& profiles = {}, const CallContext& context = {},
           std::chrono::milliseconds wait_for_card = {}) {
    Emulator emulator;
    CurlOptions http;
    http.ca_file = Emulator::ca_file();
    http.proxy = "";
    Client client(CmUrl::parse(emulator.https_url()), CurlTransport(std::move(http)));
    pcsc::Context pcsc_context;
    pcsc::ReadOptions read;
    read.reader = rig::reader_name(slot);
    read.profiles = profiles;
    read.wait_for_card = wait_for_card;
    pcsc::EnrollmentCard card(pcsc_context, read);
    Run run;
    EnrollmentOptions options;
    options.profile_template = profile_template;
    options.data_collection = {{"Request Reason", "New kiosk card"}};
    options.user_pin = [] { return SecretString(kUserPin); };
    options.make_certificate_requests = make_csrs;
    options.puk = std::move(puk);
    options.progress = [&](EnrollmentStep step, StepEvent event) {
        if (event == StepEvent::started) {
            run.steps.push_back(step);
            if (at_step)
                at_step(step);
        }
    };
    Enrollment<CurlTransport, pcsc::EnrollmentCard> flow(client, card, options);
    const auto started = std::chrono::steady_clock::now();
    run.report = flow.run(context);
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return run;
}

/// The real transport, with one answer replaced: `tamper` may rewrite a response.
class TamperingTransport {
  public:
    using Tamper = std::function<void(const HttpRequest&, HttpResponse&)>;
    TamperingTransport(CurlTransport real, Tamper tamper)
        : real_(std::move(real)), tamper_(std::move(tamper)) {}
    TransportResult send(const HttpRequest& request) {
        TransportResult result = real_.send(request);
        if (auto* response = std::get_if<HttpResponse>(&result))
            tamper_(request, *response);
        return result;
    }

  private:
    CurlTransport real_;
    Tamper tamper_;
};

/// The real card, with a fault injected: `before(call, card)` runs before each call is passed
/// on, and may throw or change the card's state.
class FaultyCard {
  public:
    using Before = std::function<void(const std::string& call, pcsc::EnrollmentCard&)>;
    FaultyCard(pcsc::EnrollmentCard& real, Before before)
        : real_(real), before_(std::move(before)) {}
    CardData read() {
        before_("read", real_);
        return real_.read();
    }
    [[nodiscard]] bool supports(card::CardOperation operation) const {
        return real_.supports(operation);
    }
    void set_admin_key(const SecretBytes& response, const SecretBytes& new_key) {
        before_("set_admin_key", real_);
        real_.set_admin_key(response, new_key);
    }
    void set_user_pin(const SecretBytes& response, const SecretString& pin) {
        before_("set_user_pin", real_);
        real_.set_user_pin(response, pin);
    }
    void reset_pin_with_puk(const SecretString& puk, const SecretString& pin) {
        before_("reset_pin_with_puk", real_);
        real_.reset_pin_with_puk(puk, pin);
    }
    void finish() noexcept { real_.finish(); }

  private:
    pcsc::EnrollmentCard& real_;
    Before before_;
};

/// enroll() through TamperingTransport and FaultyCard.
EnrollmentReport enroll_with_faults(const std::string& profile_template,
                                    TamperingTransport::Tamper tamper, FaultyCard::Before before,
                                    const char* user_pin = kUserPin) {
    Emulator emulator;
    CurlOptions http;
    http.ca_file = Emulator::ca_file();
    http.proxy = "";
    BasicClient<TamperingTransport> client(
        CmUrl::parse(emulator.https_url()),
        TamperingTransport(CurlTransport(std::move(http)), std::move(tamper)));
    pcsc::Context context;
    pcsc::ReadOptions read;
    read.reader = rig::reader_name(0);
    pcsc::EnrollmentCard real(context, read);
    FaultyCard card(real, std::move(before));
    EnrollmentOptions options;
    options.profile_template = profile_template;
    options.data_collection = {{"Request Reason", "New kiosk card"}};
    options.user_pin = [user_pin] { return SecretString(user_pin); };
    options.make_certificate_requests = make_csrs;
    Enrollment<TamperingTransport, FaultyCard> flow(client, card, options);
    return flow.run();
}

std::string state_path() {
    return rig_path("enroll-card-state.json");
}

void insert_enrollment_card(const std::string& admin_key = kZeroKey) {
    std::remove(state_path().c_str());
    rig::insert_card(0, "--profile gids --admin-key " + admin_key +
                            " --pin 00000000 --state-file " + rig::shell_quote(state_path()));
}

/// The emulator's view of a smart card (its diversified key, the PIN it proposed).
rapidjson::Document server_state(const SmartcardId& smartcard) {
    Emulator emulator;
    CurlTransport control(CurlOptions{});
    HttpRequest request;
    request.url = "http://127.0.0.1:" + std::to_string(emulator.http_port()) +
                  "/_emulator/smartcards/" + smartcard.str() + "/state";
    auto result = control.send(request);
    REQUIRE(std::holds_alternative<HttpResponse>(result));
    rapidjson::Document doc;
    doc.Parse(std::string(std::get<HttpResponse>(result).body.reveal()).c_str());
    REQUIRE(doc.IsObject());
    return doc;
}

void set_fault(const std::string& operation, int status) {
    Emulator emulator;
    CurlTransport control(CurlOptions{});
    HttpRequest request;
    request.method = "PUT";
    request.url = "http://127.0.0.1:" + std::to_string(emulator.http_port()) + "/_emulator/faults";
    request.headers.push_back({"Content-Type", "application/json"});
    request.body.append("{\"" + operation + "\":{\"status\":" + std::to_string(status) +
                        ",\"times\":1}}");
    auto result = control.send(request);
    REQUIRE(std::holds_alternative<HttpResponse>(result));
    REQUIRE(std::get<HttpResponse>(result).status < 300);
}

/// The request's status on the emulator (mimcm::request_status values).
int request_status_on_server(const RequestId& request) {
    Emulator emulator;
    CurlOptions http;
    http.proxy = "";
    Client client(CmUrl::parse(emulator.http_url()), CurlTransport(std::move(http)));
    const auto result = client.get_request(request);
    INFO(describe(result));
    REQUIRE(std::holds_alternative<Request>(result));
    return std::get<Request>(result).status;
}

/// The issued certificate chains to the emulator's test CA.
void check_issued_by_test_ca(const Certificate& certificate) {
    INFO("server error: " << certificate.error.value_or("none"));
    REQUIRE(certificate.is_pkcs7);
    REQUIRE(certificate.pkcs7.has_value());
    const auto der = base64_decode(*certificate.pkcs7);
    REQUIRE(der.has_value());
    const std::string path = rig_path("enroll-issued.p7b");
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    std::fwrite(der->data(), 1, der->size(), f);
    std::fclose(f);
    const auto verified =
        rig::run("openssl pkcs7 -inform DER -print_certs -in " + rig::shell_quote(path) +
                 " | openssl verify -CAfile " + rig::shell_quote(Emulator::ca_file()));
    INFO(verified.output);
    CHECK(verified.exit_code == 0);
}

}  // namespace

TEST_CASE("enrollment end to end, for every PIN and admin key policy", "[enroll]") {
    struct Policy {
        const char* name;
        bool server_pin;
        bool diversify;
    };
    for (const Policy policy : {Policy{"Test UserPin Diversified", false, true},
                                Policy{"Test UserPin NotDiversified", false, false},
                                Policy{"Test ServerPin Diversified", true, true},
                                Policy{"Test ServerPin NotDiversified", true, false}}) {
        CAPTURE(policy.name);
        insert_enrollment_card();
        const Run run = enroll(policy.name);
        INFO(run.report.error);
        REQUIRE(run.report.succeeded);
        WARN(policy.name << ": enrollment took " << run.seconds << " s");
        REQUIRE(run.report.request.has_value());
        REQUIRE(run.report.smartcard.has_value());
        CHECK(run.report.admin_key_changed == policy.diversify);
        CHECK(run.report.pin_proposed_by_server == policy.server_pin);

        const auto card = card_state(state_path());
        const auto server = server_state(*run.report.smartcard);
        // The card ends with the diversified admin key (or keeps the default one).
        if (policy.diversify) {
            CHECK(std::string(card["admin_key"].GetString()) ==
                  std::string(server["diversified_key"].GetString()));
            CHECK(std::string(card["admin_key"].GetString()) != kZeroKey);
        } else {
            CHECK(std::string(card["admin_key"].GetString()) == kZeroKey);
        }
        // ...and the chosen PIN: the user's, or the one the server proposed.
        const std::string pin = card["pin"].GetString();
        if (policy.server_pin) {
            CHECK(pin == std::string(server["proposed_pin"].GetString()));
            CHECK(pin != kUserPin);
        } else {
            CHECK(pin == kUserPin);
        }
        REQUIRE(run.report.certificates.size() == 1);
        check_issued_by_test_ca(run.report.certificates[0]);

        // The request is Completed on the server.
        Emulator emulator;
        CurlOptions http;
        http.ca_file = Emulator::ca_file();
        http.proxy = "";
        Client client(CmUrl::parse(emulator.https_url()), CurlTransport(std::move(http)));
        const auto request = client.get_request(*run.report.request);
        REQUIRE(std::holds_alternative<Request>(request));
        CHECK(std::get<Request>(request).status == mimcm::request_status::completed);
        CHECK(std::get<Request>(request).new_smartcard_uuid == run.report.smartcard);
    }
}

TEST_CASE("enrollment failures name the step and what exists on the server", "[enroll]") {
    SECTION("403 when creating the request: nothing exists") {
        insert_enrollment_card();
        set_fault("CreateRequest", 403);
        const Run run = enroll("Test UserPin Diversified");
        CHECK_FALSE(run.report.succeeded);
        CHECK(run.report.failed_step == EnrollmentStep::create_request);
        CHECK(run.report.failure_outcome == "forbidden");
        CHECK_FALSE(run.report.request.has_value());
    }
    SECTION("500 when submitting the certificate requests: the request exists") {
        insert_enrollment_card();
        set_fault("GetCertificateResponses", 500);
        const Run run = enroll("Test UserPin Diversified");
        CHECK(run.report.failed_step == EnrollmentStep::certificate_data);
        CHECK(run.report.failure_outcome == "server_error");
        CHECK(run.report.request.has_value());
        CHECK(run.report.smartcard.has_value());
        CHECK(run.report.admin_key_changed);
        CHECK(run.report.pin_set);
        CHECK_THAT(run.report.error, Catch::Contains("correlation"));
    }
    SECTION("the card's admin key is not the template's: the admin authentication fails") {
        insert_enrollment_card("111111111111111111111111111111111111111111111111");
        const Run run = enroll("Test UserPin Diversified");
        CHECK(run.report.failed_step == EnrollmentStep::set_admin_key);
        CHECK(run.report.failure_outcome == "card_error");
        CHECK_FALSE(run.report.admin_key_changed);
        CHECK(std::string(card_state(state_path())["admin_key"].GetString()) ==
              "111111111111111111111111111111111111111111111111");
    }
    SECTION("the card is removed before the PIN is set") {
        insert_enrollment_card();
        const Run run = enroll("Test UserPin NotDiversified", [](EnrollmentStep step) {
            if (step == EnrollmentStep::set_pin)
                rig::remove_card(0);
        });
        CHECK(run.report.failed_step == EnrollmentStep::set_pin);
        CHECK(run.report.failure_outcome == "card_error");
        CHECK(run.report.request.has_value());
        CHECK_FALSE(run.report.pin_set);
    }
    SECTION("500 at every server step: the step is named and the correlation id kept") {
        struct Fault {
            const char* operation;
            EnrollmentStep step;
        };
        // The ServerPin template uses every operation of the flow.
        for (const Fault fault :
             {Fault{"ListProfileTemplates", EnrollmentStep::list_templates},
              Fault{"GetWorkflowPolicy", EnrollmentStep::enroll_policy},
              Fault{"CreateRequest", EnrollmentStep::create_request},
              Fault{"GetRequest", EnrollmentStep::get_request},
              Fault{"AssignSmartcardToRequest", EnrollmentStep::assign_smartcard},
              Fault{"GetSmartcard", EnrollmentStep::get_smartcard},
              Fault{"GetSmartcardPolicy", EnrollmentStep::smartcard_policy},
              Fault{"GetSmartcardDiversifiedAdminKey", EnrollmentStep::diversified_key},
              Fault{"GetSmartcardAuthenticationResponse", EnrollmentStep::set_admin_key},
              Fault{"GetSmartcardServerProposedPin", EnrollmentStep::proposed_pin},
              Fault{"GetCertificateRequestGenerationOptions", EnrollmentStep::generation_options},
              Fault{"GetCertificateResponses", EnrollmentStep::certificate_data},
              Fault{"SetRequestStatus", EnrollmentStep::complete_request}}) {
            CAPTURE(fault.operation);
            insert_enrollment_card();
            set_fault(fault.operation, 500);
            const Run run = enroll("Test ServerPin Diversified");
            CHECK_FALSE(run.report.succeeded);
            CHECK(run.report.failed_step == fault.step);
            CHECK(run.report.failure_outcome == "server_error");
            CHECK_THAT(run.report.error, Catch::Contains("correlation id"));
            // What exists on the server is reported: a request from create_request on, which the
            // flow then sets to Canceled.
            CHECK(run.report.request.has_value() == (fault.step > EnrollmentStep::create_request));
            if (run.report.request) {
                INFO(run.report.cleanup_error);
                CHECK(run.report.request_cleanup == RequestCleanup::canceled);
                CHECK(request_status_on_server(*run.report.request) == kEmulatorCanceled);
            } else {
                CHECK(run.report.request_cleanup == RequestCleanup::none);
            }
        }
    }
    SECTION("a diversified admin key of the wrong size is the server's failure, not the card's") {
        insert_enrollment_card();
        const auto report = enroll_with_faults(
            "Test UserPin Diversified",
            [](const HttpRequest& request, HttpResponse& response) {
                if (request.url.find("/diversifiedkey") != std::string::npos) {
                    response.body = SecretString("\"" + base64_encode(Bytes(32, 0x42)) + "\"");
                }
            },
            [](const std::string&, pcsc::EnrollmentCard&) {});
        CHECK_FALSE(report.succeeded);
        CHECK(report.failed_step == EnrollmentStep::diversified_key);
        CHECK(report.failure_source == FailureSource::server);
        CHECK(report.failure_outcome == "protocol_error");
        CHECK_THAT(report.error, Catch::Contains("32 bytes; expected 24"));
        CHECK_FALSE(report.admin_key_changed);
        CHECK(std::string(card_state(state_path())["admin_key"].GetString()) == kZeroKey);
    }
    SECTION("a card error is the card's") {
        insert_enrollment_card();
        const auto report = enroll_with_faults(
            "Test UserPin Diversified", [](const HttpRequest&, HttpResponse&) {},
            [](const std::string& call, pcsc::EnrollmentCard&) {
                if (call == "set_admin_key") {
                    throw card::CardError(card::CardErrorCode::status,
                                          "GIDS: a scripted card fault", 0x6F00);
                }
            });
        CHECK(report.failed_step == EnrollmentStep::set_admin_key);
        CHECK(report.failure_source == FailureSource::card);
        CHECK(report.failure_outcome == "card_error");
    }
    SECTION("a PC/SC error is the card's") {
        insert_enrollment_card();
        const auto report = enroll_with_faults(
            "Test UserPin NotDiversified", [](const HttpRequest&, HttpResponse&) {},
            [](const std::string& call, pcsc::EnrollmentCard&) {
                if (call == "set_user_pin")
                    rig::remove_card(0);
            });
        CHECK(report.failed_step == EnrollmentStep::set_pin);
        CHECK(report.failure_source == FailureSource::card);
        CHECK(report.failure_outcome == "card_error");
    }
    SECTION("a PIN the card does not take is the caller's") {
        insert_enrollment_card();
        const auto report = enroll_with_faults(
            "Test UserPin NotDiversified", [](const HttpRequest&, HttpResponse&) {},
            [](const std::string&, pcsc::EnrollmentCard&) {}, "12");
        CHECK(report.failed_step == EnrollmentStep::set_pin);
        CHECK(report.failure_source == FailureSource::caller);
        CHECK(report.failure_outcome == "invalid_input");
        CHECK_FALSE(report.pin_set);
    }
    SECTION("a program error (std::logic_error) is internal, not a card error") {
        insert_enrollment_card();
        const auto report = enroll_with_faults(
            "Test UserPin Diversified", [](const HttpRequest&, HttpResponse&) {},
            [](const std::string& call, pcsc::EnrollmentCard& card) {
                if (call == "set_admin_key")
                    card.finish();  // acting on a finished card session is a logic_error
            });
        CHECK(report.failed_step == EnrollmentStep::set_admin_key);
        CHECK(report.failure_source == FailureSource::internal);
        CHECK(report.failure_outcome == "internal_error");
        CHECK_THAT(report.error, Catch::Contains("internal error"));
    }
    SECTION("a request that is not approved is the server's") {
        insert_enrollment_card();
        const auto report = enroll_with_faults(
            "Test UserPin Diversified",
            [](const HttpRequest& request, HttpResponse& response) {
                const std::string body(response.body.reveal());
                const auto at = body.find("\"Status\":3,");
                if (request.method == "GET" &&
                    request.url.find("/requests/") != std::string::npos &&
                    at != std::string::npos) {
                    response.body =
                        SecretString(body.substr(0, at) + "\"Status\":1," + body.substr(at + 11));
                }
            },
            [](const std::string&, pcsc::EnrollmentCard&) {});
        CHECK(report.failed_step == EnrollmentStep::get_request);
        CHECK(report.failure_source == FailureSource::server);
        CHECK_THAT(report.error, Catch::Contains("not approved (status 1, approved is 3)"));
    }
    SECTION("server outcomes are the server's") {
        insert_enrollment_card();
        set_fault("CreateRequest", 403);
        const Run run = enroll("Test UserPin Diversified");
        CHECK(run.report.failure_source == FailureSource::server);
    }
    SECTION("an unknown template") {
        insert_enrollment_card();
        const Run run = enroll("No Such Template");
        CHECK(run.report.failed_step == EnrollmentStep::list_templates);
        CHECK_FALSE(run.report.request.has_value());
    }
    rig::remove_card(0);
}

// ---------------------------------------------------------------------------------------------
// PIV cards: the PIN only with the PUK; cards that could not finish are left unchanged.

namespace {

std::string piv_state_path() {
    return rig_path("enroll-piv-state.json");
}

void insert_piv_card(const std::string& extra = {}) {
    std::remove(piv_state_path().c_str());
    rig::insert_card(1, "--profile piv --admin-key " + std::string(kZeroKey) +
                            " --pin 00000000 --puk 24681357 --state-file " +
                            rig::shell_quote(piv_state_path()) +
                            (extra.empty() ? "" : " " + extra));
}

bool wrote_nothing(const std::string& state_path) {
    const auto card = card_state(state_path);
    return std::string(card["admin_key"].GetString()) == kZeroKey &&
           std::string(card["pin"].GetString()) == "00000000";
}

}  // namespace

TEST_CASE("PIV enrollment sets the PIN with the PUK, or leaves it to the user", "[enroll][piv]") {
    rig::EmptyReadersAtExit cleanup;
    SECTION("with the PUK") {
        insert_piv_card();
        const Run run = enroll("Test UserPin Diversified", {}, 1, [] {
            return std::optional<SecretString>(SecretString("24681357"));
        });
        INFO(run.report.error);
        REQUIRE(run.report.succeeded);
        CHECK(run.report.pin == PinOutcome::set);
        CHECK(run.report.pin_set);
        CHECK(run.report.admin_key_changed);
        // With the PUK, the PIN goes first, then the admin key.
        const auto at = [&](EnrollmentStep step) {
            return std::find(run.steps.begin(), run.steps.end(), step) - run.steps.begin();
        };
        CHECK(at(EnrollmentStep::check_card) < at(EnrollmentStep::set_pin));
        CHECK(at(EnrollmentStep::set_pin) < at(EnrollmentStep::set_admin_key));
        CHECK(at(EnrollmentStep::set_admin_key) < static_cast<long>(run.steps.size()));
        const auto card = card_state(piv_state_path());
        CHECK(std::string(card["pin"].GetString()) == kUserPin);
        const auto server = server_state(*run.report.smartcard);
        CHECK(std::string(card["admin_key"].GetString()) ==
              std::string(server["diversified_key"].GetString()));
    }
    SECTION("without a PUK: the enrollment goes on, the PIN step is reported as the user's") {
        insert_piv_card();
        const Run run =
            enroll("Test UserPin Diversified", {}, 1, [] { return std::optional<SecretString>(); });
        INFO(run.report.error);
        REQUIRE(run.report.succeeded);
        CHECK(run.report.pin == PinOutcome::left_to_user);
        CHECK_FALSE(run.report.pin_set);
        CHECK(run.report.admin_key_changed);
        CHECK(std::string(card_state(piv_state_path())["pin"].GetString()) == "00000000");
        CHECK(run.report.certificates.size() == 1);
    }
    SECTION("a wrong PUK fails the PIN step, before the admin key: the card is unchanged") {
        insert_piv_card();
        const Run run = enroll("Test UserPin Diversified", {}, 1, [] {
            return std::optional<SecretString>(SecretString("11111111"));
        });
        CHECK_FALSE(run.report.succeeded);
        REQUIRE(run.report.failed_step.has_value());
        CHECK(*run.report.failed_step == EnrollmentStep::set_pin);
        CHECK_THAT(run.report.error,
                   Catch::Contains("refused the PUK") && !Catch::Contains("11111111"));
        CHECK(run.report.pin == PinOutcome::not_reached);
        CHECK_FALSE(run.report.admin_key_changed);
        CHECK(wrote_nothing(piv_state_path()));
    }
}

TEST_CASE("PIV enrollment that could not finish writes nothing to the card", "[enroll][piv]") {
    rig::EmptyReadersAtExit cleanup;
    SECTION("an AES-192 management key") {
        insert_piv_card("--mgmt-key-alg 0A");
        const Run run = enroll("Test UserPin Diversified", {}, 1, [] {
            return std::optional<SecretString>(SecretString("24681357"));
        });
        CHECK_FALSE(run.report.succeeded);
        REQUIRE(run.report.failed_step.has_value());
        CHECK(*run.report.failed_step == EnrollmentStep::read_card);
        CHECK_THAT(run.report.error, Catch::Contains("not a 3DES key"));
        CHECK_FALSE(run.report.admin_key_changed);
        CHECK(wrote_nothing(piv_state_path()));
    }
    SECTION("a CHUID with a zero GUID") {
        insert_piv_card("--chuid-guid zero");
        const Run run = enroll("Test UserPin Diversified", {}, 1);
        CHECK_FALSE(run.report.succeeded);
        REQUIRE(run.report.failed_step.has_value());
        CHECK(*run.report.failed_step == EnrollmentStep::read_card);
        CHECK_THAT(run.report.error, Catch::Contains("CHUID GUID (tag 34) is all zero"));
        CHECK(wrote_nothing(piv_state_path()));
    }
}

namespace {
// A GIDS card family that cannot take a new admin key.
class NoAdminKeyGids : public card::GidsProfile {
  public:
    [[nodiscard]] bool supports(card::CardOperation operation) const override {
        return operation != card::CardOperation::set_admin_key &&
               card::GidsProfile::supports(operation);
    }
};
}  // namespace

TEST_CASE("a card that cannot do what the policy needs is refused before anything is written",
          "[enroll]") {
    rig::EmptyReadersAtExit cleanup;
    insert_enrollment_card();
    const card::ProfileResolver profiles(
        {[] { return std::unique_ptr<card::CardProfile>(std::make_unique<NoAdminKeyGids>()); }});
    const Run run = enroll("Test UserPin Diversified", {}, 0, {}, profiles);
    CHECK_FALSE(run.report.succeeded);
    REQUIRE(run.report.failed_step.has_value());
    CHECK(*run.report.failed_step == EnrollmentStep::check_card);
    CHECK_THAT(run.report.error,
               Catch::Contains("set_admin_key") && Catch::Contains("nothing was written"));
    CHECK(std::find(run.steps.begin(), run.steps.end(), EnrollmentStep::diversified_key) ==
          run.steps.end());
    const auto card = card_state(state_path());
    CHECK(std::string(card["admin_key"].GetString()) == kZeroKey);
    CHECK(std::string(card["pin"].GetString()) == "00000000");
}

TEST_CASE("a card pulled in the middle of an enrollment is the card's failure, reported as it is",
          "[enroll][faults]") {
    rig::EmptyReadersAtExit cleanup;
    struct Case {
        const char* fault;  // virtual_card.py --fault: the card leaves at this command
        EnrollmentStep step;
        bool admin_key_changed;
    };
    // GIDS: the admin key by PUT DATA (DB), then the PIN by RESET RETRY COUNTER (2C).
    for (const Case c :
         {Case{"pull --fault-on DB", EnrollmentStep::set_admin_key, false},
          Case{"pull --fault-on 2C", EnrollmentStep::set_pin, true},
          Case{"pull --fault-on CB --fault-after 2", EnrollmentStep::read_card, false}}) {
        CAPTURE(c.fault);
        std::remove(state_path().c_str());
        rig::insert_card(0, std::string("--profile gids --admin-key ") + kZeroKey +
                                " --pin 00000000 --state-file " + rig::shell_quote(state_path()) +
                                " --fault " + c.fault);
        const Run run = enroll("Test UserPin Diversified");
        std::printf("enrollment card fault: --fault %-36s -> failed at '%s', %s, %.0f ms\n",
                    c.fault, std::string(to_string(*run.report.failed_step)).c_str(),
                    run.report.failure_outcome.c_str(), run.seconds * 1000);
        INFO(run.report.error);
        CHECK_FALSE(run.report.succeeded);
        CHECK(run.report.failed_step == c.step);
        CHECK(run.report.failure_source == FailureSource::card);
        CHECK(run.report.failure_outcome == "card_error");
        CHECK_THAT(run.report.error, Catch::Contains("removed"));
        CHECK(run.report.request.has_value());
        CHECK(run.report.admin_key_changed == c.admin_key_changed);
        CHECK(run.report.pin == PinOutcome::not_reached);
        // A write that got no answer leaves the card's state unknown; a failed read does not.
        CHECK(run.report.card_state_unknown == (c.step != EnrollmentStep::read_card));
        CHECK(run.seconds < 5);
        const auto card = card_state(state_path());
        CHECK(std::string(card["pin"].GetString()) == "00000000");
        CHECK((std::string(card["admin_key"].GetString()) != kZeroKey) == c.admin_key_changed);
    }
}

TEST_CASE("a cancelled enrollment sets its request to Canceled and says so", "[enroll][cancel]") {
    SECTION("cancelled between two server steps") {
        insert_enrollment_card();
        CancellationSource source;
        CallContext context;
        context.cancellation = source.token();
        const Run run = enroll(
            "Test UserPin Diversified",
            [&](EnrollmentStep step) {
                if (step == EnrollmentStep::smartcard_policy)
                    source.cancel();  // as if another thread did it while the step ran
            },
            0, {}, {}, context);
        INFO(run.report.error);
        CHECK_FALSE(run.report.succeeded);
        CHECK(run.report.failed_step == EnrollmentStep::smartcard_policy);
        CHECK(run.report.failure_outcome == "cancelled");
        CHECK(run.report.failure_source == FailureSource::caller);
        CHECK_THAT(run.report.error, Catch::Contains("cancelled"));
        REQUIRE(run.report.request.has_value());
        INFO(run.report.cleanup_error);
        CHECK(run.report.request_cleanup == RequestCleanup::canceled);
        CHECK(request_status_on_server(*run.report.request) == kEmulatorCanceled);
        CHECK_FALSE(run.report.admin_key_changed);
        // Nothing of the card was touched after the cancel.
        CHECK(std::string(card_state(state_path())["admin_key"].GetString()) == kZeroKey);
    }
    SECTION("cancelled from another thread while it waits for a card") {
        rig::remove_card(0);
        CancellationSource source;
        CallContext context;
        context.cancellation = source.token();
        std::chrono::steady_clock::time_point cancelled_at{};
        std::thread canceller;
        const Run run = enroll(
            "Test UserPin Diversified",
            [&](EnrollmentStep step) {
                if (step == EnrollmentStep::read_card) {
                    canceller = std::thread([&] {
                        std::this_thread::sleep_for(std::chrono::milliseconds(400));
                        cancelled_at = std::chrono::steady_clock::now();
                        source.cancel();
                    });
                }
            },
            0, {}, {}, context, std::chrono::seconds(30));
        const auto returned_at = std::chrono::steady_clock::now();
        REQUIRE(canceller.joinable());
        canceller.join();
        const double latency =
            std::chrono::duration<double, std::milli>(returned_at - cancelled_at).count();
        std::printf(
            "enrollment cancelled during its card wait: returned %.1f ms after the cancel "
            "(the request set to Canceled included)\n",
            latency);
        INFO(run.report.error);
        CHECK(run.report.failed_step == EnrollmentStep::read_card);
        CHECK(run.report.failure_outcome == "cancelled");
        CHECK(latency < 1000.0);
        CHECK(run.seconds < 5.0);  // not the 30 s of the card wait
        REQUIRE(run.report.request.has_value());
        CHECK(run.report.request_cleanup == RequestCleanup::canceled);
        CHECK(request_status_on_server(*run.report.request) == kEmulatorCanceled);
    }
    SECTION("a deadline shorter than the card wait ends the flow, and the request is canceled") {
        rig::remove_card(0);
        const auto started = std::chrono::steady_clock::now();
        const Run run =
            enroll("Test UserPin Diversified", {}, 0, {}, {},
                   CallContext::timeout(std::chrono::seconds(2)), std::chrono::seconds(30));
        const double took =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        INFO(run.report.error);
        CHECK(run.report.failed_step == EnrollmentStep::read_card);
        CHECK(run.report.failure_outcome == "card_error");
        CHECK(took < 6.0);
        REQUIRE(run.report.request.has_value());
        // The cleanup has a context of its own: the expired deadline does not stop it.
        CHECK(run.report.request_cleanup == RequestCleanup::canceled);
        CHECK(request_status_on_server(*run.report.request) == kEmulatorCanceled);
    }
}
