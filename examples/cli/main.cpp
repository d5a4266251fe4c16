// mimcm-cli: reads a smart card over PC/SC and asks a MIM CM server for the PIN it proposes.
//
//   mimcm-cli readers
//   mimcm-cli read-card [--reader NAME] [--profile auto|gids|piv] [--wait-card SECONDS] [--json]
//   mimcm-cli proposed-pin --server URL --smartcard-id GUID [options]
//
// Exit codes are part of the contract (see kUsage). Messages go to stderr; stdout carries only the
// result (the PIN, or one JSON object with --json). The PIN never goes to stderr.
#include <termios.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "mimcm/mimcm.hpp"

namespace {

enum Exit : int {
    exit_pin = 0,
    exit_usage = 2,
    exit_no_pin = 3,
    exit_denied = 4,
    exit_server_error = 5,
    exit_other_http = 6,
    exit_transport = 7,
    exit_card = 8,
};

constexpr const char* kUsage = R"(mimcm-cli: MIM Certificate Management client for smart cards

Usage:
  mimcm-cli readers [--json]
  mimcm-cli read-card [--reader NAME] [--profile auto|gids|piv] [--wait-card SECONDS] [--json]
  mimcm-cli proposed-pin --server URL --smartcard-id GUID [--reader NAME]
                         [--profile auto|gids|piv] [--ca-file PATH] [--timeout SECONDS]
                         [--wait-card SECONDS] [--json] [--verbose]
                         [--negotiate | --ntlm-user DOMAIN\USER | --token-file PATH]
                         [--client-cert PATH [--client-key PATH]] [--pin-pubkey sha256//...]
                         [--proxy URL] [--insecure]
  mimcm-cli --help | --version

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
)";

struct UsageError {
    std::string message;
};

/// Parsed command line: the command, flags, and --key value options.
struct Args {
    std::string command;
    std::map<std::string, std::string> values;
    bool json = false;
    bool verbose = false;
    bool negotiate = false;
    bool insecure = false;

    [[nodiscard]] std::optional<std::string> get(const std::string& key) const {
        const auto it = values.find(key);
        if (it == values.end())
            return std::nullopt;
        return it->second;
    }
    [[nodiscard]] std::string require(const std::string& key) const {
        if (auto v = get(key))
            return *v;
        throw UsageError{"missing --" + key};
    }
};

Args parse_args(int argc, char** argv, const std::vector<std::string>& allowed) {
    Args args;
    args.command = argv[1];
    for (int i = 2; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--json") {
            args.json = true;
            continue;
        }
        if (arg == "--verbose") {
            args.verbose = true;
            continue;
        }
        if (arg == "--negotiate" || arg == "--insecure") {
            bool known = false;
            for (const auto& a : allowed)
                known = known || a == arg.substr(2);
            if (!known)
                throw UsageError{"unknown option " + arg + " for '" + args.command + "'"};
            (arg == "--negotiate" ? args.negotiate : args.insecure) = true;
            continue;
        }
        if (arg.rfind("--", 0) != 0)
            throw UsageError{"unexpected argument '" + arg + "'"};
        std::string key = arg.substr(2);
        std::string value;
        if (const auto eq = key.find('='); eq != std::string::npos) {
            value = key.substr(eq + 1);
            key.resize(eq);
        } else {
            if (i + 1 >= argc)
                throw UsageError{"--" + key + " needs a value"};
            value = argv[++i];
        }
        bool known = false;
        for (const auto& a : allowed)
            known = known || a == key;
        if (!known)
            throw UsageError{"unknown option --" + key + " for '" + args.command + "'"};
        if (args.values.count(key))
            throw UsageError{"--" + key + " given twice"};
        args.values[key] = value;
    }
    return args;
}

std::chrono::milliseconds seconds_option(const Args& args, const std::string& key,
                                         std::chrono::milliseconds fallback) {
    const auto text = args.get(key);
    if (!text)
        return fallback;
    char* end = nullptr;
    const double seconds = std::strtod(text->c_str(), &end);
    if (text->empty() || *end != '\0' || !(seconds >= 0) || seconds > 86400) {
        throw UsageError{"--" + key + " needs a number of seconds between 0 and 86400, got '" +
                         *text + "'"};
    }
    return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

/// One JSON object on stdout. The writer's buffer may hold the PIN: it is wiped after printing.
class JsonOut {
  public:
    JsonOut() : writer_(buffer_) {
        buffer_.Reserve(4096);  // no regrowth that would leave copies of the PIN behind
        writer_.StartObject();
    }
    JsonOut& field(const char* key, std::string_view value) {
        writer_.Key(key);
        writer_.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
        return *this;
    }
    JsonOut& field(const char* key, int value) {
        writer_.Key(key);
        writer_.Int(value);
        return *this;
    }
    JsonOut& field(const char* key, bool value) {
        writer_.Key(key);
        writer_.Bool(value);
        return *this;
    }
    rapidjson::Writer<rapidjson::StringBuffer>& writer() { return writer_; }
    void print() {
        writer_.EndObject();
        std::fwrite(buffer_.GetString(), 1, buffer_.GetSize(), stdout);
        std::fputc('\n', stdout);
        std::fflush(stdout);
        mimcm::secure_wipe(const_cast<char*>(buffer_.GetString()), buffer_.GetSize());
    }

  private:
    rapidjson::StringBuffer buffer_;
    rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

int fail(const Args& args, int code, std::string_view outcome, const std::string& message,
         const std::string& advice = {}) {
    std::cerr << "mimcm-cli: " << message << "\n";
    if (!advice.empty())
        std::cerr << "  " << advice << "\n";
    if (args.json)
        JsonOut().field("outcome", outcome).field("message", message).print();
    return code;
}

int card_failure(const Args& args, const mimcm::pcsc::Error& e) {
    return fail(args, exit_card, "card_error", e.what(),
                std::string(mimcm::pcsc::describe(e.code())));
}

int card_failure(const Args& args, const mimcm::card::CardError& e) {
    return fail(args, exit_card, "card_error", e.what(),
                "Check that the card is a GIDS or PIV card, or choose the profile with --profile.");
}

mimcm::pcsc::CardReading read_card(const Args& args, mimcm::card::CardProfile& profile) {
    mimcm::pcsc::Context context;
    mimcm::pcsc::ReadOptions options;
    options.reader = args.get("reader");
    options.profile = &profile;
    options.wait_for_card = seconds_option(args, "wait-card", std::chrono::milliseconds(0));
    return mimcm::pcsc::read_card(context, options);
}

std::unique_ptr<mimcm::card::CardProfile> checked_profile(const Args& args) {
    try {
        return mimcm::card::make_profile(args.get("profile").value_or("auto"));
    } catch (const std::invalid_argument& e) {
        throw UsageError{e.what()};
    }
}

void require_readable(const std::string& option, const std::string& path) {
    if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
        std::fclose(f);
    } else {
        throw UsageError{"cannot read --" + option + " '" + path + "'"};
    }
}

/// A secret from the environment variable `name`, else typed at the terminal without echo.
mimcm::SecretString secret_from_env_or_prompt(const char* name, const std::string& prompt) {
    if (const char* value = std::getenv(name))
        return mimcm::SecretString(value);
    std::FILE* tty = std::fopen("/dev/tty", "r+");
    if (!tty)
        throw UsageError{std::string("no terminal to ask for the password: set ") + name};
    termios saved{};
    const bool has_termios = tcgetattr(fileno(tty), &saved) == 0;
    if (has_termios) {
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
    }
    std::fputs(prompt.c_str(), tty);
    std::fflush(tty);
    mimcm::SecretString secret;
    for (int c = std::fgetc(tty); c != EOF && c != '\n'; c = std::fgetc(tty)) {
        const char ch = static_cast<char>(c);
        secret.append(std::string_view(&ch, 1));
    }
    if (has_termios)
        tcsetattr(fileno(tty), TCSAFLUSH, &saved);
    std::fputc('\n', tty);
    std::fclose(tty);
    return secret;
}

/// Reads a bearer token from a file each time it is asked, so a token the application renews
/// on disk is picked up after a 401.
mimcm::TokenProvider token_file_provider(std::string path) {
    return [path = std::move(path)](mimcm::TokenRequest) {
        mimcm::SecretString token;
        if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
            char buffer[512];
            std::size_t n = 0;
            while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
                token.append(std::string_view(buffer, n));
            }
            mimcm::secure_wipe(buffer, sizeof buffer);
            std::fclose(f);
        }
        std::string_view text = token.reveal();
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
            text.remove_suffix(1);
        }
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
            text.remove_prefix(1);
        }
        return mimcm::SecretString(text);
    };
}

/// The HTTP side of the command line: trust, timeouts, proxy, and how to log in.
mimcm::CurlOptions http_options(const Args& args, mimcm::ClientOptions& client) {
    mimcm::CurlOptions curl;
    curl.timeout = seconds_option(args, "timeout", std::chrono::seconds(30));
    curl.connect_timeout = (std::min)(curl.timeout, std::chrono::milliseconds(10000));
    if (curl.timeout.count() == 0)
        curl.connect_timeout = std::chrono::seconds(10);
    if (auto ca = args.get("ca-file")) {
        require_readable("ca-file", *ca);
        curl.ca_file = *ca;
    }
    if (auto pin = args.get("pin-pubkey")) {
        if (pin->rfind("sha256//", 0) != 0) {
            throw UsageError{"--pin-pubkey needs sha256//<base64 of the key's SHA-256>"};
        }
        curl.pinned_public_key = *pin;
    }
    if (auto proxy = args.get("proxy"))
        curl.proxy = *proxy;
    if (args.insecure) {
        curl.insecure_skip_tls_verification = true;
        std::cerr << "mimcm-cli: WARNING: --insecure turns off TLS verification: anyone on the "
                     "network path can read the PIN and your credentials. Use it only with a "
                     "throwaway test server.\n";
    }
    if (auto cert = args.get("client-cert")) {
        require_readable("client-cert", *cert);
        mimcm::ClientCertificate certificate;
        certificate.certificate_file = *cert;
        const auto dot = cert->rfind('.');
        const std::string ext = dot == std::string::npos ? "" : cert->substr(dot);
        if (ext == ".p12" || ext == ".pfx") {
            certificate.format = mimcm::ClientCertificate::Format::pkcs12;
        }
        if (auto key = args.get("client-key")) {
            require_readable("client-key", *key);
            certificate.key_file = *key;
        }
        if (const char* password = std::getenv("MIMCM_CLIENT_CERT_PASSWORD")) {
            certificate.password = mimcm::SecretString(password);
        }
        curl.client_certificate = std::move(certificate);
    } else if (args.get("client-key")) {
        throw UsageError{"--client-key needs --client-cert"};
    }

    const auto ntlm_user = args.get("ntlm-user");
    const auto token_file = args.get("token-file");
    if (int(args.negotiate) + int(ntlm_user.has_value()) + int(token_file.has_value()) > 1) {
        throw UsageError{"choose one of --negotiate, --ntlm-user and --token-file"};
    }
    if (args.negotiate)
        curl.auth = mimcm::NegotiateAuth{};
    if (ntlm_user) {
        const auto slash = ntlm_user->find('\\');
        if (slash == std::string::npos || slash == 0 || slash + 1 == ntlm_user->size()) {
            throw UsageError{"--ntlm-user needs DOMAIN\\USER"};
        }
        mimcm::NtlmAuth ntlm;
        ntlm.domain = ntlm_user->substr(0, slash);
        ntlm.user = ntlm_user->substr(slash + 1);
        ntlm.password =
            secret_from_env_or_prompt("MIMCM_PASSWORD", "Password for " + *ntlm_user + ": ");
        curl.auth = std::move(ntlm);
    }
    if (token_file) {
        require_readable("token-file", *token_file);
        client.token_provider = token_file_provider(*token_file);
    }
    return curl;
}

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
    const auto reading = read_card(args, *profile);
    const mimcm::CardId card_id(reading.identity.card_id);
    const std::string atr = mimcm::to_hex(reading.atr);
    const std::string challenge = mimcm::base64_encode(reading.identity.challenge);
    if (args.json) {
        JsonOut()
            .field("outcome", std::string_view("card_read"))
            .field("reader", reading.reader)
            .field("profile", reading.identity.profile)
            .field("atr", atr)
            .field("cardid", card_id.guid())
            .field("challenge", challenge)
            .print();
    } else {
        std::cout << "reader:    " << reading.reader << "\n"
                  << "profile:   " << reading.identity.profile << "\n"
                  << "atr:       " << atr << "\n"
                  << "cardid:    " << card_id.guid() << "\n"
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

    const auto reading = read_card(args, *profile);
    const mimcm::CardData card{mimcm::Atr(reading.atr), mimcm::CardId(reading.identity.card_id),
                               mimcm::Challenge(reading.identity.challenge)};

    if (args.verbose) {
        options.logger = [](mimcm::LogLevel, std::string_view line) {
            std::cerr << "mimcm: " << line << "\n";
        };
    }
    mimcm::Client client(std::move(server), mimcm::CurlTransport(std::move(curl)),
                         std::move(options));
    const auto result = client.server_proposed_pin(smartcard, card);

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
                    out.field("timeout", o.error.timed_out()).field("code", o.error.native_code);
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

}  // namespace

int main(int argc, char** argv) {
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
    try {
        const std::map<std::string_view, std::vector<std::string>> options = {
            {"readers", {}},
            {"read-card", {"reader", "profile", "wait-card"}},
            {"proposed-pin",
             {"server", "smartcard-id", "reader", "profile", "ca-file", "timeout", "wait-card",
              "negotiate", "ntlm-user", "token-file", "client-cert", "client-key", "pin-pubkey",
              "proxy", "insecure"}},
        };
        const auto known = options.find(first);
        if (known == options.end())
            throw UsageError{"unknown command '" + std::string(first) + "'"};
        for (int i = 2; i < argc; ++i) {
            if (std::string_view(argv[i]) == "--help") {
                std::cout << kUsage;
                return 0;
            }
        }
        args = parse_args(argc, argv, known->second);

        mimcm::CurlGlobal curl_global;
        if (args.command == "readers")
            return cmd_readers(args);
        if (args.command == "read-card")
            return cmd_read_card(args);
        return cmd_proposed_pin(args);
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
