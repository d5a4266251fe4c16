// The secret-residue detector: an LD_PRELOAD library that interposes free() and realloc() and,
// before a block goes back to the allocator, scans all its usable bytes for known secret markers.
// operator delete calls free(), so C++ allocations are covered too. realloc() is done as
// malloc + copy + scan + free of the old block, so every block a buffer vacates while it grows
// is scanned. A scanned block is zeroed before it is released, so a hit always names the code
// that freed the secret, never a later owner of the same memory.
//
// Markers come from MIMCM_RESIDUE_MARKERS ("label=text,label=hex:0a1b...", at least 6 bytes each)
// and from mimcm_residue_add_marker() at run time. Each hit is printed to stderr with the frames
// of its free() and attributed to the first frame outside the C and C++ runtimes: libcurl, the
// TLS library, or the program itself (the SDK is header-only, so its code is the program's).
//
// Nothing in here allocates through the interposed functions while it scans or reports: markers
// and counts live in static storage, reports are formatted on the stack and written with write(2).
#include <dlfcn.h>
#include <execinfo.h>
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "mimcm/detail/text.hpp"
#include "residue.h"

extern "C" {
void* __libc_malloc(std::size_t size);
void __libc_free(void* block);
void* __libc_realloc(void* block, std::size_t size);
}

namespace {

constexpr std::size_t max_markers = 128;
constexpr std::size_t max_marker_size = 512;
constexpr std::size_t min_marker_size = 6;

struct Marker {
    char label[64];
    unsigned char bytes[max_marker_size];
    std::size_t size;
};

Marker markers[max_markers];
std::atomic<std::size_t> marker_count{0};
pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

std::atomic<unsigned long> scanned{0};
std::atomic<unsigned long> hits[4];  // by mimcm_residue_origin

// Set while the shim itself runs on this thread: its own frees (backtrace's, dladdr's) pass
// through unscanned.
__attribute__((tls_model("initial-exec"))) thread_local int busy = 0;

void say(const char* text) {
    std::size_t left = std::strlen(text);
    while (left > 0) {
        const ssize_t n = ::write(2, text, left);
        if (n <= 0)
            return;
        text += n;
        left -= static_cast<std::size_t>(n);
    }
}

bool contains(const char* haystack, const char* needle) {
    return haystack != nullptr && std::strstr(haystack, needle) != nullptr;
}

/// Whether a frame in this object is the C or C++ runtime (or the shim): not where a free
/// "comes from".
bool runtime_object(const char* path) {
    return contains(path, "libc.so") || contains(path, "libstdc++") || contains(path, "libgcc_s") ||
           contains(path, "ld-linux") || contains(path, "libmimcm_residue") ||
           contains(path, "libc++");
}

mimcm_residue_origin origin_of(const char* path) {
    if (contains(path, "libcurl"))
        return MIMCM_RESIDUE_LIBCURL;
    if (contains(path, "libssl") || contains(path, "libcrypto") || contains(path, "libgnutls") ||
        contains(path, "libnettle"))
        return MIMCM_RESIDUE_TLS;
    if (path != nullptr && *path != '\0' && contains(path, ".so"))
        return MIMCM_RESIDUE_OTHER_LIBRARY;
    return MIMCM_RESIDUE_PROGRAM;
}

const char* origin_name(mimcm_residue_origin origin) {
    switch (origin) {
        case MIMCM_RESIDUE_PROGRAM:
            return "program";
        case MIMCM_RESIDUE_LIBCURL:
            return "libcurl";
        case MIMCM_RESIDUE_TLS:
            return "tls";
        case MIMCM_RESIDUE_OTHER_LIBRARY:
            return "other-library";
    }
    return "?";
}

void report(const Marker& marker, std::size_t block_size, std::size_t offset) {
    void* frames[32];
    const int count = backtrace(frames, 32);
    mimcm_residue_origin origin = MIMCM_RESIDUE_PROGRAM;
    char line[512];
    std::snprintf(line, sizeof line, "residue: marker '%s' in a freed block of %zu bytes at +%zu\n",
                  marker.label, block_size, offset);
    say(line);
    bool attributed = false;
    for (int i = 1; i < count; ++i) {
        Dl_info info{};
        const bool known = dladdr(frames[i], &info) != 0;
        const char* object = known && info.dli_fname ? info.dli_fname : "?";
        const char* symbol = known && info.dli_sname ? info.dli_sname : "?";
        const bool runtime = runtime_object(object);
        if (!runtime && !attributed) {
            origin = origin_of(object);
            attributed = true;
        }
        std::snprintf(line, sizeof line, "residue:   #%d %s %s (%s)\n", i, runtime ? " " : "*",
                      symbol, object);
        say(line);
        if (i >= 14)
            break;
    }
    std::snprintf(line, sizeof line, "residue:   attributed to: %s\n", origin_name(origin));
    say(line);
    hits[origin].fetch_add(1);
}

/// Scans a block about to be released.
void scan(void* block) {
    if (block == nullptr)
        return;
    const std::size_t n = malloc_usable_size(block);
    scanned.fetch_add(1, std::memory_order_relaxed);
    const std::size_t markers_now = marker_count.load(std::memory_order_acquire);
    for (std::size_t m = 0; m < markers_now; ++m) {
        const Marker& marker = markers[m];
        if (marker.size > n)
            continue;
        const void* at = memmem(block, n, marker.bytes, marker.size);
        if (at != nullptr) {
            busy = 1;
            report(marker, n,
                   static_cast<std::size_t>(static_cast<const unsigned char*>(at) -
                                            static_cast<const unsigned char*>(block)));
            busy = 0;
            break;  // one hit per block
        }
    }
    // Wiped once scanned, so that a later owner of the same memory is never blamed for what an
    // earlier one left in it: a hit always names the code that freed the secret.
    std::memset(block, 0, n);
}

/// "label=text" or "label=hex:0a1b..." from the environment.
void add_from_environment(const char* item, std::size_t size) {
    const char* eq = static_cast<const char*>(std::memchr(item, '=', size));
    if (eq == nullptr)
        return;
    char label[64] = {};
    std::memcpy(label, item, std::min<std::size_t>(static_cast<std::size_t>(eq - item), 63));
    const char* value = eq + 1;
    std::size_t value_size = size - static_cast<std::size_t>(value - item);
    unsigned char bytes[max_marker_size];
    std::size_t count = 0;
    if (value_size > 4 && std::strncmp(value, "hex:", 4) == 0) {
        for (std::size_t i = 4; i + 1 < value_size && count < max_marker_size; i += 2) {
            const int hi = mimcm::detail::hex_value(value[i]);
            const int lo = mimcm::detail::hex_value(value[i + 1]);
            if (hi < 0 || lo < 0)
                return;
            bytes[count++] = static_cast<unsigned char>(hi * 16 + lo);
        }
    } else {
        count = std::min(value_size, max_marker_size);
        std::memcpy(bytes, value, count);
    }
    mimcm_residue_add_marker(label, bytes, count);
}

__attribute__((constructor)) void start() {
    busy = 1;
    void* frames[4];
    backtrace(frames, 4);  // loads libgcc_s now, not in the middle of a free()
    Dl_info info{};
    dladdr(reinterpret_cast<void*>(&start), &info);
    if (const char* env = std::getenv("MIMCM_RESIDUE_MARKERS")) {
        const char* item = env;
        while (*item != '\0') {
            const char* comma = std::strchr(item, ',');
            const std::size_t size =
                comma ? static_cast<std::size_t>(comma - item) : std::strlen(item);
            add_from_environment(item, size);
            if (comma == nullptr)
                break;
            item = comma + 1;
        }
    }
    busy = 0;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) void free(void* block) {
    if (block != nullptr && busy == 0)
        scan(block);
    __libc_free(block);
}

__attribute__((visibility("default"))) void* realloc(void* block, std::size_t size) {
    if (busy != 0 || block == nullptr)
        return __libc_realloc(block, size);
    if (size == 0) {
        free(block);
        return nullptr;
    }
    void* moved = __libc_malloc(size);
    if (moved == nullptr)
        return nullptr;  // the old block stays valid, as realloc() promises
    const std::size_t old_size = malloc_usable_size(block);
    std::memcpy(moved, block, old_size < size ? old_size : size);
    free(block);
    return moved;
}

__attribute__((visibility("default"))) int mimcm_residue_active(void) {
    return 1;
}

__attribute__((visibility("default"))) int mimcm_residue_add_marker(const char* label,
                                                                    const void* data, size_t size) {
    if (size < min_marker_size || size > max_marker_size)
        return 0;
    pthread_mutex_lock(&lock);
    const std::size_t n = marker_count.load();
    int added = 0;
    if (n < max_markers) {
        Marker& m = markers[n];
        std::snprintf(m.label, sizeof m.label, "%s", label);
        std::memcpy(m.bytes, data, size);
        m.size = size;
        marker_count.store(n + 1, std::memory_order_release);
        added = 1;
    }
    pthread_mutex_unlock(&lock);
    return added;
}

__attribute__((visibility("default"))) void mimcm_residue_get_counts(
    struct mimcm_residue_counts* out) {
    out->scanned = scanned.load();
    out->program = hits[MIMCM_RESIDUE_PROGRAM].load();
    out->libcurl = hits[MIMCM_RESIDUE_LIBCURL].load();
    out->tls = hits[MIMCM_RESIDUE_TLS].load();
    out->other_library = hits[MIMCM_RESIDUE_OTHER_LIBRARY].load();
}

}  // extern "C"
