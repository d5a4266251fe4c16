// The card read, mimcm against raw PC/SC: mimcm::pcsc::read_card (reader, connect, transaction,
// ATR, profile resolution, card id, challenge) against a hand-written sequence of the same
// PC/SC calls and APDUs (SCardConnect, SCardBeginTransaction, SCardStatus, SCardTransmit...),
// on a virtual GIDS card in pcscd. Alternating rounds; prints APDUs per read, time per read and
// the ratio (median and min–max over rounds). APDUs are counted by an SCardTransmit of this
// program that forwards to the library's.
// Both sides send the same 6 APDUs; mimcm calls SCardStatus once more (its same-card check).
//
//   bench_card --reader NAME [--rounds 11] [--reads 300] [--show-apdus]
//
// --show-apdus prints the APDUs one mimcm read sends, and the raw read's, and exits.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "../support/card_apdus.hpp"
#include "alloc_count.hpp"
#include "bench_args.hpp"
#include "bench_stats.hpp"
#include "mimcm/encoding.hpp"
#include "mimcm/pcsc.hpp"

namespace {

unsigned long apdu_count = 0;
bool recording = false;
std::vector<std::string> recorded;

std::string hex(const unsigned char* data, unsigned long size) {
    std::string out;
    for (unsigned long i = 0; i < size; ++i) {
        char two[4];
        std::snprintf(two, sizeof two, "%02X", data[i]);
        if (i > 0)
            out += ' ';
        out += two;
    }
    return out;
}

}  // namespace

// Counts (and, on request, records) every APDU of the program, mimcm's and the raw read's.
extern "C" PCSC_API LONG SCardTransmit(SCARDHANDLE card, const SCARD_IO_REQUEST* send_pci,
                                       LPCBYTE send, DWORD send_size, SCARD_IO_REQUEST* recv_pci,
                                       LPBYTE recv, LPDWORD recv_size) {
    using Fn = LONG (*)(SCARDHANDLE, const SCARD_IO_REQUEST*, LPCBYTE, DWORD, SCARD_IO_REQUEST*,
                        LPBYTE, LPDWORD);
    static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "SCardTransmit"));
    if (real == nullptr)
        return SCARD_F_INTERNAL_ERROR;
    ++apdu_count;
    const LONG rc = real(card, send_pci, send, send_size, recv_pci, recv, recv_size);
    if (recording) {
        recorded.push_back("> " + hex(send, send_size));
        if (rc == SCARD_S_SUCCESS)
            recorded.push_back("< " + hex(recv, *recv_size));
    }
    return rc;
}

namespace {

using namespace mimcm_bench;

struct Reading {
    std::vector<unsigned char> atr;
    std::vector<unsigned char> card_id;
    std::vector<unsigned char> challenge;
};

// ---------------------------------------------------------------------------------------------
// mimcm

Reading mimcm_read(mimcm::pcsc::Context& context, const std::string& reader) {
    mimcm::pcsc::ReadOptions options;
    options.reader = reader;
    const mimcm::pcsc::CardReading r = mimcm::pcsc::read_card(context, options);
    const auto& id = r.card.card_id.bytes();
    return {r.card.atr.bytes(), {id.begin(), id.end()}, r.card.challenge.bytes()};
}

// ---------------------------------------------------------------------------------------------
// Raw PC/SC: what an application reading a GIDS card by hand does, with the APDUs mimcm sends.

/// Sends one APDU; the response without its status word, or fails unless the status is 9000.
std::vector<unsigned char> transmit(SCARDHANDLE card, const SCARD_IO_REQUEST* pci,
                                    const std::vector<unsigned char>& command,
                                    bool allow_failure = false) {
    unsigned char response[258 + 2];
    DWORD size = sizeof response;
    const LONG rc = SCardTransmit(card, pci, command.data(), static_cast<DWORD>(command.size()),
                                  nullptr, response, &size);
    if (rc != SCARD_S_SUCCESS)
        fail("SCardTransmit: " + std::to_string(rc));
    if (size < 2)
        fail("short response");
    const bool ok = response[size - 2] == 0x90 && response[size - 1] == 0x00;
    if (!ok && !allow_failure)
        fail("status " + hex(response + size - 2, 2) + " for " +
             hex(command.data(), command.size()));
    return ok ? std::vector<unsigned char>(response, response + size - 2)
              : std::vector<unsigned char>{};
}

/// The value of the first TLV with `tag` (one byte tag or two), searched flat in data.
std::vector<unsigned char> find_tlv(const std::vector<unsigned char>& data, unsigned tag) {
    std::size_t i = 0;
    while (i < data.size()) {
        unsigned t = data[i++];
        if ((t & 0x1f) == 0x1f && i < data.size())
            t = (t << 8) | data[i++];
        if (i >= data.size())
            break;
        std::size_t len = data[i++];
        if (len == 0x81 && i < data.size())
            len = data[i++];
        else if (len == 0x82 && i + 1 < data.size()) {
            len = (std::size_t{data[i]} << 8) | data[i + 1];
            i += 2;
        }
        if (t == tag)
            return std::vector<unsigned char>(data.begin() + static_cast<long>(i),
                                              data.begin() + static_cast<long>(i + len));
        // Constructed tags: search inside.
        if ((t > 0xff ? (t >> 8) : t) & 0x20)
            continue;
        i += len;
    }
    return {};
}

/// Bytes from the card tests' spelling of an APDU ("00 A4 04 00 ...").
std::vector<unsigned char> apdu_bytes(const std::string& spaced_hex) {
    std::string digits;
    for (const char c : spaced_hex) {
        if (c != ' ')
            digits += c;
    }
    const auto bytes = mimcm::from_hex(digits);
    if (!bytes)
        fail("not an APDU in hex: " + spaced_hex);
    return {bytes->begin(), bytes->end()};
}

/// The fixed APDUs of the raw read, converted once (not in the timed loop).
struct RawApdus {
    std::vector<unsigned char> select_piv = apdu_bytes(mimcm_test::apdu::select_piv);
    std::vector<unsigned char> select_gids = apdu_bytes(mimcm_test::apdu::select_gids);
    std::vector<unsigned char> get_master_file = apdu_bytes(mimcm_test::apdu::get_master_file);
    std::vector<unsigned char> mse_set = apdu_bytes(mimcm_test::apdu::mse_set);
    std::vector<unsigned char> gids_challenge = apdu_bytes(mimcm_test::apdu::gids_challenge);
};

const RawApdus& raw_apdus() {
    static const RawApdus apdus;
    return apdus;
}

Reading raw_read(SCARDCONTEXT context, const std::string& reader) {
    SCARDHANDLE card = 0;
    DWORD protocol = 0;
    LONG rc = SCardConnect(context, reader.c_str(), SCARD_SHARE_SHARED,
                           SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card, &protocol);
    if (rc != SCARD_S_SUCCESS)
        fail("SCardConnect: " + std::to_string(rc));
    const SCARD_IO_REQUEST* pci = protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    if ((rc = SCardBeginTransaction(card)) != SCARD_S_SUCCESS)
        fail("SCardBeginTransaction: " + std::to_string(rc));
    Reading r;
    unsigned char atr[MAX_ATR_SIZE];
    DWORD atr_size = sizeof atr;
    DWORD state = 0;
    DWORD proto = 0;
    char name[256];
    DWORD name_size = sizeof name;
    if ((rc = SCardStatus(card, name, &name_size, &state, &proto, atr, &atr_size)) !=
        SCARD_S_SUCCESS)
        fail("SCardStatus: " + std::to_string(rc));
    r.atr.assign(atr, atr + atr_size);
    const RawApdus& apdus = raw_apdus();
    // The PIV applet first (a card answering it would be PIV), then GIDS.
    transmit(card, pci, apdus.select_piv, true);
    transmit(card, pci, apdus.select_gids);
    // The master file's table (tag DF1F: a version byte, then 28-byte records {dir[9], file[9],
    // 2 pad, u32le data object, u32le EF}), then the card id file it names.
    const auto table = find_tlv(transmit(card, pci, apdus.get_master_file), 0xDF1F);
    unsigned object = 0;
    unsigned ef = 0;
    for (std::size_t at = 1; at + 28 <= table.size(); at += 28) {
        if (std::memcmp(&table[at + 9], "cardid", 7) != 0)
            continue;
        object = table[at + 20] | (table[at + 21] << 8);
        ef = table[at + 24] | (table[at + 25] << 8);
        break;
    }
    if (object == 0)
        fail("no cardid file in the card's table");
    const auto id =
        transmit(card, pci,
                 {0x00, 0xCB, static_cast<unsigned char>(ef >> 8), static_cast<unsigned char>(ef),
                  0x04, 0x5C, 0x02, static_cast<unsigned char>(object >> 8),
                  static_cast<unsigned char>(object), 0x00});
    r.card_id = find_tlv(id, object);
    // The challenge: MSE SET, then GENERAL AUTHENTICATE with an empty witness request.
    transmit(card, pci, apdus.mse_set);
    const auto answer = transmit(card, pci, apdus.gids_challenge);
    r.challenge = find_tlv(answer, 0x81);
    SCardEndTransaction(card, SCARD_LEAVE_CARD);
    SCardDisconnect(card, SCARD_LEAVE_CARD);
    return r;
}

struct Config {
    std::string reader;
    int rounds = 11;
    long reads = 300;
    bool show_apdus = false;
};

}  // namespace

int main(int argc, char** argv) {
    Config config;
    constexpr std::string_view usage =
        "bench_card --reader NAME [--rounds N] [--reads N] [--show-apdus]";
    parse_args(argc, argv, usage, [&](std::string_view arg, ArgValue& value) {
        if (arg == "--reader")
            config.reader = value.text();
        else if (arg == "--rounds")
            config.rounds = static_cast<int>(value.number(1));
        else if (arg == "--reads")
            config.reads = value.number(1);
        else if (arg == "--show-apdus")
            config.show_apdus = true;
        else
            return false;
        return true;
    });
    if (config.reader.empty())
        fail("usage: " + std::string(usage));

    mimcm::pcsc::Context context;
    SCARDCONTEXT raw_context = 0;
    if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, nullptr, nullptr, &raw_context) !=
        SCARD_S_SUCCESS)
        fail("SCardEstablishContext failed");

    if (config.show_apdus) {
        for (int side = 0; side < 2; ++side) {
            recorded.clear();
            recording = true;
            if (side == 0)
                (void)mimcm_read(context, config.reader);
            else
                (void)raw_read(raw_context, config.reader);
            recording = false;
            std::printf("%s:\n", side == 0 ? "mimcm" : "raw");
            for (const auto& line : recorded)
                std::printf("  %s\n", line.c_str());
        }
        return 0;
    }

    const Reading expected = mimcm_read(context, config.reader);
    const Reading raw_once = raw_read(raw_context, config.reader);
    if (raw_once.atr != expected.atr || raw_once.card_id != expected.card_id ||
        raw_once.challenge.size() != expected.challenge.size())
        fail("the raw read and mimcm's read disagree (ATR, card id or challenge size)");

    std::vector<double> mimcm_ms, raw_ms, ratio, mimcm_cpu, raw_cpu;
    std::vector<double> mimcm_apdus, raw_apdus, mimcm_allocs, raw_allocs;
    const double n = static_cast<double>(config.reads);
    for (int round = 0; round < config.rounds; ++round) {
        double wall[2] = {0, 0};
        for (int k = 0; k < 2; ++k) {
            const bool mimcm_side = (k == 0) == (round % 2 == 1);
            const unsigned long apdus0 = apdu_count;
            const unsigned long long alloc0 = allocations();
            const double cpu0 = cpu_seconds();
            const double wall0 = wall_seconds();
            for (long i = 0; i < config.reads; ++i) {
                const Reading r = mimcm_side ? mimcm_read(context, config.reader)
                                             : raw_read(raw_context, config.reader);
                if (r.card_id != expected.card_id || r.challenge.size() != 8)
                    fail("a read gave another card id or no challenge");
            }
            const double w = wall_seconds() - wall0;
            const double c = cpu_seconds() - cpu0;
            const double a = static_cast<double>(allocations() - alloc0) / n;
            const double p = static_cast<double>(apdu_count - apdus0) / n;
            wall[mimcm_side ? 1 : 0] = w;
            (mimcm_side ? mimcm_ms : raw_ms).push_back(w / n * 1e3);
            (mimcm_side ? mimcm_cpu : raw_cpu).push_back(c / n * 1e6);
            (mimcm_side ? mimcm_allocs : raw_allocs).push_back(a);
            (mimcm_side ? mimcm_apdus : raw_apdus).push_back(p);
        }
        ratio.push_back(wall[1] / wall[0]);
    }
    SCardReleaseContext(raw_context);
    std::printf("%d rounds of %ld reads per side, sides alternating\n\n", config.rounds,
                config.reads);
    std::printf(
        "| read | time/read mimcm÷raw | raw ms/read | mimcm ms/read | raw CPU µs/read | mimcm CPU "
        "µs/read | APDUs/read raw | mimcm | allocs/read raw | mimcm |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
    std::printf(
        "| ATR, card id, challenge (GIDS) | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
        ratio_cell(spread(ratio)).c_str(), number(spread(raw_ms).median, 2).c_str(),
        number(spread(mimcm_ms).median, 2).c_str(), number(spread(raw_cpu).median, 0).c_str(),
        number(spread(mimcm_cpu).median, 0).c_str(), number(spread(raw_apdus).median, 1).c_str(),
        number(spread(mimcm_apdus).median, 1).c_str(), number(spread(raw_allocs).median, 0).c_str(),
        number(spread(mimcm_allocs).median, 0).c_str());
    return 0;
}
