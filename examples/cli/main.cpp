// mimcm-cli: reads a smart card over PC/SC and asks a MIM CM server for the PIN it proposes.
//
//   mimcm-cli readers
//   mimcm-cli read-card [--reader NAME] [--profile auto|gids|piv] [--wait-card SECONDS] [--json]
//   mimcm-cli proposed-pin --server URL --smartcard-id GUID [options]
//
// Exit codes are part of the contract (see kUsage). Messages go to stderr; stdout carries only the
// result (the PIN, or one JSON object with --json). The PIN never goes to stderr.
#if !defined(_WIN32)
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#endif

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "mimcm/mimcm.hpp"

#include "cli.hpp"

namespace mimcm_cli {
namespace {

constexpr const char* kUsage = R"(mimcm-cli: MIM Certificate Management client for smart cards

Usage:
  mimcm-cli readers [--json]
  mimcm-cli read-card [--reader NAME] [--profile auto|gids|piv] [--wait-card SECONDS] [--json]
  mimcm-cli proposed-pin --server URL --smartcard-id GUID [--reader NAME]
                         [--profile auto|gids|piv] [--ca-file PATH] [--timeout SECONDS]
                         [--retries N] [--wait-card SECONDS] [--json] [--verbose]
                         [--negotiate | --ntlm-user DOMAIN\USER | --token-file PATH]
                         [--client-cert PATH [--client-key PATH]] [--pin-pubkey sha256//...]
                         [--proxy URL] [--insecure]
  mimcm-cli templates --server URL [login/TLS options] [--json]
  mimcm-cli request create --server URL --template GUID [--comment TEXT] [--data NAME=VALUE]...
  mimcm-cli request show|complete|cancel --server URL --request GUID
  mimcm-cli smartcard show --server URL --smartcard-id GUID
  mimcm-cli smartcard find --server URL [--card-id GUID | --reader NAME]
  mimcm-cli enroll --server URL --template NAME|GUID [--reader NAME] [--profile auto|gids|piv]
                   [--csr PATH] [--comment TEXT] [--data NAME=VALUE]... [--wait-card SECONDS]
  mimcm-cli --help | --version

Every command that talks to the server takes --ca-file, --timeout, --retries, --json, --verbose
and the login and TLS options below. enroll runs the documented enrollment of the card in the reader
(request, card binding, admin key diversification, PIN, certificates) with progress on stderr;
the PIN comes from the server's proposal, or from MIMCM_PIN or a prompt when the user chooses it;
a PIV card takes a new PIN only with its PUK, from MIMCM_PUK (without it the PIN is left to the user).

proposed-pin reads the card's ATR, card id and a fresh challenge, then asks the CM server
(e.g. https://cm.contoso.com/CertificateManagement) for the PIN it proposes for the smart card
GUID, and prints only that PIN on stdout.

Options:
  --server URL         CM web application URL; a URL with no path means /CertificateManagement
  --smartcard-id GUID  the CM smart card id (Smartcard.Uuid)
  --reader NAME        PC/SC reader name (default: the first reader with a card)
  --profile NAME       how to read the card: auto (default), gids or piv
  --ca-file PATH       PEM file of CAs to trust for HTTPS (default: the system store)
  --timeout SECONDS    limit for the whole HTTP call (default 30)
  --retries N          send a GET or status PUT again up to N times (0 to 10; default 2) after
                       408, 429, 502, 503, 504 or a connection that failed before any answer,
                       waiting 0.5 s, 1 s... with jitter, or the server's Retry-After (up to
                       10 s); 0 sends every call once. A POST is never sent twice.
  --wait-card SECONDS  wait up to SECONDS for a card to be inserted (default 0: do not wait)
  --json               print one JSON object with an "outcome" field on stdout
  --verbose            log the HTTP exchange on stderr (query values redacted, never the PIN)

Logging in (one of):
  --negotiate          Windows Integrated Authentication with your Kerberos ticket (kinit)
  --ntlm-user D\U      NTLM as DOMAIN\USER; the password comes from MIMCM_PASSWORD or a prompt
  --token-file PATH    ADFS bearer token read from PATH (read again after a 401)
TLS and network:
  --client-cert PATH   TLS client certificate: PEM, or PKCS#12 (.p12/.pfx); its password
                       comes from MIMCM_CLIENT_CERT_PASSWORD
  --client-key PATH    PEM private key of --client-cert
  --pin-pubkey PIN     also require the server's public key to match sha256//<base64>
  --proxy URL          proxy to use ("" for none; default: the environment's https_proxy...)
  --insecure           do not verify the server's certificate (test servers only; warns)

Exit codes:
  0 PIN printed             3 no PIN proposed (204): the user chooses one
  4 forbidden or unauthorized (403/401)   5 server error (5xx)
  6 other HTTP status or protocol error   7 transport or TLS failure, timeout included
  8 card or PC/SC failure   2 usage error or invalid input (nothing was sent)
  130 interrupted (Ctrl-C, SIGTERM): the command stops within a second; enroll first sets
      the request it created to Canceled on the server
)";

int cmd_readers(const Args& args) {
    mimcm::pcsc::Context context;
    const auto readers = mimcm::pcsc::list_readers(context);
    if (args.json) {
        JsonOut out;
        out.field("outcome", std::string_view("readers"));
        auto& w = out.writer();
        w.Key("readers");
        w.StartArray();
        for (const auto& r : readers) {
            w.StartObject();
            w.Key("name");
            w.String(r.name.c_str());
            w.Key("card_present");
            w.Bool(r.card_present);
            w.EndObject();
        }
        w.EndArray();
        out.print();
    } else {
        for (const auto& r : readers) {
            std::cout << r.name << "\t" << (r.card_present ? "card present" : "empty") << "\n";
        }
    }
    if (readers.empty())
        std::cerr << "mimcm-cli: no PC/SC readers found\n";
    return 0;
}

int cmd_read_card(const Args& args) {
    const auto profile = checked_profile(args);
    const auto reading = read_card(args, profile);
    const std::string atr = reading.card.atr.hex();
    const std::string cardid = reading.card.card_id.guid();
    const std::string challenge = reading.card.challenge.base64();
    if (args.json) {
        JsonOut()
            .field("outcome", std::string_view("card_read"))
            .field("reader", reading.reader)
            .field("profile", reading.profile)
            .field("atr", atr)
            .field("cardid", cardid)
            .field("challenge", challenge)
            .print();
    } else {
        std::cout << "reader:    " << reading.reader << "\n"
                  << "profile:   " << reading.profile << "\n"
                  << "atr:       " << atr << "\n"
                  << "cardid:    " << cardid << "\n"
                  << "challenge: " << challenge << "\n";
    }
    return 0;
}

int cmd_proposed_pin(const Args& args) {
    // Everything the user typed is checked before the card is touched or anything is sent.
    mimcm::CmUrl server = [&] {
        try {
            return mimcm::CmUrl::parse(args.require("server"));
        } catch (const mimcm::InvalidArgument& e) {
            throw UsageError{e.what()};
        }
    }();
    mimcm::SmartcardId smartcard = [&] {
        try {
            return mimcm::SmartcardId::parse(args.require("smartcard-id"));
        } catch (const mimcm::InvalidArgument& e) {
            throw UsageError{e.what()};
        }
    }();
    mimcm::ClientOptions options;
    mimcm::CurlOptions curl = http_options(args, options);
    const auto profile = checked_profile(args);

    const mimcm::CardData card = read_card(args, profile).card;

    if (args.verbose) {
        options.logger = [](mimcm::LogLevel, std::string_view line) {
            std::cerr << "mimcm: " << line << "\n";
        };
    }
    mimcm::Client client(std::move(server), mimcm::CurlTransport(std::move(curl)),
                         std::move(options));
    const auto result = client.server_proposed_pin(smartcard, card, call_context());

    if (const auto* proposed = std::get_if<mimcm::PinProposed>(&result)) {
        if (args.json) {
            JsonOut()
                .field("outcome", mimcm::PinProposed::name)
                .field("pin", proposed->pin.reveal())
                .print();
        } else {
            const auto pin = proposed->pin.reveal();
            std::fwrite(pin.data(), 1, pin.size(), stdout);
            std::fputc('\n', stdout);
            std::fflush(stdout);
        }
        return exit_pin;
    }

    if (interrupted())
        return cancelled_exit(args);
    const std::string what = mimcm::describe(result);
    const std::string_view outcome = mimcm::outcome_name(result);
    int code = exit_other_http;
    std::string advice;
    if (std::holds_alternative<mimcm::NoPinProposed>(result)) {
        code = exit_no_pin;
        advice = "The profile template's PIN policy lets the user choose the PIN.";
    } else if (std::holds_alternative<mimcm::Unauthorized>(result) ||
               std::holds_alternative<mimcm::Forbidden>(result)) {
        code = exit_denied;
        advice = "Check that your account may manage this smart card in CM.";
    } else if (std::holds_alternative<mimcm::ServerError>(result)) {
        code = exit_server_error;
        advice = "Give the correlation id to the CM administrator (CM event log).";
    } else if (std::holds_alternative<mimcm::TransportFailure>(result)) {
        code = exit_transport;
        advice = "Check the --server URL, the network and, for HTTPS, --ca-file.";
    } else if (std::holds_alternative<mimcm::NotFound>(result)) {
        advice = "Check the smart card id, and that Clm.WebApi.Enabled is true on the CM server.";
    }
    std::cerr << "mimcm-cli: " << what << "\n";
    if (!advice.empty())
        std::cerr << "  " << advice << "\n";
    if (args.json) {
        JsonOut out;
        out.field("outcome", outcome).field("message", what);
        std::visit(
            [&out](const auto& o) {
                using T = std::decay_t<decltype(o)>;
                if constexpr (std::is_same_v<T, mimcm::TransportFailure>) {
                    out.field("timeout", o.error.timed_out())
                        .field("code", o.error.native_code)
                        .field("transport_error", mimcm::to_string(o.error.kind));
                } else if constexpr (std::is_same_v<T, mimcm::ProtocolError>) {
                    out.field("status", o.status);
                } else if constexpr (std::is_same_v<T, mimcm::NoPinProposed>) {
                    out.field("status", 204);
                } else if constexpr (!std::is_same_v<T, mimcm::PinProposed>) {
                    out.field("status", o.details.status);
                    if (!o.details.correlation_id.empty()) {
                        out.field("correlation_id", o.details.correlation_id);
                    }
                }
            },
            result);
        out.print();
    }
    return code;
}

/// How long an interrupted command has to stop by itself before the process ends anyway (a
/// command blocked where nothing watches the cancellation, e.g. a PIN prompt).
constexpr std::chrono::milliseconds kInterruptGrace{900};

/// Ends the process after kInterruptGrace if the command has not stopped by then.
[[noreturn]] void exit_after_grace() {
    std::this_thread::sleep_for(kInterruptGrace);
    if (!interrupt().reported.exchange(true)) {
        static const char line[] = "mimcm-cli: cancelled\n";
        static const char json_line[] = "{\"outcome\":\"cancelled\",\"message\":\"cancelled\"}\n";
#if defined(_WIN32)
        std::fputs(line, stderr);
        if (interrupt().json)
            std::fputs(json_line, stdout);
        std::fflush(nullptr);
#else
        (void)!::write(2, line, sizeof line - 1);
        if (interrupt().json)
            (void)!::write(1, json_line, sizeof json_line - 1);
#endif
    }
#if defined(_WIN32)
    ExitProcess(static_cast<UINT>(exit_cancelled));
#else
    ::_exit(exit_cancelled);
#endif
}

#if defined(_WIN32)
BOOL WINAPI on_console_control(DWORD event) {
    if (event != CTRL_C_EVENT && event != CTRL_BREAK_EVENT && event != CTRL_CLOSE_EVENT)
        return FALSE;
    // Windows runs this on a thread of its own: cancel, then give the command its grace.
    interrupt().source.cancel();
    exit_after_grace();
}
#endif

/// Turns SIGINT and SIGTERM (Ctrl-C and Ctrl-Break on Windows) into interrupt().source.cancel().
/// On POSIX the signals are blocked before any other thread starts (threads inherit the mask) and
/// one thread takes them with sigwait, so no work happens in a signal handler.
void watch_interrupts() {
#if defined(_WIN32)
    SetConsoleCtrlHandler(&on_console_control, TRUE);
#else
    // A signal the process was started with ignored (a background job's SIGINT, nohup) stays so.
    sigset_t signals;
    sigemptyset(&signals);
    for (const int signal : {SIGINT, SIGTERM}) {
        struct sigaction current {};
        if (sigaction(signal, nullptr, &current) == 0 && current.sa_handler != SIG_IGN)
            sigaddset(&signals, signal);
    }
    if (sigismember(&signals, SIGINT) != 1 && sigismember(&signals, SIGTERM) != 1)
        return;
    if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0)
        return;  // the signals keep their default action: the process ends at once
    std::thread([signals] {
        int received = 0;
        if (sigwait(&signals, &received) != 0)
            return;
        interrupt().source.cancel();
        exit_after_grace();
    }).detach();
#endif
}

}  // namespace
}  // namespace mimcm_cli

int main(int argc, char** argv) {
    using namespace mimcm_cli;
    if (argc < 2) {
        std::cerr << kUsage;
        return exit_usage;
    }
    const std::string_view first = argv[1];
    if (first == "--help" || first == "-h" || first == "help") {
        std::cout << kUsage;
        return 0;
    }
    if (first == "--version") {
        std::cout << "mimcm-cli " << mimcm::version_string << "\n";
        return 0;
    }

    Args args;
    for (int i = 2; i < argc; ++i)
        args.json = args.json || std::string_view(argv[i]) == "--json";
    interrupt().json = args.json;
    watch_interrupts();
    const auto finish = [&args](int code) {
        return code != 0 && interrupted() ? cancelled_exit(args) : code;
    };
    try {
        // Options every command that talks to the server takes.
        const std::vector<std::string> http = {
            "server",      "ca-file",    "timeout",    "negotiate", "ntlm-user", "token-file",
            "client-cert", "client-key", "pin-pubkey", "proxy",     "insecure",  "retries"};
        auto with_http = [&http](std::vector<std::string> own) {
            own.insert(own.end(), http.begin(), http.end());
            return own;
        };
        const std::map<std::string, std::vector<std::string>> options = {
            {"readers", {}},
            {"read-card", {"reader", "profile", "wait-card"}},
            {"proposed-pin", with_http({"smartcard-id", "reader", "profile", "wait-card"})},
            {"templates", with_http({})},
            {"request create", with_http({"template", "comment", "data"})},
            {"request show", with_http({"request"})},
            {"request complete", with_http({"request"})},
            {"request cancel", with_http({"request"})},
            {"smartcard show", with_http({"smartcard-id"})},
            {"smartcard find", with_http({"card-id", "reader", "profile", "wait-card"})},
            {"enroll",
             with_http({"template", "reader", "profile", "wait-card", "csr", "comment", "data"})},
        };
        // "request" and "smartcard" take a subcommand: "request show --request GUID".
        std::string command(first);
        int skip = 0;
        if ((first == "request" || first == "smartcard") && argc > 2) {
            command += " " + std::string(argv[2]);
            skip = 1;
        }
        const auto known = options.find(command);
        if (known == options.end())
            throw UsageError{"unknown command '" + command + "'"};
        for (int i = 2; i < argc; ++i) {
            if (std::string_view(argv[i]) == "--help") {
                std::cout << kUsage;
                return 0;
            }
        }
        args = parse_args(argc - skip, argv + skip, known->second);
        args.command = command;

        mimcm::CurlGlobal curl_global;
        if (command == "readers")
            return finish(cmd_readers(args));
        if (command == "read-card")
            return finish(cmd_read_card(args));
        if (command == "proposed-pin")
            return finish(cmd_proposed_pin(args));
        if (command == "templates")
            return finish(cmd_templates(args));
        if (command.rfind("request ", 0) == 0)
            return finish(cmd_request(args));
        if (command.rfind("smartcard ", 0) == 0)
            return finish(cmd_smartcard(args));
        return finish(cmd_enroll(args));
    } catch (const UsageError& e) {
        std::cerr << "mimcm-cli: " << e.message << "\n"
                  << "  Run 'mimcm-cli --help' for usage. Nothing was sent.\n";
        if (args.json)
            JsonOut()
                .field("outcome", std::string_view("invalid_input"))
                .field("message", e.message)
                .print();
        return exit_usage;
    } catch (const mimcm::pcsc::Error& e) {
        return card_failure(args, e);
    } catch (const mimcm::card::CardError& e) {
        return card_failure(args, e);
    } catch (const mimcm::InvalidArgument& e) {
        // Data read off the card that cannot go on the wire (e.g. an oversized ATR).
        return fail(args, exit_card, "card_error", std::string("card data rejected: ") + e.what());
    } catch (const std::exception& e) {
        return fail(args, exit_other_http, "internal_error", e.what());
    }
}
