// The card half of the MIM CM admin flow against a real pcscd with virtual cards, through one
// pcsc::CardSession per card: the applet is selected once; the card is re-checked without
// selecting; the challenge is answered and the admin key and the PIN are set with nothing
// selected in between. The virtual card (tests/rig/virtual_card.py --state-file) writes what it
// holds to a JSON file after every change, so the tests see the card's side.
//
// Known answers (3DES-EDE-ECB of one block, as the CM server computes them). Computed with
// pycryptodome (single DES for the degenerate keys) and cross-checked with
//   printf '\xd6\x11\x43\xf9\xcc\xff\xd2\xca' | openssl enc -des-ede3 -K <key> -nopad | xxd -p
// challenge d61143f9ccffd2ca (the MIM CM docs example, base64 1hFD+cz/0so=) with
//   key 00 x 24 (the docs example, GIDS default)          -> 17466e766e303cb6 (F0Zudm4wPLY=)
//   key 00112233445566778899aabbccddeeff0123456789abcdef  -> 2b34badb5051fe80
//   key 0102030405060708 x 3 (PIV vendor default)          -> 2b5108a3889dff6e
// Tests with random challenges compute the response with openssl at run time.
//
// Needs MIMCM_RIG_DIR and MIMCM_SOURCE_DIR; ctest's rig fixture starts pcscd. Runs serially
// (RESOURCE_LOCK pcsc): the readers are shared.
#include <rapidjson/document.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <future>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "card_test_data.hpp"
#include "mimcm/card/gids.hpp"
#include "mimcm/card/piv.hpp"
#include "mimcm/card/profile.hpp"
#include "mimcm/card/resolver.hpp"
#include "mimcm/pcsc.hpp"
#include "mimcm/pcsc/session.hpp"
#include "rig.hpp"

namespace rig = mimcm_test::rig;
using mimcm::Bytes;
using mimcm::SecretBytes;
using mimcm::SecretString;
using mimcm::to_hex;
using mimcm::card::CardError;
using mimcm::card::CardErrorCode;
using mimcm::card::CardOperation;
using mimcm::card::CommandApdu;
using mimcm::card::GidsProfile;
using mimcm::card::PivProfile;
using mimcm::card::ProfileResolver;
using mimcm::pcsc::Card;
using mimcm::pcsc::CardSession;
using mimcm::pcsc::Context;
using mimcm::pcsc::Disposition;
using mimcm::pcsc::Error;
using mimcm::pcsc::ErrorCode;
using mimcm::pcsc::ReadOptions;
using mimcm::pcsc::SessionTransaction;
using mimcm::pcsc::Transaction;

using mimcm_test::thrown;
namespace {

const std::string kReader0 = "Virtual PCD 00 00";
const std::string kReader1 = "Virtual PCD 00 01";
const std::string kCardId = "00112233445566778899aabbccddeeff";
const std::string kOtherCardId = "3ff188bcba833740826246eba1291c6e";
const std::string kChallenge = "d61143f9ccffd2ca";
const std::string kZeroKey(48, '0');
const std::string kKey2 = "00112233445566778899aabbccddeeff0123456789abcdef";
const std::string kPivDefaultKey = "010203040506070801020304050607080102030405060708";
const std::string kZeroKeyResponse = "17466e766e303cb6";        // docs example
const std::string kKey2Response = "2b34badb5051fe80";           // kKey2, kChallenge
const std::string kPivDefaultKeyResponse = "2b5108a3889dff6e";  // kPivDefaultKey, kChallenge
const std::string kCustomAtr = "3b8d0180fba000000397425446590401cf";
const std::string kGidsAtr = "3b8d0180fba000000397425446590301c8";

struct CardState {
    std::string admin_key;
    std::string pin;
    bool admin_authenticated = false;
    int pin_tries_left = -1;
};

std::string fresh_path(const std::string& name) {
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

CardState read_state(const std::string& path) {
    const std::string text = slurp(path);
    INFO("state file " << path << ": " << text);
    rapidjson::Document doc;
    doc.Parse(text.c_str());
    REQUIRE_FALSE(doc.HasParseError());
    REQUIRE(doc.IsObject());
    REQUIRE(doc.HasMember("admin_key"));
    REQUIRE(doc.HasMember("pin"));
    REQUIRE(doc.HasMember("admin_authenticated"));
    REQUIRE(doc.HasMember("pin_tries_left"));
    CardState state;
    state.admin_key = doc["admin_key"].GetString();
    state.pin = doc["pin"].GetString();
    state.admin_authenticated = doc["admin_authenticated"].GetBool();
    state.pin_tries_left = doc["pin_tries_left"].GetInt();
    return state;
}

/// virtual_card.py options for a card with a state file and an APDU log.
std::string card_args(const std::string& profile, const std::string& state, const std::string& log,
                      const std::string& extra = {}) {
    return "--profile " + profile + " --card-id " + kCardId + " --state-file " +
           rig::shell_quote(state) + " --log " + rig::shell_quote(log) +
           (extra.empty() ? "" : " " + extra);
}

SecretBytes secret(const std::string& hex_text) {
    return SecretBytes(*mimcm::from_hex(hex_text));
}

/// 3DES-EDE-ECB(key, block) by openssl, independent of the virtual card's Python.
std::string des3_with_openssl(const std::string& key_hex, const Bytes& block) {
    std::string escaped;
    for (const auto b : block) {
        char buffer[8];
        std::snprintf(buffer, sizeof(buffer), "\\%03o", static_cast<unsigned>(b));
        escaped += buffer;
    }
    const auto result = rig::run("printf '" + escaped + "' | openssl enc -des-ede3 -K " + key_hex +
                                 " -nopad | od -An -tx1 | tr -d ' \\n'");
    INFO(result.output);
    REQUIRE(result.exit_code == 0);
    REQUIRE(result.output.size() == 16);
    return result.output;
}

/// The commands (lowercase hex) of an APDU log, in order.
std::vector<std::string> commands_in(const std::string& log) {
    std::vector<std::string> commands;
    std::istringstream in(slurp(log));
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("> ", 0) == 0)
            commands.push_back(line.substr(2));
    }
    return commands;
}

std::size_t count_prefix(const std::vector<std::string>& commands, const std::string& prefix) {
    std::size_t n = 0;
    for (const auto& c : commands)
        n += c.rfind(prefix, 0) == 0 ? 1 : 0;
    return n;
}

/// VERIFY of the user PIN in a fresh connection (reset afterwards); returns the status word.
/// Without a PIN: VERIFY with no data (63 Cx: tries left).
std::uint16_t verify_pin(const std::string& reader, const std::string& profile,
                         const std::optional<std::string>& pin) {
    Context context;
    Card card(context, reader);
    const Bytes aid = profile == "gids" ? Bytes(GidsProfile::aid.begin(), GidsProfile::aid.end())
                                        : Bytes(PivProfile::aid.begin(), PivProfile::aid.end());
    REQUIRE(mimcm::card::transmit(card, CommandApdu::select_aid(aid)).ok());
    CommandApdu verify(0x00, 0x20, 0x00, 0x80);
    if (pin) {
        verify.data.assign(pin->begin(), pin->end());
        if (profile == "piv")
            verify.data.resize(8, 0xFF);
    }
    const auto answer = mimcm::card::transmit(card, verify);
    card.disconnect(Disposition::reset);
    return answer.sw();
}

ReadOptions reader_and_profile(const std::string& reader, const std::string& profile,
                               SessionTransaction transaction = SessionTransaction::held) {
    ReadOptions options;
    options.reader = reader;
    options.profiles = ProfileResolver::by_name(profile);
    options.transaction = transaction;
    return options;
}

/// Commands of `commands` from index `from` on.
std::vector<std::string> since(const std::vector<std::string>& commands, std::size_t from) {
    return std::vector<std::string>(commands.begin() + static_cast<long>(from), commands.end());
}

/// The index of the first command starting with any of `prefixes`, or commands.size().
std::size_t first_of(const std::vector<std::string>& commands,
                     const std::vector<std::string>& prefixes) {
    for (std::size_t i = 0; i < commands.size(); ++i) {
        for (const auto& p : prefixes) {
            if (commands[i].rfind(p, 0) == 0)
                return i;
        }
    }
    return commands.size();
}

const std::vector<std::string> kGidsChallengeCommands{"002281a4", "0087000004", "0084"};
const std::vector<std::string> kGidsResponseCommands{"008700000c", "0082"};

}  // namespace

// ---------------------------------------------------------------------------------------------
// GIDS

TEST_CASE("GIDS: one SELECT per session for admin key, new challenge and PIN",
          "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("admin-gids.json");
    const std::string log = fresh_path("admin-gids.log");
    rig::insert_card(0, card_args("gids", state, log, "--challenge " + kChallenge));
    {
        const auto s = read_state(state);
        CHECK(s.admin_key == kZeroKey);
        CHECK(s.pin == "12345678");
        CHECK_FALSE(s.admin_authenticated);
    }

    Context context;
    Context other;
    Card observer(other, kReader0);  // connected first: sees the reset that ends the session
    CardSession session = CardSession::open(context, reader_and_profile(kReader0, "gids"));
    CHECK(session.profile_name() == "gids");
    CHECK(session.atr().hex() == kGidsAtr);
    CHECK(to_hex(session.card_id().bytes().data(), 16) == kCardId);
    CHECK(session.supports(CardOperation::set_pin_with_admin_key));

    const mimcm::CardData first = session.read();
    REQUIRE(to_hex(first.challenge.bytes()) == kChallenge);
    // (Here the client asks the CM server for the response, in the same session.)
    session.authenticate_admin(secret(kZeroKeyResponse));
    CHECK(read_state(state).admin_authenticated);
    session.set_admin_key(secret(kKey2));
    CHECK(read_state(state).admin_key == kKey2);

    const mimcm::CardData second = session.read();  // re-check without SELECT, new challenge
    CHECK(to_hex(second.challenge.bytes()) == kChallenge);
    session.authenticate_admin(secret(kKey2Response));
    session.set_user_pin(SecretString("87654321"));
    // The card logs the admin out after the PIN; so does the session, before sending anything.
    const std::size_t before_refusal = commands_in(log).size();
    CHECK(thrown<CardError>([&] { session.set_admin_key(secret(kZeroKey)); }).code() ==
          CardErrorCode::not_authenticated);
    CHECK(commands_in(log).size() == before_refusal);

    const auto commands = commands_in(log);
    INFO(slurp(log));
    CHECK(count_prefix(commands, "00a4") == 1);  // one SELECT for the whole session
    CHECK(commands.front() == "00a4040009a0000003974254465900");
    CHECK(count_prefix(commands, "00db3fff26") == 1);
    CHECK(count_prefix(commands, "002c0280083837363534333231") == 1);
    // Between each challenge and its response: no SELECT.
    std::size_t from = 0;
    for (int round = 0; round < 2; ++round) {
        const auto rest = since(commands, from);
        const std::size_t challenge = first_of(rest, kGidsChallengeCommands);
        const std::size_t response = first_of(rest, kGidsResponseCommands);
        REQUIRE(challenge < response);
        REQUIRE(response < rest.size());
        CHECK(count_prefix(std::vector<std::string>(rest.begin() + static_cast<long>(challenge),
                                                    rest.begin() + static_cast<long>(response)),
                           "00a4") == 0);
        from += response + 1;
    }

    session.close();
    CHECK_FALSE(session.open());
    {
        const auto s = read_state(state);
        CHECK(s.admin_key == kKey2);
        CHECK(s.pin == "87654321");
        CHECK_FALSE(s.admin_authenticated);  // disconnected with SCARD_RESET_CARD
    }
    const auto reset_seen = thrown<Error>(
        [&] { observer.transmit_raw(*mimcm::from_hex("00a4040009a0000003974254465900")); });
    CHECK(reset_seen.code() == ErrorCode::card_reset);
    observer.release();

    // The new PIN works, the old one does not.
    CHECK(verify_pin(kReader0, "gids", std::string("87654321")) == 0x9000);
    CHECK((verify_pin(kReader0, "gids", std::string("12345678")) & 0xFFF0) == 0x63C0);
    CHECK(verify_pin(kReader0, "gids", std::string("87654321")) == 0x9000);

    SECTION("the card now wants responses for the new key") {
        CardSession again = CardSession::open(context, reader_and_profile(kReader0, "gids"));
        (void)again.read();
        CHECK(thrown<CardError>([&] {
                  again.authenticate_admin(secret(kZeroKeyResponse));
              }).code() == CardErrorCode::admin_auth_failed);
        (void)again.read();
        again.authenticate_admin(secret(kKey2Response));
        CHECK(read_state(state).admin_authenticated);
    }
}

TEST_CASE("GIDS: a wrong response gives admin_auth_failed and changes nothing",
          "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("admin-gids-wrong.json");
    const std::string log = fresh_path("admin-gids-wrong.log");
    rig::insert_card(0, card_args("gids", state, log, "--challenge " + kChallenge));
    Context context;
    CardSession session = CardSession::open(context, reader_and_profile(kReader0, "gids"));
    (void)session.read();
    const auto e = thrown<CardError>([&] { session.authenticate_admin(secret(kKey2Response)); });
    CHECK(e.code() == CardErrorCode::admin_auth_failed);
    CHECK_THAT(e.what(), !Catch::Contains(kKey2Response) && !Catch::Contains(kKey2));
    // The challenge is used up by one answer, even a wrong one; no admin write is sent.
    CHECK(thrown<CardError>([&] { session.authenticate_admin(secret(kZeroKeyResponse)); }).code() ==
          CardErrorCode::challenge_expired);
    CHECK(thrown<CardError>([&] { session.set_admin_key(secret(kKey2)); }).code() ==
          CardErrorCode::not_authenticated);
    session.close();
    const auto s = read_state(state);
    CHECK(s.admin_key == kZeroKey);
    CHECK(s.pin == "12345678");
    CHECK_FALSE(s.admin_authenticated);
    const auto commands = commands_in(log);
    CHECK(count_prefix(commands, "00db") == 0);
    CHECK(count_prefix(commands, "002c") == 0);
    CHECK(count_prefix(commands, "00a4") == 1);
}

// ---------------------------------------------------------------------------------------------
// The card in the reader changed

TEST_CASE("a card swapped during the session gives a typed error and gets no admin command",
          "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state_a = fresh_path("admin-swap-a.json");
    const std::string log_a = fresh_path("admin-swap-a.log");
    const std::string state_b = fresh_path("admin-swap-b.json");
    const std::string log_b = fresh_path("admin-swap-b.log");
    rig::insert_card(0, card_args("gids", state_a, log_a, "--challenge " + kChallenge));
    Context context;
    CardSession session = CardSession::open(context, reader_and_profile(kReader0, "gids"));
    (void)session.read();
    rig::insert_card(0, "--profile gids --card-id " + kOtherCardId + " --state-file " +
                            rig::shell_quote(state_b) + " --log " + rig::shell_quote(log_b));
    const auto e = thrown<Error>([&] { session.authenticate_admin(secret(kZeroKeyResponse)); });
    CHECK((e.code() == ErrorCode::card_removed || e.code() == ErrorCode::card_reset));
    CHECK(thrown<Error>([&] { (void)session.read(); }).code() == ErrorCode::card_removed);
    session.close();
    CHECK(count_prefix(commands_in(log_b), "0087") == 0);
    CHECK(count_prefix(commands_in(log_b), "0082") == 0);
    CHECK(read_state(state_b).admin_key == kZeroKey);
}

TEST_CASE("a card reset between challenge and response gives card_reset", "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("admin-reset.json");
    const std::string log = fresh_path("admin-reset.log");
    rig::insert_card(0, card_args("gids", state, log, "--challenge " + kChallenge));
    Context context;
    // Without the session's transaction, so that another application can reset the card.
    CardSession session = CardSession::open(
        context, reader_and_profile(kReader0, "gids", SessionTransaction::not_held));
    (void)session.read();
    {
        Context other;
        Card theirs(other, kReader0);
        theirs.disconnect(Disposition::reset);
    }
    const auto e = thrown<Error>([&] { (void)session.read(); });
    CHECK(e.code() == ErrorCode::card_reset);
    CHECK_THAT(e.what(), Catch::Contains("admin challenge and admin login are gone"));
    CHECK_FALSE(session.card_session().challenge_pending());
    CHECK(thrown<CardError>([&] { session.authenticate_admin(secret(kZeroKeyResponse)); }).code() ==
          CardErrorCode::challenge_expired);
    CHECK(count_prefix(commands_in(log), "008700000c") + count_prefix(commands_in(log), "0082") ==
          0);
}

TEST_CASE("the session holds its transaction: another application waits until it is closed",
          "[pcsc][card-admin][transaction]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("admin-txn.json");
    const std::string log = fresh_path("admin-txn.log");
    rig::insert_card(0, card_args("gids", state, log));
    Context context;
    Context other;
    Card theirs(other, kReader0);
    CardSession session = CardSession::open(context, reader_and_profile(kReader0, "gids"));
    const mimcm::CardData card = session.read();  // a random challenge
    const std::string response = des3_with_openssl(kZeroKey, card.challenge.bytes());
    auto begin = std::async(std::launch::async, [&] {
        std::optional<Transaction> t;
        try {
            t.emplace(theirs);
        } catch (const Error& e) {
            if (e.code() != ErrorCode::card_reset)  // our session ends with a reset
                throw;
            theirs.reconnect();
            t.emplace(theirs);
        }
        return mimcm::card::transmit(theirs, CommandApdu::select_aid(Bytes(GidsProfile::aid.begin(),
                                                                           GidsProfile::aid.end())))
            .sw();
    });
    CHECK(begin.wait_for(std::chrono::milliseconds(500)) == std::future_status::timeout);
    session.authenticate_admin(secret(response));  // our challenge survived
    CHECK(read_state(state).admin_authenticated);
    session.close();
    REQUIRE(begin.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    CHECK(begin.get() == 0x9000);
}

// ---------------------------------------------------------------------------------------------
// Same card: the card id is read again only when the transaction may have been broken

namespace {

const std::string kGidsTable = "00cba000045c02df1f00";   // the master file's table
const std::string kGidsCardId = "00cba012045c02df2000";  // the cardid file it names
const std::string kPivChuid = "00cb3fff055c035fc102";    // GET DATA of the CHUID
const std::string kSelectGids = "00a4040009a0000003974254465900";

std::size_t card_id_reads(const std::string& log, const std::string& profile) {
    const auto commands = commands_in(log);
    if (profile == "piv")
        return count_prefix(commands, kPivChuid);
    // A GIDS card id read is the table, then the cardid file.
    CHECK(count_prefix(commands, kGidsTable) == count_prefix(commands, kGidsCardId));
    return count_prefix(commands, kGidsCardId);
}

}  // namespace

TEST_CASE("read_card sends the APDUs of a hand-written read and no more", "[pcsc][card-read]") {
    rig::EmptyReadersAtExit cleanup;
    Context context;
    ReadOptions options;
    options.reader = kReader0;
    SECTION("GIDS") {
        const std::string log = fresh_path("read-apdus-gids.log");
        rig::insert_card(0, card_args("gids", fresh_path("read-apdus-gids.json"), log,
                                      "--challenge " + kChallenge));
        const mimcm::pcsc::CardReading reading = mimcm::pcsc::read_card(context, options);
        CHECK(to_hex(reading.card.challenge.bytes()) == kChallenge);
        INFO(slurp(log));
        // SELECT PIV (absent), SELECT GIDS, the table and the card id, MSE SET, GENERAL
        // AUTHENTICATE: what bench_card's raw read sends.
        CHECK(commands_in(log) ==
              std::vector<std::string>{"00a4040009a0000003080000100000", kSelectGids, kGidsTable,
                                       kGidsCardId, "002281a403830180", "00870000047c02810000"});
    }
    SECTION("PIV") {
        const std::string log = fresh_path("read-apdus-piv.log");
        rig::insert_card(0, card_args("piv", fresh_path("read-apdus-piv.json"), log,
                                      "--challenge " + kChallenge));
        const mimcm::pcsc::CardReading reading = mimcm::pcsc::read_card(context, options);
        CHECK(to_hex(reading.card.challenge.bytes()) == kChallenge);
        INFO(slurp(log));
        // SELECT PIV, the CHUID (its GET RESPONSEs aside), the 9B key's metadata, the challenge.
        std::vector<std::string> commands;
        for (const auto& c : commands_in(log)) {
            if (c.rfind("00c00000", 0) != 0)
                commands.push_back(c);
        }
        CHECK(commands == std::vector<std::string>{"00a4040009a0000003080000100000",
                                                   kPivChuid + "00", "00f7009b00",
                                                   "0087039b047c02810000"});
    }
}

TEST_CASE("a session holding its transaction reads the card id once", "[pcsc][card-read]") {
    rig::EmptyReadersAtExit cleanup;
    for (const std::string profile : {"gids", "piv"}) {
        SECTION(profile) {
            const std::string state = fresh_path("held-" + profile + ".json");
            const std::string log = fresh_path("held-" + profile + ".log");
            rig::insert_card(0, card_args(profile, state, log, "--challenge " + kChallenge));
            Context context;
            CardSession session = CardSession::open(context, reader_and_profile(kReader0, profile));
            CHECK(card_id_reads(log, profile) == 1);
            for (int i = 0; i < 3; ++i) {
                const mimcm::CardData card = session.read();
                CHECK(to_hex(card.card_id.bytes().data(), 16) == kCardId);
                CHECK(to_hex(card.challenge.bytes()) == kChallenge);
            }
            session.verify_same_card();
            session.close();
            INFO(slurp(log));
            CHECK(card_id_reads(log, profile) == 1);
            CHECK(count_prefix(commands_in(log), "00a4") == 1);
        }
    }
}

TEST_CASE("without a held transaction every check reads the card id again", "[pcsc][card-read]") {
    rig::EmptyReadersAtExit cleanup;
    for (const std::string profile : {"gids", "piv"}) {
        SECTION(profile) {
            const std::string state = fresh_path("not-held-" + profile + ".json");
            const std::string log = fresh_path("not-held-" + profile + ".log");
            rig::insert_card(0, card_args(profile, state, log, "--challenge " + kChallenge));
            Context context;
            CardSession session = CardSession::open(
                context, reader_and_profile(kReader0, profile, SessionTransaction::not_held));
            (void)session.read();
            CHECK(card_id_reads(log, profile) == 2);
            (void)session.read();
            session.verify_same_card();
            session.close();
            INFO(slurp(log));
            CHECK(card_id_reads(log, profile) == 4);
        }
    }
}

TEST_CASE("after an error the next check reads the card id again, then trusts the transaction",
          "[pcsc][card-read]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("after-error.json");
    const std::string log = fresh_path("after-error.log");
    rig::insert_card(0, card_args("gids", state, log, "--challenge " + kChallenge));
    Context context;
    CardSession session = CardSession::open(context, reader_and_profile(kReader0, "gids"));
    (void)session.read();
    CHECK(card_id_reads(log, "gids") == 1);
    CHECK(thrown<CardError>([&] { session.authenticate_admin(secret(kKey2Response)); }).code() ==
          CardErrorCode::admin_auth_failed);
    (void)session.read();
    CHECK(card_id_reads(log, "gids") == 2);
    (void)session.read();
    session.authenticate_admin(secret(kZeroKeyResponse));
    CHECK(read_state(state).admin_authenticated);
    session.close();
    INFO(slurp(log));
    CHECK(card_id_reads(log, "gids") == 2);
}

TEST_CASE("another application's reset waits for the session's transaction",
          "[pcsc][card-read][transaction]") {
    // What lets a held session trust SCardStatus without reading the card id again.
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("reset-waits.json");
    const std::string log = fresh_path("reset-waits.log");
    rig::insert_card(0, card_args("gids", state, log, "--challenge " + kChallenge));
    Context context;
    Context other;
    Card theirs(other, kReader0);
    CardSession session = CardSession::open(context, reader_and_profile(kReader0, "gids"));
    (void)session.read();
    auto reset = std::async(std::launch::async, [&] { theirs.disconnect(Disposition::reset); });
    CHECK(reset.wait_for(std::chrono::milliseconds(500)) == std::future_status::timeout);
    (void)session.read();
    session.authenticate_admin(secret(kZeroKeyResponse));  // no reset came in between
    CHECK(read_state(state).admin_authenticated);
    session.close();
    REQUIRE(reset.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    reset.get();
    CHECK(card_id_reads(log, "gids") == 1);
}

// ---------------------------------------------------------------------------------------------
// PIV

TEST_CASE("PIV: the 9B response makes us admin and sets a new management key",
          "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("admin-piv.json");
    const std::string log = fresh_path("admin-piv.log");
    rig::insert_card(1, card_args("piv", state, log,
                                  "--challenge " + kChallenge + " --admin-key " + kPivDefaultKey));
    Context context;
    CardSession session = CardSession::open(context, reader_and_profile(kReader1, "piv"));
    CHECK(session.profile_name() == "piv");
    CHECK_FALSE(session.supports(CardOperation::set_pin_with_admin_key));
    CHECK(session.supports(CardOperation::set_pin_with_puk));
    (void)session.read();
    session.authenticate_admin(secret(kPivDefaultKeyResponse));
    session.set_admin_key(secret(kKey2));
    CHECK(read_state(state).admin_key == kKey2);

    session.close();
    const auto commands = commands_in(log);
    INFO(slurp(log));
    CHECK(count_prefix(commands, "00a4") == 1);
    CHECK(count_prefix(commands, "00ffffff1b039b18" + kKey2) == 1);
}

TEST_CASE("PIV: a wrong response is admin_auth_refused (6A80), the challenge is gone",
          "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("admin-piv-wrong.json");
    const std::string log = fresh_path("admin-piv-wrong.log");
    rig::insert_card(1, card_args("piv", state, log, "--challenge " + kChallenge));
    Context context;
    CardSession session = CardSession::open(context, reader_and_profile(kReader1, "piv"));
    (void)session.read();
    const auto e =
        thrown<CardError>([&] { session.authenticate_admin(secret(kPivDefaultKeyResponse)); });
    CHECK(e.code() == CardErrorCode::admin_auth_refused);
    CHECK(e.sw() == std::optional<std::uint16_t>{0x6A80});
    CHECK(thrown<CardError>([&] { session.set_admin_key(secret(kKey2)); }).code() ==
          CardErrorCode::not_authenticated);
    session.close();
    CHECK(read_state(state).admin_key == kZeroKey);
    CHECK(count_prefix(commands_in(log), "00ff") == 0);
}

TEST_CASE("PIV: an AES-192 management key is refused before anything is written",
          "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("admin-piv-aes.json");
    const std::string log = fresh_path("admin-piv-aes.log");
    rig::insert_card(1, card_args("piv", state, log, "--mgmt-key-alg 0A"));
    Context context;
    CardSession session = CardSession::open(context, reader_and_profile(kReader1, "piv"));
    const auto e = thrown<CardError>([&] { (void)session.read(); });
    CHECK(e.code() == CardErrorCode::not_supported);
    CHECK_THAT(e.what(), Catch::Contains("0A (AES-192)"));
    session.close();
    const auto commands = commands_in(log);
    CHECK(count_prefix(commands, "00f7009b") == 1);
    CHECK(count_prefix(commands, "0087") == 0);
    CHECK(count_prefix(commands, "00ff") == 0);
}

TEST_CASE("PIV: a zero or missing CHUID GUID is a typed error that names it",
          "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    Context context;
    SECTION("zero GUID") {
        rig::insert_card(1, "--profile piv --chuid-guid zero");
        const auto e = thrown<CardError>(
            [&] { (void)mimcm::pcsc::read_card(context, reader_and_profile(kReader1, "piv")); });
        CHECK(e.code() == CardErrorCode::missing_card_id);
        CHECK_THAT(e.what(), Catch::Contains("CHUID GUID (tag 34) is all zero"));
    }
    SECTION("no CHUID") {
        rig::insert_card(1, "--profile piv --no-chuid");
        const auto e = thrown<CardError>(
            [&] { (void)mimcm::pcsc::read_card(context, reader_and_profile(kReader1, "piv")); });
        CHECK(e.code() == CardErrorCode::missing_card_id);
        CHECK_THAT(e.what(), Catch::Contains("the card has no CHUID"));
    }
}

TEST_CASE("PIV: the PIN is set with the PUK, a wrong PUK is puk_refused", "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("admin-piv-puk.json");
    const std::string log = fresh_path("admin-piv-puk.log");
    rig::insert_card(1, card_args("piv", state, log, "--puk 24681357"));
    Context context;
    CardSession session = CardSession::open(context, reader_and_profile(kReader1, "piv"));
    const auto e = thrown<CardError>(
        [&] { session.reset_pin_with_puk(SecretString("12345678"), SecretString("135790")); });
    CHECK(e.code() == CardErrorCode::puk_refused);
    CHECK_THAT(e.what(), !Catch::Contains("12345678") && !Catch::Contains("135790"));
    CHECK(read_state(state).pin == "12345678");
    session.reset_pin_with_puk(SecretString("24681357"), SecretString("135790"));
    session.close();
    CHECK(read_state(state).pin == "135790");
    CHECK(verify_pin(kReader1, "piv", std::string("135790")) == 0x9000);
    CHECK(count_prefix(commands_in(log), "00a4") == 2);  // ours, and verify_pin's
}

TEST_CASE("GIDS: a card without GENERAL AUTHENTICATE is asked GET CHALLENGE",
          "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("admin-gids-legacy.json");
    const std::string log = fresh_path("admin-gids-legacy.log");
    rig::insert_card(0,
                     card_args("gids", state, log, "--legacy-challenge --challenge " + kChallenge));
    Context context;
    CardSession session = CardSession::open(context, reader_and_profile(kReader0, "gids"));
    CHECK(to_hex(session.read().challenge.bytes()) == kChallenge);
    session.authenticate_admin(secret(kZeroKeyResponse));
    session.set_admin_key(secret(kKey2));
    session.close();
    CHECK(read_state(state).admin_key == kKey2);
    const auto commands = commands_in(log);
    INFO(slurp(log));
    CHECK(count_prefix(commands, "002281a4") == 1);  // refused with 6D00
    CHECK(count_prefix(commands, "0084000008") == 1);
    CHECK(count_prefix(commands, "0082008008" + kZeroKeyResponse) == 1);
    CHECK(count_prefix(commands, "00a4") == 1);
}

TEST_CASE("mutual authentication with the admin key the application holds", "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    for (const std::string profile : {"gids", "piv"}) {
        INFO(profile);
        const int slot = profile == "gids" ? 0 : 1;
        const std::string reader = profile == "gids" ? kReader0 : kReader1;
        const std::string state = fresh_path("admin-mutual-" + profile + ".json");
        const std::string log = fresh_path("admin-mutual-" + profile + ".log");
        rig::insert_card(slot, card_args(profile, state, log, "--admin-key " + kKey2));
        Context context;
        CardSession session = CardSession::open(context, reader_and_profile(reader, profile));
        CHECK(session.supports(CardOperation::mutual_authentication));
        const auto e =
            thrown<CardError>([&] { session.authenticate_admin_with_key(secret(kZeroKey)); });
        CHECK((e.code() == CardErrorCode::admin_auth_failed ||
               e.code() == CardErrorCode::admin_auth_refused));
        CHECK_FALSE(read_state(state).admin_authenticated);
        session.authenticate_admin_with_key(secret(kKey2));
        CHECK(read_state(state).admin_authenticated);
        session.set_admin_key(secret(kPivDefaultKey));
        session.close();
        CHECK(read_state(state).admin_key == kPivDefaultKey);
        const auto commands = commands_in(log);
        CHECK(count_prefix(commands, "00a4") == 1);
        for (const auto& command : commands)
            CHECK(command.find(kKey2) == std::string::npos);  // the key never leaves the host
    }
}
