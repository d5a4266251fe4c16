// The interface of the secret-residue shim (shim.cpp) for the programs it runs under. Programs
// declare these weak: without the shim (no LD_PRELOAD) they are null, and a program must refuse
// to pass a test it could not have failed.
#pragma once

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Where a hit's free() came from: the first frame outside the C and C++ runtimes.
enum mimcm_residue_origin {
    MIMCM_RESIDUE_PROGRAM = 0,  ///< the program (the header-only SDK is compiled into it)
    MIMCM_RESIDUE_LIBCURL = 1,
    MIMCM_RESIDUE_TLS = 2,  ///< libssl, libcrypto, GnuTLS
    MIMCM_RESIDUE_OTHER_LIBRARY = 3,
};

struct mimcm_residue_counts {
    unsigned long scanned;  ///< blocks scanned (freed, or vacated by realloc)
    unsigned long program;  ///< hits by origin
    unsigned long libcurl;
    unsigned long tls;
    unsigned long other_library;
};

/// 1 when the shim is loaded.
int mimcm_residue_active(void) __attribute__((weak));
/// Adds a marker (6 to 512 bytes): every freed block is scanned for it from now on. 1 if added.
int mimcm_residue_add_marker(const char* label, const void* data, size_t size)
    __attribute__((weak));
/// The counts since the process started.
void mimcm_residue_get_counts(struct mimcm_residue_counts* out) __attribute__((weak));

#ifdef __cplusplus
}
#endif
