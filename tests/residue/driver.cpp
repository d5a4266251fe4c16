// The secret-residue driver: runs every client operation, and the enrollment flow, with secrets of
// known marker values, under the residue shim (shim.cpp, LD_PRELOAD), and prints per operation the
// blocks the shim scanned and the markers it found in freed memory.
//
//   residue_driver fake         over an in-process transport whose bodies are wiping buffers: any
//                               hit is the SDK's
//   residue_driver curl RIG [--wipe-libcurl-memory]
//                               over CurlTransport against a CM emulator of its own (HTTP, then
//                               HTTPS, with the rig's certificates in RIG/certs); the option
//                               initialises libcurl with mimcm::CurlMemory::wiped and has
//                               OpenSSL wipe the plain text it decrypted
//                               (SSL_OP_CLEANSE_PLAINTEXT)
//
// Exit status: 0 when the program (the SDK, which is compiled into it) left no marker in freed
// memory and every operation gave its expected outcome; 1 otherwise; 2 when the shim is missing.
// Hits in blocks freed by libcurl or the TLS library are counted and reported, not failed.
#include <dlfcn.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "mimcm/card/gids.hpp"
#include "mimcm/card/piv.hpp"
#include "mimcm/enrollment.hpp"
#include "mimcm/transport/curl.hpp"
#include "residue.h"

namespace {

using mimcm::SecretString;

// ---------------------------------------------------------------------------------------------
// The secrets, as markers. Each is distinct and long enough never to occur by chance.

constexpr std::string_view bearer_token = "tok-7Q2mV9-RESIDUE-bearer";
constexpr std::string_view proposed_pin = "pin-31415926-RESIDUE";
constexpr std::string_view user_pin = "userpin-27182818-RESIDUE";
constexpr std::string_view puk = "puk-16180339-RESIDUE";
constexpr std::string_view admin_key_hex = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718";
constexpr std::string_view diversified_key = "DIVKEY-RESIDUE-24bytes!!";  // 24 bytes
constexpr std::string_view diversified_key_base64 = "RElWS0VZLVJFU0lEVUUtMjRieXRlcyEh";
constexpr std::string_view auth_response = "AUTHRSP!";  // 8 bytes
constexpr std::string_view auth_response_base64 = "QVVUSFJTUCE=";
constexpr std::string_view proxy_password = "proxypw-RESIDUE-5150";
// What a card takes: a GIDS PIN of 4 to 16 bytes, a PIV PIN and PUK of at most 8.
constexpr std::string_view card_pin = "pin-73914682";
constexpr std::string_view piv_pin = "73914682";
constexpr std::string_view piv_puk = "16180339";
constexpr std::string_view pfx_password_prefix = "pfxpw-RESIDUE-";
// The PFX the server returns: base64 in lines of 64 characters, each line marked.
constexpr int pfx_lines = 40;

/// Line i of the PFX, built in place (no temporaries: the caller wipes the one string).
std::string pfx_line(int i) {
    std::string line;
    line.reserve(64);
    line.append("MIIKRESIDUEpfxLINE");
    line.push_back(static_cast<char>('0' + i / 10));
    line.push_back(static_cast<char>('0' + i % 10));
    while (line.size() < 64)
        line.push_back(static_cast<char>('A' + line.size() % 26));
    return line;
}

bool same_bytes(const mimcm::SecretBytes& bytes, std::string_view expected) {
    return bytes.size() == expected.size() &&
           std::equal(expected.begin(), expected.end(), bytes.reveal().begin(),
                      [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; });
}

/// The PFX as the server writes it in JSON: lines joined by an escaped CRLF.
SecretString pfx_json_text() {
    SecretString out;
    for (int i = 1; i <= pfx_lines; ++i) {
        std::string line = pfx_line(i);
        out.append(line);
        mimcm::secure_wipe(line);
        if (i < pfx_lines)
            out.append("\\r\\n");
    }
    return out;
}

/// The password of server-generated PFX results: the marker, then 400 control characters, which
/// JSON escapes to six bytes each (the body grows past any estimate made from the length).
SecretString pfx_password() {
    SecretString out(pfx_password_prefix);
    for (int i = 0; i < 400; ++i)
        out.append(std::string_view("\x01", 1));
    out.append("-END");
    return out;
}

void add_marker(const char* label, std::string_view value) {
    if (mimcm_residue_add_marker(label, value.data(), value.size()) != 1) {
        std::fprintf(stderr, "the shim refused the marker %s\n", label);
        std::exit(2);
    }
}

/// Every marker, in every form it takes in memory and on the wire.
void register_markers() {
    add_marker("bearer token", bearer_token);
    add_marker("proposed PIN", proposed_pin);
    add_marker("user PIN", user_pin);
    add_marker("PUK", puk);
    add_marker("default admin key (hex)", admin_key_hex);
    add_marker("diversified key", diversified_key);
    add_marker("diversified key (base64)", diversified_key_base64);
    add_marker("admin challenge response", auth_response);
    add_marker("admin challenge response (base64)", auth_response_base64);
    add_marker("proxy password", proxy_password);
    add_marker("card PIN", card_pin);
    add_marker("PIV PIN", piv_pin);
    add_marker("PIV PUK", piv_puk);
    add_marker("PFX password", pfx_password_prefix);
    for (const int i : {1, 20, pfx_lines}) {
        std::string line = pfx_line(i);
        add_marker("PFX", std::string_view(line).substr(4, 16));
        mimcm::secure_wipe(line);
    }
}

// ---------------------------------------------------------------------------------------------
// Ids used by both runs

const std::string template_id =
    "7e570000-0000-4000-8000-000000000021";  // Test ServerPin Diversified
const std::string request_id = "5e1d0000-0000-4000-8000-00000000aaaa";
const std::string smartcard_id = "5e1d0000-0000-4000-8000-00000000bbbb";
const std::string profile_id = "5e1d0000-0000-4000-8000-00000000cccc";

mimcm::CardData card_data() {
    std::array<std::uint8_t, 16> id{};
    for (std::size_t i = 0; i < id.size(); ++i)
        id[i] = static_cast<std::uint8_t>(0x30 + i);
    return mimcm::CardData{mimcm::Atr::from_hex("3b8d0180fba000000397425446590301c8"),
                           mimcm::CardId(id), mimcm::Challenge({1, 2, 3, 4, 5, 6, 7, 8})};
}

// ---------------------------------------------------------------------------------------------
// The fake transport: a CM server in memory whose bodies are SecretStrings.

class WipingFake {
  public:
    struct State {
        bool user_pin_option = false;  ///< the policy lets the user choose the PIN
        int calls = 0;
        int refused = 0;        ///< requests that lacked the bearer token
        int pfx_passwords = 0;  ///< certificatedata bodies that carried the PFX password
    };

    explicit WipingFake(std::shared_ptr<State> state) : state_(std::move(state)) {}

    mimcm::TransportResult send(const mimcm::HttpRequest& request) {
        ++state_->calls;
        mimcm::HttpResponse r;
        r.headers.push_back({"Content-Type", "application/json; charset=utf-8"});
        if (request.bearer_token.reveal() != bearer_token) {
            ++state_->refused;
            r.status = 401;
            r.body.append(R"({"Message":"Authorization has been denied for this request."})");
            return r;
        }
        const std::string path = path_of(request.url);
        const std::string& m = request.method;
        r.status = 200;
        auto ends = [&](std::string_view suffix) {
            return path.size() >= suffix.size() &&
                   path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
        };
        auto json_string = [&](std::string_view text) {
            r.body.append("\"");
            r.body.append(text);
            r.body.append("\"");
        };
        if (m == "GET" && ends("/profiletemplates")) {
            r.body.append(R"([{"Name":"Residue","Uuid":")" + template_id +
                          R"(","IsSmartcardProfileTemplate":true}])");
        } else if (m == "GET" && ends("/policies/enroll")) {
            r.body.append(R"({"Enabled":true,"PolicyDataCollection":[]})");
        } else if (m == "GET" && ends("/configuration/smartcards")) {
            r.body.append(R"({"DefaultAdminKeyHex":")");
            r.body.append(admin_key_hex);
            r.body.append(R"(","DiversifyAdminKey":true,"UserPinOption":")");
            r.body.append(state_->user_pin_option ? "UserProvided" : "ServerDistributed");
            r.body.append("\"}");
        } else if (m == "POST" && ends("/requests")) {
            r.status = 201;
            json_string("api/v1.0/requests/" + request_id);
        } else if (m == "GET" && (ends("/requests") || ends("/requests/" + request_id))) {
            r.body.append(request_json());
        } else if (m == "PUT" && ends("/requests/" + request_id)) {
            r.body.append(request_json());
        } else if (m == "GET" && ends("/certificaterequestgenerationoptions")) {
            r.body.append(R"([{"Subject":"CN=residue","KeyAlgorithmName":"RSA","KeySize":2048}])");
        } else if (m == "POST" && ends("/certificatedata")) {
            if (request.body.reveal().find(pfx_password_prefix) != std::string_view::npos)
                ++state_->pfx_passwords;
            r.body.append(R"([{"TemplateCommonName":"residue","Pkcs7":null,"Pfx":")");
            r.body.append(pfx_json_text().reveal());
            r.body.append(R"(","isServerGenerated":true,"isPfx":true}])");
        } else if (m == "POST" && ends("/smartcards")) {
            r.status = 201;
            json_string("api/v1.0/smartcards/" + smartcard_id);
        } else if (m == "GET" && (ends("/smartcards") || ends("/smartcards/" + smartcard_id))) {
            r.body.append(smartcard_json());
        } else if (m == "PUT" && ends("/smartcards/" + smartcard_id)) {
            r.body.append(smartcard_json());
        } else if (m == "GET" && ends("/authenticationresponse")) {
            json_string(auth_response_base64);
        } else if (m == "GET" && ends("/diversifiedkey")) {
            json_string(diversified_key_base64);
        } else if (m == "GET" && ends("/serverproposedpin")) {
            json_string(proposed_pin);
        } else if (m == "GET" && ends("/operations")) {
            r.body.append(R"(["retire"])");
        } else if (m == "GET" && ends("/certificates")) {
            r.body.append(
                R"([{"IsKeyHistory":false,"ArchivedOnCa":false,"CertificateType":1,)"
                R"("TemplateCommonName":"residue","SerialNumber":"01","Thumbprint":"ab"}])");
        } else if (m == "GET" && (ends("/profiles") || ends("/profiles/" + profile_id))) {
            r.body.append(R"([{"Uuid":")" + profile_id + R"(","Status":2}])");
        } else {
            r.status = 404;
            r.body.append(R"({"Message":"no route"})");
        }
        return r;
    }

  private:
    static std::string path_of(const std::string& url) {
        const auto q = url.find('?');
        return url.substr(0, q);
    }
    static std::string request_json() {
        return R"({"Uuid":")" + request_id + R"(","Status":3,"ProfileTemplateUuid":")" +
               template_id + "\"}";
    }
    static std::string smartcard_json() {
        return R"({"Uuid":")" + smartcard_id + R"(","Status":2,"SerialNumber":"{)" +
               card_data().card_id.guid() + "}\"}";
    }

    std::shared_ptr<State> state_;
};

// ---------------------------------------------------------------------------------------------
// The table

struct Row {
    std::string operation;
    std::string secrets;
    std::string outcome;
    bool expected = true;
    mimcm_residue_counts counts{};
};

mimcm_residue_counts counts_now() {
    mimcm_residue_counts c{};
    mimcm_residue_get_counts(&c);
    return c;
}

mimcm_residue_counts operator-(const mimcm_residue_counts& a, const mimcm_residue_counts& b) {
    return {a.scanned - b.scanned, a.program - b.program, a.libcurl - b.libcurl, a.tls - b.tls,
            a.other_library - b.other_library};
}

struct Table {
    std::vector<Row> rows;

    /// Runs `body` (which returns the outcome's name and whether it is the expected one) and
    /// records what the shim saw meanwhile.
    void run(const std::string& operation, const std::string& secrets,
             const std::function<std::pair<std::string, bool>()>& body) {
        const mimcm_residue_counts before = counts_now();
        std::pair<std::string, bool> outcome;
        try {
            outcome = body();
        } catch (const std::exception& e) {
            outcome = {std::string("exception: ") + e.what(), false};
        }
        Row row{operation, secrets, outcome.first, outcome.second, counts_now() - before};
        rows.push_back(std::move(row));
    }

    [[nodiscard]] bool print(const std::string& title) const {
        std::printf("\n%s\n", title.c_str());
        std::printf("%-44s %-44s %-18s %8s %6s %6s %6s\n", "operation", "secrets", "outcome",
                    "scanned", "sdk", "curl", "tls");
        bool ok = true;
        unsigned long sdk = 0, curl = 0, tls = 0, scanned = 0;
        for (const auto& r : rows) {
            const unsigned long program = r.counts.program + r.counts.other_library;
            std::printf("%-44s %-44s %-18s %8lu %6lu %6lu %6lu%s\n", r.operation.c_str(),
                        r.secrets.c_str(), r.outcome.c_str(), r.counts.scanned, program,
                        r.counts.libcurl, r.counts.tls,
                        (program > 0 || !r.expected) ? "  <-- FAIL" : "");
            ok = ok && program == 0 && r.expected;
            sdk += program;
            curl += r.counts.libcurl;
            tls += r.counts.tls;
            scanned += r.counts.scanned;
        }
        std::printf("%-44s %-44s %-18s %8lu %6lu %6lu %6lu\n", "total", "", "", scanned, sdk, curl,
                    tls);
        return ok;
    }
};

template <class Result>
std::pair<std::string, bool> outcome_of(const Result& result, bool success) {
    return {std::string(mimcm::outcome_name(result)), success};
}

template <class T, class Result>
std::pair<std::string, bool> expect(const Result& result) {
    return outcome_of(result, std::holds_alternative<T>(result));
}

template <class T, class Result>
std::pair<std::string, bool> expect_one_of(const Result& result) {
    return outcome_of(result, std::holds_alternative<T>(result) ||
                                  std::holds_alternative<mimcm::NoContent>(result));
}

// ---------------------------------------------------------------------------------------------
// Every operation, on any transport

template <class Transport>
using MakeClient = std::function<mimcm::BasicClient<Transport>()>;

mimcm::ClientOptions client_options() {
    mimcm::ClientOptions options;
    options.token_provider = mimcm::static_token(SecretString(bearer_token));
    return options;
}

/// `strict`: every operation must succeed (the fake server); otherwise an error answer of the
/// emulator's state is fine for the operations that carry no secret of their own.
template <class Transport>
void all_operations(Table& table, const MakeClient<Transport>& make, bool strict,
                    const std::string& card_guid) {
    using namespace mimcm;
    const ProfileTemplateId tpl = ProfileTemplateId::parse(template_id);
    auto lenient = [&](std::pair<std::string, bool> o) {
        if (!strict && o.first != "transport_failure" && o.first != "protocol_error" &&
            o.first != "unauthorized")
            o.second = true;
        return o;
    };
    // The request and card the operations work on: the fake's fixed ids, or created on the
    // emulator by the operations themselves.
    RequestId request = RequestId::parse(request_id);
    SmartcardId smartcard = SmartcardId::parse(smartcard_id);
    const CardData card{card_data().atr, CardId::from_guid(card_guid), card_data().challenge};

    table.run("1 list_profile_templates", "token", [&] {
        auto c = make();
        return expect<std::vector<ProfileTemplateView>>(c.list_profile_templates());
    });
    table.run("2 get_workflow_policy", "token", [&] {
        auto c = make();
        return expect<WorkflowPolicy>(c.get_workflow_policy(tpl, WorkflowType::enroll));
    });
    table.run("3 get_smartcard_policy", "token, admin key", [&] {
        auto c = make();
        auto result = c.get_smartcard_policy(tpl);
        const auto* p = std::get_if<SmartcardPolicy>(&result);
        return outcome_of(result, p && p->default_admin_key_hex.reveal() == admin_key_hex);
    });
    table.run("4 create_request", "token", [&] {
        auto c = make();
        NewRequest n;
        n.profile_template = tpl;
        n.data_collection = {{"Request Reason", "residue test"}};
        auto result = c.create_request(n);
        if (const auto* created = std::get_if<Created<RequestId>>(&result))
            request = created->id;
        return expect<Created<RequestId>>(result);
    });
    table.run("5 list_requests", "token", [&] {
        auto c = make();
        return expect<std::vector<Request>>(c.list_requests());
    });
    table.run("6 get_request", "token", [&] {
        auto c = make();
        return expect<Request>(c.get_request(request));
    });
    table.run("8 get_certificate_request_generation_options", "token", [&] {
        auto c = make();
        return expect<std::vector<CertificateRequestGenerationOptions>>(
            c.get_certificate_request_generation_options(request));
    });
    table.run("10 assign_smartcard", "token", [&] {
        auto c = make();
        auto result = c.assign_smartcard(request, card.card_id, card.atr);
        if (const auto* created = std::get_if<Created<SmartcardId>>(&result))
            smartcard = created->id;
        return expect<Created<SmartcardId>>(result);
    });
    table.run("11 find_smartcards", "token", [&] {
        auto c = make();
        return expect<std::vector<Smartcard>>(c.find_smartcards(card.card_id));
    });
    table.run("12 get_smartcard", "token", [&] {
        auto c = make();
        return expect<Smartcard>(c.get_smartcard(smartcard));
    });
    table.run("13 get_authentication_response", "token, challenge response", [&] {
        auto c = make();
        auto result = c.get_authentication_response(
            request, smartcard, card.card_id, card.challenge, AdminKey::diversified, card.atr);
        const auto* blob = std::get_if<SecretBlob>(&result);
        return outcome_of(result, blob && same_bytes(blob->bytes, auth_response));
    });
    table.run("14 get_diversified_admin_key", "token, diversified key", [&] {
        auto c = make();
        auto result = c.get_diversified_admin_key(request, smartcard, card.card_id, card.atr);
        const auto* blob = std::get_if<SecretBlob>(&result);
        return outcome_of(result, blob && same_bytes(blob->bytes, diversified_key));
    });
    table.run("15 server_proposed_pin", "token, PIN", [&] {
        auto c = make();
        // A card id the emulator has not bound: its configured default outcome answers.
        auto result = c.server_proposed_pin(
            strict ? smartcard : SmartcardId::parse("5e1d0000-0000-4000-8000-00000000dddd"), card);
        const auto* pin = std::get_if<PinProposed>(&result);
        return outcome_of(result, pin && pin->pin.reveal() == proposed_pin);
    });
    table.run("9 submit_certificate_requests", "token, PFX password, PFX", [&] {
        auto c = make();
        CertificateData data;
        data.pfx_password = pfx_password();
        // A real PKCS#10 is not needed: the emulator's injected answer comes after its body checks.
        data.certificate_requests = {"MIIBresidueAAAAA"};
        auto result = c.submit_certificate_requests(request, data);
        const auto* certs = std::get_if<std::vector<Certificate>>(&result);
        bool pfx = certs && certs->size() == 1 && (*certs)[0].pfx &&
                   (*certs)[0].pfx->size() == static_cast<std::size_t>(pfx_lines) * 64;
        return outcome_of(result, pfx);
    });
    table.run("16 update_smartcard_status", "token", [&] {
        auto c = make();
        return lenient(expect<Smartcard>(
            c.update_smartcard_status(request, smartcard, SmartcardStatus::active)));
    });
    table.run("7 set_request_status", "token", [&] {
        auto c = make();
        return lenient(expect<Request>(c.set_request_status(request, RequestStatus::canceled)));
    });
    const ProfileId profile = ProfileId::parse(profile_id);
    table.run("17 list_profiles", "token", [&] {
        auto c = make();
        return expect<std::vector<Profile>>(c.list_profiles());
    });
    table.run("18 get_profile", "token", [&] {
        auto c = make();
        return expect<std::vector<Profile>>(c.get_profile(profile));
    });
    table.run("19 list_request_profiles", "token", [&] {
        auto c = make();
        return expect<std::vector<Profile>>(c.list_request_profiles(request));
    });
    table.run("20 get_profile_operations", "token", [&] {
        auto c = make();
        return lenient(expect<std::vector<std::string>>(c.get_profile_operations(profile)));
    });
    table.run("21 get_smartcard_operations", "token", [&] {
        auto c = make();
        return expect<std::vector<std::string>>(c.get_smartcard_operations(smartcard));
    });
    table.run("22 get_profile_certificates", "token", [&] {
        auto c = make();
        return lenient(expect<std::vector<ClmCertificate>>(c.get_profile_certificates(profile)));
    });
    table.run("23 get_smartcard_certificates", "token", [&] {
        auto c = make();
        return expect<std::vector<ClmCertificate>>(c.get_smartcard_certificates(smartcard));
    });
    table.run("24 get_user_certificates", "token", [&] {
        auto c = make();
        return expect<std::vector<ClmCertificate>>(c.get_user_certificates());
    });
}

// ---------------------------------------------------------------------------------------------
// The enrollment flow over the fake server, with a card that takes what it is given

class FakeCard {
  public:
    explicit FakeCard(bool piv) : piv_(piv) {}
    mimcm::CardData read() { return card_data(); }
    [[nodiscard]] bool supports(mimcm::card::CardOperation operation) const {
        using mimcm::card::CardOperation;
        if (operation == CardOperation::set_pin_with_admin_key)
            return !piv_;
        if (operation == CardOperation::set_pin_with_puk)
            return piv_;
        return true;
    }
    void set_admin_key(const mimcm::SecretBytes& response, const mimcm::SecretBytes& new_key) {
        ok_ = ok_ && same(response, auth_response) && same(new_key, diversified_key);
        ++writes_;
    }
    void set_user_pin(const mimcm::SecretBytes& response, const mimcm::SecretString& pin) {
        ok_ = ok_ && same(response, auth_response) && pin.reveal() == proposed_pin;
        ++writes_;
    }
    void reset_pin_with_puk(const mimcm::SecretString& given_puk, const mimcm::SecretString& pin) {
        ok_ = ok_ && given_puk.reveal() == puk && pin.reveal() == user_pin;
        ++writes_;
    }
    void finish() noexcept {}
    [[nodiscard]] bool ok() const { return ok_ && writes_ == 2; }

  private:
    static bool same(const mimcm::SecretBytes& bytes, std::string_view expected) {
        return same_bytes(bytes, expected);
    }
    bool piv_;
    bool ok_ = true;
    int writes_ = 0;
};

void enrollment(Table& table, bool piv) {
    const std::string name =
        piv ? "enrollment (PIV: PUK, user PIN)" : "enrollment (GIDS: server-proposed PIN)";
    table.run(name, piv ? "token, keys, PUK, user PIN, PFX" : "token, keys, PIN, PFX", [&] {
        auto state = std::make_shared<WipingFake::State>();
        state->user_pin_option = piv;
        mimcm::BasicClient<WipingFake> client(mimcm::CmUrl::parse("https://cm.example"),
                                              WipingFake(state), client_options());
        FakeCard card(piv);
        mimcm::EnrollmentOptions options;
        options.profile_template = "Residue";
        options.user_pin = [] { return SecretString(user_pin); };
        options.puk = [] { return std::optional<SecretString>(SecretString(puk)); };
        options.make_certificate_requests = [](const auto& generation) {
            return std::vector<std::string>(generation.size(), "MIIBresidueAAAAA");
        };
        mimcm::Enrollment<WipingFake, FakeCard> flow(client, card, options);
        const mimcm::EnrollmentReport report = flow.run();
        const bool pfx = report.certificates.size() == 1 && report.certificates[0].pfx;
        return std::pair<std::string, bool>(
            report.succeeded ? "succeeded" : report.error,
            report.succeeded && card.ok() && pfx && state->refused == 0);
    });
}

// ---------------------------------------------------------------------------------------------
// The card layer: every operation that sends a key, a challenge response, a PIN or a PUK, over a
// channel that accepts everything (and keeps nothing)

class AcceptingChannel : public mimcm::card::ApduChannel {
  public:
    mimcm::Bytes transmit_raw(const mimcm::Bytes& command) override {
        ++commands;
        last_size = command.size();
        return {0x90, 0x00};
    }
    int commands = 0;
    std::size_t last_size = 0;
};

mimcm::SecretBytes secret_bytes(std::string_view text) {
    std::vector<std::uint8_t> bytes;
    bytes.reserve(text.size());
    bytes.insert(bytes.end(), text.begin(), text.end());
    return mimcm::SecretBytes(std::move(bytes));
}

template <class Profile, class Body>
void card_operation(Table& table, const std::string& name, const std::string& secrets, Body body) {
    table.run(name, secrets, [&] {
        AcceptingChannel channel;
        Profile profile;
        body(profile, channel);
        return std::pair<std::string, bool>(channel.commands == 1 ? "sent" : "not sent",
                                            channel.commands == 1);
    });
}

void card_operations(Table& table) {
    using mimcm::card::GidsProfile;
    using mimcm::card::PivProfile;
    card_operation<GidsProfile>(table, "card: GIDS authenticate_admin", "challenge response",
                                [](auto& profile, auto& channel) {
                                    profile.authenticate_admin(channel,
                                                               secret_bytes(auth_response));
                                });
    card_operation<GidsProfile>(table, "card: GIDS set_admin_key", "admin key",
                                [](auto& profile, auto& channel) {
                                    profile.set_admin_key(channel, secret_bytes(diversified_key));
                                });
    card_operation<GidsProfile>(table, "card: GIDS set_user_pin", "PIN",
                                [](auto& profile, auto& channel) {
                                    profile.set_user_pin(channel, SecretString(card_pin));
                                });
    card_operation<PivProfile>(table, "card: PIV authenticate_admin", "challenge response",
                               [](auto& profile, auto& channel) {
                                   profile.authenticate_admin(channel, secret_bytes(auth_response));
                               });
    card_operation<PivProfile>(table, "card: PIV set_admin_key", "admin key",
                               [](auto& profile, auto& channel) {
                                   profile.set_admin_key(channel, secret_bytes(diversified_key));
                               });
    card_operation<PivProfile>(
        table, "card: PIV reset_pin_with_puk", "PUK, PIN", [](auto& profile, auto& channel) {
            profile.reset_pin_with_puk(channel, SecretString(piv_puk), SecretString(piv_pin));
        });
}

int run_fake() {
    Table table;
    auto state = std::make_shared<WipingFake::State>();
    const MakeClient<WipingFake> make = [&] {
        return mimcm::BasicClient<WipingFake>(mimcm::CmUrl::parse("https://cm.example"),
                                              WipingFake(state), client_options());
    };
    all_operations<WipingFake>(table, make, true, card_data().card_id.guid());
    enrollment(table, false);
    enrollment(table, true);
    card_operations(table);
    const bool ok = table.print("secret residue, fake transport (wiping bodies)") &&
                    state->refused == 0 && state->pfx_passwords == 1;
    std::printf("\n%s: the SDK left %s secret in freed memory over the fake transport\n",
                ok ? "PASS" : "FAIL", ok ? "no" : "a");
    return ok ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// The curl transport against an emulator of our own

class OwnEmulator {
  public:
    explicit OwnEmulator(const std::string& rig) {
        char dir[] = "/tmp/mimcm-residue-XXXXXX";
        if (::mkdtemp(dir) == nullptr)
            throw std::runtime_error("mkdtemp failed");
        dir_ = dir;
        const std::string config = dir_ + "/config.json";
        std::ofstream(config) << R"({"default":{"outcome":"pin","pin":")" << proposed_pin << "\"}}";
        const std::string port_file = dir_ + "/ports.json";
        const std::string script = std::string(MIMCM_SOURCE_DIR) + "/tests/rig/cm_emulator.py";
        const std::string certs = rig + "/certs";
        const std::string token(bearer_token);
        pid_ = ::fork();
        if (pid_ == 0) {
            ::unsetenv("LD_PRELOAD");  // the emulator is Python: not what is under test
            std::freopen((dir_ + "/emulator.log").c_str(), "w", stderr);
            ::execlp("python3", "python3", script.c_str(), "--http-port", "0", "--https-port", "0",
                     "--cert-dir", certs.c_str(), "--port-file", port_file.c_str(), "--config",
                     config.c_str(), "--bearer-token", token.c_str(), "-q",
                     static_cast<char*>(nullptr));
            std::_Exit(127);
        }
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < deadline) {
            std::ifstream in(port_file);
            std::string text((std::istreambuf_iterator<char>(in)), {});
            const auto http = text.find("\"http\":");
            const auto https = text.find("\"https\":");
            if (http != std::string::npos && https != std::string::npos) {
                http_port_ = std::atoi(text.c_str() + http + 7);
                https_port_ = std::atoi(text.c_str() + https + 8);
                break;
            }
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (http_port_ <= 0)
            throw std::runtime_error("the CM emulator did not start (see " + dir_ +
                                     "/emulator.log)");
    }
    ~OwnEmulator() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
    }
    OwnEmulator(const OwnEmulator&) = delete;
    OwnEmulator& operator=(const OwnEmulator&) = delete;

    [[nodiscard]] std::string http() const {
        return "http://127.0.0.1:" + std::to_string(http_port_) + "/CertificateManagement";
    }
    [[nodiscard]] std::string https() const {
        return "https://localhost:" + std::to_string(https_port_) + "/CertificateManagement";
    }

    /// Arms answers with the secrets of known value (before any marker is registered: the
    /// control request holds them in plain strings).
    void arm_secret_answers() {
        std::string pfx =
            R"([{"TemplateCommonName":"residue","CertificateId":0,"Pkcs7":null,"Pfx":")";
        for (int i = 1; i <= pfx_lines; ++i)
            pfx += pfx_line(i) + (i < pfx_lines ? "\\r\\n" : "");
        pfx += R"(","isServerGenerated":true,"isPfx":true}])";
        const std::string body =
            R"({"GetSmartcardPolicy":{"status":200,"times":1000,"body":{"DefaultAdminKeyHex":")" +
            std::string(admin_key_hex) +
            R"(","DiversifyAdminKey":true,"UserPinOption":"ServerDistributed"}},)"
            R"("GetCertificateResponses":{"status":200,"times":1000,"body":)" +
            pfx + R"(},"GetSmartcardDiversifiedAdminKey":{"status":200,"times":1000,"body":")" +
            std::string(diversified_key_base64) +
            R"("},"GetSmartcardAuthenticationResponse":{"status":200,"times":1000,"body":")" +
            std::string(auth_response_base64) + R"("}})";
        mimcm::CurlOptions options;
        options.proxy = "";
        mimcm::CurlTransport control(std::move(options));
        mimcm::HttpRequest request;
        request.method = "PUT";
        request.url = "http://127.0.0.1:" + std::to_string(http_port_) + "/_emulator/faults";
        request.headers.push_back({"Content-Type", "application/json"});
        request.body.append(body);
        auto result = control.send(request);
        const auto* response = std::get_if<mimcm::HttpResponse>(&result);
        if (!response || response->status != 200)
            throw std::runtime_error("the emulator refused the injected answers");
    }

  private:
    std::string dir_;
    pid_t pid_ = -1;
    int http_port_ = 0;
    int https_port_ = 0;
};

/// OpenSSL (3.0 and newer) decrypts each TLS record in place in its read buffer, so the last
/// response stays there in plain text until the connection is freed, unwiped.
/// SSL_OP_CLEANSE_PLAINTEXT makes it wipe the plain text once read. Set through the transport's
/// configure hook; the function is looked up in the libssl libcurl loaded (no OpenSSL headers).
void cleanse_tls_plaintext(CURL* curl) {
    const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
    if (info == nullptr || info->ssl_version == nullptr ||
        std::string_view(info->ssl_version).rfind("OpenSSL/3", 0) != 0)
        return;
    curl_easy_setopt(
        curl, CURLOPT_SSL_CTX_FUNCTION, +[](CURL*, void* ssl_ctx, void*) -> CURLcode {
            using SetOptions = std::uint64_t (*)(void*, std::uint64_t);
            static const auto set_options =
                reinterpret_cast<SetOptions>(::dlsym(RTLD_DEFAULT, "SSL_CTX_set_options"));
            constexpr std::uint64_t cleanse_plaintext = std::uint64_t{1} << 1;  // OpenSSL 3.0
            if (set_options == nullptr)
                return CURLE_SSL_ENGINE_INITFAILED;
            set_options(ssl_ctx, cleanse_plaintext);
            return CURLE_OK;
        });
}

int run_curl(const std::string& rig, mimcm::CurlMemory memory) {
    mimcm::CurlGlobal curl_global(memory);
    OwnEmulator emulator(rig);
    emulator.arm_secret_answers();
    register_markers();
    bool ok = true;
    int round = 0;
    for (const bool tls : {false, true}) {
        Table table;
        const std::string url = tls ? emulator.https() : emulator.http();
        const MakeClient<mimcm::CurlTransport> make = [&] {
            mimcm::CurlOptions options;
            options.proxy = "";
            options.ca_file = rig + "/certs/ca.pem";
            // A proxy password the transport holds (no proxy is used: curl keeps it anyway).
            options.proxy_user = "residue";
            options.proxy_password = SecretString(proxy_password);
            if (memory == mimcm::CurlMemory::wiped)
                options.configure = cleanse_tls_plaintext;
            return mimcm::BasicClient<mimcm::CurlTransport>(
                mimcm::CmUrl::parse(url), mimcm::CurlTransport(std::move(options)),
                client_options());
        };
        // A fresh card id per round: the emulator binds a card to one request.
        std::string guid = card_data().card_id.guid();
        guid.replace(guid.size() - 1, 1, std::to_string(++round));
        all_operations<mimcm::CurlTransport>(table, make, false, guid);
        ok = table.print(std::string("secret residue, curl transport over ") +
                         (tls ? "HTTPS" : "HTTP") + " against the CM emulator, libcurl memory " +
                         (memory == mimcm::CurlMemory::wiped ? "wiped" : "system")) &&
             ok;
    }
    std::printf(
        "\n%s: the SDK left %s secret in freed memory over libcurl (hits attributed to "
        "libcurl and the TLS library are theirs: see the table)\n",
        ok ? "PASS" : "FAIL", ok ? "no" : "a");
    if (memory == mimcm::CurlMemory::wiped) {
        const mimcm_residue_counts counts = counts_now();
        std::printf(
            "%s: with CurlMemory::wiped and SSL_OP_CLEANSE_PLAINTEXT, libcurl left %lu "
            "secrets in freed memory, the TLS library %lu\n",
            counts.libcurl + counts.tls == 0 ? "PASS" : "FAIL", counts.libcurl, counts.tls);
        ok = ok && counts.libcurl + counts.tls == 0;
    }
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (mimcm_residue_active == nullptr || mimcm_residue_add_marker == nullptr ||
        mimcm_residue_get_counts == nullptr) {
        std::fprintf(stderr, "FAIL: the residue shim is not loaded (LD_PRELOAD)\n");
        return 2;
    }
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "fake") {
        register_markers();
        return run_fake();
    }
    if (mode == "curl" && argc > 2) {
        const bool wiped = argc > 3 && std::string_view(argv[3]) == "--wipe-libcurl-memory";
        return run_curl(argv[2], wiped ? mimcm::CurlMemory::wiped : mimcm::CurlMemory::system);
    }
    std::fprintf(stderr, "usage: residue_driver fake | curl RIG_DIR [--wipe-libcurl-memory]\n");
    return 2;
}
