#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "mimcm/call.hpp"

using namespace mimcm;
using namespace std::chrono_literals;

TEST_CASE("a default token is never cancelled and its wait sleeps the whole time", "[call]") {
    const CancellationToken token;
    CHECK_FALSE(token.can_be_cancelled());
    CHECK_FALSE(token.cancelled());
    const auto started = std::chrono::steady_clock::now();
    CHECK_FALSE(token.wait_for(20ms));
    CHECK(std::chrono::steady_clock::now() - started >= 20ms);
    int runs = 0;
    const auto registration = token.on_cancel([&] { ++runs; });
    CHECK(runs == 0);
}

TEST_CASE("cancel wakes a waiting thread and runs each callback once", "[call]") {
    CancellationSource source;
    const CancellationToken token = source.token();
    CHECK(token.can_be_cancelled());
    std::atomic<int> runs{0};
    auto registration = token.on_cancel([&] { ++runs; });
    auto dropped = token.on_cancel([&] { runs += 100; });
    dropped = CancellationRegistration();  // unregistered: never runs

    std::chrono::steady_clock::duration waited{};
    bool woke_cancelled = false;
    std::thread waiter([&] {
        const auto started = std::chrono::steady_clock::now();
        woke_cancelled = token.wait_for(10s);
        waited = std::chrono::steady_clock::now() - started;
    });
    std::this_thread::sleep_for(30ms);
    source.cancel();
    source.cancel();
    waiter.join();
    CHECK(woke_cancelled);
    CHECK(waited < 5s);
    CHECK(token.cancelled());
    CHECK(source.cancelled());
    CHECK(runs == 1);

    int late = 0;
    const auto after = token.on_cancel([&] { ++late; });
    CHECK(late == 1);  // already cancelled: runs at once
    CHECK(token.wait_for(10s));
}

TEST_CASE("a context's deadline gives the time remaining", "[call]") {
    const CallContext none;
    CHECK_FALSE(none.remaining());
    CHECK_FALSE(none.expired());
    CHECK_FALSE(none.cancelled());

    const auto soon = CallContext::timeout(10s);
    REQUIRE(soon.remaining());
    CHECK(*soon.remaining() > 9s);
    CHECK(*soon.remaining() <= 10s);
    CHECK_FALSE(soon.expired());

    const auto past = CallContext::timeout(-1ms);
    CHECK(past.expired());
    CHECK(*past.remaining() == std::chrono::milliseconds::zero());
}
