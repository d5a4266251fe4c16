// Per-call cost of mimcm::Client against raw libcurl, side by side in one process.
//
// For each case (the seed operation server_proposed_pin and list_profile_templates, over HTTP and
// HTTPS) it runs alternating rounds: N calls with raw libcurl (one reused easy handle, the options
// and headers set once, the same headers mimcm sends, RapidJSON parsing the body into the same
// values mimcm gives), then N calls with a mimcm::Client (or the other way round on odd rounds).
// Each run makes its own handle or client, so each run's connections and TLS handshakes are
// counted (from the server's log of the first request of each connection). Prints markdown tables:
// calls per second and client CPU per call as mimcm/raw ratios (median and min–max over rounds),
// heap allocations per call, connections and handshakes per run.
//
//   bench_calls --http URL --https URL --ca-file PEM --connection-log FILE
//               [--rounds 11] [--calls 20000] [--case NAME] [--side raw|mimcm]
//
// URL is the server's base (http://127.0.0.1:PORT/CertificateManagement); the server answers
// "12345678" for .../serverproposedpin and the three templates below for .../profiletemplates.
// --case (seed-http, seed-https, list-http, list-https) and --side run one case or one side only
// (for a profiler: valgrind --tool=callgrind bench_calls ... --rounds 1 --side mimcm).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "alloc_count.hpp"
#include "bench_stats.hpp"
#include "calls.hpp"
#include "raw_calls.hpp"

namespace {

using namespace mimcm_bench;

// ---------------------------------------------------------------------------------------------

struct Config {
    std::string http;
    std::string https;
    std::string ca_file;
    std::string connection_log;
    int rounds = 11;
    long calls = 20000;
    std::string only_case;
    std::string only_side;
};

[[noreturn]] void fail(const std::string& why) {
    std::fprintf(stderr, "bench_calls: %s\n", why.c_str());
    std::exit(1);
}

/// The server's log of connections: one line per new connection.
std::size_t connections_so_far(const std::string& path) {
    std::ifstream in(path);
    std::size_t lines = 0;
    std::string line;
    while (std::getline(in, line))
        ++lines;
    return lines;
}

/// What one run measured.
struct Run {
    double wall = 0;
    double cpu = 0;
    unsigned long long allocations = 0;
    std::size_t connections = 0;
};

struct Case {
    std::string name;
    bool seed = true;
    bool https = false;
};

/// One run of `calls` calls on a fresh handle or client.
Run run_side(const Config& config, const Case& c, bool mimcm_side, long calls) {
    const std::string& base = c.https ? config.https : config.http;
    const std::size_t connections_before = connections_so_far(config.connection_log);
    Run r;
    const double wall0 = wall_seconds();
    const double cpu0 = cpu_seconds();
    const unsigned long long alloc0 = allocations();
    long good = 0;
    if (mimcm_side) {
        mimcm::CurlOptions options;
        options.ca_file = config.ca_file;
        mimcm::Client client(mimcm::CmUrl::parse(base), mimcm::CurlTransport(std::move(options)));
        const auto smartcard = mimcm::SmartcardId::parse(kSmartcard);
        const mimcm::CardData card = bench_card_data();
        for (long i = 0; i < calls; ++i)
            good += (c.seed ? call_seed(client, smartcard, card) : call_list(client)) ? 1 : 0;
    } else {
        // The URL the client builds, built once.
        const std::string url = c.seed ? base + "/api/v1.0/smartcards/" + std::string(kSmartcard) +
                                             "/serverproposedpin?atr=" + std::string(kAtr) +
                                             "&cardid=" + std::string(kCardId) +
                                             "&challenge=1hFD%2Bcz%2F0so%3D"
                                       : base + "/api/v1.0/profiletemplates";
        RawCurl curl(url, config.ca_file, mimcm::ClientOptions{}.user_agent);
        for (long i = 0; i < calls; ++i)
            good += (c.seed ? raw_seed(curl) : raw_list(curl)) ? 1 : 0;
    }
    r.allocations = allocations() - alloc0;
    r.cpu = cpu_seconds() - cpu0;
    r.wall = wall_seconds() - wall0;
    r.connections = connections_so_far(config.connection_log) - connections_before;
    if (good != calls) {
        fail(c.name + " (" + (mimcm_side ? "mimcm" : "raw") + "): " + std::to_string(calls - good) +
             " of " + std::to_string(calls) + " calls failed");
    }
    return r;
}

Config parse_args(int argc, char** argv) {
    Config config;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                fail("missing value after " + arg);
            return argv[++i];
        };
        if (arg == "--http")
            config.http = value();
        else if (arg == "--https")
            config.https = value();
        else if (arg == "--ca-file")
            config.ca_file = value();
        else if (arg == "--connection-log")
            config.connection_log = value();
        else if (arg == "--rounds")
            config.rounds = std::stoi(value());
        else if (arg == "--calls")
            config.calls = std::stol(value());
        else if (arg == "--case")
            config.only_case = value();
        else if (arg == "--side")
            config.only_side = value();
        else
            fail("unknown argument " + arg);
    }
    if (config.http.empty() || config.https.empty() || config.ca_file.empty() ||
        config.connection_log.empty())
        fail(
            "usage: bench_calls --http URL --https URL --ca-file PEM --connection-log FILE "
            "[--rounds N] [--calls N] [--case NAME] [--side raw|mimcm]");
    if (config.rounds < 1 || config.calls < 1)
        fail("--rounds and --calls must be at least 1");
    return config;
}

}  // namespace

int main(int argc, char** argv) {
    const Config config = parse_args(argc, argv);
    const mimcm::CurlGlobal curl_global;
    const std::vector<Case> cases = {
        {"seed-http", true, false},
        {"seed-https", true, true},
        {"list-http", false, false},
        {"list-https", false, true},
    };
    std::printf("%d rounds of %ld calls per side and case, sides alternating\n\n", config.rounds,
                config.calls);
    std::printf(
        "| case | calls/s mimcm÷raw | raw calls/s | mimcm calls/s | CPU/call mimcm÷raw | raw CPU "
        "µs/call | mimcm CPU µs/call | allocs/call raw | mimcm | +allocs | connections/run raw, "
        "mimcm | TLS handshakes/run raw, mimcm |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (const Case& c : cases) {
        if (!config.only_case.empty() && config.only_case != c.name)
            continue;
        const bool do_raw = config.only_side != "mimcm";
        const bool do_mimcm = config.only_side != "raw";
        // Warm-up: the first connection, TLS session set-up, page faults of a first run.
        if (do_raw)
            (void)run_side(config, c, false, std::min(config.calls, 200L));
        if (do_mimcm)
            (void)run_side(config, c, true, std::min(config.calls, 200L));
        std::vector<Run> raw, sdk;
        for (int round = 0; round < config.rounds; ++round) {
            const bool mimcm_first = round % 2 == 1;
            for (int k = 0; k < 2; ++k) {
                const bool mimcm_side = (k == 0) == mimcm_first;
                if (mimcm_side ? !do_mimcm : !do_raw)
                    continue;
                (mimcm_side ? sdk : raw).push_back(run_side(config, c, mimcm_side, config.calls));
            }
        }
        const double n = static_cast<double>(config.calls);
        std::vector<double> speed, cpu, raw_rate, sdk_rate, raw_cpu, sdk_cpu;
        std::vector<double> raw_alloc, sdk_alloc, raw_conn, sdk_conn;
        for (const Run& r : raw) {
            raw_rate.push_back(n / r.wall);
            raw_cpu.push_back(r.cpu / n * 1e6);
            raw_alloc.push_back(static_cast<double>(r.allocations) / n);
            raw_conn.push_back(static_cast<double>(r.connections));
        }
        for (const Run& r : sdk) {
            sdk_rate.push_back(n / r.wall);
            sdk_cpu.push_back(r.cpu / n * 1e6);
            sdk_alloc.push_back(static_cast<double>(r.allocations) / n);
            sdk_conn.push_back(static_cast<double>(r.connections));
        }
        for (std::size_t i = 0; i < raw.size() && i < sdk.size(); ++i) {
            speed.push_back(raw[i].wall / sdk[i].wall);
            cpu.push_back(sdk[i].cpu / raw[i].cpu);
        }
        const auto med = [](const std::vector<double>& v) { return spread(v).median; };
        const std::string na = "–";
        const auto conn = [&](const std::vector<double>& v) {
            return v.empty() ? na : number(spread(v).max, 0);
        };
        const std::string raw_c = conn(raw_conn), sdk_c = conn(sdk_conn);
        std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s, %s | %s, %s |\n",
                    c.name.c_str(), speed.empty() ? na.c_str() : ratio_cell(spread(speed)).c_str(),
                    raw.empty() ? na.c_str() : number(med(raw_rate), 0).c_str(),
                    sdk.empty() ? na.c_str() : number(med(sdk_rate), 0).c_str(),
                    cpu.empty() ? na.c_str() : ratio_cell(spread(cpu)).c_str(),
                    raw.empty() ? na.c_str() : number(med(raw_cpu), 1).c_str(),
                    sdk.empty() ? na.c_str() : number(med(sdk_cpu), 1).c_str(),
                    raw.empty() ? na.c_str() : number(med(raw_alloc), 1).c_str(),
                    sdk.empty() ? na.c_str() : number(med(sdk_alloc), 1).c_str(),
                    speed.empty() ? na.c_str() : number(med(sdk_alloc) - med(raw_alloc), 1).c_str(),
                    raw_c.c_str(), sdk_c.c_str(), c.https ? raw_c.c_str() : "0",
                    c.https ? sdk_c.c_str() : "0");
        std::fflush(stdout);
    }
    if (!counts_allocations)
        std::printf("\n(allocations are counted on glibc only: 0 here)\n");
    return 0;
}
