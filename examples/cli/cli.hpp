// Shared pieces of mimcm-cli: command-line parsing, JSON output, exit codes, and the HTTP and
// card options every command takes the same way.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#if defined(_WIN32)
#include <winsock2.h>  // before windows.h, as libcurl's headers need

#include <windows.h>
#else
#include <termios.h>
#endif
#include <atomic>
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
#include "mimcm/mimcm.hpp"

namespace mimcm_cli {

enum Exit : int {
    exit_pin = 0,
    exit_usage = 2,
    exit_no_pin = 3,
    exit_denied = 4,
    exit_server_error = 5,
    exit_other_http = 6,
    exit_transport = 7,
    exit_card = 8,
    exit_cancelled = 130,  ///< Ctrl-C (SIGINT) or SIGTERM, as a shell reports a SIGINT death
};

struct UsageError {
    std::string message;
};

/// Parsed command line: the command, flags, and --key value options.
struct Args {
    std::string command;
    std::map<std::string, std::string> values;
    bool json = false;
    bool verbose = false;
    /// --data NAME=VALUE answers to the enroll policy's data collection items, in order.
    std::vector<std::pair<std::string, std::string>> data;
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

inline Args parse_args(int argc, char** argv, const std::vector<std::string>& allowed) {
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
        if (key == "data") {  // repeatable: --data NAME=VALUE
            const auto eq = value.find('=');
            if (eq == std::string::npos || eq == 0)
                throw UsageError{"--data needs NAME=VALUE, got '" + value + "'"};
            args.data.emplace_back(value.substr(0, eq), value.substr(eq + 1));
            continue;
        }
        if (args.values.count(key))
            throw UsageError{"--" + key + " given twice"};
        args.values[key] = value;
    }
    return args;
}

inline std::chrono::milliseconds seconds_option(const Args& args, const std::string& key,
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
    /// An id the server may leave out: its GUID, or null.
    template <class Id>
    JsonOut& id_field(const char* key, const std::optional<Id>& id) {
        writer_.Key(key);
        if (id)
            writer_.String(id->str().c_str(), static_cast<rapidjson::SizeType>(id->str().size()));
        else
            writer_.Null();
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

/// Ctrl-C: main() turns SIGINT and SIGTERM (Windows: the console's Ctrl-C and Ctrl-Break) into a
/// cancel of `source`, which every server call and card wait of the commands watches.
struct Interrupt {
    mimcm::CancellationSource source;
    std::atomic<bool> reported{false};  ///< the "cancelled" line is printed (once)
    std::atomic<bool> json{false};
};

/// The one Interrupt of the process; never destroyed, so a signal arriving while the process
/// exits still finds it.
inline Interrupt& interrupt() {
    static auto* const state = new Interrupt;
    return *state;
}

/// What every server call of a command is given: the Ctrl-C cancellation.
inline mimcm::CallContext call_context() {
    mimcm::CallContext context;
    context.cancellation = interrupt().source.token();
    return context;
}

[[nodiscard]] inline bool interrupted() {
    return interrupt().source.cancelled();
}

/// The one-line message of an interrupted command (stderr, and stdout with --json), printed once;
/// the exit code 130.
inline int cancelled_exit(const Args& args, const std::string& message = "cancelled") {
    if (!interrupt().reported.exchange(true)) {
        std::cerr << "mimcm-cli: " << message << "\n";
        if (args.json) {
            JsonOut out;
            out.field("outcome", std::string_view("cancelled")).field("message", message);
            out.print();
        }
    }
    return exit_cancelled;
}

inline int fail(const Args& args, int code, std::string_view outcome, const std::string& message,
                const std::string& advice = {}) {
    if (interrupted())
        return cancelled_exit(args);
    std::cerr << "mimcm-cli: " << message << "\n";
    if (!advice.empty())
        std::cerr << "  " << advice << "\n";
    if (args.json)
        JsonOut().field("outcome", outcome).field("message", message).print();
    return code;
}

inline int card_failure(const Args& args, const mimcm::pcsc::Error& e) {
    return fail(args, exit_card, "card_error", e.what(),
                std::string(mimcm::pcsc::describe(e.code())));
}

inline int card_failure(const Args& args, const mimcm::card::CardError& e) {
    return fail(args, exit_card, "card_error", e.what(),
                "Check that the card is a GIDS or PIV card, or choose the profile with --profile.");
}

inline mimcm::pcsc::CardReading read_card(const Args& args,
                                          const mimcm::card::ProfileResolver& profiles) {
    mimcm::pcsc::Context context;
    mimcm::pcsc::ReadOptions options;
    options.reader = args.get("reader");
    options.profiles = profiles;
    options.wait_for_card = seconds_option(args, "wait-card", std::chrono::milliseconds(0));
    options.cancellation = interrupt().source.token();
    return mimcm::pcsc::read_card(context, options);
}

inline mimcm::card::ProfileResolver checked_profile(const Args& args) {
    try {
        return mimcm::card::ProfileResolver::by_name(args.get("profile").value_or("auto"));
    } catch (const std::invalid_argument& e) {
        throw UsageError{e.what()};
    }
}

inline void require_readable(const std::string& option, const std::string& path) {
    if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
        std::fclose(f);
    } else {
        throw UsageError{"cannot read --" + option + " '" + path + "'"};
    }
}

/// A secret from the environment variable `name`, else typed at the terminal without echo.
inline mimcm::SecretString secret_from_env_or_prompt(const char* name, const std::string& prompt) {
    if (const char* value = std::getenv(name))
        return mimcm::SecretString(value);
    const std::string no_terminal = std::string("no terminal to ask for the password: set ") + name;
    mimcm::SecretString secret;
    char ch = 0;
#if defined(_WIN32)
    // The console itself, whatever stdin and stderr are redirected to.
    HANDLE console =
        CreateFileA("CONIN$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                    nullptr, OPEN_EXISTING, 0, nullptr);
    if (console == INVALID_HANDLE_VALUE)
        throw UsageError{no_terminal};
    std::FILE* out = std::fopen("CONOUT$", "w");
    DWORD saved = 0;
    const bool has_mode = GetConsoleMode(console, &saved) != 0;
    if (has_mode)
        SetConsoleMode(console, saved & ~static_cast<DWORD>(ENABLE_ECHO_INPUT));
    std::fputs(prompt.c_str(), out ? out : stderr);
    std::fflush(out ? out : stderr);
    DWORD got = 0;
    while (ReadFile(console, &ch, 1, &got, nullptr) && got == 1 && ch != '\n') {
        if (ch != '\r')
            secret.append(std::string_view(&ch, 1));
    }
    if (has_mode)
        SetConsoleMode(console, saved);
    std::fputc('\n', out ? out : stderr);
    if (out)
        std::fclose(out);
    CloseHandle(console);
#else
    std::FILE* tty = std::fopen("/dev/tty", "r+");
    if (!tty)
        throw UsageError{no_terminal};
    termios saved{};
    const bool has_termios = tcgetattr(fileno(tty), &saved) == 0;
    if (has_termios) {
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
    }
    std::fputs(prompt.c_str(), tty);
    std::fflush(tty);
    for (int c = std::fgetc(tty); c != EOF && c != '\n'; c = std::fgetc(tty)) {
        ch = static_cast<char>(c);
        secret.append(std::string_view(&ch, 1));
    }
    if (has_termios)
        tcsetattr(fileno(tty), TCSAFLUSH, &saved);
    std::fputc('\n', tty);
    std::fclose(tty);
#endif
    mimcm::secure_wipe(&ch, 1);
    return secret;
}

/// Reads a bearer token from a file each time it is asked, so a token the application renews
/// on disk is picked up after a 401.
inline mimcm::TokenProvider token_file_provider(std::string path) {
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

/// The HTTP side of the command line: trust, timeouts, retries, proxy, and how to log in.
inline mimcm::CurlOptions http_options(const Args& args, mimcm::ClientOptions& client) {
    mimcm::CurlOptions curl;
    curl.timeout = seconds_option(args, "timeout", std::chrono::seconds(30));
    curl.connect_timeout = (std::min)(curl.timeout, std::chrono::milliseconds(10000));
    if (curl.timeout.count() == 0)
        curl.connect_timeout = std::chrono::seconds(10);
    if (auto retries = args.get("retries")) {
        const auto& text = *retries;
        const int most = mimcm::RetryPolicy::max_retries_limit;
        if (text.empty() || text.size() > 2 ||
            text.find_first_not_of("0123456789") != std::string::npos || std::stoi(text) > most) {
            throw UsageError{"--retries needs a whole number from 0 to " + std::to_string(most) +
                             ", got '" + text + "'"};
        }
        client.retry.max_retries = std::stoi(text);
    }
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

/// The exit code for an outcome's name (see the usage text).
inline int exit_code_for(std::string_view outcome) {
    if (outcome == "no_pin_proposed")
        return exit_no_pin;
    if (outcome == "unauthorized" || outcome == "forbidden")
        return exit_denied;
    if (outcome == "server_error")
        return exit_server_error;
    if (outcome == "transport_failure")
        return exit_transport;
    if (outcome == "card_error")
        return exit_card;
    if (outcome == "invalid_input")
        return exit_usage;
    return exit_other_http;
}

/// --server, checked before anything is sent.
inline mimcm::CmUrl server_option(const Args& args) {
    try {
        return mimcm::CmUrl::parse(args.require("server"));
    } catch (const mimcm::InvalidArgument& e) {
        throw UsageError{e.what()};
    }
}

/// An id option (Id is mimcm::RequestId, mimcm::ProfileTemplateId...), checked before anything
/// is sent.
template <class Id>
Id id_option(const Args& args, const std::string& key) {
    try {
        return Id(mimcm::Guid::parse(args.require(key), "--" + key));
    } catch (const mimcm::InvalidArgument& e) {
        throw UsageError{e.what()};
    }
}

/// An id for a person to read: its GUID, or "none" when the server left it out.
template <class Id>
std::string id_text(const std::optional<Id>& id) {
    return id ? id->str() : std::string("none");
}

/// A client for --server with the HTTP, TLS and login options of the command line.
inline mimcm::Client make_client(const Args& args) {
    mimcm::CmUrl server = server_option(args);
    mimcm::ClientOptions options;
    mimcm::CurlOptions curl = http_options(args, options);
    if (args.verbose) {
        options.logger = [](mimcm::LogLevel, std::string_view line) {
            std::cerr << "mimcm: " << line << "\n";
        };
    }
    return mimcm::Client(std::move(server), mimcm::CurlTransport(std::move(curl)),
                         std::move(options));
}

/// Reports a failed operation's outcome (stderr, and stdout with --json); returns the exit code.
template <class Result>
int report_failure(const Args& args, const Result& result) {
    if (interrupted())
        return cancelled_exit(args);
    const std::string what = mimcm::describe(result);
    std::cerr << "mimcm-cli: " << what << "\n";
    if (args.json) {
        JsonOut out;
        out.field("outcome", mimcm::outcome_name(result)).field("message", what);
        // Which failure of the transport: "timeout", "TLS", "low-speed limit"...
        if (const auto* failure = std::get_if<mimcm::TransportFailure>(&result))
            out.field("transport_error", mimcm::to_string(failure->error.kind));
        out.print();
    }
    return exit_code_for(mimcm::outcome_name(result));
}

// Commands on the CM REST API beyond the proposed PIN (api_commands.cpp).
int cmd_templates(const Args& args);
int cmd_request(const Args& args);
int cmd_smartcard(const Args& args);
int cmd_enroll(const Args& args);

}  // namespace mimcm_cli
