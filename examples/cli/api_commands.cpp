// mimcm-cli commands on the CM REST API beyond the proposed PIN: templates, requests, smart
// cards, and the full enrollment of a card.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "cli.hpp"
#include "mimcm/enrollment.hpp"
#include "mimcm/pcsc/enrollment.hpp"

namespace mimcm_cli {
namespace {

void print_request(const Args& args, const mimcm::Request& r) {
    if (args.json) {
        JsonOut()
            .field("outcome", std::string_view("ok"))
            .id_field("uuid", r.uuid)
            .field("request_type", static_cast<int>(r.request_type))
            .field("status", static_cast<int>(r.status))
            .id_field("profile_template_uuid", r.profile_template_uuid)
            .id_field("new_smartcard_uuid", r.new_smartcard_uuid)
            .field("submitted", r.submitted)
            .field("completed", r.completed)
            .print();
        return;
    }
    std::cout << "request:   " << id_text(r.uuid) << "\n"
              << "type:      " << r.request_type << "\n"
              << "status:    " << r.status << "\n"
              << "template:  " << id_text(r.profile_template_uuid) << "\n"
              << "smartcard: " << id_text(r.new_smartcard_uuid) << "\n"
              << "submitted: " << r.submitted << "\n"
              << "completed: " << r.completed << "\n";
}

void print_smartcard(const Args& args, const mimcm::Smartcard& s) {
    if (args.json) {
        JsonOut()
            .field("outcome", std::string_view("ok"))
            .id_field("uuid", s.uuid)
            .field("status", static_cast<int>(s.status))
            .field("serial_number", s.serial_number)
            .field("atr", s.atr)
            .id_field("profile_template_uuid", s.profile_template_uuid)
            .print();
        return;
    }
    std::cout << "smartcard: " << id_text(s.uuid) << "\n"
              << "status:    " << s.status << "\n"
              << "serial:    " << s.serial_number << "\n"
              << "atr:       " << s.atr << "\n"
              << "template:  " << id_text(s.profile_template_uuid) << "\n";
}

/// Prints the success value or reports the failure; the exit code.
template <class T, class Result, class Print>
int show(const Args& args, const Result& result, Print print) {
    if (const auto* value = std::get_if<T>(&result)) {
        print(*value);
        return 0;
    }
    return report_failure(args, result);
}

/// A PKCS#10 request file (PEM or DER) as the base64 DER the API wants.
std::string read_csr(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw UsageError{"cannot read --csr '" + path + "'"};
    std::stringstream s;
    s << in.rdbuf();
    const std::string text = s.str();
    const auto begin = text.find("-----BEGIN");
    if (begin == std::string::npos) {
        return mimcm::base64_encode(reinterpret_cast<const std::uint8_t*>(text.data()),
                                    text.size());
    }
    const auto body = text.find('\n', begin);
    const auto end = text.find("-----END", body);
    std::string base64;
    for (const char c : text.substr(body, end - body)) {
        if (c != '\n' && c != '\r')
            base64.push_back(c);
    }
    return base64;
}

}  // namespace

int cmd_templates(const Args& args) {
    auto client = make_client(args);
    const auto result = client.list_profile_templates({}, call_context());
    return show<std::vector<mimcm::ProfileTemplateView>>(args, result, [&](const auto& templates) {
        if (args.json) {
            JsonOut out;
            out.field("outcome", std::string_view("ok"));
            auto& w = out.writer();
            w.Key("templates");
            w.StartArray();
            for (const auto& t : templates) {
                w.StartObject();
                w.Key("uuid");
                if (t.uuid)
                    w.String(t.uuid->str().c_str());
                else
                    w.Null();
                w.Key("name");
                w.String(t.name.c_str());
                w.Key("smartcard");
                w.Bool(t.is_smartcard);
                w.Key("virtual_smartcard");
                w.Bool(t.is_virtual_smartcard);
                w.EndObject();
            }
            w.EndArray();
            out.print();
            return;
        }
        for (const auto& t : templates) {
            const char* kind = t.is_virtual_smartcard ? "virtual smart card"
                               : t.is_smartcard       ? "smart card"
                                                      : "software";
            std::cout << id_text(t.uuid) << "\t" << t.name << "\t" << kind << "\n";
        }
    });
}

int cmd_request(const Args& args) {
    if (args.command == "request create") {
        const auto profile_template = id_option<mimcm::ProfileTemplateId>(args, "template");
        auto client = make_client(args);
        mimcm::NewRequest request;
        request.profile_template = profile_template;
        request.comment = args.get("comment").value_or("");
        request.data_collection = args.data;
        const auto result = client.create_request(request, call_context());
        using Created = mimcm::Created<mimcm::RequestId>;
        return show<Created>(args, result, [&](const Created& created) {
            if (args.json) {
                JsonOut()
                    .field("outcome", std::string_view("ok"))
                    .field("request", created.id.str())
                    .print();
            } else {
                std::cout << created.id.str() << "\n";
            }
        });
    }
    const auto id = id_option<mimcm::RequestId>(args, "request");
    auto client = make_client(args);
    const auto print = [&](const mimcm::Request& r) { print_request(args, r); };
    if (args.command == "request show")
        return show<mimcm::Request>(args, client.get_request(id, call_context()), print);
    const auto status = args.command == "request complete" ? mimcm::RequestStatus::completed
                                                           : mimcm::RequestStatus::canceled;
    return show<mimcm::Request>(args, client.set_request_status(id, status, call_context()), print);
}

int cmd_smartcard(const Args& args) {
    if (args.command == "smartcard show") {
        const mimcm::SmartcardId id = [&] {
            try {
                return mimcm::SmartcardId::parse(args.require("smartcard-id"));
            } catch (const mimcm::InvalidArgument& e) {
                throw UsageError{e.what()};
            }
        }();
        auto client = make_client(args);
        return show<mimcm::Smartcard>(args, client.get_smartcard(id, call_context()),
                                      [&](const mimcm::Smartcard& s) { print_smartcard(args, s); });
    }
    // smartcard find: by --card-id, or by the card in the reader.
    auto client = make_client(args);
    std::optional<mimcm::CardId> card_id;
    if (auto given = args.get("card-id")) {
        try {
            card_id = mimcm::CardId::from_guid(*given);
        } catch (const mimcm::InvalidArgument& e) {
            throw UsageError{e.what()};
        }
    } else {
        const auto profile = checked_profile(args);
        card_id = read_card(args, profile).card.card_id;
    }
    return show<std::vector<mimcm::Smartcard>>(
        args, client.find_smartcards(card_id, call_context()), [&](const auto& cards) {
            if (cards.empty())
                std::cerr << "mimcm-cli: no smart card with card id " << card_id->guid() << "\n";
            for (const auto& s : cards)
                print_smartcard(args, s);
        });
}

int cmd_enroll(const Args& args) {
    const std::string profile_template = args.require("template");
    std::vector<std::string> csrs;
    if (auto csr = args.get("csr"))
        csrs.push_back(read_csr(*csr));
    const auto profile = checked_profile(args);
    auto client = make_client(args);

    mimcm::pcsc::Context context;
    mimcm::pcsc::ReadOptions read;
    read.reader = args.get("reader");
    read.profiles = profile;
    read.wait_for_card = seconds_option(args, "wait-card", std::chrono::milliseconds(0));
    mimcm::pcsc::EnrollmentCard card(context, read);

    mimcm::EnrollmentOptions options;
    // After Ctrl-C the request is canceled on the server within the second the user waits.
    options.cleanup_timeout = std::chrono::milliseconds(600);
    options.profile_template = profile_template;
    options.comment = args.get("comment").value_or("");
    options.data_collection = args.data;
    options.user_pin = [] {
        return secret_from_env_or_prompt("MIMCM_PIN", "New PIN for the card: ");
    };
    // A PIV card takes a new PIN only with its PUK: from MIMCM_PUK, else the user sets the PIN.
    options.puk = []() -> std::optional<mimcm::SecretString> {
        if (const char* puk = std::getenv("MIMCM_PUK"))
            return mimcm::SecretString(puk);
        return std::nullopt;
    };
    options.make_certificate_requests =
        [&](const std::vector<mimcm::CertificateRequestGenerationOptions>& wanted) {
            if (csrs.size() != wanted.size()) {
                throw std::runtime_error("the template wants " + std::to_string(wanted.size()) +
                                         " certificate request(s): give them with --csr");
            }
            return csrs;
        };
    int number = 0;
    options.progress = [&](mimcm::EnrollmentStep step, mimcm::StepEvent event) {
        if (event == mimcm::StepEvent::started) {
            std::cerr << "[" << ++number << "] " << mimcm::to_string(step) << " ..." << std::flush;
        } else {
            std::cerr << " done\n";
        }
    };
    mimcm::Enrollment<mimcm::CurlTransport, mimcm::pcsc::EnrollmentCard> enrollment(client, card,
                                                                                    options);
    const mimcm::EnrollmentReport report = enrollment.run(call_context());
    if (report.succeeded) {
        if (args.json) {
            JsonOut()
                .field("outcome", std::string_view("enrolled"))
                .field("request", report.request->str())
                .field("smartcard", report.smartcard->str())
                .field("certificates", static_cast<int>(report.certificates.size()))
                .field("pin_proposed_by_server", report.pin_proposed_by_server)
                .field("pin", mimcm::to_string(report.pin))
                .print();
        } else {
            std::cout << "enrolled: request " << report.request->str() << ", smart card "
                      << report.smartcard->str() << ", " << report.certificates.size()
                      << " certificate(s)\n";
        }
        if (report.pin == mimcm::PinOutcome::left_to_user) {
            std::cerr << "mimcm-cli: the PIN was not set: this card takes a new PIN only with its "
                         "PUK (set MIMCM_PUK); set the PIN with the card's own tool.\n";
        }
        return 0;
    }
    // What became of the request the flow created: canceled by the flow, or still open.
    std::string request_note;
    if (report.request) {
        request_note = "request " + report.request->str();
        if (report.request_cleanup == mimcm::RequestCleanup::canceled) {
            request_note += " set to Canceled on the server";
        } else {
            request_note += " is still open on the server (" + report.cleanup_error +
                            "): cancel it with 'mimcm-cli request cancel --request " +
                            report.request->str() + "'";
        }
    }
    if (report.failure_outcome == "cancelled" || interrupted()) {
        if (!interrupt().reported.exchange(true)) {
            const std::string message =
                "cancelled" + (request_note.empty() ? std::string() : "; " + request_note);
            std::cerr << "\nmimcm-cli: " << message << "\n";
            if (args.json) {
                JsonOut out;
                out.field("outcome", std::string_view("cancelled")).field("message", message);
                if (report.request) {
                    out.field("request", report.request->str())
                        .field("request_cleanup", mimcm::to_string(report.request_cleanup));
                }
                out.print();
            }
        }
        return exit_cancelled;
    }
    std::cerr << " failed\nmimcm-cli: enrollment failed at '"
              << mimcm::to_string(*report.failed_step) << "': " << report.error << "\n";
    if (!request_note.empty())
        std::cerr << "  The " << request_note << ".\n";
    // What the card already took before the failure, so nobody has to guess its state.
    if (report.pin == mimcm::PinOutcome::set)
        std::cerr << "  The card's PIN was already changed.\n";
    if (report.admin_key_changed)
        std::cerr << "  The card's admin key was already changed.\n";
    if (report.card_state_unknown) {
        std::cerr << "  The card failed in the middle of a write: it may hold the new admin key or "
                     "PIN already. Check the card before it is used again.\n";
    }
    if (args.json) {
        JsonOut out;
        out.field("outcome", report.failure_outcome)
            .field("failure_source", mimcm::to_string(report.failure_source))
            .field("failed_step", mimcm::to_string(*report.failed_step))
            .field("message", report.error)
            .field("pin", mimcm::to_string(report.pin))
            .field("admin_key_changed", report.admin_key_changed)
            .field("card_state_unknown", report.card_state_unknown);
        if (report.request) {
            out.field("request", report.request->str())
                .field("request_cleanup", mimcm::to_string(report.request_cleanup));
        }
        if (report.smartcard)
            out.field("smartcard", report.smartcard->str());
        out.print();
    }
    return exit_code_for(report.failure_outcome);
}

}  // namespace mimcm_cli
