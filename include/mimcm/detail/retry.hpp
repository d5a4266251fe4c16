// The machinery of mimcm::RetryPolicy (mimcm/retry.hpp): what may be retried, the backoff, and
// the Retry-After header (RFC 9110 §10.2.3).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <variant>

#include "mimcm/call.hpp"
#include "mimcm/detail/request.hpp"
#include "mimcm/http.hpp"
#include "mimcm/identifiers.hpp"
#include "mimcm/retry.hpp"

namespace mimcm::detail {

/// Refuses a policy that makes no sense, before anything is sent.
inline void check_retry_policy(const RetryPolicy& policy) {
    if (policy.max_retries < 0 || policy.max_retries > RetryPolicy::max_retries_limit) {
        throw InvalidArgument("RetryPolicy::max_retries must be from 0 to " +
                              std::to_string(RetryPolicy::max_retries_limit) + ", not " +
                              std::to_string(policy.max_retries));
    }
    if (policy.initial_delay.count() < 0 || policy.max_delay.count() < 0) {
        throw InvalidArgument("RetryPolicy: initial_delay and max_delay must not be negative");
    }
    if (policy.max_delay < policy.initial_delay) {
        throw InvalidArgument("RetryPolicy::max_delay must not be shorter than initial_delay");
    }
    if (!(policy.multiplier >= 1.0) || !std::isfinite(policy.multiplier)) {
        throw InvalidArgument("RetryPolicy::multiplier must be a finite number of at least 1");
    }
}

/// The idempotent methods of RFC 9110 §9.2.2: sending one twice has the effect of sending it once.
[[nodiscard]] inline bool idempotent_method(std::string_view method) noexcept {
    return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
           method == "OPTIONS" || method == "TRACE";
}

/// The statuses that say "not now" rather than "no": timeout, too many requests, and a gateway
/// or the server itself unavailable. Never 500: CM's 500 is an application error.
[[nodiscard]] inline bool retryable_status(int status) noexcept {
    return status == 408 || status == 429 || status == 502 || status == 503 || status == 504;
}

/// A failure before any response: no name, no connection, or a connection that closed or was
/// reset before a status line. Never a cancel, a timeout (the call's time is spent), a limit, a
/// TLS failure (a certificate does not fix itself) or a malformed answer.
[[nodiscard]] inline bool retryable_failure(const TransportError& error) noexcept {
    switch (error.kind) {
        case TransportError::Kind::resolve:
        case TransportError::Kind::connect:
            return true;
        case TransportError::Kind::send_receive:
            return !error.response_started;
        default:
            return false;
    }
}

// --- Retry-After -----------------------------------------------------------------------------

/// Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (H. Hinnant's algorithm).
[[nodiscard]] constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m,
                                                     unsigned d) noexcept {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

/// The year of a day counted from 1970-01-01.
[[nodiscard]] constexpr std::int64_t year_from_days(std::int64_t z) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    return static_cast<std::int64_t>(yoe) + era * 400 + (mp >= 10 ? 1 : 0);
}

/// A strict reader of the HTTP-date grammar (RFC 9110 §5.6.7): names are case-sensitive, every
/// space is exactly one space, every number has its exact count of digits.
class HttpDateReader {
  public:
    explicit HttpDateReader(std::string_view text) noexcept : text_(text) {}

    bool literal(std::string_view expected) noexcept {
        if (text_.substr(0, expected.size()) != expected)
            return false;
        text_.remove_prefix(expected.size());
        return true;
    }
    bool digits(std::size_t count, int& value) noexcept {
        if (text_.size() < count)
            return false;
        value = 0;
        for (std::size_t i = 0; i < count; ++i) {
            const char c = text_[i];
            if (c < '0' || c > '9')
                return false;
            value = value * 10 + (c - '0');
        }
        text_.remove_prefix(count);
        return true;
    }
    /// One of `names`; its index in `index`.
    template <std::size_t N>
    bool one_of(const std::string_view (&names)[N], int& index) noexcept {
        for (std::size_t i = 0; i < N; ++i) {
            if (literal(names[i])) {
                index = static_cast<int>(i);
                return true;
            }
        }
        return false;
    }
    bool time_of_day(int& hour, int& minute, int& second) noexcept {
        return digits(2, hour) && literal(":") && digits(2, minute) && literal(":") &&
               digits(2, second);
    }
    [[nodiscard]] bool done() const noexcept { return text_.empty(); }

  private:
    std::string_view text_;
};

/// Seconds since 1970 of an HTTP-date in any of its three forms (IMF-fixdate, the obsolete RFC 850
/// and asctime forms), or nothing if `text` is not exactly one, names a day of the week that is
/// not the date's, or a day, hour, minute or second out of range. `now` dates RFC 850's
/// two-digit years: one more than 50 years ahead is taken as the century before.
[[nodiscard]] inline std::optional<std::int64_t> parse_http_date(
    std::string_view text, std::chrono::system_clock::time_point now) {
    static constexpr std::string_view days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr std::string_view long_days[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                     "Thursday", "Friday", "Saturday"};
    static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int weekday = -1, day = 0, month = -1, year = 0, hour = 0, minute = 0, second = 0;
    bool two_digit_year = false;
    bool ok = false;
    if (text.size() > 3 && text[3] == ',') {  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        HttpDateReader r(text);
        ok = r.one_of(days, weekday) && r.literal(", ") && r.digits(2, day) && r.literal(" ") &&
             r.one_of(months, month) && r.literal(" ") && r.digits(4, year) && r.literal(" ") &&
             r.time_of_day(hour, minute, second) && r.literal(" GMT") && r.done();
    } else if (text.find(',') != std::string_view::npos) {
        // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        HttpDateReader r(text);
        ok = r.one_of(long_days, weekday) && r.literal(", ") && r.digits(2, day) &&
             r.literal("-") && r.one_of(months, month) && r.literal("-") && r.digits(2, year) &&
             r.literal(" ") && r.time_of_day(hour, minute, second) && r.literal(" GMT") && r.done();
        two_digit_year = true;
    } else {  // asctime: Sun Nov  6 08:49:37 1994
        HttpDateReader r(text);
        ok = r.one_of(days, weekday) && r.literal(" ") && r.one_of(months, month) &&
             r.literal(" ") && (r.literal(" ") ? r.digits(1, day) : r.digits(2, day)) &&
             r.literal(" ") && r.time_of_day(hour, minute, second) && r.literal(" ") &&
             r.digits(4, year) && r.done();
    }
    if (!ok)
        return std::nullopt;
    const std::int64_t now_days =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() / 86400;
    std::int64_t full_year = year;
    if (two_digit_year) {
        const std::int64_t this_year = year_from_days(now_days);
        full_year = this_year - this_year % 100 + year;
        if (full_year > this_year + 50)
            full_year -= 100;
    }
    static constexpr int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (full_year % 4 == 0 && full_year % 100 != 0) || full_year % 400 == 0;
    const int last_day = month == 1 && !leap ? 28 : month_days[month];
    if (day < 1 || day > last_day || hour > 23 || minute > 59 || second > 60)
        return std::nullopt;
    const std::int64_t days_since_epoch =
        days_from_civil(full_year, static_cast<unsigned>(month + 1), static_cast<unsigned>(day));
    if (((days_since_epoch % 7) + 7 + 4) % 7 != weekday)  // 1970-01-01 was a Thursday
        return std::nullopt;
    return days_since_epoch * 86400 + hour * 3600 + minute * 60 + second;
}

/// The wait a Retry-After header value asks for: delay-seconds or an HTTP-date (a date in the past
/// is no wait). Nothing for anything else (then the backoff applies). A delay too large to
/// represent counts as 2^31 seconds, as RFC 9110 §1.2.2 says of delta-seconds.
[[nodiscard]] inline std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now) {
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
    if (value.empty())
        return std::nullopt;
    if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        constexpr std::int64_t most = std::int64_t(1) << 31;
        std::int64_t seconds = 0;
        for (const char c : value)
            seconds = std::min<std::int64_t>(most, seconds * 10 + (c - '0'));
        return std::chrono::milliseconds(seconds * 1000);
    }
    const auto date = parse_http_date(value, now);
    if (!date)
        return std::nullopt;
    const auto at = std::chrono::system_clock::time_point(std::chrono::seconds(*date));
    if (at <= now)
        return std::chrono::milliseconds(0);
    return std::chrono::ceil<std::chrono::milliseconds>(at - now);
}

// --- Backoff ---------------------------------------------------------------------------------

/// A random source for RetryPolicy::random when the application gives none.
[[nodiscard]] inline std::function<double()> default_retry_random() {
    std::random_device device;
    return seeded_random((std::uint64_t(device()) << 32) ^ device());
}

/// The waits of one call's retries, in order.
class Backoff {
  public:
    /// `random` outlives this object.
    Backoff(const RetryPolicy& policy, const std::function<double()>& random)
        : policy_(policy), random_(random), previous_(double(policy.initial_delay.count())) {}

    /// The wait before the next retry.
    std::chrono::milliseconds next() {
        const double cap = double(policy_.max_delay.count());
        const double initial = double(policy_.initial_delay.count());
        double wait = 0;
        switch (policy_.jitter) {
            case Jitter::full:
                wait = uniform() * bound_;
                break;
            case Jitter::decorrelated:
                wait = std::min(cap, initial + uniform() * (previous_ * 3 - initial));
                previous_ = wait;
                break;
            case Jitter::none:
                wait = bound_;
                break;
        }
        bound_ = std::min(cap, bound_ * policy_.multiplier);
        return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(cap, wait)));
    }

  private:
    /// A number in [0, 1), whatever the source gives.
    double uniform() {
        const double x = random_ ? random_() : 0.0;
        return x >= 0.0 && x < 1.0 ? x : (x >= 1.0 ? std::nextafter(1.0, 0.0) : 0.0);
    }

    const RetryPolicy& policy_;
    const std::function<double()>& random_;
    double bound_ = double(policy_.initial_delay.count());
    double previous_;
};

// --- The loop ------------------------------------------------------------------------------

/// Sends `request` with `attempt` (HttpRequest& -> TransportResult), again while `policy` allows,
/// and gives the last result. Waits with the context's token, so a cancel ends a wait at once (a
/// cancelled TransportError); never waits past the context's deadline. `warn` receives a
/// function that builds each log line (a retry, or why a retryable failure was not retried), so
/// a line nobody reads is never built.
template <class Attempt, class Warn>
TransportResult send_with_retries(HttpRequest& request, const RetryPolicy& policy,
                                  const std::function<double()>& random, const CallContext& context,
                                  Attempt&& attempt, Warn&& warn) {
    const int attempts = 1 + (idempotent_method(request.method) ? policy.max_retries : 0);
    Backoff backoff(policy, random);
    for (int n = 1;; ++n) {
        TransportResult result = attempt(request);
        if (n >= attempts)
            return result;
        const auto* response = std::get_if<HttpResponse>(&result);
        const auto* failure = std::get_if<TransportError>(&result);
        if (response ? !retryable_status(response->status) : !retryable_failure(*failure))
            return result;
        std::optional<std::chrono::milliseconds> retry_after;
        if (response && !response->header("Retry-After").empty()) {
            retry_after = parse_retry_after(response->header("Retry-After"),
                                            std::chrono::system_clock::now());
        }
        const std::chrono::milliseconds wait = retry_after ? *retry_after : backoff.next();
        auto what = [&] {
            return request.method + " " + redact_query(request.url) +
                   (response ? " -> " + std::to_string(response->status)
                             : " failed (" + std::string(to_string(failure->kind)) + ")");
        };
        if (retry_after && *retry_after > policy.max_delay) {
            warn([&] {
                return what() + ": not retried, Retry-After asks for " +
                       std::to_string(retry_after->count()) + " ms, more than the policy's " +
                       std::to_string(policy.max_delay.count()) + " ms";
            });
            return result;
        }
        if (context.deadline && CallContext::Clock::now() + wait >= *context.deadline) {
            warn([&] {
                return what() + ": not retried, a wait of " + std::to_string(wait.count()) +
                       " ms would pass the call's deadline";
            });
            return result;
        }
        warn([&] {
            return what() + ": retrying in " + std::to_string(wait.count()) + " ms" +
                   (retry_after ? " (Retry-After)" : "") + ", attempt " + std::to_string(n + 1) +
                   " of " + std::to_string(attempts);
        });
        if (context.cancellation.wait_for(wait)) {
            return TransportError{TransportError::Kind::cancelled, 0,
                                  "cancelled while waiting to retry"};
        }
    }
}

}  // namespace mimcm::detail
