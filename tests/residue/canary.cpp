// Proves that the residue shim can fail: frees a marker the way a careless program would and
// exits 0 only if the shim saw it; and frees a wiped secret and exits 0 only if it saw nothing.
//
//   residue_canary string    a std::string holding the marker, destroyed unwiped: must be found
//   residue_canary realloc   a malloc'd block holding the marker, regrown by realloc(): the block
//                            realloc() vacates must be found
//   residue_canary wiped     a mimcm::SecretString holding the marker, destroyed: nothing found
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

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
    } else {
        std::fprintf(stderr, "usage: residue_canary string|realloc|wiped\n");
        return 2;
    }
    const unsigned long found = program_hits() - before;
    const bool expected = mode == "wiped" ? found == 0 : found >= 1;
    std::printf(
        "%s: %s (%lu hits)\n", expected ? "PASS" : "FAIL",
        mode == "wiped" ? "a wiped secret leaves nothing" : "the unwiped marker was detected",
        found);
    return expected ? 0 : 1;
}
