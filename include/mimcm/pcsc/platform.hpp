// The platform's PC/SC headers and the narrow-string entry points; every other mimcm/pcsc header
// reaches PC/SC through this one, and it is the only mimcm header that includes them:
//   Linux/BSD: <winscard.h> from pcsc-lite (pkg-config libpcsclite adds -I/usr/include/PCSC)
//   macOS:     <PCSC/winscard.h> (-framework PCSC)
//   Windows:   <winsock2.h>, <windows.h>, then <winscard.h> (winscard.lib); the ...A functions
//              are called explicitly, so reader names are narrow (ANSI) strings whatever UNICODE
//              says. NOMINMAX is not needed: mimcm writes (std::min)(a, b).
// Everything here is an implementation detail (namespace mimcm::pcsc::detail).
#pragma once

#if defined(MIMCM_NO_PCSC)
#error "mimcm/pcsc.hpp needs PC/SC, but mimcm was configured without it (MIMCM_WITH_PCSC=OFF)"
#endif

#if defined(_WIN32)
// winsock2.h first: <windows.h> alone brings in the old winsock.h, which clashes with the
// winsock2.h that libcurl's headers (and many applications) include later.
#include <winsock2.h>

#include <windows.h>
#include <winscard.h>
#elif defined(__APPLE__)
#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>
#else
#include <winscard.h>
#endif

// Old macOS PCSC.framework headers lack this code; its value is the same everywhere.
#ifndef SCARD_E_NO_READERS_AVAILABLE
#define SCARD_E_NO_READERS_AVAILABLE ((LONG)0x8010002E)
#endif

namespace mimcm::pcsc::detail {

// The narrow-string PC/SC entry points, whatever UNICODE says on Windows.
#if defined(_WIN32)
using ReaderState = SCARD_READERSTATEA;
inline LONG list_readers(SCARDCONTEXT c, LPSTR buffer, DWORD* size) {
    return SCardListReadersA(c, nullptr, buffer, size);
}
inline LONG connect(SCARDCONTEXT c, const char* reader, DWORD share, DWORD protocols,
                    SCARDHANDLE* handle, DWORD* active) {
    return SCardConnectA(c, reader, share, protocols, handle, active);
}
inline LONG status(SCARDHANDLE h, DWORD* state, DWORD* protocol, BYTE* atr, DWORD* atr_len) {
    DWORD name_len = 0;
    return SCardStatusA(h, nullptr, &name_len, state, protocol, atr, atr_len);
}
inline LONG get_status_change(SCARDCONTEXT c, DWORD timeout, ReaderState* states, DWORD count) {
    return SCardGetStatusChangeA(c, timeout, states, count);
}
#else
using ReaderState = SCARD_READERSTATE;
inline LONG list_readers(SCARDCONTEXT c, LPSTR buffer, DWORD* size) {
    return SCardListReaders(c, nullptr, buffer, size);
}
inline LONG connect(SCARDCONTEXT c, const char* reader, DWORD share, DWORD protocols,
                    SCARDHANDLE* handle, DWORD* active) {
    return SCardConnect(c, reader, share, protocols, handle, active);
}
inline LONG status(SCARDHANDLE h, DWORD* state, DWORD* protocol, BYTE* atr, DWORD* atr_len) {
    DWORD name_len = 0;
    return SCardStatus(h, nullptr, &name_len, state, protocol, atr, atr_len);
}
inline LONG get_status_change(SCARDCONTEXT c, DWORD timeout, ReaderState* states, DWORD count) {
    return SCardGetStatusChange(c, timeout, states, count);
}
#endif

/// SCardStatus' dwState says "no card" (pcsc-lite: bit flags; Windows: enumerated values).
inline bool state_absent(DWORD state) noexcept {
#if defined(_WIN32)
    return state == SCARD_ABSENT || state == SCARD_UNKNOWN;
#else
    return (state & SCARD_ABSENT) != 0;
#endif
}

constexpr const char* pnp_notification = "\\\\?PnP?\\Notification";

}  // namespace mimcm::pcsc::detail
