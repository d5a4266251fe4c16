// Counts heap allocations of the whole process (the program, libstdc++, libcurl, OpenSSL): the
// program defines malloc, calloc, realloc and free itself, forwarding to glibc's allocator, so
// every library's calls land here. Include in exactly one translation unit of a benchmark.
// glibc only (the __libc_* entry points); elsewhere the count stays 0 and says so.
// The count is one atomic the whole process shares: threads allocating at once would contend for
// it, so code timing several threads turns counting off (allocation_counting) while they run.
#pragma once

#include <atomic>
#include <cstddef>

namespace mimcm_bench {

inline std::atomic<unsigned long long> allocation_count{0};
/// Whether allocations are counted; only read by the allocation functions (no contention).
inline std::atomic<bool> allocation_counting{true};

inline void count_allocation() noexcept {
    if (allocation_counting.load(std::memory_order_relaxed))
        allocation_count.fetch_add(1, std::memory_order_relaxed);
}

[[nodiscard]] inline unsigned long long allocations() noexcept {
    return allocation_count.load(std::memory_order_relaxed);
}

#if defined(__GLIBC__)
inline constexpr bool counts_allocations = true;
#else
inline constexpr bool counts_allocations = false;
#endif

}  // namespace mimcm_bench

#if defined(__GLIBC__)
extern "C" {
void* __libc_malloc(std::size_t size) noexcept;
void* __libc_calloc(std::size_t count, std::size_t size) noexcept;
void* __libc_realloc(void* block, std::size_t size) noexcept;
void __libc_free(void* block) noexcept;

void* malloc(std::size_t size) noexcept {
    mimcm_bench::count_allocation();
    return __libc_malloc(size);
}
void* calloc(std::size_t count, std::size_t size) noexcept {
    mimcm_bench::count_allocation();
    return __libc_calloc(count, size);
}
void* realloc(void* block, std::size_t size) noexcept {
    mimcm_bench::count_allocation();
    return __libc_realloc(block, size);
}
void free(void* block) noexcept {
    __libc_free(block);
}
}
#endif
