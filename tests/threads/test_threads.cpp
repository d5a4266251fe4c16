// Several clients on several threads against the CM emulator, over HTTP and HTTPS. A client (its
// transport) is not thread-safe, so each thread has its own, as the SDK's docs say; libcurl's
// global state is set up once, before any thread starts (CurlGlobal). Every answer must be the one
// for its own thread: a client that mixed up state with another thread's would get another
// thread's PIN or request. The one object the docs let another thread touch, a PC/SC Context
// (cancel() ends its wait), is tested too. tests/run.sh also runs this suite built with
// ThreadSanitizer.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "emulator.hpp"
#include "mimcm/mimcm.hpp"
#include "mimcm/pcsc/session.hpp"
#include "rig.hpp"
#include "test_data.hpp"

using namespace mimcm;
using mimcm_test::Emulator;

namespace {

// libcurl's global initialisation, before main() and so before any thread.
const CurlGlobal curl_global;

const RequestId kDocsRequest = RequestId::parse("a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099");
const ProfileTemplateId kVscTemplate =
    ProfileTemplateId::parse("97cd65fa-af4b-4587-9309-0dd6bfd8b4e1");
const ProfileTemplateId kSampleTemplate =
    ProfileTemplateId::parse("12bd5120-86a2-4ee1-8d05-131066871578");
const UserId kDocsUser = UserId::parse("8f1590dc-d932-4b66-8e68-2e91c5880780");

constexpr int kThreads = 8;
constexpr int kRounds = 24;
/// A thread makes a new client (a new libcurl handle) every this many rounds, so handles are
/// also created and destroyed while the other threads are busy.
constexpr int kRoundsPerClient = 4;
/// Calls per round: proposed PIN, templates, a request, a smart card policy, and a request of
/// the thread's own created, read back and canceled.
constexpr int kCallsPerRound = 7;

/// One thread's work: what it asks for, and what went wrong (read once the thread has ended;
/// Catch's assertions are not thread-safe, so the threads only collect).
struct Worker {
    int index = 0;
    bool https = false;
    std::string smartcard;  ///< its own smart card id...
    std::string pin;        ///< ...for which the emulator proposes this PIN
    int calls = 0;
    std::vector<std::string> problems;

    void problem(const std::string& what) { problems.push_back(what); }
};

/// Every log line of every client, with the thread it came on.
struct LogRecord {
    std::mutex mutex;
    std::map<std::thread::id, std::size_t> lines_per_thread;
    std::vector<std::string> lines;
};

template <class T, class Result>
const T* expect(Worker& worker, const char* what, const Result& result) {
    ++worker.calls;
    if (const T* value = std::get_if<T>(&result))
        return value;
    worker.problem(std::string(what) + ": " + describe(result));
    return nullptr;
}

/// What every thread is given (made on the main thread: the test helpers use Catch, which is not
/// thread-safe).
struct Setup {
    std::string http_url;
    std::string https_url;
    std::string ca_file;
    std::size_t template_count = 0;
};

void work(Worker& worker, const Setup& setup, Logger logger) {
    CurlOptions transport;
    transport.ca_file = setup.ca_file;
    transport.proxy = "";
    ClientOptions options;
    options.logger = std::move(logger);
    const CmUrl url = CmUrl::parse(worker.https ? setup.https_url : setup.http_url);
    const SmartcardId smartcard = SmartcardId::parse(worker.smartcard);
    const CardData card = mimcm_test::docs_card();

    for (int first = 0; first < kRounds; first += kRoundsPerClient) {
        Client client(url, CurlTransport(transport.clone()), options);
        for (int round = first; round < first + kRoundsPerClient && round < kRounds; ++round) {
            const std::string tag =
                "thread " + std::to_string(worker.index) + " round " + std::to_string(round);

            const auto proposed = client.server_proposed_pin(smartcard, card);
            if (const auto* pin = expect<PinProposed>(worker, "server_proposed_pin", proposed)) {
                if (pin->pin.reveal() != worker.pin)
                    worker.problem(tag + ": not the PIN proposed for its smart card");
            }

            const auto templates = client.list_profile_templates();
            if (const auto* list = expect<std::vector<ProfileTemplateView>>(
                    worker, "list_profile_templates", templates)) {
                bool sample = false;
                for (const auto& t : *list)
                    sample = sample || t.uuid == kSampleTemplate;
                if (list->size() != setup.template_count || !sample)
                    worker.problem(tag + ": templates: " + std::to_string(list->size()) +
                                   " instead of " + std::to_string(setup.template_count));
            }

            const auto docs = client.get_request(kDocsRequest);
            if (const auto* request = expect<Request>(worker, "get_request", docs)) {
                if (request->uuid != kDocsRequest || request->request_type != 1 ||
                    request->originator_user_uuid != kDocsUser)
                    worker.problem(tag + ": get_request gave request " +
                                   (request->uuid ? request->uuid->str() : "without an id"));
            }

            const auto policy = client.get_smartcard_policy(kVscTemplate);
            if (const auto* p = expect<SmartcardPolicy>(worker, "get_smartcard_policy", policy)) {
                if (!p->diversify_admin_key || p->default_admin_key_hex.size() != 48)
                    worker.problem(tag + ": get_smartcard_policy: not the template's policy");
            }

            NewRequest fresh;
            fresh.profile_template = kVscTemplate;
            fresh.data_collection = {{"Request Reason", tag}};
            const auto created = client.create_request(fresh);
            const auto* id = expect<Created<RequestId>>(worker, "create_request", created);
            if (id == nullptr) {
                worker.calls += 2;  // the two calls on the request are not made
                continue;
            }
            const auto read = client.get_request(id->id);
            if (const auto* request = expect<Request>(worker, "get_request (own)", read)) {
                const bool own = request->uuid == id->id && request->data_collection.size() == 1 &&
                                 request->data_collection[0].value == tag;
                if (!own)
                    worker.problem(tag + ": reading its own request gave another one");
            }
            const auto canceled = client.set_request_status(id->id, RequestStatus::canceled);
            if (const auto* request = expect<Request>(worker, "set_request_status", canceled)) {
                if (request->uuid != id->id || request->status == request_status::approved)
                    worker.problem(tag + ": canceling its request did not cancel it");
            }
        }
    }
}

}  // namespace

TEST_CASE("eight clients on eight threads, over HTTP and HTTPS, each get their own answers",
          "[threads]") {
    Emulator emulator;
    std::vector<Worker> workers(kThreads);
    for (int i = 0; i < kThreads; ++i) {
        Worker& w = workers[static_cast<std::size_t>(i)];
        w.index = i;
        w.https = i % 2 == 1;
        w.smartcard = mimcm_test::fresh_smartcard_id();
        w.pin = "7000000" + std::to_string(i);
        emulator.set_outcome(w.smartcard, R"({"outcome":"pin","pin":")" + w.pin + R"("})");
    }
    // The templates as one client on this thread sees them, before any thread starts.
    std::size_t template_count = 0;
    {
        CurlOptions transport;
        transport.proxy = "";
        Client client(CmUrl::parse(emulator.http_url()), CurlTransport(std::move(transport)));
        const auto templates = client.list_profile_templates();
        INFO(describe(templates));
        REQUIRE(std::holds_alternative<std::vector<ProfileTemplateView>>(templates));
        template_count = std::get<std::vector<ProfileTemplateView>>(templates).size();
        REQUIRE(template_count > 0);
    }

    // One logger shared by every client: the SDK calls it on the thread making the call, so it
    // must be thread-safe itself (this one takes a lock).
    LogRecord log;
    const Logger logger = [&log](LogLevel, std::string_view line) {
        const std::lock_guard<std::mutex> lock(log.mutex);
        ++log.lines_per_thread[std::this_thread::get_id()];
        log.lines.emplace_back(line);
    };

    Setup setup;
    setup.http_url = emulator.http_url();
    setup.https_url = emulator.https_url();
    setup.ca_file = Emulator::ca_file();
    setup.template_count = template_count;
    std::vector<std::thread> threads;
    std::vector<std::thread::id> ids;
    for (auto& worker : workers) {
        threads.emplace_back(work, std::ref(worker), std::cref(setup), logger);
        ids.push_back(threads.back().get_id());
    }
    for (auto& t : threads)
        t.join();

    for (std::size_t i = 0; i < workers.size(); ++i) {
        const Worker& w = workers[i];
        INFO("thread " << w.index << (w.https ? " (HTTPS)" : " (HTTP)"));
        for (const auto& p : w.problems)
            UNSCOPED_INFO(p);
        CHECK(w.problems.empty());
        CHECK(w.calls == kRounds * kCallsPerRound);
        // Two lines per call (the request, then its answer), all on the calling thread.
        CHECK(log.lines_per_thread[ids[i]] == static_cast<std::size_t>(2 * w.calls));
        // The emulator saw each of its PIN requests, over the thread's own scheme.
        const auto seen = emulator.requests_for(w.smartcard + "/serverproposedpin");
        CHECK(seen.size() == static_cast<std::size_t>(kRounds));
        for (const auto& r : seen)
            CHECK(r.tls == w.https);
    }
    CHECK(log.lines.size() == static_cast<std::size_t>(2 * kThreads * kRounds * kCallsPerRound));
    // No log line carries a PIN.
    std::size_t with_pin = 0;
    for (const auto& line : log.lines) {
        for (const auto& w : workers) {
            if (line.find(w.pin) != std::string::npos) {
                UNSCOPED_INFO(line);
                ++with_pin;
            }
        }
    }
    CHECK(with_pin == 0);
}

TEST_CASE("Context::cancel on another thread ends a wait for a card", "[threads][pcsc]") {
    namespace rig = mimcm_test::rig;
    using clock = std::chrono::steady_clock;
    rig::EmptyReadersAtExit cleanup;
    rig::remove_card(0);
    rig::remove_card(1);
    pcsc::Context context;
    const bool by_name = GENERATE(true, false);
    INFO((by_name ? "one reader by name" : "any reader"));
    pcsc::ReadOptions options;
    if (by_name)
        options.reader = "Virtual PCD 00 00";
    options.wait_for_card = std::chrono::seconds(30);

    std::atomic<bool> done{false};
    std::optional<pcsc::ErrorCode> code;
    std::string failure;
    const auto started = clock::now();
    std::thread waiter([&] {
        try {
            (void)pcsc::read_card(context, options);
            failure = "read_card returned a card";
        } catch (const pcsc::Error& e) {
            code = e.code();
            failure = e.what();
        } catch (const std::exception& e) {
            failure = e.what();
        }
        done = true;
    });
    // A cancel that comes before the waiter blocks cancels nothing, so cancel until it has ended
    // (bounded: the wait itself would last 30 s).
    int cancels = 0;
    std::string cancel_failure;
    while (!done && clock::now() - started < std::chrono::seconds(10)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        try {
            context.cancel();
            ++cancels;
        } catch (const std::exception& e) {
            cancel_failure = e.what();
            break;
        }
    }
    waiter.join();
    const auto elapsed = clock::now() - started;
    INFO("waiter: " << failure << "; cancel: " << cancel_failure << "; cancels: " << cancels);
    CHECK(cancel_failure.empty());
    REQUIRE(code.has_value());
    CHECK(*code == pcsc::ErrorCode::cancelled);
    CHECK(cancels >= 1);
    CHECK(elapsed < std::chrono::seconds(10));
}
