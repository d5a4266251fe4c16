// What the benchmarks share: CPU and wall clocks, median and spread over rounds, table cells.
#pragma once

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace mimcm_bench {

/// CPU time of this process (all threads), in seconds.
[[nodiscard]] inline double cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

[[nodiscard]] inline double wall_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// Median, minimum and maximum of a set of values (one per round).
struct Spread {
    double median = 0;
    double min = 0;
    double max = 0;
};

[[nodiscard]] inline Spread spread(std::vector<double> values) {
    Spread s;
    if (values.empty())
        return s;
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    s.median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    s.min = values.front();
    s.max = values.back();
    return s;
}

/// "0.84 (0.58–0.92)"
[[nodiscard]] inline std::string ratio_cell(const Spread& s) {
    char text[64];
    std::snprintf(text, sizeof text, "%.2f (%.2f–%.2f)", s.median, s.min, s.max);
    return text;
}

/// A number with `decimals` decimals.
[[nodiscard]] inline std::string number(double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

}  // namespace mimcm_bench
