// The card half of the MIM CM admin flow against a real pcscd with virtual cards: read_card(),
// then with_same_card() re-checks the card and answers its challenge, sets the admin key and
// the PIN. The virtual card (tests/rig/virtual_card.py --state-file) writes what it holds to a
// JSON file after every change, so the tests see the card's side.
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
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "card_test_data.hpp"
#include "mimcm/card/profiles.hpp"
#include "mimcm/pcsc.hpp"
#include "rig.hpp"

namespace rig = mimcm_test::rig;
using mimcm::Bytes;
using mimcm::SecretBytes;
using mimcm::SecretString;
using mimcm::to_hex;
using mimcm::card::ApduChannel;
using mimcm::card::AutoProfile;
using mimcm::card::CardError;
using mimcm::card::CardErrorCode;
using mimcm::card::CardProfile;
using mimcm::card::CommandApdu;
using mimcm::card::GidsProfile;
using mimcm::card::PivProfile;
using mimcm::pcsc::Card;
using mimcm::pcsc::CardReading;
using mimcm::pcsc::Context;
using mimcm::pcsc::Disposition;
using mimcm::pcsc::Error;
using mimcm::pcsc::ErrorCode;
using mimcm::pcsc::with_same_card;

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

mimcm::pcsc::ReadOptions reader_and_profile(const std::string& reader, CardProfile& profile) {
    mimcm::pcsc::ReadOptions options;
    options.reader = reader;
    options.profile = &profile;
    return options;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// GIDS

TEST_CASE("GIDS: the docs response makes us admin, then a new admin key and PIN are set",
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
        CHECK(s.pin_tries_left == 3);
    }

    Context context;
    GidsProfile gids;
    Card card(context, kReader0);
    const CardReading reading = mimcm::pcsc::read_card(card, &gids);
    REQUIRE(to_hex(reading.identity.challenge) == kChallenge);
    const std::size_t commands_after_read = commands_in(log).size();

    // (Here the client asks the CM server for the response; no transaction is held.)
    const SecretBytes response = secret(kZeroKeyResponse);
    Context other;
    Card observer(other, kReader0);  // sees the reset that ends with_same_card
    bool admin_seen = false;
    with_same_card(card, reading, gids, [&](ApduChannel& channel, CardProfile& profile) {
        profile.authenticate_admin(channel, response);
        admin_seen = read_state(state).admin_authenticated;
        profile.set_admin_key(channel, secret(kKey2));
        profile.set_user_pin(channel, SecretString("87654321"));
    });
    CHECK(admin_seen);
    CHECK_FALSE(card.connected());
    {
        const auto s = read_state(state);
        CHECK(s.admin_key == kKey2);
        CHECK(s.pin == "87654321");
        CHECK_FALSE(s.admin_authenticated);  // disconnected with SCARD_RESET_CARD
        CHECK(s.pin_tries_left == 3);
    }
    const auto reset_seen = thrown<Error>(
        [&] { observer.transmit_raw(*mimcm::from_hex("00a4040009a0000003974254465900")); });
    CHECK(reset_seen.code() == ErrorCode::card_reset);

    // The card id was re-checked without a new challenge, then the three admin commands.
    const auto commands = commands_in(log);
    REQUIRE(commands.size() > commands_after_read);
    const std::vector<std::string> acted(commands.begin() + static_cast<long>(commands_after_read),
                                         commands.end());
    INFO(slurp(log));
    CHECK(count_prefix(acted, "0084") == 0);
    CHECK(acted.front() == "00a4040009a0000003974254465900");
    CHECK(count_prefix(acted, "00cb") == 2);  // master file table, cardid
    CHECK(count_prefix(acted, "0082008008" + kZeroKeyResponse) == 1);
    CHECK(count_prefix(acted, "00db3fff26") == 1);
    CHECK(count_prefix(acted, "002c0280083837363534333231") == 1);

    // The new PIN works, the old one does not.
    CHECK(verify_pin(kReader0, "gids", std::string("87654321")) == 0x9000);
    CHECK(verify_pin(kReader0, "gids", std::string("12345678")) == 0x63C2);
    CHECK(verify_pin(kReader0, "gids", std::nullopt) == 0x63C2);
    CHECK(verify_pin(kReader0, "gids", std::string("87654321")) == 0x9000);
    CHECK(read_state(state).pin_tries_left == 3);

    SECTION("the card now wants responses for the new key") {
        auto again = mimcm::pcsc::read_card(context, reader_and_profile(kReader0, gids));
        const auto e = thrown<CardError>([&] {
            with_same_card(context, again, gids, [&](ApduChannel& c, CardProfile& p) {
                p.authenticate_admin(c, secret(kZeroKeyResponse));
            });
        });
        CHECK(e.code() == CardErrorCode::admin_auth_failed);
        CHECK(e.sw() == std::optional<std::uint16_t>{0x6300});

        again = mimcm::pcsc::read_card(context, reader_and_profile(kReader0, gids));
        with_same_card(context, again, gids, [&](ApduChannel& c, CardProfile& p) {
            p.authenticate_admin(c, secret(kKey2Response));
            CHECK(read_state(state).admin_authenticated);
        });
        CHECK_FALSE(read_state(state).admin_authenticated);
    }
}

TEST_CASE("GIDS: a wrong response gives admin_auth_failed and changes nothing",
          "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("admin-gids-wrong.json");
    const std::string log = fresh_path("admin-gids-wrong.log");
    rig::insert_card(0, card_args("gids", state, log, "--challenge " + kChallenge));
    Context context;
    GidsProfile gids;
    Card card(context, kReader0);
    const auto reading = mimcm::pcsc::read_card(card, &gids);
    bool key_step_reached = false;
    const auto e = thrown<CardError>([&] {
        with_same_card(card, reading, gids, [&](ApduChannel& c, CardProfile& p) {
            p.authenticate_admin(c, secret(kKey2Response));  // for another key
            key_step_reached = true;
            p.set_admin_key(c, secret(kKey2));
        });
    });
    CHECK(e.code() == CardErrorCode::admin_auth_failed);
    CHECK(e.sw() == std::optional<std::uint16_t>{0x6300});
    CHECK_THAT(e.what(), !Catch::Contains(kKey2Response) && !Catch::Contains(kKey2));
    CHECK_FALSE(key_step_reached);
    CHECK_FALSE(card.connected());
    const auto s = read_state(state);
    CHECK(s.admin_key == kZeroKey);
    CHECK(s.pin == "12345678");
    CHECK_FALSE(s.admin_authenticated);
    CHECK(s.pin_tries_left == 3);
    const auto commands = commands_in(log);
    CHECK(count_prefix(commands, "00db") == 0);
    CHECK(count_prefix(commands, "002c") == 0);

    SECTION("a challenge is used up by one answer, even a wrong one") {
        const auto again = mimcm::pcsc::read_card(context, reader_and_profile(kReader0, gids));
        with_same_card(context, again, gids, [&](ApduChannel& c, CardProfile& p) {
            CHECK(thrown<CardError>([&] {
                      p.authenticate_admin(c, secret(kKey2Response));
                  }).code() == CardErrorCode::admin_auth_failed);
            const auto expired =
                thrown<CardError>([&] { p.authenticate_admin(c, secret(kZeroKeyResponse)); });
            CHECK(expired.code() == CardErrorCode::challenge_expired);
            CHECK(expired.sw() == std::optional<std::uint16_t>{0x6985});
        });
        CHECK_FALSE(read_state(state).admin_authenticated);
    }
}

// ---------------------------------------------------------------------------------------------
// The card in the reader changed

TEST_CASE("another card in the reader between read and act gives card_changed",
          "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state_a = fresh_path("admin-swap-a.json");
    const std::string log_a = fresh_path("admin-swap-a.log");
    const std::string state_b = fresh_path("admin-swap-b.json");
    const std::string log_b = fresh_path("admin-swap-b.log");
    rig::insert_card(0, card_args("gids", state_a, log_a, "--challenge " + kChallenge));
    Context context;
    GidsProfile gids;
    AutoProfile automatic;
    const bool use_auto = GENERATE(false, true);
    CardProfile& profile = use_auto ? static_cast<CardProfile&>(automatic) : gids;
    INFO("profile " << profile.name());
    const auto reading = mimcm::pcsc::read_card(context, reader_and_profile(kReader0, profile));
    REQUIRE(reading.identity.profile == "gids");

    std::string why;
    SECTION("same ATR, another card id") {
        rig::insert_card(0, "--profile gids --card-id " + kOtherCardId + " --state-file " +
                                rig::shell_quote(state_b) + " --log " + rig::shell_quote(log_b));
        why = "its card id differs from the one read";
    }
    SECTION("same card id, another ATR") {
        rig::insert_card(0, card_args("gids", state_b, log_b, "--atr " + kCustomAtr));
        why = "its ATR differs from the one read";
    }
    SECTION("same ATR, no GIDS applet") {
        rig::insert_card(0, "--profile none --atr " + kGidsAtr + " --state-file " +
                                rig::shell_quote(state_b) + " --log " + rig::shell_quote(log_b));
        why = use_auto ? "it answers none of the card profiles"
                       : "it does not answer the gids profile";
    }
    bool acted = false;
    const auto e = thrown<Error>([&] {
        with_same_card(context, reading, profile, [&](ApduChannel& c, CardProfile& p) {
            acted = true;
            p.authenticate_admin(c, secret(kZeroKeyResponse));
        });
    });
    CHECK(e.code() == ErrorCode::card_changed);
    CHECK(e.native() == 0);
    CHECK(e.operation() == "with_same_card");
    CHECK(e.reader() == kReader0);
    CHECK(std::string(e.what()) ==
          "with_same_card(\"Virtual PCD 00 00\"): a different card is in the reader (" + why + ")");
    CHECK(mimcm::pcsc::to_string(e.code()) == "card_changed");
    CHECK_THAT(std::string(mimcm::pcsc::describe(e.code())),
               Catch::StartsWith("a different card is in the reader"));
    CHECK_FALSE(acted);
    // Nothing but the checks reached the new card: SELECTs and GET DATA only.
    for (const auto& command : commands_in(log_b)) {
        INFO(command);
        CHECK((command.rfind("00a4", 0) == 0 || command.rfind("00cb", 0) == 0));
    }
    const auto s = read_state(state_b);
    CHECK(s.admin_key == kZeroKey);
    CHECK_FALSE(s.admin_authenticated);
}

TEST_CASE("a card removed between read and act gives a typed error", "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("admin-removed.json");
    const std::string log = fresh_path("admin-removed.log");
    rig::insert_card(0, card_args("gids", state, log, "--challenge " + kChallenge));
    Context context;
    GidsProfile gids;
    bool acted = false;
    const auto action = [&](ApduChannel&, CardProfile&) { acted = true; };
    SECTION("connecting afresh: no_card") {
        const auto reading = mimcm::pcsc::read_card(context, reader_and_profile(kReader0, gids));
        rig::remove_card(0);
        const auto e = thrown<Error>([&] { with_same_card(context, reading, gids, action); });
        CHECK(e.code() == ErrorCode::no_card);
        CHECK(e.operation() == "SCardConnect");
    }
    SECTION("with the connection kept: card_removed") {
        Card card(context, kReader0);
        const auto reading = mimcm::pcsc::read_card(card, &gids);
        rig::remove_card(0);
        const auto e = thrown<Error>([&] { with_same_card(card, reading, gids, action); });
        CHECK(e.code() == ErrorCode::card_removed);
        CHECK_FALSE(card.connected());
    }
    SECTION("with the connection kept, and another card inserted: card_removed") {
        Card card(context, kReader0);
        const auto reading = mimcm::pcsc::read_card(card, &gids);
        rig::insert_card(0, "--profile gids --card-id " + kOtherCardId);
        const auto e = thrown<Error>([&] { with_same_card(card, reading, gids, action); });
        CHECK(e.code() == ErrorCode::card_removed);
    }
    CHECK_FALSE(acted);
}

TEST_CASE("a card reset by another application since it was read gives card_reset",
          "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("admin-reset.json");
    const std::string log = fresh_path("admin-reset.log");
    rig::insert_card(0, card_args("gids", state, log, "--challenge " + kChallenge));
    Context context;
    GidsProfile gids;
    Card card(context, kReader0);
    const auto reading = mimcm::pcsc::read_card(card, &gids);
    {
        Context other;
        Card theirs(other, kReader0);
        theirs.disconnect(Disposition::reset);
    }
    bool acted = false;
    const auto e = thrown<Error>([&] {
        with_same_card(card, reading, gids, [&](ApduChannel&, CardProfile&) { acted = true; });
    });
    CHECK(e.code() == ErrorCode::card_reset);
    CHECK(e.native() == static_cast<long>(SCARD_W_RESET_CARD));
    CHECK(e.operation() == "SCardBeginTransaction");
    CHECK_THAT(e.what(), Catch::StartsWith("SCardBeginTransaction(\"Virtual PCD 00 00\"): the "
                                           "card was reset since it was read") &&
                             Catch::Contains("read the card again for a fresh challenge") &&
                             Catch::EndsWith("(SCARD_W_RESET_CARD 0x80100068)"));
    CHECK_FALSE(acted);
    CHECK_FALSE(card.connected());
}

// ---------------------------------------------------------------------------------------------
// The challenge's lifetime

TEST_CASE("a random challenge survives the card id re-check, and a kept connection",
          "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("admin-random.json");
    const std::string log = fresh_path("admin-random.log");
    rig::insert_card(0, card_args("gids", state, log, "--admin-key " + kKey2));  // random
    Context context;
    GidsProfile gids;
    Card card(context, kReader0);
    const auto reading = mimcm::pcsc::read_card(card, &gids);
    const std::string response = des3_with_openssl(kKey2, reading.identity.challenge);
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // a slow server
    with_same_card(card, reading, gids, [&](ApduChannel& c, CardProfile& p) {
        p.authenticate_admin(c, secret(response));
        CHECK(read_state(state).admin_authenticated);
    });
    CHECK_FALSE(read_state(state).admin_authenticated);
}

TEST_CASE("pcscd powers an idle card down, which ends its challenge: challenge_expired",
          "[pcsc][card-admin]") {
    // Documents why with_same_card(Card&, ...) exists: without a connection, pcsc-lite powers
    // the card down about a second after the last handle is gone.
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("admin-powered-down.json");
    const std::string log = fresh_path("admin-powered-down.log");
    rig::insert_card(0, card_args("gids", state, log));  // random challenges
    Context context;
    GidsProfile gids;
    const auto reading = mimcm::pcsc::read_card(context, reader_and_profile(kReader0, gids));
    const std::string response = des3_with_openssl(kZeroKey, reading.identity.challenge);
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    const auto e = thrown<CardError>([&] {
        with_same_card(context, reading, gids, [&](ApduChannel& c, CardProfile& p) {
            p.authenticate_admin(c, secret(response));
        });
    });
    CHECK(e.code() == CardErrorCode::challenge_expired);
    CHECK_THAT(e.what(), Catch::Contains("read the card again for a fresh challenge"));
    CHECK_FALSE(read_state(state).admin_authenticated);
}

// ---------------------------------------------------------------------------------------------
// PIV

TEST_CASE("PIV: the 9B response makes us admin and sets a new management key, not the PIN",
          "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("admin-piv.json");
    const std::string log = fresh_path("admin-piv.log");
    rig::insert_card(1, card_args("piv", state, log,
                                  "--challenge " + kChallenge + " --admin-key " + kPivDefaultKey));
    REQUIRE(read_state(state).admin_key == kPivDefaultKey);
    Context context;
    AutoProfile automatic;  // admin operations go to the PIV profile that read the card
    Card card(context, kReader1);
    const auto reading = mimcm::pcsc::read_card(card, &automatic);
    REQUIRE(reading.identity.profile == "piv");
    REQUIRE(to_hex(reading.identity.challenge) == kChallenge);
    with_same_card(card, reading, automatic, [&](ApduChannel& c, CardProfile& p) {
        p.authenticate_admin(c, secret(kPivDefaultKeyResponse));
        CHECK(read_state(state).admin_authenticated);
        p.set_admin_key(c, secret(kKey2));
    });
    {
        const auto s = read_state(state);
        CHECK(s.admin_key == kKey2);
        CHECK_FALSE(s.admin_authenticated);
        CHECK(s.pin == "12345678");
    }
    CHECK(count_prefix(commands_in(log), "00ffffff1b039b18" + kKey2) == 1);

    // The PIN cannot be set with the management key: not_supported, nothing sent for it.
    const auto again = mimcm::pcsc::read_card(context, reader_and_profile(kReader1, automatic));
    const auto e = thrown<CardError>([&] {
        with_same_card(context, again, automatic, [&](ApduChannel& c, CardProfile& p) {
            p.authenticate_admin(c, secret(kKey2Response));  // the new key works
            CHECK(read_state(state).admin_authenticated);
            p.set_user_pin(c, SecretString("87654321"));
        });
    });
    CHECK(e.code() == CardErrorCode::not_supported);
    CHECK(std::string(e.what()) ==
          "the piv card profile does not support setting the user PIN with the admin key");
    CHECK(count_prefix(commands_in(log), "002c") == 0);
    CHECK(read_state(state).pin == "12345678");
    CHECK_FALSE(read_state(state).admin_authenticated);  // reset after the failed action too
    CHECK(verify_pin(kReader1, "piv", std::string("12345678")) == 0x9000);

    SECTION("a wrong response: admin_auth_failed (69 82)") {
        const auto third = mimcm::pcsc::read_card(context, reader_and_profile(kReader1, automatic));
        const auto refused = thrown<CardError>([&] {
            with_same_card(context, third, automatic, [&](ApduChannel& c, CardProfile& p) {
                p.authenticate_admin(c, secret(kPivDefaultKeyResponse));  // the old key
            });
        });
        CHECK(refused.code() == CardErrorCode::admin_auth_failed);
        CHECK(refused.sw() == std::optional<std::uint16_t>{0x6982});
        CHECK(read_state(state).admin_key == kKey2);
    }
}

TEST_CASE("with_same_card refuses a card of another reader and an empty action",
          "[pcsc][card-admin]") {
    rig::EmptyReadersAtExit cleanup;
    const std::string state = fresh_path("admin-args.json");
    const std::string log = fresh_path("admin-args.log");
    rig::insert_card(0, card_args("gids", state, log));
    Context context;
    GidsProfile gids;
    Card card(context, kReader0);
    auto reading = mimcm::pcsc::read_card(card, &gids);
    CHECK_THROWS_AS(with_same_card(card, reading, gids, mimcm::pcsc::CardAction{}),
                    std::invalid_argument);
    CHECK_THROWS_AS(with_same_card(context, reading, gids, mimcm::pcsc::CardAction{}),
                    std::invalid_argument);
    reading.reader = kReader1;
    try {
        with_same_card(card, reading, gids, [](ApduChannel&, CardProfile&) {});
        FAIL("accepted");
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()) ==
              "with_same_card: the card is connected to \"Virtual PCD 00 00\", but was read in "
              "\"Virtual PCD 00 01\"");
    }
    CHECK(card.connected());  // nothing was done with it
}
