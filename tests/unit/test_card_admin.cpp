// The card half of the MIM CM admin flow against scripted cards: the GIDS and PIV admin APDUs
// and their status words, and the card session (one SELECT per card; no SELECT between a
// challenge and its response or between the admin login and the admin writes).
// The SDK never computes 3DES (the CM server does), so the responses here are known values:
// the MIM CM docs example, all-zero 24-byte key, challenge d61143f9ccffd2ca (1hFD+cz/0so=)
// -> response 17466e766e303cb6 (F0Zudm4wPLY=).
#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "card_test_data.hpp"
#include "mimcm/card/des.hpp"
#include "mimcm/card/gids.hpp"
#include "mimcm/card/piv.hpp"
#include "mimcm/card/profile.hpp"
#include "mimcm/card/resolver.hpp"
#include "mimcm/card/session.hpp"
#include "scripted_channel.hpp"

using mimcm::Bytes;
using mimcm::SecretBytes;
using mimcm::SecretString;
using mimcm::to_hex;
using mimcm::card::CardError;
using mimcm::card::CardErrorCode;
using mimcm::card::CardOperation;
using mimcm::card::GidsProfile;
using mimcm::card::PivProfile;
using mimcm::card::ProfileResolver;
using mimcm::card::Session;
using mimcm_test::hex;
using mimcm_test::ScriptedChannel;

using mimcm_test::thrown;
using namespace mimcm_test::apdu;
namespace {

const std::string docs_response = "17466e766e303cb6";  // 3DES-EDE(0^24, d61143f9ccffd2ca)
const std::string new_key = "00112233445566778899aabbccddeeff0123456789abcdef";

// The GIDS master file table with cardid in EF A012, DO DF20.
std::string master_file_answer() {
    Bytes table{0x01};
    Bytes record(28, 0);
    const std::string file = "cardid";
    for (std::size_t i = 0; i < file.size(); ++i)
        record[9 + i] = static_cast<std::uint8_t>(file[i]);
    record[20] = 0x20;
    record[21] = 0xDF;
    record[24] = 0x12;
    record[25] = 0xA0;
    table.insert(table.end(), record.begin(), record.end());
    return "DF1F1D" + to_hex(table) + "9000";
}

std::string chuid_answer() {
    return "53 1E 34 10" + card_id_hex + "35 08 3230333031323331 FE 00 9000";
}

SecretBytes secret(const std::string& hex_text) {
    return SecretBytes(hex(hex_text));
}

// No secret (as hex, either case, or as text) may show up in a message.
void check_no_secret(const std::string& message, const std::vector<std::string>& secrets) {
    std::string lower = message;
    for (auto& c : lower)
        c = mimcm::detail::ascii_lower(c);
    for (const auto& s : secrets) {
        INFO(message);
        CHECK(lower.find(s) == std::string::npos);
    }
}

std::string gids_response() {
    return gids_response_prefix + docs_response;
}
const std::string put_key =
    "00 DB 3F FF 26 70 24 84 01 80 A5 1F 87 18" + new_key + "88 03 B0 73 DC";
const std::string gids_set_pin = "00 2C 02 80 08 3837363534333231";  // "87654321"
const std::string piv_response = "00 87 03 9B 0C 7C 0A 82 08" + docs_response;
const std::string piv_set_key = "00 FF FF FF 1B 03 9B 18" + new_key;
const std::string challenge_answer = "7C 0A 81 08 d61143f9ccffd2ca 9000";

ProfileResolver gids_only() {
    return ProfileResolver::by_name("gids");
}
ProfileResolver piv_only() {
    return ProfileResolver::by_name("piv");
}

// SELECT and the card id of a GIDS card.
void expect_gids_open(ScriptedChannel& card) {
    card.expect(select_gids, "61 12 4F 0B A0 00 00 03 97 42 54 46 59 02 01 73 03 40 01 C0 9000");
    card.expect(get_master_file, master_file_answer());
    card.expect(get_cardid_default, "DF 20 10" + card_id_hex + "9000");
}
void expect_gids_challenge(ScriptedChannel& card) {
    card.expect(mse_set, "9000");
    card.expect(gids_challenge, challenge_answer);
}
void expect_piv_open(ScriptedChannel& card) {
    card.expect(select_piv, "9000");
    card.expect(get_chuid, chuid_answer());
}

// No SELECT in the recorded commands after the first one.
void check_selected_once(const ScriptedChannel& card) {
    int selects = 0;
    for (const auto& command : card.sent()) {
        if (command.rfind("00a404", 0) == 0)
            ++selects;
    }
    CHECK(selects == 1);
    REQUIRE_FALSE(card.sent().empty());
    CHECK(card.sent().front().rfind("00a404", 0) == 0);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Error codes and operations

TEST_CASE("the card error codes and operations have names", "[card-admin]") {
    using mimcm::card::to_string;
    CHECK(to_string(CardErrorCode::not_supported) == "not_supported");
    CHECK(to_string(CardErrorCode::admin_auth_failed) == "admin_auth_failed");
    CHECK(to_string(CardErrorCode::challenge_expired) == "challenge_expired");
    CHECK(to_string(CardErrorCode::admin_auth_refused) == "admin_auth_refused");
    CHECK(to_string(CardErrorCode::not_authenticated) == "not_authenticated");
    CHECK(to_string(CardErrorCode::puk_refused) == "puk_refused");
    CHECK(to_string(CardOperation::set_pin_with_puk) == "set_pin_with_puk");
    CHECK(to_string(CardOperation::admin_challenge) == "admin_challenge");
    CHECK(mimcm::card::admin_key_size == 24);
    CHECK(mimcm::card::admin_response_size == 8);
}

TEST_CASE("what GIDS and PIV support", "[card-admin]") {
    const GidsProfile gids;
    const PivProfile piv;
    CHECK(gids.supports(CardOperation::set_pin_with_admin_key));
    CHECK_FALSE(gids.supports(CardOperation::set_pin_with_puk));
    CHECK(gids.pin_change_ends_admin_login());
    CHECK_FALSE(piv.supports(CardOperation::set_pin_with_admin_key));
    CHECK(piv.supports(CardOperation::set_pin_with_puk));
    CHECK(piv.supports(CardOperation::set_admin_key));
    CHECK_FALSE(piv.pin_change_ends_admin_login());
}

// ---------------------------------------------------------------------------------------------
// GIDS

TEST_CASE("GIDS session: challenge by MSE SET + GENERAL AUTHENTICATE, response, admin writes",
          "[card-admin][gids]") {
    ScriptedChannel card;
    expect_gids_open(card);
    Session session(card, gids_only());
    CHECK(session.profile_name() == "gids");
    CHECK(session.card_id().guid() == "bc88f13f-83ba-4037-8262-46eba1291c6e");

    expect_gids_challenge(card);
    card.expect(gids_response(), "9000");
    card.expect(put_key, "9000");
    const auto challenge = session.challenge();
    CHECK(to_hex(challenge.bytes()) == "d61143f9ccffd2ca");
    CHECK(session.challenge_pending());
    session.authenticate_admin(secret(docs_response));
    CHECK(session.admin_authenticated());
    CHECK_FALSE(session.challenge_pending());
    session.set_admin_key(secret(new_key));
    CHECK(card.done());
    check_selected_once(card);
    // The exact bytes: MSE SET, GENERAL AUTHENTICATE for the challenge, then the response.
    const auto& sent = card.sent();
    REQUIRE(sent.size() == 7);
    CHECK(sent[3] == "002281a403830180");
    CHECK(sent[4] ==
          "0087000004"
          "7c02810000");
    CHECK(sent[5] == "008700000c7c0a8208" + docs_response);
}

TEST_CASE("GIDS session: the card id re-check between challenge and response sends no SELECT",
          "[card-admin][gids]") {
    ScriptedChannel card;
    expect_gids_open(card);
    Session session(card, gids_only());
    expect_gids_challenge(card);
    card.expect(get_master_file, master_file_answer());
    card.expect(get_cardid_default, "DF 20 10" + card_id_hex + "9000");
    card.expect(gids_response(), "9000");
    (void)session.challenge();
    CHECK(session.read_card_id().guid() == "bc88f13f-83ba-4037-8262-46eba1291c6e");
    session.authenticate_admin(secret(docs_response));
    CHECK(card.done());
    check_selected_once(card);
}

TEST_CASE("GIDS response status words map to typed errors", "[card-admin][gids]") {
    struct Case {
        const char* sw;
        CardErrorCode code;
    };
    for (const Case c :
         {Case{"6982", CardErrorCode::admin_auth_failed},
          Case{"6300", CardErrorCode::admin_auth_failed},
          Case{"63C2", CardErrorCode::admin_auth_failed},
          Case{"6983", CardErrorCode::admin_auth_failed},
          Case{"6985", CardErrorCode::challenge_expired}, Case{"6A88", CardErrorCode::status}}) {
        INFO(c.sw);
        ScriptedChannel card;
        expect_gids_open(card);
        Session session(card, gids_only());
        expect_gids_challenge(card);
        card.expect(gids_response(), c.sw);
        (void)session.challenge();
        const auto e =
            thrown<CardError>([&] { session.authenticate_admin(secret(docs_response)); });
        CHECK(e.code() == c.code);
        check_no_secret(e.what(), {docs_response});
        CHECK_FALSE(session.admin_authenticated());
        CHECK_FALSE(session.challenge_pending());  // a challenge is used by one answer
        // Without the admin login nothing more is sent.
        CHECK(thrown<CardError>([&] { session.set_admin_key(secret(new_key)); }).code() ==
              CardErrorCode::not_authenticated);
        CHECK(card.done());
    }
}

TEST_CASE("GIDS 6982 on PUT DATA and on the PIN is not_authenticated", "[card-admin][gids]") {
    GidsProfile gids;
    {
        ScriptedChannel card{{put_key, "6982"}};
        const auto e = thrown<CardError>([&] { gids.set_admin_key(card, secret(new_key)); });
        CHECK(e.code() == CardErrorCode::not_authenticated);
        CHECK(e.sw() == std::optional<std::uint16_t>{0x6982});
        CHECK_THAT(e.what(), Catch::StartsWith("GIDS: PUT DATA of the admin key answered 6982") &&
                                 Catch::Contains("authenticate as admin first"));
        check_no_secret(e.what(), {new_key});
    }
    {
        ScriptedChannel card{{gids_set_pin, "6982"}};
        const auto e =
            thrown<CardError>([&] { gids.set_user_pin(card, SecretString("87654321")); });
        CHECK(e.code() == CardErrorCode::not_authenticated);
        check_no_secret(e.what(), {"87654321", "3837363534333231"});
    }
    {
        ScriptedChannel card{{put_key, "6A80"}};
        const auto e = thrown<CardError>([&] { gids.set_admin_key(card, secret(new_key)); });
        CHECK(e.code() == CardErrorCode::status);
        CHECK(std::string(e.what()) ==
              "GIDS: PUT DATA of the admin key answered 6A80; expected 9000");
    }
}

TEST_CASE("GIDS: a card that refuses MSE SET or GENERAL AUTHENTICATE gets GET CHALLENGE",
          "[card-admin][gids]") {
    for (const bool mse_refused : {true, false}) {
        for (const char* sw : {"6D00", "6E00", "6A81"}) {
            INFO((mse_refused ? "MSE SET " : "GENERAL AUTHENTICATE ") << sw);
            ScriptedChannel card;
            expect_gids_open(card);
            Session session(card, gids_only());
            if (mse_refused) {
                card.expect(mse_set, sw);
            } else {
                card.expect(mse_set, "9000");
                card.expect(gids_challenge, sw);
            }
            card.expect(get_challenge, "d61143f9ccffd2ca 9000");
            card.expect("00 82 00 80 08" + docs_response, "9000");
            card.expect(put_key, "9000");
            CHECK(to_hex(session.challenge().bytes()) == "d61143f9ccffd2ca");
            session.authenticate_admin(secret(docs_response));
            session.set_admin_key(secret(new_key));
            CHECK(card.done());
            check_selected_once(card);
        }
    }
    SECTION("EXTERNAL AUTHENTICATE status words") {
        for (const char* sw : {"6300", "63C1", "6982", "6985"}) {
            INFO(sw);
            ScriptedChannel card;
            expect_gids_open(card);
            Session session(card, gids_only());
            card.expect(mse_set, "6D00");
            card.expect(get_challenge, "d61143f9ccffd2ca 9000");
            card.expect("00 82 00 80 08" + docs_response, sw);
            (void)session.challenge();
            const auto e =
                thrown<CardError>([&] { session.authenticate_admin(secret(docs_response)); });
            CHECK(e.code() == (std::string(sw) == "6985" ? CardErrorCode::challenge_expired
                                                         : CardErrorCode::admin_auth_failed));
            CHECK_THAT(e.what(), Catch::Contains("EXTERNAL AUTHENTICATE"));
        }
    }
}

TEST_CASE("GIDS: the PIN change logs the admin out, the next admin command needs a new challenge",
          "[card-admin][gids]") {
    ScriptedChannel card;
    expect_gids_open(card);
    Session session(card, gids_only());
    expect_gids_challenge(card);
    card.expect(gids_response(), "9000");
    card.expect(gids_set_pin, "9000");
    (void)session.challenge();
    session.authenticate_admin(secret(docs_response));
    session.set_user_pin(SecretString("87654321"));
    CHECK_FALSE(session.admin_authenticated());
    CHECK(card.done());

    // Refused before anything is sent...
    const auto e = thrown<CardError>([&] { session.set_admin_key(secret(new_key)); });
    CHECK(e.code() == CardErrorCode::not_authenticated);
    CHECK_THAT(e.what(), Catch::Contains("logs the admin out after a PIN change"));
    CHECK(card.done());
    // ...and accepted after a new challenge and response, still without a SELECT.
    expect_gids_challenge(card);
    card.expect(gids_response(), "9000");
    card.expect(put_key, "9000");
    (void)session.challenge();
    session.authenticate_admin(secret(docs_response));
    session.set_admin_key(secret(new_key));
    CHECK(card.done());
    check_selected_once(card);
}

TEST_CASE("GIDS: PIN limits, checked before anything is sent", "[card-admin][gids]") {
    GidsProfile gids;
    ScriptedChannel card{{"00 2C 02 80 04 31323334", "9000"},
                         {"00 2C 02 80 10 61626364656667686970717273747576", "9000"}};
    gids.set_user_pin(card, SecretString("1234"));
    gids.set_user_pin(card, SecretString("abcdefghipqrstuv"));
    CHECK(card.done());
    for (const char* bad : {"123", "12345678901234567", ""}) {
        INFO(bad);
        const auto e =
            thrown<std::invalid_argument>([&] { gids.set_user_pin(card, SecretString(bad)); });
        CHECK_THAT(e.what(), Catch::StartsWith("GIDS: a user PIN has 4 to 16 bytes, got "));
        if (*bad)
            check_no_secret(e.what(), {bad});
    }
    CHECK(card.sent().size() == 2);
}

TEST_CASE("admin responses and keys of the wrong size are refused before anything is sent",
          "[card-admin]") {
    ScriptedChannel card;
    GidsProfile gids;
    PivProfile piv;
    for (const std::string& bad :
         {std::string("17466e766e303c"), docs_response + "00", std::string()}) {
        INFO(bad);
        CHECK_THAT(thrown<std::invalid_argument>([&] {
                       gids.authenticate_admin(card, secret(bad));
                   }).what(),
                   Catch::StartsWith("GIDS: an admin challenge response has 8 bytes (3DES), got "));
        CHECK_THROWS_AS(piv.authenticate_admin(card, secret(bad)), std::invalid_argument);
    }
    for (const std::string& bad : {new_key.substr(2), new_key + "00", std::string(32, '1')}) {
        INFO(bad);
        const auto e =
            thrown<std::invalid_argument>([&] { gids.set_admin_key(card, secret(bad)); });
        CHECK_THAT(e.what(), Catch::StartsWith("GIDS: an admin key has 24 bytes (3DES), got "));
        check_no_secret(e.what(), {bad});
        CHECK_THROWS_AS(piv.set_admin_key(card, secret(bad)), std::invalid_argument);
    }
    CHECK(card.sent().empty());
}

TEST_CASE("a response without a pending challenge is refused before anything is sent",
          "[card-admin]") {
    ScriptedChannel card;
    expect_gids_open(card);
    Session session(card, gids_only());
    const auto e = thrown<CardError>([&] { session.authenticate_admin(secret(docs_response)); });
    CHECK(e.code() == CardErrorCode::challenge_expired);
    CHECK(card.done());
    SECTION("nor after forget_authentication() (a reset seen by the PC/SC layer)") {
        expect_gids_challenge(card);
        (void)session.challenge();
        session.forget_authentication();
        CHECK(thrown<CardError>([&] {
                  session.authenticate_admin(secret(docs_response));
              }).code() == CardErrorCode::challenge_expired);
        CHECK(card.done());
    }
}

// ---------------------------------------------------------------------------------------------
// PIV

TEST_CASE("PIV session: metadata, challenge, response, management key, no SELECT in between",
          "[card-admin][piv]") {
    ScriptedChannel card;
    expect_piv_open(card);
    Session session(card, piv_only());
    CHECK(session.profile_name() == "piv");
    CHECK(session.card_id().guid() == "bc88f13f-83ba-4037-8262-46eba1291c6e");
    card.expect(piv_metadata, "01 01 03 02 02 00 01 05 01 01 9000");
    card.expect(general_authenticate, challenge_answer);
    card.expect(piv_response, "9000");
    card.expect(piv_set_key, "9000");
    (void)session.challenge();
    session.authenticate_admin(secret(docs_response));
    session.set_admin_key(secret(new_key));
    CHECK(card.done());
    check_selected_once(card);

    SECTION("the metadata is asked once per session") {
        card.expect(general_authenticate, challenge_answer);
        (void)session.challenge();
        CHECK(card.done());
    }
}

TEST_CASE("PIV: 6A80 on the response is admin_auth_refused", "[card-admin][piv]") {
    ScriptedChannel card;
    expect_piv_open(card);
    Session session(card, piv_only());
    card.expect(piv_metadata, "6D00");
    card.expect(general_authenticate, challenge_answer);
    card.expect(piv_response, "6A80");
    (void)session.challenge();
    const auto e = thrown<CardError>([&] { session.authenticate_admin(secret(docs_response)); });
    CHECK(e.code() == CardErrorCode::admin_auth_refused);
    CHECK(e.sw() == std::optional<std::uint16_t>{0x6A80});
    CHECK_THAT(e.what(), Catch::Contains("6A80") && Catch::Contains("challenge expired"));
    check_no_secret(e.what(), {docs_response});
    CHECK_FALSE(session.admin_authenticated());
    SECTION("69 82 and 69 85 keep their meaning") {
        for (const char* sw : {"6982", "6985"}) {
            INFO(sw);
            card.expect(general_authenticate, challenge_answer);
            card.expect(piv_response, sw);
            (void)session.challenge();
            CHECK(thrown<CardError>([&] {
                      session.authenticate_admin(secret(docs_response));
                  }).code() == (std::string(sw) == "6982" ? CardErrorCode::admin_auth_failed
                                                          : CardErrorCode::challenge_expired));
        }
    }
}

TEST_CASE("PIV: an AES management key is refused before any write", "[card-admin][piv]") {
    SECTION("GET METADATA says AES-192 (0A): nothing more is sent") {
        ScriptedChannel card;
        expect_piv_open(card);
        Session session(card, piv_only());
        card.expect(piv_metadata, "01 01 0A 02 02 00 01 9000");
        const auto e = thrown<CardError>([&] { (void)session.challenge(); });
        CHECK(e.code() == CardErrorCode::not_supported);
        CHECK_THAT(e.what(), Catch::Contains("not a 3DES key") && Catch::Contains("0A (AES-192)"));
        CHECK_FALSE(session.challenge_pending());
        CHECK(card.done());
    }
    SECTION("no GET METADATA, and GENERAL AUTHENTICATE with algorithm 03 answers 6A80") {
        ScriptedChannel card;
        expect_piv_open(card);
        Session session(card, piv_only());
        card.expect(piv_metadata, "6D00");
        card.expect(general_authenticate, "6A80");
        const auto e = thrown<CardError>([&] { (void)session.challenge(); });
        CHECK(e.code() == CardErrorCode::not_supported);
        CHECK_THAT(e.what(), Catch::Contains("algorithm 03 answered 6A80"));
        CHECK(card.done());
    }
    SECTION("malformed metadata") {
        ScriptedChannel card;
        expect_piv_open(card);
        Session session(card, piv_only());
        card.expect(piv_metadata, "02 02 00 01 9000");
        CHECK(thrown<CardError>([&] { (void)session.challenge(); }).code() ==
              CardErrorCode::malformed);
    }
}

TEST_CASE("PIV: a missing CHUID or a zero CHUID GUID is named", "[card-admin][piv]") {
    SECTION("no CHUID") {
        ScriptedChannel card{{select_piv, "9000"}, {get_chuid, "6A82"}};
        const auto e = thrown<CardError>([&] { Session session(card, piv_only()); });
        CHECK(e.code() == CardErrorCode::missing_card_id);
        CHECK_THAT(e.what(), Catch::Contains("no CHUID") && Catch::Contains("CHUID GUID"));
    }
    SECTION("zero GUID") {
        ScriptedChannel card{{select_piv, "9000"},
                             {get_chuid, "53 1E 34 10" + std::string(32, '0') +
                                             "35 08 3230333031323331 FE 00 9000"}};
        const auto e = thrown<CardError>([&] { Session session(card, piv_only()); });
        CHECK(e.code() == CardErrorCode::missing_card_id);
        CHECK_THAT(e.what(), Catch::Contains("CHUID GUID (tag 34) is all zero"));
        CHECK(card.done());
    }
}

TEST_CASE("PIV: the PIN is set with the PUK (RESET RETRY COUNTER)", "[card-admin][piv]") {
    PivProfile piv;
    const std::string reset = "00 2C 00 80 10 3132333435363738 383736353433FFFF";
    SECTION("accepted; no admin login needed") {
        ScriptedChannel card;
        expect_piv_open(card);
        Session session(card, piv_only());
        card.expect(reset, "9000");
        session.reset_pin_with_puk(SecretString("12345678"), SecretString("876543"));
        CHECK(card.done());
        check_selected_once(card);
    }
    SECTION("wrong PUK, blocked PUK: puk_refused, no secret in the message") {
        for (const char* sw : {"63C2", "6300", "6983"}) {
            INFO(sw);
            ScriptedChannel card{{reset, sw}};
            const auto e = thrown<CardError>([&] {
                piv.reset_pin_with_puk(card, SecretString("12345678"), SecretString("876543"));
            });
            CHECK(e.code() == CardErrorCode::puk_refused);
            check_no_secret(e.what(), {"12345678", "876543", "3132333435363738"});
        }
    }
    SECTION("PUK and PIN of 6 to 8 bytes, checked before anything is sent") {
        ScriptedChannel card;
        for (const auto& values : {std::pair<const char*, const char*>{"12345", "123456"},
                                   {"123456789", "123456"},
                                   {"12345678", "12345"},
                                   {"12345678", "123456789"}}) {
            INFO(values.first << " " << values.second);
            const auto e = thrown<std::invalid_argument>([&] {
                piv.reset_pin_with_puk(card, SecretString(values.first),
                                       SecretString(values.second));
            });
            CHECK_THAT(e.what(), Catch::StartsWith("PIV: a "));
        }
        CHECK(card.sent().empty());
    }
    SECTION("GIDS has no PUK command") {
        ScriptedChannel card;
        CHECK(thrown<CardError>([&] {
                  GidsProfile().reset_pin_with_puk(card, SecretString("12345678"),
                                                   SecretString("123456"));
              }).code() == CardErrorCode::not_supported);
        CHECK(card.sent().empty());
    }
}

TEST_CASE("PIV SET MANAGEMENT KEY status words", "[card-admin][piv]") {
    PivProfile piv;
    {
        ScriptedChannel card{{piv_set_key, "6D00"}};
        CHECK(thrown<CardError>([&] { piv.set_admin_key(card, secret(new_key)); }).code() ==
              CardErrorCode::not_supported);
    }
    {
        ScriptedChannel card{{piv_set_key, "6982"}};
        CHECK(thrown<CardError>([&] { piv.set_admin_key(card, secret(new_key)); }).code() ==
              CardErrorCode::not_authenticated);
    }
}

TEST_CASE("sessions are movable and keep their state", "[card-admin]") {
    static_assert(std::is_move_constructible_v<Session>);
    static_assert(!std::is_copy_constructible_v<Session>);
    ScriptedChannel card;
    expect_gids_open(card);
    Session first(card, gids_only());
    expect_gids_challenge(card);
    (void)first.challenge();
    Session second(std::move(first));
    CHECK(second.challenge_pending());
    card.expect(gids_response(), "9000");
    second.authenticate_admin(secret(docs_response));
    CHECK(second.admin_authenticated());
    CHECK(card.done());
}

TEST_CASE("a moved-from session refuses card operations and sends nothing", "[card-admin]") {
    static_assert(std::is_nothrow_move_constructible_v<Session>);
    static_assert(std::is_nothrow_move_assignable_v<Session>);
    static_assert(!std::is_copy_assignable_v<Session>);
    ScriptedChannel card;
    expect_gids_open(card);
    Session first(card, gids_only());
    expect_gids_challenge(card);
    (void)first.challenge();
    card.expect(gids_response(), "9000");
    Session second(std::move(first));
    const std::size_t sent = card.sent().size();

    // Neither the challenge nor the admin login stays with the moved-from session.
    CHECK_FALSE(first.challenge_pending());
    CHECK_FALSE(first.admin_authenticated());
    CHECK(first.card_id().guid() == second.card_id().guid());
    CHECK_THROWS_AS(first.profile_name(), std::logic_error);
    CHECK_THROWS_AS(first.profile(), std::logic_error);
    CHECK_THROWS_AS(first.supports(CardOperation::set_admin_key), std::logic_error);
    CHECK_THROWS_AS(first.read_card_id(), std::logic_error);
    CHECK_THROWS_AS(first.challenge(), std::logic_error);
    CHECK_THROWS_AS(first.authenticate_admin(secret(docs_response)), std::logic_error);
    CHECK_THROWS_AS(first.authenticate_admin_with_key(secret(new_key)), std::logic_error);
    CHECK_THROWS_AS(first.set_admin_key(secret(new_key)), std::logic_error);
    CHECK_THROWS_AS(first.set_user_pin(SecretString("87654321")), std::logic_error);
    CHECK_THROWS_AS(first.reset_pin_with_puk(SecretString("12345678"), SecretString("87654321")),
                    std::logic_error);
    const std::string message = thrown<std::logic_error>([&] { (void)first.challenge(); }).what();
    CHECK_THAT(message, Catch::Contains("moved from"));
    CHECK(card.sent().size() == sent);

    // The moved-to session answers the challenge the first one read, and writes.
    CHECK(second.profile_name() == "gids");
    second.authenticate_admin(secret(docs_response));
    CHECK(second.admin_authenticated());
    CHECK(card.done());

    SECTION("assigning a session makes the moved-from one work again") {
        ScriptedChannel piv_card;
        expect_piv_open(piv_card);
        first = Session(piv_card, piv_only());
        CHECK(first.profile_name() == "piv");
        CHECK(first.card_id().guid() == "bc88f13f-83ba-4037-8262-46eba1291c6e");
        piv_card.expect(piv_metadata, "01 01 03 9000");
        piv_card.expect(general_authenticate, challenge_answer);
        CHECK(to_hex(first.challenge().bytes()) == "d61143f9ccffd2ca");
        CHECK(first.challenge_pending());
        CHECK(piv_card.done());
    }
    SECTION("move assignment hands over the admin login and leaves the source empty") {
        ScriptedChannel piv_card;
        expect_piv_open(piv_card);
        Session third(piv_card, piv_only());
        third = std::move(second);
        CHECK(third.profile_name() == "gids");
        CHECK(third.admin_authenticated());
        CHECK_FALSE(second.admin_authenticated());
        CHECK_THROWS_AS(second.set_admin_key(secret(new_key)), std::logic_error);
        card.expect(put_key, "9000");
        third.set_admin_key(secret(new_key));
        CHECK(card.done());
        CHECK(piv_card.done());
    }
}

TEST_CASE("card profiles move what they learnt, and the moved-from profile starts afresh",
          "[card-admin]") {
    using mimcm::card::CardProfile;
    static_assert(std::is_nothrow_move_constructible_v<GidsProfile>);
    static_assert(std::is_nothrow_move_assignable_v<GidsProfile>);
    static_assert(std::is_nothrow_move_constructible_v<PivProfile>);
    static_assert(std::is_nothrow_move_assignable_v<PivProfile>);
    static_assert(!std::is_copy_constructible_v<GidsProfile>);
    static_assert(!std::is_copy_assignable_v<GidsProfile>);
    static_assert(!std::is_copy_constructible_v<PivProfile>);
    static_assert(!std::is_copy_assignable_v<PivProfile>);
    // A profile is never moved into a CardProfile (that would slice it).
    static_assert(!std::is_assignable_v<CardProfile&, GidsProfile&&>);
    static_assert(!std::is_assignable_v<CardProfile&, PivProfile&&>);

    SECTION("GIDS: the challenge method") {
        ScriptedChannel card;
        card.expect(mse_set, "6D00");
        card.expect(get_challenge, "d61143f9ccffd2ca 9000");
        GidsProfile learnt;
        CHECK(to_hex(learnt.get_challenge(card)) == "d61143f9ccffd2ca");
        REQUIRE(learnt.challenge_method() == GidsProfile::ChallengeMethod::get_challenge);

        GidsProfile moved(std::move(learnt));
        CHECK(moved.challenge_method() == GidsProfile::ChallengeMethod::get_challenge);
        CHECK(learnt.challenge_method() == GidsProfile::ChallengeMethod::general_authenticate);
        // The moved-to profile answers with EXTERNAL AUTHENTICATE, as the card asked.
        card.expect("00 82 00 80 08" + docs_response, "9000");
        moved.authenticate_admin(card, secret(docs_response));
        CHECK(card.done());

        // The moved-from profile works on a card of its own, as a new one would.
        ScriptedChannel other;
        expect_gids_open(other);
        expect_gids_challenge(other);
        other.expect(gids_response(), "9000");
        CHECK(learnt.name() == "gids");
        CHECK(learnt.select(other));
        CHECK(to_hex(learnt.read_card_id(other).data(), 16) == card_id_hex);
        CHECK(to_hex(learnt.get_challenge(other)) == "d61143f9ccffd2ca");
        learnt.authenticate_admin(other, secret(docs_response));
        CHECK(other.done());

        GidsProfile assigned;
        assigned = std::move(moved);
        CHECK(assigned.challenge_method() == GidsProfile::ChallengeMethod::get_challenge);
        CHECK(moved.challenge_method() == GidsProfile::ChallengeMethod::general_authenticate);
    }
    SECTION("PIV: the management key's algorithm, asked once") {
        ScriptedChannel card;
        card.expect(piv_metadata, "01 01 03 9000");
        PivProfile learnt;
        REQUIRE(learnt.management_key_algorithm(card) == PivProfile::algorithm_3des);

        PivProfile moved(std::move(learnt));
        // The moved-to profile knows the algorithm: no GET METADATA again.
        card.expect(general_authenticate, challenge_answer);
        CHECK(to_hex(moved.get_challenge(card)) == "d61143f9ccffd2ca");
        CHECK(card.done());

        // The moved-from profile asks again, here of a card with an AES key, and refuses it.
        ScriptedChannel aes;
        aes.expect(piv_metadata, "01 01 0A 9000");
        CHECK(thrown<CardError>([&] { (void)learnt.get_challenge(aes); }).code() ==
              CardErrorCode::not_supported);
        CHECK(aes.done());

        PivProfile assigned;
        assigned = std::move(moved);
        CHECK(assigned.management_key_algorithm(card) == PivProfile::algorithm_3des);
        CHECK(card.done());  // known: nothing sent
        card.expect(piv_metadata, "6D00");
        CHECK_FALSE(moved.management_key_algorithm(card).has_value());
        CHECK(card.done());
    }
}

TEST_CASE("a profile resolver still resolves after it was moved from", "[card-admin]") {
    static_assert(std::is_copy_constructible_v<ProfileResolver>);
    static_assert(std::is_move_constructible_v<ProfileResolver>);
    ProfileResolver source = gids_only();
    const ProfileResolver moved(std::move(source));
    ProfileResolver assigned = piv_only();
    assigned = std::move(source);
    for (const ProfileResolver* resolver :
         {&std::as_const(source), &moved, &std::as_const(assigned)}) {
        ScriptedChannel card;
        card.expect(select_gids, "9000");
        const auto profile = resolver->resolve(card);
        REQUIRE(profile);
        CHECK(profile->name() == "gids");
        CHECK(card.done());
    }
}

// ---------------------------------------------------------------------------------------------
// Mutual authentication with an admin key the application holds

TEST_CASE("3DES-EDE known answers", "[card-admin][des]") {
    using mimcm::card::des3_cbc;
    const Bytes challenge = hex("d61143f9ccffd2ca");
    // The CM docs example (all-zero key) and two keys cross-checked with openssl enc -des-ede3.
    CHECK(to_hex(des3_cbc(secret(std::string(48, '0')), challenge)) == docs_response);
    CHECK(to_hex(des3_cbc(secret(new_key), challenge)) == "2b34badb5051fe80");
    CHECK(to_hex(des3_cbc(secret("010203040506070801020304050607080102030405060708"), challenge)) ==
          "2b5108a3889dff6e");
    // Single DES (K1 = K2 = K3), the classic textbook vector.
    CHECK(to_hex(des3_cbc(secret("133457799bbcdff1133457799bbcdff1133457799bbcdff1"),
                          hex("0123456789abcdef"))) == "85e813540f0ab405");
    // CBC chains and decrypts back.
    const Bytes plain = hex("00112233445566778899aabbccddeeff0001020304050607");
    const Bytes cipher = des3_cbc(secret(new_key), plain);
    CHECK(to_hex(Bytes(cipher.begin(), cipher.begin() + 8)) ==
          to_hex(des3_cbc(secret(new_key), Bytes(plain.begin(), plain.begin() + 8))));
    CHECK(to_hex(des3_cbc(secret(new_key), cipher, mimcm::card::CipherDirection::decrypt)) ==
          to_hex(plain));
    CHECK_THROWS_AS(des3_cbc(secret("0011"), challenge), std::invalid_argument);
    CHECK_THROWS_AS(des3_cbc(secret(new_key), hex("0011")), std::invalid_argument);
}

namespace {

// A GIDS or PIV card answering the mutual authentication with its own admin key.
class MutualCard : public mimcm::card::ApduChannel {
  public:
    MutualCard(bool gids, const std::string& key) : gids_(gids), key_(secret(key)) {}

    Bytes transmit_raw(const Bytes& command) override {
        using mimcm::card::des3_cbc;
        sent.push_back(to_hex(command));
        const std::uint8_t ins = command[1];
        const Bytes data(command.begin() + 5, command.begin() + 5 + command[4]);
        auto ok = [](Bytes out) {
            out.push_back(0x90);
            out.push_back(0x00);
            return out;
        };
        if (ins == 0x22)
            return hex("9000");
        if (ins == 0xF7)
            return hex("6D00");
        if (gids_ && data[2] == 0x81) {  // 7C 12 81 10 R1
            host_random_.assign(data.begin() + 4, data.end());
            card_random_ = hex("0102030405060708090a0b0c0d0e0f10");
            return ok(hex("7C 12 81 10 0102030405060708090a0b0c0d0e0f10"));
        }
        if (gids_) {  // 7C 2A 82 28 E(R2 R1 Z1)
            const Bytes plain = des3_cbc(key_, Bytes(data.begin() + 4, data.end()),
                                         mimcm::card::CipherDirection::decrypt);
            if (Bytes(plain.begin(), plain.begin() + 16) != card_random_ ||
                Bytes(plain.begin() + 16, plain.begin() + 32) != host_random_ || plain[39] != 0x80)
                return hex("6982");
            Bytes mine = host_random_;
            mine.insert(mine.end(), card_random_.begin(), card_random_.end());
            const Bytes z = hex("aabbccddeeff0080");
            mine.insert(mine.end(), z.begin(), z.end());
            return ok(hex("7C 2A 82 28" + to_hex(des3_cbc(key_, mine))));
        }
        if (data.size() == 4) {  // 7C 02 80 00
            witness_ = hex("1122334455667788");
            return ok(hex("7C 0A 80 08" + to_hex(des3_cbc(key_, witness_))));
        }
        // 7C 14 80 08 W 81 08 C
        if (Bytes(data.begin() + 4, data.begin() + 12) != witness_)
            return hex("6A80");
        return ok(hex("7C 0A 82 08" +
                      to_hex(des3_cbc(key_, Bytes(data.begin() + 14, data.begin() + 22)))));
    }

    std::vector<std::string> sent;

  private:
    bool gids_;
    SecretBytes key_;
    Bytes host_random_, card_random_, witness_;
};

}  // namespace

TEST_CASE("mutual authentication with the admin key the application holds", "[card-admin]") {
    for (const bool gids : {true, false}) {
        INFO((gids ? "GIDS" : "PIV"));
        std::unique_ptr<mimcm::card::CardProfile> profile;
        if (gids)
            profile = std::make_unique<GidsProfile>();
        else
            profile = std::make_unique<PivProfile>();
        CHECK(profile->supports(CardOperation::mutual_authentication));
        {
            MutualCard card(gids, new_key);
            profile->authenticate_admin_with_key(card, secret(new_key));
            REQUIRE(card.sent.size() == (gids ? 3U : 3U));
            CHECK(card.sent[0] == (gids ? "0022c1a403830180" : "00f7009b00"));
            // Two random host values: the first exchange never repeats.
            MutualCard again(gids, new_key);
            profile->authenticate_admin_with_key(again, secret(new_key));
            CHECK(again.sent[1] != card.sent[1]);
            for (const auto& command : card.sent)
                CHECK(command.find(new_key) == std::string::npos);
        }
        {
            MutualCard card(gids, std::string(48, '0'));  // the card holds another key
            const auto e = thrown<CardError>(
                [&] { profile->authenticate_admin_with_key(card, secret(new_key)); });
            CHECK((e.code() == CardErrorCode::admin_auth_failed ||
                   e.code() == CardErrorCode::admin_auth_refused));
            check_no_secret(e.what(), {new_key});
        }
    }
    SECTION("the session logs in without a challenge from the server") {
        MutualCard card(true, new_key);
        ScriptedChannel opening;
        expect_gids_open(opening);
        Session session(opening, gids_only());
        session.rebind(card);
        session.authenticate_admin_with_key(secret(new_key));
        CHECK(session.admin_authenticated());
    }
    SECTION("a key that is not 24 bytes is refused before anything is sent") {
        MutualCard card(true, new_key);
        CHECK_THROWS_AS(GidsProfile().authenticate_admin_with_key(card, secret("0011")),
                        std::invalid_argument);
        CHECK(card.sent.empty());
    }
}
