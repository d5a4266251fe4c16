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
// Then the same cases on N threads at once (--threads, 1, 2 and 4 by default; 0: none), each
// thread with its own handle or client and its own connection, the run's calls shared among
// them: aggregate calls per second of each side, its scaling against the fewest threads (calls/s
// at N ÷ calls/s at the fewest, per round), mimcm's scaling ÷ raw's, and mimcm÷raw at each N.
// Clients share nothing, so mimcm's scaling should match raw libcurl's (scaling mimcm÷raw near
// 1); on a machine with fewer cores than threads (the server runs on the same cores) neither
// side scales with N.
//
//   bench_calls --http URL --https URL --ca-file PEM --connection-log FILE
//               [--rounds 11] [--calls 20000] [--threads 1,2,4] [--case NAME] [--side raw|mimcm]
//
// URL is the server's base (http://127.0.0.1:PORT/CertificateManagement); the server answers
// "12345678" for .../serverproposedpin and the three templates below for .../profiletemplates.
// --case (seed-http, seed-https, list-http, list-https) and --side run one case or one side only
// (for a profiler: valgrind --tool=callgrind bench_calls ... --rounds 1 --side mimcm --threads 0).
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "alloc_count.hpp"
#include "bench_args.hpp"
#include "bench_stats.hpp"
#include "calls.hpp"
#include "raw_calls.hpp"

namespace {

using namespace mimcm_bench;

// ---------------------------------------------------------------------------------------------

constexpr std::string_view kUsage =
    "bench_calls --http URL --https URL --ca-file PEM --connection-log FILE [--rounds N] "
    "[--calls N] [--threads N,N...|0] [--case NAME] [--side raw|mimcm]";

struct Config {
    std::string http;
    std::string https;
    std::string ca_file;
    std::string connection_log;
    int rounds = 11;
    long calls = 20000;
    std::vector<long> threads = {1, 2, 4};  // empty: no threads section
    std::string only_case;
    std::string only_side;
};

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
    long calls = 0;
};

struct Case {
    std::string name;
    bool seed = true;
    bool https = false;
};

/// On a handle or client of its own: `warmup` calls, then start() (where a thread waits for the
/// others), then `calls` calls. Returns how many of all the calls gave the expected answer.
template <class Start>
long calls_on_own_client(const Config& config, const Case& c, bool mimcm_side, long warmup,
                         long calls, Start&& start) {
    const std::string& base = c.https ? config.https : config.http;
    long good = 0;
    if (mimcm_side) {
        mimcm::CurlOptions options;
        options.ca_file = config.ca_file;
        mimcm::Client client(mimcm::CmUrl::parse(base), mimcm::CurlTransport(std::move(options)));
        const auto smartcard = mimcm::SmartcardId::parse(kSmartcard);
        const mimcm::CardData card = bench_card_data();
        const auto call = [&] {
            return c.seed ? call_seed(client, smartcard, card) : call_list(client);
        };
        for (long i = 0; i < warmup; ++i)
            good += call() ? 1 : 0;
        start();
        for (long i = 0; i < calls; ++i)
            good += call() ? 1 : 0;
    } else {
        // The URL the client builds, built once.
        const std::string url = c.seed ? base + "/api/v1.0/smartcards/" + std::string(kSmartcard) +
                                             "/serverproposedpin?atr=" + std::string(kAtr) +
                                             "&cardid=" + std::string(kCardId) +
                                             "&challenge=1hFD%2Bcz%2F0so%3D"
                                       : base + "/api/v1.0/profiletemplates";
        RawCurl curl(url, config.ca_file, mimcm::ClientOptions{}.user_agent);
        const auto call = [&] { return c.seed ? raw_seed(curl) : raw_list(curl); };
        for (long i = 0; i < warmup; ++i)
            good += call() ? 1 : 0;
        start();
        for (long i = 0; i < calls; ++i)
            good += call() ? 1 : 0;
    }
    return good;
}

std::string side_name(bool mimcm_side) {
    return mimcm_side ? "mimcm" : "raw";
}

void check_all_good(const Case& c, bool mimcm_side, long good, long calls) {
    if (good != calls) {
        fail(c.name + " (" + side_name(mimcm_side) + "): " + std::to_string(calls - good) + " of " +
             std::to_string(calls) + " calls failed");
    }
}

/// One run of `calls` calls on a fresh handle or client (its creation and first connection
/// included).
Run run_side(const Config& config, const Case& c, bool mimcm_side, long calls) {
    const std::size_t connections_before = connections_so_far(config.connection_log);
    Run r;
    r.calls = calls;
    const double wall0 = wall_seconds();
    const double cpu0 = cpu_seconds();
    const unsigned long long alloc0 = allocations();
    const long good = calls_on_own_client(config, c, mimcm_side, 0, calls, [] {});
    r.allocations = allocations() - alloc0;
    r.cpu = cpu_seconds() - cpu0;
    r.wall = wall_seconds() - wall0;
    r.connections = connections_so_far(config.connection_log) - connections_before;
    check_all_good(c, mimcm_side, good, calls);
    return r;
}

/// Where the threads of a run wait until all of them are connected, so that the clock runs only
/// while all of them call.
class StartGate {
  public:
    /// A thread is ready; waits until the gate opens.
    void arrive_and_wait() {
        std::unique_lock<std::mutex> lock(mutex_);
        ++ready_;
        changed_.notify_all();
        changed_.wait(lock, [&] { return open_; });
    }
    /// A thread that failed before it got here: counted, so the run does not wait for it.
    void arrive() {
        const std::lock_guard<std::mutex> lock(mutex_);
        ++ready_;
        changed_.notify_all();
    }
    void wait_for(long threads) {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return ready_ >= threads; });
    }
    void open() {
        const std::lock_guard<std::mutex> lock(mutex_);
        open_ = true;
        changed_.notify_all();
    }

  private:
    std::mutex mutex_;
    std::condition_variable changed_;
    long ready_ = 0;
    bool open_ = false;
};

/// One run on `threads` threads, each with its own handle or client: each makes one call (its
/// connection, and its TLS handshake), waits for the others, then makes its share of `calls`.
/// Wall and CPU time run from the moment all are connected until the last one is done.
Run run_threads(const Config& config, const Case& c, bool mimcm_side, long threads, long calls) {
    const long each = std::max(1L, calls / threads);
    const std::size_t connections_before = connections_so_far(config.connection_log);
    StartGate gate;
    std::vector<long> good(static_cast<std::size_t>(threads), 0);
    std::vector<std::string> errors(static_cast<std::size_t>(threads));
    std::vector<std::thread> pool;
    for (long t = 0; t < threads; ++t) {
        const auto i = static_cast<std::size_t>(t);
        pool.emplace_back([&, i] {
            bool arrived = false;
            try {
                good[i] = calls_on_own_client(config, c, mimcm_side, 1, each, [&] {
                    arrived = true;
                    gate.arrive_and_wait();
                });
            } catch (const std::exception& e) {
                errors[i] = e.what();
                if (!arrived)
                    gate.arrive();
            }
        });
    }
    gate.wait_for(threads);
    const double wall0 = wall_seconds();
    const double cpu0 = cpu_seconds();
    gate.open();
    for (std::thread& thread : pool)
        thread.join();
    Run r;
    r.cpu = cpu_seconds() - cpu0;
    r.wall = wall_seconds() - wall0;
    r.calls = each * threads;
    r.connections = connections_so_far(config.connection_log) - connections_before;
    for (std::size_t i = 0; i < errors.size(); ++i) {
        if (!errors[i].empty())
            fail(c.name + " (" + side_name(mimcm_side) + ", thread " + std::to_string(i) + " of " +
                 std::to_string(threads) + "): " + errors[i]);
        check_all_good(c, mimcm_side, good[i], 1 + each);
    }
    return r;
}

Config parse_command_line(int argc, char** argv) {
    Config config;
    parse_args(argc, argv, kUsage, [&](std::string_view arg, ArgValue& value) {
        if (arg == "--http")
            config.http = value.text();
        else if (arg == "--https")
            config.https = value.text();
        else if (arg == "--ca-file")
            config.ca_file = value.text();
        else if (arg == "--connection-log")
            config.connection_log = value.text();
        else if (arg == "--rounds")
            config.rounds = static_cast<int>(value.number(1));
        else if (arg == "--calls")
            config.calls = value.number(1);
        else if (arg == "--threads")
            config.threads = value.numbers(0);
        else if (arg == "--case")
            config.only_case = value.text();
        else if (arg == "--side")
            config.only_side = value.text();
        else
            return false;
        return true;
    });
    if (config.http.empty() || config.https.empty() || config.ca_file.empty() ||
        config.connection_log.empty())
        fail(std::string("usage: ") + std::string(kUsage));
    if (config.threads == std::vector<long>{0})
        config.threads.clear();
    for (const long n : config.threads) {
        if (n < 1 || n > 64)
            fail("--threads takes counts from 1 to 64, or 0 alone for no threads section");
    }
    std::sort(config.threads.begin(), config.threads.end());
    config.threads.erase(std::unique(config.threads.begin(), config.threads.end()),
                         config.threads.end());
    if (!config.only_side.empty() && config.only_side != "raw" && config.only_side != "mimcm")
        fail("--side is raw or mimcm");
    return config;
}

/// The cell of a ratio over rounds, or a dash when a side did not run.
std::string ratio_or_dash(const std::vector<double>& ratios) {
    return ratios.empty() ? "–" : ratio_cell(spread(ratios));
}

/// The threads section for one case: rounds of every thread count, sides alternating.
void threads_table_rows(const Config& config, const Case& c, bool do_raw, bool do_mimcm) {
    const std::size_t counts = config.threads.size();
    // [side][thread count][round]
    std::vector<std::vector<Run>> runs[2];
    for (auto& side : runs)
        side.resize(counts);
    for (int round = 0; round < config.rounds; ++round) {
        for (std::size_t k = 0; k < counts; ++k) {
            const bool mimcm_first = (static_cast<std::size_t>(round) + k) % 2 == 1;
            for (int j = 0; j < 2; ++j) {
                const bool mimcm_side = (j == 0) == mimcm_first;
                if (mimcm_side ? !do_mimcm : !do_raw)
                    continue;
                runs[mimcm_side ? 1 : 0][k].push_back(
                    run_threads(config, c, mimcm_side, config.threads[k], config.calls));
            }
        }
    }
    const auto rate = [](const Run& r) { return static_cast<double>(r.calls) / r.wall; };
    for (std::size_t k = 0; k < counts; ++k) {
        const std::vector<Run>& raw = runs[0][k];
        const std::vector<Run>& sdk = runs[1][k];
        std::vector<double> raw_rate, sdk_rate, speed, cpu, raw_scaling, sdk_scaling, relative;
        for (std::size_t i = 0; i < raw.size(); ++i) {
            raw_rate.push_back(rate(raw[i]));
            raw_scaling.push_back(rate(raw[i]) / rate(runs[0][0][i]));
        }
        for (std::size_t i = 0; i < sdk.size(); ++i) {
            sdk_rate.push_back(rate(sdk[i]));
            sdk_scaling.push_back(rate(sdk[i]) / rate(runs[1][0][i]));
        }
        for (std::size_t i = 0; i < raw.size() && i < sdk.size(); ++i) {
            speed.push_back(rate(sdk[i]) / rate(raw[i]));
            relative.push_back(sdk_scaling[i] / raw_scaling[i]);
            cpu.push_back((sdk[i].cpu / static_cast<double>(sdk[i].calls)) /
                          (raw[i].cpu / static_cast<double>(raw[i].calls)));
        }
        const auto conn = [](const std::vector<Run>& v) {
            std::size_t most = 0;
            for (const Run& r : v)
                most = std::max(most, r.connections);
            return v.empty() ? std::string("–") : std::to_string(most);
        };
        std::printf("| %s | %ld | %s | %s | %s | %s | %s | %s | %s | %s, %s |\n", c.name.c_str(),
                    config.threads[k],
                    raw.empty() ? "–" : number(spread(raw_rate).median, 0).c_str(),
                    sdk.empty() ? "–" : number(spread(sdk_rate).median, 0).c_str(),
                    ratio_or_dash(speed).c_str(), ratio_or_dash(raw_scaling).c_str(),
                    ratio_or_dash(sdk_scaling).c_str(), ratio_or_dash(relative).c_str(),
                    ratio_or_dash(cpu).c_str(), conn(raw).c_str(), conn(sdk).c_str());
        std::fflush(stdout);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const Config config = parse_command_line(argc, argv);
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
    if (config.threads.empty())
        return 0;

    // N clients on N threads. Allocations are not counted here: the counter is one atomic that
    // every thread would contend for.
    allocation_counting.store(false);
    const std::string fewest = std::to_string(config.threads.front());
    std::printf(
        "\n%d rounds per thread count and case, each run's %ld calls shared among its threads, "
        "one client (raw: one easy handle) and one connection per thread, sides alternating\n\n",
        config.rounds, config.calls);
    std::printf(
        "| case | threads | raw calls/s | mimcm calls/s | calls/s mimcm÷raw | raw scaling (÷ %s "
        "thread%s) | mimcm scaling (÷ %s thread%s) | scaling mimcm÷raw | CPU/call mimcm÷raw | "
        "connections/run raw, mimcm |\n",
        fewest.c_str(), fewest == "1" ? "" : "s", fewest.c_str(), fewest == "1" ? "" : "s");
    std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (const Case& c : cases) {
        if (!config.only_case.empty() && config.only_case != c.name)
            continue;
        threads_table_rows(config, c, config.only_side != "mimcm", config.only_side != "raw");
    }
    return 0;
}
