// The card half of the MIM CM admin flow against scripted cards: read_card_id (no challenge),
// authenticate_admin, set_admin_key, set_user_pin for GIDS, PIV and the auto profile.
// The SDK never computes 3DES (the CM server does), so the responses here are known values:
// the MIM CM docs example, all-zero 24-byte key, challenge d61143f9ccffd2ca (1hFD+cz/0so=)
// -> response 17466e766e303cb6 (F0Zudm4wPLY=).
#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "card_test_data.hpp"
#include "mimcm/card/profiles.hpp"
#include "scripted_channel.hpp"

using mimcm::Bytes;
using mimcm::SecretBytes;
using mimcm::SecretString;
using mimcm::to_hex;
using mimcm::card::AutoProfile;
using mimcm::card::CardError;
using mimcm::card::CardErrorCode;
using mimcm::card::CardIdentity;
using mimcm::card::CardProfile;
using mimcm::card::GidsProfile;
using mimcm::card::PivProfile;
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
    for (auto& c : lower) {
        if (c >= 'A' && c <= 'F')
            c = static_cast<char>(c - 'A' + 'a');
    }
    for (const auto& s : secrets) {
        INFO(message);
        CHECK(lower.find(s) == std::string::npos);
    }
}

// A user-written profile that implements only read().
class ReadOnlyProfile : public CardProfile {
  public:
    std::string_view name() const override { return "demo"; }
    std::optional<CardIdentity> read(mimcm::card::ApduChannel&) override {
        CardIdentity id;
        id.card_id.fill(0x42);
        id.challenge = hex("0102030405060708");
        id.profile = "demo";
        return id;
    }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Error codes

TEST_CASE("the new card error codes have names", "[card-admin]") {
    using mimcm::card::to_string;
    CHECK(to_string(CardErrorCode::not_supported) == "not_supported");
    CHECK(to_string(CardErrorCode::admin_auth_failed) == "admin_auth_failed");
    CHECK(to_string(CardErrorCode::challenge_expired) == "challenge_expired");
    CHECK(mimcm::card::admin_key_size == 24);
    CHECK(mimcm::card::admin_response_size == 8);
}

TEST_CASE("a profile without admin operations throws not_supported and sends nothing",
          "[card-admin]") {
    ReadOnlyProfile demo;
    ScriptedChannel card;
    const auto check = [&](const CardError& e, const std::string& what) {
        CHECK(e.code() == CardErrorCode::not_supported);
        CHECK_FALSE(e.sw().has_value());
        CHECK(std::string(e.what()) == "the demo card profile does not support " + what);
    };
    check(thrown<CardError>([&] { demo.read_card_id(card); }),
          "reading the card id without a challenge");
    check(thrown<CardError>([&] { demo.authenticate_admin(card, secret(docs_response)); }),
          "admin authentication");
    check(thrown<CardError>([&] { demo.set_admin_key(card, secret(new_key)); }),
          "setting the admin key");
    check(thrown<CardError>([&] { demo.set_user_pin(card, SecretString("12345678")); }),
          "setting the user PIN with the admin key");
    CHECK(card.sent().empty());
}

// ---------------------------------------------------------------------------------------------
// GIDS

TEST_CASE("GIDS read_card_id reads the card id without GET CHALLENGE", "[card-admin][gids]") {
    SECTION("card id") {
        ScriptedChannel card{{select_gids, "9000"},
                             {get_master_file, master_file_answer()},
                             {get_cardid_default, "DF 20 10" + card_id_hex + "9000"}};
        const auto id = GidsProfile().read_card_id(card);
        REQUIRE(id.has_value());
        CHECK(to_hex(id->data(), id->size()) == card_id_hex);
        CHECK(card.done());  // and no 00 84: the script would have failed
    }
    SECTION("no GIDS applet") {
        ScriptedChannel card{{select_gids, "6A82"}};
        CHECK_FALSE(GidsProfile().read_card_id(card).has_value());
    }
    SECTION("read() is read_card_id() plus GET CHALLENGE") {
        ScriptedChannel card{{select_gids, "9000"},
                             {get_master_file, master_file_answer()},
                             {get_cardid_default, "DF 20 10" + card_id_hex + "9000"},
                             {"00 84 00 00 08", "d61143f9ccffd2ca 9000"}};
        const auto identity = GidsProfile().read(card);
        REQUIRE(identity.has_value());
        CHECK(to_hex(identity->challenge) == "d61143f9ccffd2ca");
        CHECK(card.done());
    }
}

TEST_CASE("GIDS admin authentication: EXTERNAL AUTHENTICATE with key 80", "[card-admin][gids]") {
    const std::string external_authenticate = "00 82 00 80 08" + docs_response;
    GidsProfile gids;
    SECTION("accepted") {
        ScriptedChannel card{{select_gids, "9000"}, {external_authenticate, "9000"}};
        gids.authenticate_admin(card, secret(docs_response));
        CHECK(card.done());
    }
    SECTION("a T=0-style 61xx after SELECT is followed by GET RESPONSE") {
        ScriptedChannel card{{select_gids, "610D"},
                             {"00 C0 00 00 0D", "4F0BA0000003974254465902019000"},
                             {external_authenticate, "9000"}};
        gids.authenticate_admin(card, secret(docs_response));
        CHECK(card.done());
    }
    SECTION("wrong response: admin_auth_failed") {
        for (const char* sw : {"6300", "63C2", "6982"}) {
            INFO(sw);
            ScriptedChannel card{{select_gids, "9000"}, {external_authenticate, sw}};
            const auto e =
                thrown<CardError>([&] { gids.authenticate_admin(card, secret(docs_response)); });
            CHECK(e.code() == CardErrorCode::admin_auth_failed);
            CHECK(to_hex(Bytes{static_cast<std::uint8_t>(*e.sw() >> 8),
                               static_cast<std::uint8_t>(*e.sw())}) ==
                  ScriptedChannel::normalise(sw));
            CHECK_THAT(e.what(), Catch::StartsWith("GIDS: the card refused the admin challenge "
                                                   "response (EXTERNAL AUTHENTICATE"));
            check_no_secret(e.what(), {docs_response});
        }
    }
    SECTION("blocked key: admin_auth_failed") {
        ScriptedChannel card{{select_gids, "9000"}, {external_authenticate, "6983"}};
        const auto e =
            thrown<CardError>([&] { gids.authenticate_admin(card, secret(docs_response)); });
        CHECK(e.code() == CardErrorCode::admin_auth_failed);
        CHECK_THAT(e.what(), Catch::Contains("blocked"));
    }
    SECTION("no pending challenge: challenge_expired") {
        ScriptedChannel card{{select_gids, "9000"}, {external_authenticate, "6985"}};
        const auto e =
            thrown<CardError>([&] { gids.authenticate_admin(card, secret(docs_response)); });
        CHECK(e.code() == CardErrorCode::challenge_expired);
        CHECK(e.sw() == std::optional<std::uint16_t>{0x6985});
        CHECK_THAT(e.what(),
                   Catch::Contains("no pending challenge") && Catch::Contains("fresh challenge"));
        check_no_secret(e.what(), {docs_response});
    }
    SECTION("another status word: status") {
        ScriptedChannel card{{select_gids, "9000"}, {external_authenticate, "6A88"}};
        const auto e =
            thrown<CardError>([&] { gids.authenticate_admin(card, secret(docs_response)); });
        CHECK(e.code() == CardErrorCode::status);
        CHECK(std::string(e.what()) ==
              "GIDS: EXTERNAL AUTHENTICATE (admin key 80) answered 6A88; expected 9000");
    }
    SECTION("no GIDS applet: status, nothing else sent") {
        ScriptedChannel card{{select_gids, "6A82"}};
        const auto e =
            thrown<CardError>([&] { gids.authenticate_admin(card, secret(docs_response)); });
        CHECK(e.code() == CardErrorCode::status);
        CHECK_THAT(e.what(), Catch::Contains("SELECT of the GIDS applet answered 6A82"));
        CHECK(card.done());
    }
    SECTION("a response that is not 8 bytes is refused before anything is sent") {
        ScriptedChannel card;
        for (const std::string& bad :
             {std::string("17466e766e303c"), docs_response + "00", std::string()}) {
            INFO(bad);
            try {
                gids.authenticate_admin(card, secret(bad));
                FAIL("accepted");
            } catch (const std::invalid_argument& e) {
                CHECK_THAT(e.what(), Catch::StartsWith("GIDS: an admin challenge response has 8 "
                                                       "bytes (3DES), got "));
            }
        }
        CHECK(card.sent().empty());
    }
    SECTION("a failing channel passes through") {
        ScriptedChannel card;
        card.expect(select_gids, "9000");
        card.expect_failure(external_authenticate, "reader gone");
        CHECK_THROWS_WITH(gids.authenticate_admin(card, secret(docs_response)), "reader gone");
    }
}

TEST_CASE("GIDS set_admin_key: PUT DATA of the admin key", "[card-admin][gids]") {
    const std::string put_key =
        "00 DB 3F FF 26 70 24 84 01 80 A5 1F 87 18" + new_key + "88 03 B0 73 DC";
    GidsProfile gids;
    SECTION("set") {
        ScriptedChannel card{{select_gids, "9000"}, {put_key, "9000"}};
        gids.set_admin_key(card, secret(new_key));
        CHECK(card.done());
    }
    SECTION("not authenticated: status 6982 with a hint") {
        ScriptedChannel card{{select_gids, "9000"}, {put_key, "6982"}};
        const auto e = thrown<CardError>([&] { gids.set_admin_key(card, secret(new_key)); });
        CHECK(e.code() == CardErrorCode::status);
        CHECK(e.sw() == std::optional<std::uint16_t>{0x6982});
        CHECK_THAT(e.what(), Catch::StartsWith("GIDS: PUT DATA of the admin key answered 6982") &&
                                 Catch::Contains("authenticate as admin first"));
        check_no_secret(e.what(), {new_key});
    }
    SECTION("other status") {
        ScriptedChannel card{{select_gids, "9000"}, {put_key, "6A80"}};
        const auto e = thrown<CardError>([&] { gids.set_admin_key(card, secret(new_key)); });
        CHECK(e.code() == CardErrorCode::status);
        CHECK(std::string(e.what()) ==
              "GIDS: PUT DATA of the admin key answered 6A80; expected 9000");
    }
    SECTION("a key that is not 24 bytes is refused before anything is sent") {
        ScriptedChannel card;
        for (const std::string& bad : {new_key.substr(2), new_key + "00", std::string(32, '1')}) {
            INFO(bad);
            try {
                gids.set_admin_key(card, secret(bad));
                FAIL("accepted");
            } catch (const std::invalid_argument& e) {
                CHECK_THAT(e.what(),
                           Catch::StartsWith("GIDS: an admin key has 24 bytes (3DES), got "));
                check_no_secret(e.what(), {bad});
            }
        }
        CHECK(card.sent().empty());
    }
}

TEST_CASE("GIDS set_user_pin: RESET RETRY COUNTER with the new PIN", "[card-admin][gids]") {
    GidsProfile gids;
    SECTION("8 digits") {
        ScriptedChannel card{{select_gids, "9000"}, {"00 2C 02 80 08 3837363534333231", "9000"}};
        gids.set_user_pin(card, SecretString("87654321"));
        CHECK(card.done());
    }
    SECTION("4 and 16 bytes are the limits") {
        ScriptedChannel card{{select_gids, "9000"},
                             {"00 2C 02 80 04 31323334", "9000"},
                             {select_gids, "9000"},
                             {"00 2C 02 80 10 61626364656667686970717273747576", "9000"}};
        gids.set_user_pin(card, SecretString("1234"));
        gids.set_user_pin(card, SecretString("abcdefghipqrstuv"));
        CHECK(card.done());
    }
    SECTION("3 or 17 bytes, or empty, are refused before anything is sent") {
        ScriptedChannel card;
        for (const char* bad : {"123", "12345678901234567", ""}) {
            INFO(bad);
            try {
                gids.set_user_pin(card, SecretString(bad));
                FAIL("accepted");
            } catch (const std::invalid_argument& e) {
                CHECK_THAT(e.what(), Catch::StartsWith("GIDS: a user PIN has 4 to 16 bytes, got "));
                if (*bad)
                    check_no_secret(e.what(), {bad});
            }
        }
        CHECK(card.sent().empty());
    }
    SECTION("not authenticated") {
        ScriptedChannel card{{select_gids, "9000"}, {"00 2C 02 80 08 3837363534333231", "6982"}};
        const auto e =
            thrown<CardError>([&] { gids.set_user_pin(card, SecretString("87654321")); });
        CHECK(e.code() == CardErrorCode::status);
        CHECK_THAT(e.what(), Catch::Contains("RESET RETRY COUNTER of the user PIN answered 6982") &&
                                 Catch::Contains("authenticate as admin first"));
        check_no_secret(e.what(), {"87654321", "3837363534333231"});
    }
}

TEST_CASE("GIDS: the whole admin sequence on one channel", "[card-admin][gids]") {
    ScriptedChannel card{
        {select_gids, "9000"},
        {get_master_file, master_file_answer()},
        {get_cardid_default, "DF 20 10" + card_id_hex + "9000"},
        {select_gids, "9000"},
        {"00 82 00 80 08" + docs_response, "9000"},
        {select_gids, "9000"},
        {"00 DB 3F FF 26 70 24 84 01 80 A5 1F 87 18" + new_key + "88 03 B0 73 DC", "9000"},
        {select_gids, "9000"},
        {"00 2C 02 80 08 3837363534333231", "9000"},
    };
    GidsProfile gids;
    REQUIRE(gids.read_card_id(card).has_value());
    gids.authenticate_admin(card, secret(docs_response));
    gids.set_admin_key(card, secret(new_key));
    gids.set_user_pin(card, SecretString("87654321"));
    CHECK(card.done());
}

// ---------------------------------------------------------------------------------------------
// PIV

TEST_CASE("PIV read_card_id reads the CHUID without GENERAL AUTHENTICATE", "[card-admin][piv]") {
    SECTION("card id") {
        ScriptedChannel card{{select_piv, "9000"}, {get_chuid, chuid_answer()}};
        const auto id = PivProfile().read_card_id(card);
        REQUIRE(id.has_value());
        CHECK(to_hex(id->data(), id->size()) == card_id_hex);
        CHECK(card.done());
    }
    SECTION("no PIV applet") {
        ScriptedChannel card{{select_piv, "6A82"}};
        CHECK_FALSE(PivProfile().read_card_id(card).has_value());
    }
    SECTION("no CHUID") {
        ScriptedChannel card{{select_piv, "9000"}, {get_chuid, "6A82"}};
        CHECK(thrown<CardError>([&] { PivProfile().read_card_id(card); }).code() ==
              CardErrorCode::missing_card_id);
    }
}

TEST_CASE("PIV admin authentication: GENERAL AUTHENTICATE response for key 9B",
          "[card-admin][piv]") {
    const std::string send_response = "00 87 03 9B 0C 7C 0A 82 08" + docs_response;
    PivProfile piv;
    SECTION("accepted") {
        ScriptedChannel card{{select_piv, "9000"}, {send_response, "9000"}};
        piv.authenticate_admin(card, secret(docs_response));
        CHECK(card.done());
    }
    SECTION("wrong response (69 82): admin_auth_failed") {
        ScriptedChannel card{{select_piv, "9000"}, {send_response, "6982"}};
        const auto e =
            thrown<CardError>([&] { piv.authenticate_admin(card, secret(docs_response)); });
        CHECK(e.code() == CardErrorCode::admin_auth_failed);
        CHECK(e.sw() == std::optional<std::uint16_t>{0x6982});
        CHECK_THAT(e.what(), Catch::StartsWith("PIV: the card refused the admin challenge "
                                               "response (GENERAL AUTHENTICATE"));
        check_no_secret(e.what(), {docs_response});
    }
    SECTION("no pending challenge (69 85): challenge_expired") {
        ScriptedChannel card{{select_piv, "9000"}, {send_response, "6985"}};
        CHECK(thrown<CardError>([&] {
                  piv.authenticate_admin(card, secret(docs_response));
              }).code() == CardErrorCode::challenge_expired);
    }
    SECTION("wrong size") {
        ScriptedChannel card;
        CHECK_THROWS_AS(piv.authenticate_admin(card, secret("0102")), std::invalid_argument);
        CHECK(card.sent().empty());
    }
}

TEST_CASE("PIV set_admin_key: Yubico SET MANAGEMENT KEY", "[card-admin][piv]") {
    const std::string set_key = "00 FF FF FF 1B 03 9B 18" + new_key;
    PivProfile piv;
    SECTION("set") {
        ScriptedChannel card{{select_piv, "9000"}, {set_key, "9000"}};
        piv.set_admin_key(card, secret(new_key));
        CHECK(card.done());
    }
    SECTION("not authenticated") {
        ScriptedChannel card{{select_piv, "9000"}, {set_key, "6982"}};
        const auto e = thrown<CardError>([&] { piv.set_admin_key(card, secret(new_key)); });
        CHECK(e.code() == CardErrorCode::status);
        CHECK_THAT(e.what(), Catch::Contains("authenticate as admin first"));
        check_no_secret(e.what(), {new_key});
    }
    SECTION("a card without the Yubico extension: not_supported") {
        ScriptedChannel card{{select_piv, "9000"}, {set_key, "6D00"}};
        const auto e = thrown<CardError>([&] { piv.set_admin_key(card, secret(new_key)); });
        CHECK(e.code() == CardErrorCode::not_supported);
        CHECK(e.sw() == std::optional<std::uint16_t>{0x6D00});
    }
    SECTION("wrong size") {
        ScriptedChannel card;
        CHECK_THROWS_AS(piv.set_admin_key(card, secret("0102030405060708")), std::invalid_argument);
        CHECK(card.sent().empty());
    }
}

TEST_CASE("PIV set_user_pin is not supported (the PIN is reset with the PUK)",
          "[card-admin][piv]") {
    ScriptedChannel card;
    const auto e =
        thrown<CardError>([&] { PivProfile().set_user_pin(card, SecretString("123456")); });
    CHECK(e.code() == CardErrorCode::not_supported);
    CHECK(std::string(e.what()) ==
          "the piv card profile does not support setting the user PIN with the admin key");
    CHECK(card.sent().empty());
}

// ---------------------------------------------------------------------------------------------
// Auto

TEST_CASE("auto profile forwards admin operations to the profile that read the card",
          "[card-admin][auto]") {
    AutoProfile chooser;
    SECTION("before any read: logic_error, nothing sent") {
        ScriptedChannel card;
        CHECK(chooser.last_profile() == nullptr);
        CHECK_THROWS_AS(chooser.authenticate_admin(card, secret(docs_response)), std::logic_error);
        CHECK_THROWS_AS(chooser.set_admin_key(card, secret(new_key)), std::logic_error);
        CHECK_THROWS_AS(chooser.set_user_pin(card, SecretString("12345678")), std::logic_error);
        CHECK(card.sent().empty());
    }
    SECTION("a GIDS card found by read_card_id") {
        ScriptedChannel card{{select_piv, "6A82"},
                             {select_gids, "9000"},
                             {get_master_file, master_file_answer()},
                             {get_cardid_default, "DF 20 10" + card_id_hex + "9000"},
                             {select_gids, "9000"},
                             {"00 82 00 80 08" + docs_response, "9000"},
                             {select_gids, "9000"},
                             {"00 2C 02 80 04 31323334", "9000"}};
        const auto id = chooser.read_card_id(card);
        REQUIRE(id.has_value());
        REQUIRE(chooser.last_profile() != nullptr);
        CHECK(chooser.last_profile()->name() == "gids");
        chooser.authenticate_admin(card, secret(docs_response));
        chooser.set_user_pin(card, SecretString("1234"));
        CHECK(card.done());
    }
    SECTION("a PIV card found by read()") {
        ScriptedChannel card{{select_piv, "9000"},
                             {get_chuid, chuid_answer()},
                             {"00 87 03 9B 04 7C 02 81 00 00", "7C0A8108d61143f9ccffd2ca9000"},
                             {select_piv, "9000"},
                             {"00 87 03 9B 0C 7C 0A 82 08" + docs_response, "9000"},
                             {select_piv, "9000"},
                             {"00 FF FF FF 1B 03 9B 18" + new_key, "9000"}};
        REQUIRE(chooser.read(card).has_value());
        CHECK(chooser.last_profile()->name() == "piv");
        chooser.authenticate_admin(card, secret(docs_response));
        chooser.set_admin_key(card, secret(new_key));
        CHECK(thrown<CardError>([&] {
                  chooser.set_user_pin(card, SecretString("12345678"));
              }).code() == CardErrorCode::not_supported);
        CHECK(card.done());
    }
    SECTION("a failed read forgets the previous profile") {
        ScriptedChannel card{{select_piv, "9000"},
                             {get_chuid, chuid_answer()},
                             {select_piv, "6A82"},
                             {select_gids, "6A82"}};
        REQUIRE(chooser.read_card_id(card).has_value());
        CHECK(chooser.last_profile() != nullptr);
        CHECK(thrown<CardError>([&] { chooser.read_card_id(card); }).code() ==
              CardErrorCode::no_profile);
        CHECK(chooser.last_profile() == nullptr);
        CHECK_THROWS_AS(chooser.authenticate_admin(card, secret(docs_response)), std::logic_error);
    }
}
