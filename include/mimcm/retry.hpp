// mimcm::RetryPolicy: when and how long the client waits before sending a failed call again
// (ClientOptions::retry).
//
//     mimcm::ClientOptions options;
//     options.retry.max_retries = 4;                 // 0 turns retries off
//     options.retry.initial_delay = std::chrono::milliseconds(200);
//
// What is retried: idempotent calls only (GET, and the status PUTs, which set a state and can be
// repeated), answered 408, 429, 502, 503 or 504, or failed before any response came back (the
// name did not resolve, the connection was refused, or it closed or was reset before a status
// line). Never a POST (it may have created something), never a 500 (CM's 500 is an application
// error with a correlation id: sending again gives the same error), never 401/403/404, never a
// call that was cancelled, timed out or hit one of the transport's limits.
//
// How long: exponential backoff, the n-th retry waiting up to
// min(max_delay, initial_delay * multiplier^(n-1)), with jitter so that clients do not retry in
// step. A Retry-After header (delay seconds or an HTTP date) replaces the backoff; one asking for
// more than max_delay ends the call with that answer instead (the server says it is down for a
// while: the caller decides). No wait passes the call's deadline (CallContext): if the next wait
// would, the call ends with the last failure. A cancel ends a wait at once.
//
// Thread safety: a RetryPolicy is a value. Its random source is called by the client it is given
// to, one call at a time (a client serves one call at a time).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <random>

namespace mimcm {

/// How the wait before each retry is spread.
enum class Jitter {
    /// Uniform between 0 and the backoff bound (AWS's "full jitter"): the default, spreads
    /// clients the most.
    full,
    /// Uniform between initial_delay and three times the previous wait, capped by max_delay
    /// (AWS's "decorrelated jitter").
    decorrelated,
    /// No jitter: exactly the backoff bound (for applications that must predict the waits).
    none,
};

struct RetryPolicy {
    /// The most retries a policy may ask for.
    static constexpr int max_retries_limit = 10;

    /// Retries after the first attempt (at most max_retries_limit); 0 turns retrying off. The
    /// default 2 (three attempts) rides out a restarting application pool or a load balancer's
    /// brief 503 while a user waits at the card reader, and multiplies the load on an overloaded
    /// server by at most 3.
    int max_retries = 2;
    /// The backoff bound of the first retry.
    std::chrono::milliseconds initial_delay{500};
    /// How the bound grows from one retry to the next (at least 1).
    double multiplier = 2.0;
    /// No wait is longer, and a Retry-After asking for more ends the call instead.
    std::chrono::milliseconds max_delay{10000};
    Jitter jitter = Jitter::full;
    /// Uniform random numbers in [0, 1) for the jitter. Empty: a generator seeded from
    /// std::random_device, one per client. seeded_random() gives a reproducible one.
    std::function<double()> random;

    /// A policy that never retries.
    [[nodiscard]] static RetryPolicy disabled() {
        RetryPolicy policy;
        policy.max_retries = 0;
        return policy;
    }
};

/// A random source for RetryPolicy::random that gives the same numbers for the same seed.
[[nodiscard]] inline std::function<double()> seeded_random(std::uint64_t seed) {
    return [engine = std::mt19937_64(seed)]() mutable {
        return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
    };
}

}  // namespace mimcm
