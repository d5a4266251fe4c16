// Proves that the residue shim can fail: frees a marker the way a careless program would and
// exits 0 only if the shim saw it; and frees a wiped secret and exits 0 only if it saw nothing.
//
//   residue_canary string    a std::string holding the marker, destroyed unwiped: must be found
//   residue_canary realloc   a malloc'd block holding the marker, regrown by realloc(): the block
//                            realloc() vacates must be found
//   residue_canary wiped     a mimcm::SecretString holding the marker, destroyed: nothing found
//   residue_canary moved     a short SecretString (in its inline buffer) in a heap block, moved
//                            out, and the block freed: nothing found
//   residue_canary shrunk    a vector holding the marker, shrunk, made a SecretBytes and
//                            destroyed: nothing found (the bytes beyond its size are wiped too)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mimcm/secret.hpp"
#include "residue.h"

namespace {

const char marker[] = "canary-marker-5d1e9f";

unsigned long program_hits() {
    struct mimcm_residue_counts counts {};
    mimcm_residue_get_counts(&counts);
    return counts.program;
}

// Not inlined, so the compiler cannot see through the buffer's life.
__attribute__((noinline)) void unwiped_string() {
    std::string text = "a careless copy of the secret ";
    text += marker;
    text += " in a plain std::string";
    std::printf("the string holds %zu bytes\n", text.size());
}

__attribute__((noinline)) void regrown_block() {
    auto* block = static_cast<char*>(std::malloc(64));
    std::memcpy(block, marker, sizeof marker);
    auto* bigger = static_cast<char*>(std::realloc(block, 1 << 20));
    std::printf("regrown: %s\n", bigger != nullptr ? "yes" : "no");
    if (bigger != nullptr) {
        std::memset(bigger, 0, 1 << 20);
        std::free(bigger);
    }
}

__attribute__((noinline)) void wiped_secret() {
    mimcm::SecretString secret("a secret that wipes itself ");
    secret.append(marker);
    secret.append(" and grows: " + std::string(100, 'x'));
    std::printf("the secret holds %zu bytes\n", secret.size());
}

// Short enough for the string's inline buffer, long enough for the shim (6 bytes or more).
const char short_marker[] = "cnry-7b3e1";

__attribute__((noinline)) void moved_short_secret() {
    // The marker after the first byte, which a move overwrites with the emptied string's NUL.
    auto* holder = new mimcm::SecretString(std::string("x") + short_marker);
    mimcm::SecretString taken(std::move(*holder));
    delete holder;  // the block held the inline buffer the move copied out of
    std::printf("the secret moved: %zu bytes\n", taken.size());
}

__attribute__((noinline)) void shrunk_secret_bytes() {
    // Kept bytes, then the marker: the part the vector drops.
    std::vector<std::uint8_t> bytes = {'k', 'e', 'e', 'p'};
    bytes.insert(bytes.end(), marker, marker + sizeof marker - 1);
    bytes.resize(4);
    mimcm::SecretBytes secret(std::move(bytes));
    std::printf("the secret holds %zu bytes\n", secret.size());
}

}  // namespace

int main(int argc, char** argv) {
    if (mimcm_residue_active == nullptr) {
        std::fprintf(stderr, "FAIL: the residue shim is not loaded (LD_PRELOAD)\n");
        return 2;
    }
    const std::string_view mode = argc > 1 ? argv[1] : "";
    if (mimcm_residue_add_marker("canary", marker, sizeof marker - 1) != 1) {
        std::fprintf(stderr, "FAIL: the shim refused the marker\n");
        return 2;
    }
    const unsigned long before = program_hits();
    if (mode == "string") {
        unwiped_string();
    } else if (mode == "realloc") {
        regrown_block();
    } else if (mode == "wiped") {
        wiped_secret();
    } else if (mode == "moved") {
        if (mimcm_residue_add_marker("short canary", short_marker, sizeof short_marker - 1) != 1) {
            std::fprintf(stderr, "FAIL: the shim refused the short marker\n");
            return 2;
        }
        moved_short_secret();
    } else if (mode == "shrunk") {
        shrunk_secret_bytes();
    } else {
        std::fprintf(stderr, "usage: residue_canary string|realloc|wiped|moved|shrunk\n");
        return 2;
    }
    const unsigned long found = program_hits() - before;
    const bool must_be_clean = mode == "wiped" || mode == "moved" || mode == "shrunk";
    const bool expected = must_be_clean ? found == 0 : found >= 1;
    std::printf("%s: %s (%lu hits)\n", expected ? "PASS" : "FAIL",
                must_be_clean ? "a wiped secret leaves nothing" : "the unwiped marker was detected",
                found);
    return expected ? 0 : 1;
}
