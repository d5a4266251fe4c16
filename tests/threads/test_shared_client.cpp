// One client shared by two threads: the second call, made while the first is still running, is
// refused with a UsageError and sends nothing. The overlap is made certain by a transport that
// holds the first call until the second one has been refused.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "mimcm/core.hpp"

using namespace mimcm;

namespace {

/// What the transport and the test share.
struct Gate {
    std::mutex mutex;
    std::condition_variable changed;
    int sent = 0;            ///< requests that reached the transport
    bool in_send = false;    ///< the first request is inside send()
    bool released = false;   ///< the first request may answer
    bool timed_out = false;  ///< the first request waited in vain (the test failed)
};

/// Answers every request with an empty list, but holds each one until the test releases it.
struct HoldingTransport {
    Gate* gate;

    TransportResult send(const HttpRequest&) {
        std::unique_lock<std::mutex> lock(gate->mutex);
        ++gate->sent;
        gate->in_send = true;
        gate->changed.notify_all();
        if (!gate->changed.wait_for(lock, std::chrono::seconds(10),
                                    [this] { return gate->released; })) {
            gate->timed_out = true;
        }
        gate->in_send = false;
        HttpResponse response;
        response.status = 200;
        response.headers.push_back({"Content-Type", "application/json"});
        response.body = SecretString("[]");
        return response;
    }
};

}  // namespace

TEST_CASE("a client shared by two threads refuses the call that overlaps another", "[threads]") {
    Gate gate;
    BasicClient<HoldingTransport> client(CmUrl::parse("https://cm.contoso.com"),
                                         HoldingTransport{&gate});

    std::optional<bool> first_ok;
    std::thread first([&] { first_ok = client.list_profile_templates().ok(); });

    bool entered = false;
    {
        std::unique_lock<std::mutex> lock(gate.mutex);
        entered =
            gate.changed.wait_for(lock, std::chrono::seconds(10), [&] { return gate.in_send; });
    }
    std::optional<std::string> refused;
    if (entered) {
        try {
            (void)client.list_profile_templates();
        } catch (const UsageError& e) {
            refused = e.what();
        }
    }
    {
        const std::lock_guard<std::mutex> lock(gate.mutex);
        gate.released = true;
    }
    gate.changed.notify_all();
    first.join();

    REQUIRE(entered);
    REQUIRE(refused.has_value());
    CHECK_THAT(*refused, Catch::Contains("one call at a time"));
    CHECK_FALSE(gate.timed_out);
    CHECK(gate.sent == 1);  // the refused call sent nothing
    REQUIRE(first_ok.has_value());
    CHECK(*first_ok);

    // Once the first call is over, the client serves the next one.
    gate.released = true;
    CHECK(client.list_profile_templates().ok());
    CHECK(gate.sent == 2);
}

TEST_CASE("calls one after another on one client, and on a moved client, are served", "[threads]") {
    Gate gate;
    gate.released = true;
    BasicClient<HoldingTransport> client(CmUrl::parse("https://cm.contoso.com"),
                                         HoldingTransport{&gate});
    for (int i = 0; i < 3; ++i)
        CHECK(client.list_profile_templates().ok());
    BasicClient<HoldingTransport> moved(std::move(client));
    CHECK(moved.list_profile_templates().ok());
    CHECK(gate.sent == 4);
}
