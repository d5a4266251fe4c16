// Readers: listing them with their state, waiting for a card, and picking the reader to use.
//
// Threads: the functions here use the Context given from the calling thread only; a wait ends
// early (Error{cancelled}) when another thread calls Context::cancel(), or cancels the
// CancellationToken given to the wait.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mimcm/call.hpp"
#include "mimcm/encoding.hpp"
#include "mimcm/pcsc/context.hpp"
#include "mimcm/pcsc/error.hpp"
#include "mimcm/pcsc/platform.hpp"

namespace mimcm::pcsc {

/// One reader and its state, as list_readers() saw it. A plain value: not synchronised; share
/// it between threads only read-only.
struct ReaderInfo {
    std::string name;
    bool card_present = false;  ///< a card is in the reader (possibly mute)
    bool card_mute = false;     ///< the card does not answer (unusable)
    Bytes atr;                  ///< the card's ATR as the reader state reports it (may be empty)
};

/// The names of all readers (SCardListReaders). No readers -> an empty list, not an error.
inline std::vector<std::string> reader_names(const Context& context) {
    for (int attempt = 0; attempt < 4; ++attempt) {  // the list may grow between the two calls
        DWORD size = 0;
        LONG rv = detail::list_readers(context.native(), nullptr, &size);
        if (rv == static_cast<LONG>(SCARD_E_NO_READERS_AVAILABLE))
            return {};
        check(rv, "SCardListReaders");
        std::string buffer(size, '\0');
        rv = detail::list_readers(context.native(), size ? &buffer[0] : nullptr, &size);
        if (rv == static_cast<LONG>(SCARD_E_NO_READERS_AVAILABLE))
            return {};
        if (rv == static_cast<LONG>(SCARD_E_INSUFFICIENT_BUFFER))
            continue;
        check(rv, "SCardListReaders");
        buffer.resize((std::min)(static_cast<std::size_t>(size), buffer.size()));
        std::vector<std::string> names;
        std::size_t start = 0;
        while (start < buffer.size()) {
            const std::size_t end = buffer.find('\0', start);
            const std::size_t stop = end == std::string::npos ? buffer.size() : end;
            if (stop > start)
                names.push_back(buffer.substr(start, stop - start));
            start = stop + 1;
        }
        return names;
    }
    throw Error::from_native(static_cast<LONG>(SCARD_E_INSUFFICIENT_BUFFER), "SCardListReaders", {},
                             "the reader list kept changing");
}

/// All readers with their state (SCardListReaders + SCardGetStatusChange with timeout 0).
/// No readers -> an empty list, not an error: the caller decides whether that is one.
inline std::vector<ReaderInfo> list_readers(const Context& context) {
    for (int attempt = 0; attempt < 4; ++attempt) {  // a reader may vanish between the calls
        const auto names = reader_names(context);
        if (names.empty())
            return {};
        std::vector<detail::ReaderState> states(names.size());
        for (std::size_t i = 0; i < names.size(); ++i) {
            states[i] = detail::ReaderState{};
            states[i].szReader = names[i].c_str();
            states[i].dwCurrentState = SCARD_STATE_UNAWARE;
        }
        const LONG rv = detail::get_status_change(context.native(), 0, states.data(),
                                                  static_cast<DWORD>(states.size()));
        if (rv == static_cast<LONG>(SCARD_E_UNKNOWN_READER))
            continue;
        if (rv != static_cast<LONG>(SCARD_E_TIMEOUT))
            check(rv, "SCardGetStatusChange");
        std::vector<ReaderInfo> readers;
        for (std::size_t i = 0; i < names.size(); ++i) {
            const DWORD event = states[i].dwEventState;
            if (event & (SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE))
                continue;  // vanished
            ReaderInfo info;
            info.name = names[i];
            info.card_present = (event & SCARD_STATE_PRESENT) != 0;
            info.card_mute = (event & SCARD_STATE_MUTE) != 0;
            if (info.card_present) {
                const auto n =
                    (std::min)(static_cast<std::size_t>(states[i].cbAtr), sizeof(states[i].rgbAtr));
                info.atr.assign(states[i].rgbAtr, states[i].rgbAtr + n);
            }
            readers.push_back(std::move(info));
        }
        return readers;
    }
    throw Error::from_native(static_cast<LONG>(SCARD_E_UNKNOWN_READER), "SCardGetStatusChange", {},
                             "the reader list kept changing");
}

namespace detail {

inline bool usable_card(DWORD event) noexcept {
    return (event & SCARD_STATE_PRESENT) != 0 && (event & SCARD_STATE_MUTE) == 0;
}

inline std::string seconds_text(std::chrono::milliseconds ms) {
    const auto count = ms.count();
    std::string text = std::to_string(count / 1000);
    if (const auto frac = count % 1000; frac != 0) {
        std::string f = std::to_string(frac);
        f.insert(0, 3 - f.size(), '0');
        while (!f.empty() && f.back() == '0')
            f.pop_back();
        text += "." + f;
    }
    return text + " s";
}

inline std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) {
        if (!out.empty())
            out += ", ";
        out += "\"" + n + "\"";
    }
    return out;
}

/// How long one SCardGetStatusChange of a cancellable wait lasts: the token is looked at
/// between two of them, so a cancel ends the wait within about this long.
constexpr std::chrono::milliseconds cancellable_wait_slice{50};

/// Waits (bounded by `timeout`) until `wanted` (or, without a name, any reader) holds a usable
/// card; returns the reader's name. Without a name, a reader plugged in meanwhile is noticed
/// through the "\\?PnP?\Notification" pseudo-reader where the platform supports it. A cancel of
/// `cancellation` ends the wait with Error{cancelled}.
inline std::string wait_for_card(const Context& context, const std::optional<std::string>& wanted,
                                 std::chrono::milliseconds timeout,
                                 const CancellationToken& cancellation = {}) {
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + timeout;
    const std::string reader_label = wanted ? *wanted : std::string();
    auto timed_out = [&] {
        return Error::from_native(static_cast<LONG>(SCARD_E_TIMEOUT), "SCardGetStatusChange",
                                  reader_label,
                                  "no card was inserted within " + seconds_text(timeout));
    };
    const auto check_cancelled = [&] {
        if (cancellation.cancelled()) {
            throw Error::from_native(static_cast<LONG>(SCARD_E_CANCELLED), "SCardGetStatusChange",
                                     reader_label, "the wait for a card was cancelled");
        }
    };
    // The next wait: what is left of the timeout, in slices when the wait can be cancelled.
    const auto next_wait = [&] {
        const auto remaining =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        if (remaining.count() <= 0)
            throw timed_out();
        constexpr std::chrono::milliseconds longest_slice{24L * 3600 * 1000};
        const auto slice = cancellation.can_be_cancelled() ? cancellable_wait_slice : longest_slice;
        return static_cast<DWORD>((std::min)(remaining, slice).count() + 1);
    };
    bool use_pnp = !wanted;
    for (int rebuild = 0; rebuild < 64; ++rebuild) {  // the reader list changed
        const std::vector<std::string> names =
            wanted ? std::vector<std::string>{*wanted} : reader_names(context);
        if (names.empty() && !use_pnp) {
            throw Error::from_native(static_cast<LONG>(SCARD_E_NO_READERS_AVAILABLE),
                                     "SCardListReaders");
        }
        std::vector<ReaderState> states(names.size() + (use_pnp ? 1 : 0));
        for (std::size_t i = 0; i < states.size(); ++i) {
            states[i] = ReaderState{};
            states[i].szReader = i < names.size() ? names[i].c_str() : pnp_notification;
            states[i].dwCurrentState = SCARD_STATE_UNAWARE;
        }
        DWORD wait_ms = 0;  // the first call takes a snapshot
        bool list_changed = false;
        // Bounded by the deadline; the count is a backstop (a day of cancellable slices).
        for (long round = 0; round < 2000000 && !list_changed; ++round) {
            check_cancelled();
            const LONG rv = get_status_change(context.native(), wait_ms, states.data(),
                                              static_cast<DWORD>(states.size()));
            if (rv == static_cast<LONG>(SCARD_E_TIMEOUT)) {
                if (round > 0) {
                    wait_ms = next_wait();  // a slice ended with nothing new
                    continue;
                }
            } else if (rv == static_cast<LONG>(SCARD_E_UNKNOWN_READER) && !wanted) {
                if (use_pnp && round == 0) {
                    use_pnp = false;  // no PnP notification here
                }
                list_changed = true;
                continue;
            } else {
                check(rv, "SCardGetStatusChange", reader_label);
            }
            for (std::size_t i = 0; i < names.size(); ++i) {
                const DWORD event = states[i].dwEventState;
                if (event & (SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE)) {
                    if (wanted) {
                        throw Error::from_native(static_cast<LONG>(SCARD_E_UNKNOWN_READER),
                                                 "SCardGetStatusChange", reader_label);
                    }
                    list_changed = true;
                }
                if (usable_card(event))
                    return names[i];
            }
            if (use_pnp) {
                ReaderState& pnp = states.back();
                if (pnp.dwEventState & SCARD_STATE_UNKNOWN) {
                    use_pnp = false;  // pseudo-reader not supported
                    list_changed = true;
                } else if (round > 0 && (pnp.dwEventState & SCARD_STATE_CHANGED)) {
                    list_changed = true;
                }
            }
            for (auto& s : states)
                s.dwCurrentState = s.dwEventState & ~DWORD{SCARD_STATE_CHANGED};
            wait_ms = next_wait();
        }
        if (clock::now() >= deadline)
            throw timed_out();
    }
    throw timed_out();
}

}  // namespace detail

/// Picks the reader to use.
///  - `reader` given: that reader. With wait_for_card > 0 and no card in it, waits for one
///    (Error{timeout} when none arrives in time; Error{unknown_reader} when the reader is
///    not there). With no wait, the name is returned as is: connecting reports a missing
///    card (Error{no_card}) or reader (Error{unknown_reader}).
///  - no `reader`: the first reader (in PC/SC order) with a usable card; with
///    wait_for_card > 0, waits for a card in any reader. Error{no_readers} when there is no
///    reader and no waiting; Error{no_card} when no reader has a card.
/// A cancel of `cancellation` ends a wait with Error{cancelled}.
inline std::string select_reader(const Context& context, const std::optional<std::string>& reader,
                                 std::chrono::milliseconds wait_for_card = {},
                                 const CancellationToken& cancellation = {}) {
    const bool wait = wait_for_card.count() > 0;
    if (reader) {
        if (!wait)
            return *reader;
        for (const auto& info : list_readers(context)) {
            if (info.name == *reader && info.card_present && !info.card_mute)
                return *reader;
        }
        return detail::wait_for_card(context, reader, wait_for_card, cancellation);
    }
    const auto readers = list_readers(context);
    for (const auto& info : readers) {
        if (info.card_present && !info.card_mute)
            return info.name;
    }
    if (wait)
        return detail::wait_for_card(context, std::nullopt, wait_for_card, cancellation);
    if (readers.empty()) {
        throw Error::from_native(static_cast<LONG>(SCARD_E_NO_READERS_AVAILABLE),
                                 "SCardListReaders");
    }
    std::vector<std::string> names;
    for (const auto& info : readers)
        names.push_back(info.name);
    throw Error::from_native(static_cast<LONG>(SCARD_E_NO_SMARTCARD), "SCardGetStatusChange", {},
                             "no smart card in any reader (readers: " + detail::join(names) + ")");
}

}  // namespace mimcm::pcsc
