// The PC/SC layer against a real pcscd with virtual cards (tests/rig/pcsc-rig.sh,
// tests/rig/virtual_card.py). Needs MIMCM_RIG_DIR and MIMCM_SOURCE_DIR; ctest's rig fixture
// starts pcscd. Runs serially (RESOURCE_LOCK pcsc): the readers are shared.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "card_test_data.hpp"
#include "mimcm/card/profile.hpp"
#include "mimcm/card/resolver.hpp"
#include "mimcm/pcsc.hpp"
#include "mimcm/pcsc/session.hpp"
#include "rig.hpp"

namespace rig = mimcm_test::rig;
using mimcm::Bytes;
using mimcm::to_hex;
using mimcm::pcsc::Card;
using mimcm::pcsc::CardReading;
using mimcm::pcsc::Context;
using mimcm::pcsc::Disposition;
using mimcm::pcsc::Error;
using mimcm::pcsc::ErrorCode;
using mimcm::pcsc::ReadOptions;
using mimcm::pcsc::Transaction;

using mimcm_test::thrown;
namespace {

const std::string kReader0 = "Virtual PCD 00 00";
const std::string kReader1 = "Virtual PCD 00 01";
const std::string kCardId = "00112233445566778899aabbccddeeff";
const std::string kCardId2 = "3ff188bcba833740826246eba1291c6e";
const std::string kChallenge = "d61143f9ccffd2ca";
const std::string kGidsAtr = "3b8d0180fba000000397425446590301c8";
const std::string kCustomAtr = "3b8d0180fba000000397425446590401cf";  // other bytes, valid TCK
const std::string kPivAtr = "3bdb960081b1fe451f0380f9a0000003080000100018";
const std::string kSelectGids = "00a4040009a0000003974254465900";

std::string card_args(const std::string& profile, const std::string& extra = {}) {
    return "--profile " + profile + " --card-id " + kCardId + " --challenge " + kChallenge +
           (extra.empty() ? "" : " " + extra);
}

std::string id_hex(const CardReading& reading) {
    const auto& bytes = reading.card.card_id.bytes();
    return to_hex(bytes.data(), bytes.size());
}

std::string log_path(const std::string& name) {
    const std::string path = rig::rig_dir() + "/" + name;
    std::remove(path.c_str());
    return path;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

ReadOptions from_reader(const std::string& name, std::chrono::milliseconds wait = {}) {
    ReadOptions options;
    options.reader = name;
    options.wait_for_card = wait;
    return options;
}

void check_reading(const CardReading& reading, const std::string& reader,
                   const std::string& profile, const std::string& atr) {
    CHECK(reading.reader == reader);
    CHECK(reading.profile == profile);
    CHECK(id_hex(reading) == kCardId);
    CHECK(to_hex(reading.card.challenge.bytes()) == kChallenge);
    CHECK(reading.card.atr.hex() == atr);
}

const mimcm::pcsc::ReaderInfo* find_reader(const std::vector<mimcm::pcsc::ReaderInfo>& readers,
                                           const std::string& name) {
    for (const auto& r : readers) {
        if (r.name == name)
            return &r;
    }
    return nullptr;
}

std::string self_executable() {
    std::array<char, 4096> buffer{};
    const ssize_t n = ::readlink("/proc/self/exe", buffer.data(), buffer.size() - 1);
    REQUIRE(n > 0);
    return std::string(buffer.data(), static_cast<std::size_t>(n));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Errors (no card needed)

TEST_CASE("PC/SC errors map to portable codes and readable messages", "[pcsc][errors]") {
    using mimcm::pcsc::error_code_of;
    using mimcm::pcsc::error_name;
    CHECK(error_code_of(SCARD_E_NO_SERVICE) == ErrorCode::service_not_running);
    CHECK(error_code_of(SCARD_E_SERVICE_STOPPED) == ErrorCode::service_not_running);
    CHECK(error_code_of(SCARD_E_NO_READERS_AVAILABLE) == ErrorCode::no_readers);
    CHECK(error_code_of(SCARD_E_UNKNOWN_READER) == ErrorCode::unknown_reader);
    CHECK(error_code_of(SCARD_E_READER_UNAVAILABLE) == ErrorCode::unknown_reader);
    CHECK(error_code_of(SCARD_E_NO_SMARTCARD) == ErrorCode::no_card);
    CHECK(error_code_of(SCARD_W_REMOVED_CARD) == ErrorCode::card_removed);
    CHECK(error_code_of(SCARD_W_RESET_CARD) == ErrorCode::card_reset);
    CHECK(error_code_of(SCARD_E_SHARING_VIOLATION) == ErrorCode::sharing_violation);
    CHECK(error_code_of(SCARD_E_TIMEOUT) == ErrorCode::timeout);
    CHECK(error_code_of(SCARD_E_CANCELLED) == ErrorCode::cancelled);
    CHECK(error_code_of(SCARD_E_NOT_TRANSACTED) == ErrorCode::not_transacted);
    CHECK(error_code_of(SCARD_F_COMM_ERROR) == ErrorCode::communication);
    CHECK(error_code_of(SCARD_E_COMM_DATA_LOST) == ErrorCode::communication);
    CHECK(error_code_of(SCARD_W_UNRESPONSIVE_CARD) == ErrorCode::communication);
    CHECK(error_code_of(SCARD_W_UNPOWERED_CARD) == ErrorCode::communication);
    CHECK(error_code_of(SCARD_E_PROTO_MISMATCH) == ErrorCode::communication);
    CHECK(error_code_of(SCARD_E_INVALID_HANDLE) == ErrorCode::other);
    CHECK(error_code_of(static_cast<LONG>(0x80100099)) == ErrorCode::other);

    CHECK(error_name(SCARD_E_NO_SMARTCARD) == "SCARD_E_NO_SMARTCARD");
    CHECK(error_name(SCARD_E_UNSUPPORTED_FEATURE) == "SCARD_E_UNSUPPORTED_FEATURE");
    CHECK(error_name(static_cast<LONG>(0x80100099)).empty());

    const auto e = Error::from_native(SCARD_E_NO_SMARTCARD, "SCardConnect", kReader0);
    CHECK(std::string(e.what()) ==
          "SCardConnect(\"Virtual PCD 00 00\"): no smart card in the reader "
          "(SCARD_E_NO_SMARTCARD 0x8010000C)");
    CHECK(e.code() == ErrorCode::no_card);
    CHECK(e.native() == static_cast<long>(SCARD_E_NO_SMARTCARD));
    CHECK(e.operation() == "SCardConnect");
    CHECK(e.reader() == kReader0);

    const auto unknown = Error::from_native(static_cast<LONG>(0x80100099), "SCardTransmit");
    CHECK(std::string(unknown.what()) == "SCardTransmit: PC/SC error (0x80100099)");
    CHECK(unknown.code() == ErrorCode::other);

    CHECK_NOTHROW(mimcm::pcsc::check(SCARD_S_SUCCESS, "SCardBeginTransaction", kReader0));
    CHECK_THROWS_AS(mimcm::pcsc::check(SCARD_E_TIMEOUT, "SCardGetStatusChange"), Error);
}

TEST_CASE("every error code has a name and advice", "[pcsc][errors]") {
    using mimcm::pcsc::describe;
    for (const auto code : {ErrorCode::service_not_running, ErrorCode::no_readers,
                            ErrorCode::unknown_reader, ErrorCode::no_card, ErrorCode::card_removed,
                            ErrorCode::card_reset, ErrorCode::sharing_violation, ErrorCode::timeout,
                            ErrorCode::cancelled, ErrorCode::not_transacted,
                            ErrorCode::communication, ErrorCode::no_profile, ErrorCode::other}) {
        CHECK_FALSE(describe(code).empty());
        CHECK_FALSE(mimcm::pcsc::to_string(code).empty());
    }
    CHECK(describe(ErrorCode::no_card) == "insert a card");
    CHECK_THAT(std::string(describe(ErrorCode::service_not_running)),
               Catch::Contains("start the PC/SC service (pcscd"));
    CHECK(mimcm::pcsc::to_string(ErrorCode::sharing_violation) == "sharing_violation");
}

// A separate process is needed: pcsc-lite reads PCSCLITE_CSOCK_NAME once per process and
// caches it, so the test below runs this hidden one in a fresh copy of this executable.
TEST_CASE("probe: SCardEstablishContext with PCSCLITE_CSOCK_NAME at a missing socket",
          "[.][service-probe]") {
    const char* previous = std::getenv("PCSCLITE_CSOCK_NAME");
    const std::optional<std::string> saved =
        previous ? std::optional<std::string>(previous) : std::nullopt;
    REQUIRE(::setenv("PCSCLITE_CSOCK_NAME", "/nonexistent/mimcm-test/pcscd.comm", 1) == 0);
    std::optional<Error> error;
    try {
        Context context;
    } catch (const Error& e) {
        error = e;
    }
    if (saved) {
        ::setenv("PCSCLITE_CSOCK_NAME", saved->c_str(), 1);
    } else {
        ::unsetenv("PCSCLITE_CSOCK_NAME");
    }
    REQUIRE(error.has_value());
    CHECK(error->code() == ErrorCode::service_not_running);
    CHECK(error->operation() == "SCardEstablishContext");
    CHECK(std::string(error->what()) ==
          "SCardEstablishContext: the PC/SC service is not running "
          "(SCARD_E_NO_SERVICE 0x8010001D)");
}

TEST_CASE("no PC/SC service: Context throws service_not_running", "[pcsc][errors]") {
    const auto result =
        rig::run(rig::shell_quote(self_executable()) + " '[service-probe]' --use-colour no");
    INFO(result.output);
    CHECK(result.exit_code == 0);
    CHECK_THAT(result.output,
               Catch::Contains("All tests passed") && Catch::Contains("1 test case"));
}

// ---------------------------------------------------------------------------------------------
// Readers

TEST_CASE("list_readers shows both vpcd readers with and without a card", "[pcsc][readers]") {
    rig::EmptyReadersAtExit cleanup;
    rig::remove_card(0);
    rig::remove_card(1);
    Context context;
    {
        const auto readers = mimcm::pcsc::list_readers(context);
        const auto* r0 = find_reader(readers, kReader0);
        const auto* r1 = find_reader(readers, kReader1);
        REQUIRE(r0 != nullptr);
        REQUIRE(r1 != nullptr);
        CHECK_FALSE(r0->card_present);
        CHECK_FALSE(r1->card_present);
        CHECK(r0->atr.empty());
        const auto names = mimcm::pcsc::reader_names(context);
        CHECK(std::find(names.begin(), names.end(), kReader0) != names.end());
    }
    rig::insert_card(0, card_args("gids"));
    {
        const auto readers = mimcm::pcsc::list_readers(context);
        const auto* r0 = find_reader(readers, kReader0);
        const auto* r1 = find_reader(readers, kReader1);
        REQUIRE(r0 != nullptr);
        REQUIRE(r1 != nullptr);
        CHECK(r0->card_present);
        CHECK_FALSE(r0->card_mute);
        CHECK(to_hex(r0->atr) == kGidsAtr);
        CHECK_FALSE(r1->card_present);
    }
}

// ---------------------------------------------------------------------------------------------
// Reading cards

TEST_CASE("read a GIDS card by reader name", "[pcsc][read]") {
    rig::EmptyReadersAtExit cleanup;
    Context context;
    SECTION("default master file layout, configured ATR") {
        rig::insert_card(0, card_args("gids", "--atr " + kCustomAtr));
        const auto reading = mimcm::pcsc::read_card(context, from_reader(kReader0));
        check_reading(reading, kReader0, "gids", kCustomAtr);
    }
    SECTION("alternate master file layout (cardid elsewhere)") {
        const std::string log = log_path("pcsc-gids-alt.log");
        rig::insert_card(0, card_args("gids", "--mf-layout alt --log " + rig::shell_quote(log)));
        const auto reading = mimcm::pcsc::read_card(context, from_reader(kReader0));
        check_reading(reading, kReader0, "gids", kGidsAtr);
        const std::string apdus = slurp(log);
        INFO(apdus);
        CHECK_THAT(apdus, Catch::Contains("> 00cba000045c02df1f00"));  // master file table
        CHECK_THAT(apdus, !Catch::Contains("> 00cba012045c02df20"));   // not the default spot
    }
    SECTION("explicit GIDS profile") {
        rig::insert_card(0, card_args("gids"));

        ReadOptions options = from_reader(kReader0);
        options.profiles = mimcm::card::ProfileResolver::by_name("gids");
        const auto reading = mimcm::pcsc::read_card(context, options);
        check_reading(reading, kReader0, "gids", kGidsAtr);
    }
}

TEST_CASE("read a PIV card by reader name", "[pcsc][read]") {
    rig::EmptyReadersAtExit cleanup;
    rig::insert_card(1, card_args("piv"));
    Context context;
    const auto reading = mimcm::pcsc::read_card(context, from_reader(kReader1));
    check_reading(reading, kReader1, "piv", kPivAtr);

    SECTION("and again with a fresh challenge when the card picks random ones") {
        rig::insert_card(1, "--profile piv --card-id " + kCardId2);
        const auto a = mimcm::pcsc::read_card(context, from_reader(kReader1));
        const auto b = mimcm::pcsc::read_card(context, from_reader(kReader1));
        CHECK(id_hex(a) == kCardId2);
        CHECK(a.card.challenge.bytes().size() == 8);
        CHECK(a.card.challenge.bytes() != b.card.challenge.bytes());
    }
}

TEST_CASE("read the first reader with a card", "[pcsc][read]") {
    rig::EmptyReadersAtExit cleanup;
    Context context;
    rig::remove_card(0);
    rig::insert_card(1, card_args("piv"));
    {
        const auto reading = mimcm::pcsc::read_card(context);
        check_reading(reading, kReader1, "piv", kPivAtr);
        CHECK(mimcm::pcsc::select_reader(context, std::nullopt) == kReader1);
    }
    rig::insert_card(0, card_args("gids"));
    {
        const auto reading = mimcm::pcsc::read_card(context);  // both have cards: PC/SC order
        check_reading(reading, kReader0, "gids", kGidsAtr);
    }
}

TEST_CASE("a T=0 card answering 61xx is read through GET RESPONSE", "[pcsc][read]") {
    rig::EmptyReadersAtExit cleanup;
    Context context;
    const std::string log = log_path("pcsc-t0.log");
    SECTION("GIDS") {
        rig::insert_card(0, card_args("gids", "--t0 --log " + rig::shell_quote(log)));
        const auto reading = mimcm::pcsc::read_card(context, from_reader(kReader0));
        CHECK(reading.profile == "gids");
        CHECK(id_hex(reading) == kCardId);
        CHECK(to_hex(reading.card.challenge.bytes()) == kChallenge);
    }
    SECTION("PIV") {
        rig::insert_card(0, card_args("piv", "--t0 --log " + rig::shell_quote(log)));
        const auto reading = mimcm::pcsc::read_card(context, from_reader(kReader0));
        CHECK(reading.profile == "piv");
        CHECK(id_hex(reading) == kCardId);
        CHECK(to_hex(reading.card.challenge.bytes()) == kChallenge);
    }
    Card card(context, kReader0);
    CHECK(card.protocol() == SCARD_PROTOCOL_T0);
    const std::string apdus = slurp(log);
    INFO(apdus);
    CHECK_THAT(apdus, Catch::Contains("\n< ") && Catch::Contains("61"));
    CHECK_THAT(apdus, Catch::Contains("> 00c00000"));  // GET RESPONSE
}

TEST_CASE("a card answering 6Cxx for a wrong Le is read after one resend", "[pcsc][read]") {
    rig::EmptyReadersAtExit cleanup;
    Context context;
    const std::string log = log_path("pcsc-le-quirk.log");
    SECTION("PIV (its signed CHUID is longer than 256 bytes: 6C00, then 61xx chaining)") {
        rig::insert_card(0, card_args("piv", "--le-quirk --log " + rig::shell_quote(log)));
        const auto reading = mimcm::pcsc::read_card(context, from_reader(kReader0));
        CHECK(reading.profile == "piv");
        CHECK(id_hex(reading) == kCardId);
        CHECK(to_hex(reading.card.challenge.bytes()) == kChallenge);
    }
    SECTION("GIDS") {
        rig::insert_card(0, card_args("gids", "--le-quirk --log " + rig::shell_quote(log)));
        const auto reading = mimcm::pcsc::read_card(context, from_reader(kReader0));
        CHECK(reading.profile == "gids");
        CHECK(id_hex(reading) == kCardId);
    }
    const std::string apdus = slurp(log);
    INFO(apdus);
    CHECK_THAT(apdus, Catch::Contains("< 6c"));
}

TEST_CASE("a card with no known applet gives no_profile", "[pcsc][read][errors]") {
    rig::EmptyReadersAtExit cleanup;
    rig::insert_card(0, "--profile none");
    Context context;
    SECTION("auto profile") {
        const auto e =
            thrown<Error>([&] { mimcm::pcsc::read_card(context, from_reader(kReader0)); });
        CHECK(e.code() == ErrorCode::no_profile);
        CHECK(e.native() == 0);
        CHECK(e.operation() == "read_card");
        CHECK(e.reader() == kReader0);
        CHECK_THAT(e.what(), Catch::StartsWith("read_card(\"Virtual PCD 00 00\"): ") &&
                                 Catch::Contains("(piv, gids)"));
    }
    SECTION("explicit profile") {
        ReadOptions options = from_reader(kReader0);
        options.profiles = mimcm::card::ProfileResolver::by_name("piv");
        const auto e = thrown<Error>([&] { mimcm::pcsc::read_card(context, options); });
        CHECK(e.code() == ErrorCode::no_profile);
        CHECK_THAT(e.what(), Catch::Contains("answers none of the card profiles tried (piv)"));
    }
    SECTION("a GIDS card read with the PIV profile") {
        rig::insert_card(0, card_args("gids"));
        ReadOptions options = from_reader(kReader0);
        options.profiles = mimcm::card::ProfileResolver::by_name("piv");
        CHECK(thrown<Error>([&] { mimcm::pcsc::read_card(context, options); }).code() ==
              ErrorCode::no_profile);
    }
}

// ---------------------------------------------------------------------------------------------
// Missing things

TEST_CASE("an empty reader gives no_card", "[pcsc][errors]") {
    rig::EmptyReadersAtExit cleanup;
    rig::remove_card(0);
    rig::remove_card(1);
    Context context;
    SECTION("by reader name") {
        const auto e =
            thrown<Error>([&] { mimcm::pcsc::read_card(context, from_reader(kReader0)); });
        CHECK(e.code() == ErrorCode::no_card);
        CHECK(e.native() == static_cast<long>(SCARD_E_NO_SMARTCARD));
        CHECK(std::string(e.what()) ==
              "SCardConnect(\"Virtual PCD 00 00\"): no smart card in the reader "
              "(SCARD_E_NO_SMARTCARD 0x8010000C)");
        CHECK(mimcm::pcsc::describe(e.code()) == "insert a card");
    }
    SECTION("first reader with a card, when none has one") {
        const auto e = thrown<Error>([&] { mimcm::pcsc::read_card(context); });
        CHECK(e.code() == ErrorCode::no_card);
        CHECK_THAT(e.what(), Catch::Contains("no smart card in any reader") &&
                                 Catch::Contains(kReader0) && Catch::Contains(kReader1));
    }
}

TEST_CASE("an unknown reader name gives unknown_reader", "[pcsc][errors]") {
    Context context;
    SECTION("no waiting") {
        const auto e = thrown<Error>(
            [&] { mimcm::pcsc::read_card(context, from_reader("No Such Reader 99")); });
        CHECK(e.code() == ErrorCode::unknown_reader);
        CHECK(e.operation() == "SCardConnect");
        CHECK_THAT(e.what(), Catch::Contains("\"No Such Reader 99\""));
    }
    SECTION("waiting") {
        const auto e = thrown<Error>([&] {
            mimcm::pcsc::read_card(
                context, from_reader("No Such Reader 99", std::chrono::milliseconds(300)));
        });
        CHECK(e.code() == ErrorCode::unknown_reader);
    }
}

TEST_CASE("waiting for a card", "[pcsc][wait]") {
    rig::EmptyReadersAtExit cleanup;
    rig::remove_card(0);
    rig::remove_card(1);
    Context context;
    using clock = std::chrono::steady_clock;

    SECTION("a card inserted 1 s later is read") {
        const bool by_name = GENERATE(true, false);
        INFO((by_name ? "by reader name" : "any reader"));
        // The inserting thread must not use Catch assertions: run the script by hand.
        const std::string command = rig::shell_quote(rig::pcsc_rig_script()) + " insert " +
                                    rig::shell_quote(rig::rig_dir()) + " 0 " + card_args("gids");
        std::promise<rig::RunResult> inserted;
        auto result = inserted.get_future();
        std::thread inserter([&] {
            std::this_thread::sleep_for(std::chrono::seconds(1));
            rig::RunResult r;
            const std::string full = "( " + command + " ) </dev/null 2>&1";
            if (FILE* pipe = ::popen(full.c_str(), "r")) {
                char buffer[512];
                std::size_t n = 0;
                while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0)
                    r.output.append(buffer, n);
                const int status = ::pclose(pipe);
                r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            }
            inserted.set_value(r);
        });
        const auto start = clock::now();
        std::optional<CardReading> reading;
        std::optional<std::string> failure;
        ReadOptions options;
        if (by_name)
            options.reader = kReader0;
        options.wait_for_card = std::chrono::seconds(15);
        try {
            reading = mimcm::pcsc::read_card(context, options);
        } catch (const std::exception& e) {
            failure = e.what();
        }
        const auto elapsed = clock::now() - start;
        inserter.join();
        const auto r = result.get();
        INFO("insert output: " << r.output);
        REQUIRE(r.exit_code == 0);
        INFO("read_card failed: " << failure.value_or(""));
        REQUIRE(reading.has_value());
        check_reading(*reading, kReader0, "gids", kGidsAtr);
        CHECK(elapsed >= std::chrono::milliseconds(900));
        CHECK(elapsed < std::chrono::seconds(10));
    }
    SECTION("an empty reader and a 0.5 s timeout give timeout") {
        const bool by_name = GENERATE(true, false);
        INFO((by_name ? "by reader name" : "any reader"));
        ReadOptions options;
        if (by_name)
            options.reader = kReader0;
        options.wait_for_card = std::chrono::milliseconds(500);
        const auto start = clock::now();
        const auto e = thrown<Error>([&] { mimcm::pcsc::read_card(context, options); });
        const auto elapsed = clock::now() - start;
        CHECK(e.code() == ErrorCode::timeout);
        CHECK(e.native() == static_cast<long>(SCARD_E_TIMEOUT));
        CHECK_THAT(e.what(), Catch::Contains("no card was inserted within 0.5 s"));
        CHECK(elapsed >= std::chrono::milliseconds(450));
        CHECK(elapsed < std::chrono::seconds(3));
    }
    SECTION("a card already there is taken at once") {
        rig::insert_card(1, card_args("piv"));
        const auto start = clock::now();
        const auto reading =
            mimcm::pcsc::read_card(context, from_reader(kReader1, std::chrono::seconds(5)));
        CHECK(reading.profile == "piv");
        CHECK(clock::now() - start < std::chrono::seconds(2));
    }
}

// ---------------------------------------------------------------------------------------------
// Other applications

TEST_CASE("a card reset by another application is read after one reconnect", "[pcsc][reset]") {
    rig::EmptyReadersAtExit cleanup;
    rig::insert_card(0, card_args("gids"));
    Context context;
    Card ours(context, kReader0);   // connected before the reset
    Card probe(context, kReader0);  // shows that the reset really happened
    {
        Context other;
        Card theirs(other, kReader0);
        theirs.disconnect(Disposition::reset);
    }
    const auto seen = thrown<Error>([&] { probe.transmit_raw(*mimcm::from_hex(kSelectGids)); });
    CHECK(seen.code() == ErrorCode::card_reset);
    CHECK(seen.native() == static_cast<long>(SCARD_W_RESET_CARD));

    mimcm::pcsc::CardSession session(std::move(ours));
    CHECK(session.open());
    CHECK(session.profile_name() == "gids");
    CHECK(session.atr().hex() == kGidsAtr);
    CHECK(session.card_id().guid() == mimcm::CardId(*mimcm::from_hex(kCardId)).guid());
}

TEST_CASE("a card held EXCLUSIVE by another application gives sharing_violation",
          "[pcsc][errors]") {
    rig::EmptyReadersAtExit cleanup;
    rig::insert_card(0, card_args("gids"));
    Context other;
    SCARDHANDLE handle{};
    DWORD protocol = 0;
    REQUIRE(SCardConnect(other.native(), kReader0.c_str(), SCARD_SHARE_EXCLUSIVE,
                         SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &handle,
                         &protocol) == SCARD_S_SUCCESS);
    Context context;
    const auto e = thrown<Error>([&] { mimcm::pcsc::read_card(context, from_reader(kReader0)); });
    CHECK(e.code() == ErrorCode::sharing_violation);
    CHECK(e.operation() == "SCardConnect");
    CHECK_THAT(e.what(), Catch::Contains("SCARD_E_SHARING_VIOLATION"));
    CHECK(SCardDisconnect(handle, SCARD_LEAVE_CARD) == SCARD_S_SUCCESS);

    const auto reading = mimcm::pcsc::read_card(context, from_reader(kReader0));
    CHECK(id_hex(reading) == kCardId);
}

TEST_CASE("a card removed under an open connection", "[pcsc][errors]") {
    rig::EmptyReadersAtExit cleanup;
    rig::insert_card(0, card_args("gids"));
    Context context;
    Card card(context, kReader0);
    const Bytes select = *mimcm::from_hex(kSelectGids);
    CHECK(to_hex(card.transmit_raw(select)).substr(0, 2) == "61");  // FCI template, 9000
    rig::remove_card(0);

    const auto e = thrown<Error>([&] { card.transmit_raw(select); });
    CHECK((e.code() == ErrorCode::card_removed || e.code() == ErrorCode::no_card));
    CHECK(thrown<Error>([&] { mimcm::pcsc::CardSession session(std::move(card)); }).code() ==
          ErrorCode::card_removed);
    CHECK(thrown<Error>([&] { mimcm::pcsc::read_card(context, from_reader(kReader0)); }).code() ==
          ErrorCode::no_card);
}

TEST_CASE("read_card ends its transaction and disconnects before returning",
          "[pcsc][transaction]") {
    rig::EmptyReadersAtExit cleanup;
    rig::insert_card(0, card_args("gids"));
    Context context;
    const auto reading = mimcm::pcsc::read_card(context, from_reader(kReader0));
    CHECK(id_hex(reading) == kCardId);

    // Another application must now get the card EXCLUSIVE (fails if we are still connected)
    // and a transaction (blocks if ours were still held) -- within a bounded wait.
    auto other = std::async(std::launch::async, [] {
        std::vector<long> results;
        Context ctx;
        SCARDHANDLE handle{};
        DWORD protocol = 0;
        results.push_back(SCardConnect(ctx.native(), kReader0.c_str(), SCARD_SHARE_EXCLUSIVE,
                                       SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &handle, &protocol));
        if (results.back() == SCARD_S_SUCCESS) {
            results.push_back(SCardBeginTransaction(handle));
            results.push_back(SCardEndTransaction(handle, SCARD_LEAVE_CARD));
            results.push_back(SCardDisconnect(handle, SCARD_LEAVE_CARD));
        }
        return results;
    });
    if (other.wait_for(std::chrono::seconds(3)) != std::future_status::ready) {
        FAIL("another context could not connect and begin a transaction within 3 s");
    }
    CHECK(other.get() ==
          std::vector<long>{SCARD_S_SUCCESS, SCARD_S_SUCCESS, SCARD_S_SUCCESS, SCARD_S_SUCCESS});
}

// ---------------------------------------------------------------------------------------------
// RAII

TEST_CASE("Context, Card and Transaction are movable RAII handles", "[pcsc][raii]") {
    rig::EmptyReadersAtExit cleanup;
    rig::insert_card(0, card_args("gids"));
    Context first;
    Context context(std::move(first));
    CHECK_FALSE(first.valid());  // NOLINT(bugprone-use-after-move): moved-from state is defined
    CHECK(context.valid());
    CHECK_THROWS_AS(first.native(), std::logic_error);

    Card a(context, kReader0);
    Card card(std::move(a));
    CHECK_FALSE(a.connected());  // NOLINT(bugprone-use-after-move)
    CHECK(card.connected());
    CHECK(card.reader() == kReader0);
    CHECK(to_hex(card.atr()) == kGidsAtr);
    CHECK(card.protocol() == SCARD_PROTOCOL_T1);
    {
        Transaction t(card);
        Transaction moved(std::move(t));
        CHECK_FALSE(t.active());  // NOLINT(bugprone-use-after-move)
        CHECK(moved.active());
        const auto response = mimcm::card::transmit(
            card, mimcm::card::CommandApdu::select_aid(*mimcm::from_hex("a00000039742544659")));
        CHECK(response.ok());
        moved.end();
        CHECK_FALSE(moved.active());
        CHECK_NOTHROW(moved.end());  // idempotent
    }
    card.reconnect();
    CHECK(to_hex(card.atr()) == kGidsAtr);
    card.disconnect();

    // A Card keeps its native context alive: it may outlive the Context it was made from.
    std::optional<Card> survivor;
    {
        Context scoped;
        survivor.emplace(scoped, kReader0);
    }
    CHECK(to_hex(survivor->atr()) == kGidsAtr);
    CHECK(mimcm::card::transmit(*survivor, mimcm::card::CommandApdu::select_aid(
                                               *mimcm::from_hex("a00000039742544659")))
              .ok());
    survivor.reset();
    CHECK_FALSE(card.connected());
    CHECK_NOTHROW(card.disconnect());
    CHECK_THROWS_AS(card.atr(), std::logic_error);
}

TEST_CASE("a Card, a Transaction and a CardSession outlive their Context safely",
          "[pcsc][raii][lifetime]") {
    rig::EmptyReadersAtExit cleanup;
    rig::insert_card(0, card_args("gids"));
    const auto select_gids =
        mimcm::card::CommandApdu::select_aid(*mimcm::from_hex("a00000039742544659"));
    // The native context is valid as long as any owner is left (SCardIsValidContext).
    auto context_alive = [](SCARDCONTEXT native) {
        return SCardIsValidContext(native) == SCARD_S_SUCCESS;
    };

    SECTION("the Context destroyed first: the Card still works, the context goes with it") {
        std::optional<Context> context(std::in_place);
        const SCARDCONTEXT native = context->native();
        std::optional<Card> card(std::in_place, *context, kReader0);
        context.reset();
        CHECK(context_alive(native));
        {
            Transaction transaction(*card);
            CHECK(mimcm::card::transmit(*card, select_gids).ok());
            CHECK(to_hex(card->checked_atr()) == kGidsAtr);
        }
        card->reconnect(Disposition::reset);
        CHECK(to_hex(card->atr()) == kGidsAtr);
        card.reset();  // disconnects, then releases the native context
        CHECK_FALSE(context_alive(native));
    }

    SECTION("Context::release() and a move leave the Card's context alive") {
        Context context;
        const SCARDCONTEXT native = context.native();
        Card first(context, kReader0);
        context.release();
        CHECK_FALSE(context.valid());
        CHECK_THROWS_AS(Card(context, kReader0), std::logic_error);
        Card moved(std::move(first));
        CHECK(context_alive(native));
        CHECK(mimcm::card::transmit(moved, select_gids).ok());
        moved.disconnect();
        CHECK(context_alive(native));       // the disconnected Card still holds it
        moved = Card(Context(), kReader0);  // a Card of another context replaces it
        CHECK_FALSE(context_alive(native));
        CHECK(mimcm::card::transmit(moved, select_gids).ok());
    }

    SECTION("a CardSession reads and verifies after its Context is gone") {
        std::optional<mimcm::pcsc::CardSession> session;
        SCARDCONTEXT native{};
        {
            Context context;
            native = context.native();
            session.emplace(mimcm::pcsc::CardSession::open(context, from_reader(kReader0)));
        }
        CHECK(context_alive(native));
        const auto data = session->read();
        CHECK(to_hex(data.card_id.bytes().data(), data.card_id.bytes().size()) == kCardId);
        CHECK(to_hex(data.challenge.bytes()) == kChallenge);
        session.reset();
        CHECK_FALSE(context_alive(native));
    }

    SECTION("a card removed after its Context is gone fails cleanly") {
        std::optional<Card> card;
        {
            Context context;
            card.emplace(context, kReader0);
        }
        rig::remove_card(0);
        const auto e = thrown<Error>([&] { card->transmit_raw(select_gids.encode()); });
        CHECK((e.code() == ErrorCode::card_removed || e.code() == ErrorCode::no_card));
        CHECK_NOTHROW(card.reset());
    }
}

static_assert(std::is_move_constructible_v<mimcm::pcsc::EnrollmentCard>);
static_assert(std::is_move_assignable_v<mimcm::pcsc::EnrollmentCard>);
static_assert(!std::is_copy_constructible_v<mimcm::pcsc::EnrollmentCard>);
static_assert(!std::is_copy_assignable_v<mimcm::pcsc::EnrollmentCard>);

TEST_CASE("an EnrollmentCard moves and outlives its Context safely", "[pcsc][raii][lifetime]") {
    using mimcm::pcsc::EnrollmentCard;
    rig::EmptyReadersAtExit cleanup;
    rig::insert_card(0, card_args("gids"));
    rig::insert_card(1, "--profile piv --card-id " + kCardId2 + " --challenge " + kChallenge);
    auto context_alive = [](SCARDCONTEXT native) {
        return SCardIsValidContext(native) == SCARD_S_SUCCESS;
    };
    auto card_id = [](const mimcm::CardData& data) {
        return to_hex(data.card_id.bytes().data(), data.card_id.bytes().size());
    };

    SECTION("the Context destroyed before the first read: the card is still read") {
        std::optional<EnrollmentCard> card;
        SCARDCONTEXT native{};
        {
            Context context;
            native = context.native();
            card.emplace(context, ReadOptions{});  // no reader: the first with a card is found
        }
        CHECK(context_alive(native));
        const auto data = card->read();
        CHECK(card->reader() == kReader0);
        CHECK(card_id(data) == kCardId);
        CHECK(to_hex(data.challenge.bytes()) == kChallenge);
        CHECK(card->supports(mimcm::card::CardOperation::admin_challenge));
        CHECK(to_hex(card->read().challenge.bytes()) == kChallenge);  // same card, same session
        card->finish();
        card.reset();
        CHECK_FALSE(context_alive(native));
    }

    SECTION("move-assignment replaces a card with another, across contexts") {
        std::optional<Context> first_context(std::in_place);
        const SCARDCONTEXT first_native = first_context->native();
        EnrollmentCard first(*first_context, from_reader(kReader0));
        CHECK(card_id(first.read()) == kCardId);

        Context second_context;
        const SCARDCONTEXT second_native = second_context.native();
        EnrollmentCard target(second_context, from_reader(kReader1));
        CHECK(card_id(target.read()) == kCardId2);

        first_context.reset();
        target = std::move(first);  // target's own session closes; it takes over first's
        CHECK(context_alive(first_native));
        CHECK(context_alive(second_native));  // second_context still owns it
        CHECK(target.reader() == kReader0);
        const auto again = target.read();
        CHECK(card_id(again) == kCardId);
        CHECK(to_hex(again.challenge.bytes()) == kChallenge);

        EnrollmentCard constructed(std::move(target));
        CHECK(card_id(constructed.read()) == kCardId);
        // NOLINTNEXTLINE(bugprone-use-after-move): a moved-from card fails loudly, never reads
        CHECK_THROWS_AS(target.read(), std::logic_error);
        constructed.finish();
        { EnrollmentCard gone = std::move(constructed); }
        CHECK_FALSE(context_alive(first_native));
    }
}
