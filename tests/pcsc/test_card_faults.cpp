// Misbehaving cards through the real stack (virtual_card.py --fault, vpcd, pcscd, mimcm's PC/SC
// layer): an endless 61xx or 6Cxx loop, a one-byte, truncated or oversized answer, a
// 64-byte card id, or a card pulled in the middle of an APDU each end in a typed card outcome
// within 2 s. Every case prints its outcome and time ("card fault: ...").
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>

#include "mimcm/card/resolver.hpp"
#include "mimcm/pcsc.hpp"
#include "mimcm/pcsc/session.hpp"
#include "rig.hpp"

namespace rig = mimcm_test::rig;
using mimcm::card::CardError;
using mimcm::card::CardErrorCode;
using mimcm::card::ProfileResolver;
using mimcm::pcsc::Context;
using mimcm::pcsc::ErrorCode;
using mimcm::pcsc::ReadOptions;

namespace {

const std::string kReader0 = "Virtual PCD 00 00";
const std::string kCardId = "00112233445566778899aabbccddeeff";
const std::string kChallenge = "d61143f9ccffd2ca";
constexpr long kBoundMs = 2000;

/// What an operation on a faulty card ended in: "card_error/<CardErrorCode>",
/// "pcsc_error/<ErrorCode>", "other: <what>", or "none" (it succeeded).
struct Outcome {
    std::string kind;
    std::optional<std::uint16_t> sw;
    std::string message;
    long ms = 0;
    int apdus = -1;  ///< command APDUs the card received (read_faulty only)
};

template <class Body>
Outcome outcome_of(Body body) {
    Outcome out;
    const auto started = std::chrono::steady_clock::now();
    try {
        body();
        out.kind = "none";
    } catch (const mimcm::pcsc::Error& e) {
        out.kind = "pcsc_error/" + std::string(mimcm::pcsc::to_string(e.code()));
        out.message = e.what();
    } catch (const CardError& e) {
        out.kind = "card_error/" + std::string(mimcm::card::to_string(e.code()));
        out.sw = e.sw();
        out.message = e.what();
    } catch (const std::exception& e) {
        out.kind = "other";
        out.message = e.what();
    }
    out.ms = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - started)
                                   .count());
    return out;
}

void report(const std::string& fault, const std::string& profile, const Outcome& out) {
    std::printf("card fault: %-34s %-5s -> %-28s %5ld ms %3d APDUs\n", fault.c_str(),
                profile.c_str(), out.kind.c_str(), out.ms, out.apdus);
    std::fflush(stdout);
}

std::string card_args(const std::string& profile, const std::string& fault) {
    return "--profile " + profile + " --card-id " + kCardId + " --challenge " + kChallenge + " " +
           fault;
}

/// read_card() (the one-off reading: SELECT, card id, challenge) on a card with `fault`.
Outcome read_faulty(const std::string& profile, const std::string& fault,
                    const ProfileResolver& profiles = {}) {
    const std::string log = rig::rig_dir() + "/card-fault-apdus.log";
    std::remove(log.c_str());
    rig::insert_card(0, card_args(profile, fault) + " --log " + rig::shell_quote(log));
    Context context;
    ReadOptions options;
    options.reader = kReader0;
    options.profiles = profiles;
    Outcome out = outcome_of([&] { (void)mimcm::pcsc::read_card(context, options); });
    out.apdus = 0;
    if (std::FILE* f = std::fopen(log.c_str(), "r")) {
        char line[512];
        while (std::fgets(line, sizeof line, f))
            out.apdus += line[0] == '>' ? 1 : 0;
        std::fclose(f);
    }
    report(fault, profile, out);
    INFO(fault << " on " << profile << ": " << out.kind << ": " << out.message);
    CHECK(out.ms < kBoundMs);
    return out;
}

}  // namespace

TEST_CASE("a card answering 61xx forever ends in a protocol error", "[pcsc][faults]") {
    rig::EmptyReadersAtExit cleanup;
    for (const std::string profile : {"gids", "piv"}) {
        // From the applet's SELECT on, and from the first GET DATA (the card id) on.
        for (const std::string fault :
             {"--fault 61xx-forever", "--fault 61xx-forever --fault-on CB"}) {
            const Outcome out = read_faulty(profile, fault);
            CHECK(out.kind == "card_error/protocol");
            CHECK_THAT(out.message, Catch::Contains("after 64 GET RESPONSE rounds"));
            // The command and 64 GET RESPONSE, after the few commands before the fault.
            CHECK(out.apdus <= 65 + 4);
        }
    }
}

TEST_CASE("a card answering 6Cxx forever: one resend, then a status error", "[pcsc][faults]") {
    rig::EmptyReadersAtExit cleanup;
    for (const std::string profile : {"gids", "piv"}) {
        for (const std::string fault :
             {"--fault 6cxx-forever", "--fault 6cxx-forever --fault-on CB"}) {
            const Outcome out = read_faulty(profile, fault);
            CHECK(out.kind == "card_error/status");
            REQUIRE(out.sw.has_value());
            CHECK((*out.sw & 0xFF00) == 0x6C00);
            CHECK(out.apdus <= 2 + 4);  // the command and one resend
        }
    }
}

TEST_CASE("a truncated answer is malformed", "[pcsc][faults]") {
    rig::EmptyReadersAtExit cleanup;
    for (const std::string profile : {"gids", "piv"}) {
        SECTION("one byte: the status word cut short (" + profile + ")") {
            for (const std::string fault :
                 {"--fault short-answer", "--fault short-answer --fault-on CB"}) {
                const Outcome out = read_faulty(profile, fault);
                CHECK(out.kind == "card_error/malformed");
                CHECK_THAT(out.message, Catch::Contains("expected at least the 2 status bytes"));
            }
        }
        SECTION("a TLV cut short (" + profile + ")") {
            const Outcome out = read_faulty(profile, "--fault truncated-tlv");
            CHECK(out.kind == "card_error/malformed");
            CHECK_THAT(out.message, Catch::Contains("malformed TLV"));
        }
    }
}

TEST_CASE("an oversized answer chain ends in a protocol error", "[pcsc][faults]") {
    rig::EmptyReadersAtExit cleanup;
    for (const std::string profile : {"gids", "piv"}) {
        for (const std::string fault : {"--fault oversized", "--fault oversized --fault-on CB"}) {
            const Outcome out = read_faulty(profile, fault);
            CHECK(out.kind == "card_error/protocol");
            CHECK_THAT(out.message, Catch::Contains("more than 65536 data bytes"));
            CHECK(out.apdus <= 2 + 4);  // 65533 bytes twice are over 64 KiB
        }
    }
}

TEST_CASE("a 64-byte card id is malformed: a card id has exactly 16 bytes", "[pcsc][faults]") {
    rig::EmptyReadersAtExit cleanup;
    for (const std::string profile : {"gids", "piv"}) {
        const Outcome out = read_faulty(profile, "--fault long-cardid");
        CHECK(out.kind == "card_error/malformed");
        CHECK_THAT(out.message, Catch::Contains("64 bytes") && Catch::Contains("16"));
    }
}

TEST_CASE("a card pulled in the middle of an APDU is card_removed", "[pcsc][faults]") {
    rig::EmptyReadersAtExit cleanup;
    for (const std::string profile : {"gids", "piv"}) {
        SECTION("while the card is read (" + profile + ")") {
            // At the applet's SELECT, at the card id's GET DATA, at the challenge.
            for (const std::string fault :
                 {"--fault pull", "--fault pull --fault-on CB", "--fault pull --fault-on 87"}) {
                const Outcome out = read_faulty(profile, fault);
                CHECK(out.kind == "pcsc_error/card_removed");
                rig::pcsc_rig("wait-state", 0, "empty 2");
            }
        }
        SECTION("in an open card session, when it asks for the challenge (" + profile + ")") {
            // GIDS: MSE SET (22); PIV: GET METADATA (F7); neither is sent when the session opens.
            const std::string fault =
                std::string("--fault pull --fault-on ") + (profile == "gids" ? "22" : "F7");
            rig::insert_card(0, card_args(profile, fault));
            Context context;
            ReadOptions options;
            options.reader = kReader0;
            auto session = mimcm::pcsc::CardSession::open(context, options);
            const Outcome out = outcome_of([&] { (void)session.read(); });
            report(fault + " (session)", profile, out);
            INFO(out.message);
            CHECK(out.kind == "pcsc_error/card_removed");
            CHECK(out.ms < kBoundMs);
        }
    }
}
