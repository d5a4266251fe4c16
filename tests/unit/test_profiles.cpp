// Card profiles (GIDS, PIV, the resolver) against scripted cards, and the BER-TLV parser they use.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "card_test_data.hpp"
#include "mimcm/card/gids.hpp"
#include "mimcm/card/piv.hpp"
#include "mimcm/card/profile.hpp"
#include "mimcm/card/resolver.hpp"
#include "mimcm/card/tlv.hpp"
#include "scripted_channel.hpp"

using mimcm::Bytes;
using mimcm::to_hex;
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

const std::string challenge_hex = "d61143f9ccffd2ca";
const std::string gids_fci = "61 12 4F 0B A0 00 00 03 97 42 54 46 59 02 01 73 03 40 01 C0";
const std::string piv_apt = "61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08";

// One 28-byte master file record.
Bytes mf_record(const std::string& dir, const std::string& file, std::uint32_t data_object,
                std::uint32_t ef) {
    Bytes r(28, 0);
    for (std::size_t i = 0; i < dir.size() && i < 9; ++i)
        r[i] = static_cast<std::uint8_t>(dir[i]);
    for (std::size_t i = 0; i < file.size() && i < 9; ++i)
        r[9 + i] = static_cast<std::uint8_t>(file[i]);
    for (int i = 0; i < 4; ++i) {
        r[20 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(data_object >> (8 * i));
        r[24 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(ef >> (8 * i));
    }
    return r;
}

Bytes table_of(const std::vector<Bytes>& records) {
    Bytes t{0x01};
    for (const auto& r : records)
        t.insert(t.end(), r.begin(), r.end());
    return t;
}

// A TLV with a BER length in the shortest form.
std::string tlv_hex(const std::string& tag_hex, const Bytes& value) {
    std::string len;
    const std::size_t n = value.size();
    if (n < 0x80) {
        len = to_hex(Bytes{static_cast<std::uint8_t>(n)});
    } else if (n <= 0xFF) {
        len = "81" + to_hex(Bytes{static_cast<std::uint8_t>(n)});
    } else {
        len = "82" + to_hex(Bytes{static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
    }
    return tag_hex + len + to_hex(value);
}

// The Microsoft generic layout: cardid in EF A012, DO DF20.
Bytes default_table() {
    return table_of({mf_record("mscp", "", 0, 0xA010), mf_record("", "cardid", 0xDF20, 0xA012),
                     mf_record("", "cardapps", 0xDF21, 0xA012),
                     mf_record("", "cardcf", 0xDF22, 0xA012),
                     mf_record("mscp", "cmapfile", 0xDF23, 0xA012)});
}

// Another layout: cardid elsewhere, last in the table, after a decoy in another directory.
Bytes alt_table() {
    return table_of(
        {mf_record("mscp", "cardid", 0xDF30, 0xA014), mf_record("", "cardapps", 0xDF21, 0xA012),
         mf_record("", "cardcf", 0xDF22, 0xA012), mf_record("", "cardid", 0xDF2A, 0xA011)});
}

void script_gids(ScriptedChannel& card, const Bytes& table, const std::string& get_cardid,
                 const std::string& cardid_tag) {
    card.expect(select_gids, gids_fci + "9000");
    card.expect(get_master_file, tlv_hex("DF1F", table) + "9000");
    card.expect(get_cardid, tlv_hex(cardid_tag, hex(card_id_hex)) + "9000");
    card.expect(mse_set, "9000");
    card.expect(gids_challenge, "7C 0A 81 08" + challenge_hex + "9000");
}

std::string chuid_hex(const std::string& guid_tlv) {
    const std::string fascn =
        "3019" + std::string("d4e739da739ced39ce739d836858210842108421c84210c3eb");
    const std::string expiry = "3508" + to_hex(Bytes{'2', '0', '3', '0', '0', '1', '0', '1'});
    const std::string signature = "3e8180" + std::string(256, 'e');  // 128-byte "signature"
    const Bytes content = hex(fascn + guid_tlv + expiry + signature + "fe00");
    return tlv_hex("53", content);
}

void script_piv(ScriptedChannel& card, const std::string& guid_hex) {
    card.expect(select_piv, piv_apt + "9000");
    card.expect(get_chuid, chuid_hex("3410" + guid_hex) + "9000");
    card.expect(piv_metadata, "01 01 03 02 02 00 01 9000");  // 3DES, default policy
    card.expect(general_authenticate, "7C 0A 81 08" + challenge_hex + "9000");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// TLV

TEST_CASE("TLV parser: short and long lengths, multi-byte tags", "[tlv]") {
    namespace tlv = mimcm::card::tlv;
    SECTION("short form") {
        const auto items = tlv::parse(hex("34 02 AA BB 35 00"), "test");
        REQUIRE(items.size() == 2);
        CHECK(items[0].tag == 0x34);
        CHECK(to_hex(items[0].value) == "aabb");
        CHECK(items[1].tag == 0x35);
        CHECK(items[1].value.empty());
    }
    SECTION("81 xx, 82 xx xx and 83 xx xx xx") {
        const Bytes v200(200, 0x11);
        const Bytes v300(300, 0x22);
        Bytes data = hex("53 81 C8");
        data.insert(data.end(), v200.begin(), v200.end());
        const Bytes second = hex("DF 1F 82 01 2C");
        data.insert(data.end(), second.begin(), second.end());
        data.insert(data.end(), v300.begin(), v300.end());
        const Bytes third = hex("5F C1 02 83 00 00 02 AB CD");
        data.insert(data.end(), third.begin(), third.end());
        const auto items = tlv::parse(data, "test");
        REQUIRE(items.size() == 3);
        CHECK(items[0].tag == 0x53);
        CHECK(items[0].value == v200);
        CHECK(items[1].tag == 0xDF1F);
        CHECK(items[1].value == v300);
        CHECK(items[2].tag == 0x5FC102);
        CHECK(to_hex(items[2].value) == "abcd");
    }
    SECTION("00 and FF padding between items is skipped") {
        const auto items = tlv::parse(hex("00 34 01 AA FF FF 35 01 BB 00 00"), "test");
        REQUIRE(items.size() == 2);
        CHECK(tlv::find(items, 0x35)->value == Bytes{0xBB});
        CHECK(tlv::find(items, 0x36) == nullptr);
    }
    SECTION("malformed input") {
        for (const char* bad :
             {"34 05 AA BB", "34", "DF", "DF 1F", "53 81", "53 82 01", "53 80 00 00",
              "53 85 00 00 00 00 01 00", "5F C1 C2 C3 C4 01 00", "53 82 01 00 AA"}) {
            INFO(bad);
            const auto e = thrown<CardError>([&] { tlv::parse(hex(bad), "the test object"); });
            CHECK(e.code() == CardErrorCode::malformed);
            CHECK_THAT(e.what(), Catch::StartsWith("the test object: malformed TLV at byte"));
        }
    }
    SECTION("tag bytes") {
        CHECK(to_hex(tlv::tag_bytes(0xDF20)) == "df20");
        CHECK(to_hex(tlv::tag_bytes(0x5FC102)) == "5fc102");
        CHECK(to_hex(tlv::tag_bytes(0x53)) == "53");
    }
}

// ---------------------------------------------------------------------------------------------
// GIDS

TEST_CASE("GIDS reads card id and challenge with the default master file layout", "[gids]") {
    ScriptedChannel card;
    script_gids(card, default_table(), get_cardid_default, "DF20");
    GidsProfile gids;
    const auto id = gids.read(card);
    REQUIRE(id.has_value());
    CHECK(to_hex(id->card_id.data(), id->card_id.size()) == card_id_hex);
    CHECK(to_hex(id->challenge) == challenge_hex);
    CHECK(id->profile == "gids");
    CHECK(gids.name() == "gids");
    CHECK(card.done());
}

TEST_CASE("GIDS follows the master file table to an alternate cardid location", "[gids]") {
    ScriptedChannel card;
    script_gids(card, alt_table(), "00 CB A0 11 04 5C 02 DF 2A 00", "DF2A");
    const auto id = GidsProfile().read(card);
    REQUIRE(id.has_value());
    CHECK(to_hex(id->card_id.data(), id->card_id.size()) == card_id_hex);
    CHECK(card.done());
}

TEST_CASE("GIDS handles a large master file table (82 length, 61xx chain)", "[gids]") {
    std::vector<Bytes> records;
    for (int i = 0; i < 12; ++i) {
        records.push_back(mf_record("mscp", "kxc0" + std::to_string(i),
                                    0xDF24 + static_cast<std::uint32_t>(i), 0xA013));
    }
    records.push_back(mf_record("", "cardid", 0xDF20, 0xA012));
    const Bytes table = table_of(records);  // 1 + 13 * 28 = 365 bytes
    const std::string answer = tlv_hex("DF1F", table);
    REQUIRE(answer.substr(4, 6) == "82016d");         // DF1F 82 01 6D
    const std::string first = answer.substr(0, 512);  // 256 bytes, then 61xx
    const std::string rest = answer.substr(512);
    ScriptedChannel card;
    card.expect(select_gids, "9000");
    card.expect(get_master_file,
                first + "61" + to_hex(Bytes{static_cast<std::uint8_t>(rest.size() / 2)}));
    card.expect("00 C0 00 00" + to_hex(Bytes{static_cast<std::uint8_t>(rest.size() / 2)}),
                rest + "9000");
    card.expect(get_cardid_default, tlv_hex("DF20", hex(card_id_hex)) + "9000");
    card.expect(mse_set, "9000");
    card.expect(gids_challenge, "7C 0A 81 08" + challenge_hex + "9000");
    const auto id = GidsProfile().read(card);
    REQUIRE(id.has_value());
    CHECK(to_hex(id->card_id.data(), id->card_id.size()) == card_id_hex);
    CHECK(card.done());
}

TEST_CASE("GIDS master file table parsing", "[gids]") {
    SECTION("records") {
        const auto records = GidsProfile::parse_master_file(hex(tlv_hex("DF1F", alt_table())));
        REQUIRE(records.size() == 4);
        CHECK(records[0].directory == "mscp");
        CHECK(records[0].file == "cardid");
        CHECK(records[3].directory.empty());
        CHECK(records[3].file == "cardid");
        CHECK(records[3].data_object == 0xDF2A);
        CHECK(records[3].ef == 0xA011);
    }
    SECTION("a 9-character name without terminator is taken whole") {
        const auto records = GidsProfile::parse_master_file(
            hex(tlv_hex("DF1F", table_of({mf_record("abcdefghi", "123456789", 1, 2)}))));
        REQUIRE(records.size() == 1);
        CHECK(records[0].directory == "abcdefghi");
        CHECK(records[0].file == "123456789");
    }
    SECTION("an empty table has no records") {
        CHECK(GidsProfile::parse_master_file(hex("DF 1F 01 01")).empty());
    }
}

TEST_CASE("GIDS rejects malformed master file tables", "[gids]") {
    struct Case {
        const char* name;
        std::string answer;
        const char* message;
    };
    Bytes wrong_version = default_table();
    wrong_version[0] = 0x02;
    Bytes ragged = default_table();
    ragged.pop_back();
    const std::vector<Case> cases{
        {"wrong version byte", tlv_hex("DF1F", wrong_version),
         "starts with 02; expected version byte 01"},
        {"records not a multiple of 28", tlv_hex("DF1F", ragged), "expected a multiple of 28"},
        {"empty table", "DF1F00", "the master file table is empty"},
        {"wrong tag", tlv_hex("DF20", default_table()), "did not return tag DF1F"},
        {"truncated TLV", "DF1F820200" + to_hex(default_table()), "malformed TLV"},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        ScriptedChannel card;
        card.expect(select_gids, "9000");
        card.expect(get_master_file, c.answer + "9000");
        const auto e = thrown<CardError>([&] { GidsProfile().read(card); });
        CHECK(e.code() == CardErrorCode::malformed);
        CHECK_THAT(e.what(), Catch::StartsWith("GIDS: ") && Catch::Contains(c.message));
    }
}

TEST_CASE("GIDS without a cardid entry in the root directory", "[gids]") {
    ScriptedChannel card;
    card.expect(select_gids, "9000");
    card.expect(get_master_file,
                tlv_hex("DF1F", table_of({mf_record("mscp", "cardid", 0xDF20, 0xA012),
                                          mf_record("", "cardapps", 0xDF21, 0xA012)})) +
                    "9000");
    const auto e = thrown<CardError>([&] { GidsProfile().read(card); });
    CHECK(e.code() == CardErrorCode::missing_card_id);
    CHECK_THAT(e.what(), Catch::Contains("no entry for file \"cardid\""));
}

TEST_CASE("GIDS card id problems", "[gids]") {
    ScriptedChannel card;
    card.expect(select_gids, "9000");
    card.expect(get_master_file, tlv_hex("DF1F", default_table()) + "9000");
    SECTION("cardid object not found") {
        card.expect(get_cardid_default, "6A82");
        const auto e = thrown<CardError>([&] { GidsProfile().read(card); });
        CHECK(e.code() == CardErrorCode::missing_card_id);
        CHECK(e.sw() == std::optional<std::uint16_t>{0x6A82});
        CHECK_THAT(e.what(),
                   Catch::Contains("GET DATA of cardid (EF A012, DO DF20) answered 6A82"));
    }
    SECTION("all-zero cardid") {
        card.expect(get_cardid_default, tlv_hex("DF20", Bytes(16, 0)) + "9000");
        CHECK(thrown<CardError>([&] { GidsProfile().read(card); }).code() ==
              CardErrorCode::missing_card_id);
    }
    SECTION("cardid of the wrong size") {
        card.expect(get_cardid_default, tlv_hex("DF20", Bytes(15, 1)) + "9000");
        const auto e = thrown<CardError>([&] { GidsProfile().read(card); });
        CHECK(e.code() == CardErrorCode::malformed);
        CHECK_THAT(e.what(), Catch::Contains("15 bytes; expected 16"));
    }
    SECTION("a 64-byte cardid where 16 are expected") {
        card.expect(get_cardid_default, tlv_hex("DF20", Bytes(64, 0x5A)) + "9000");
        const auto e = thrown<CardError>([&] { GidsProfile().read(card); });
        CHECK(e.code() == CardErrorCode::malformed);
        CHECK_THAT(e.what(), Catch::Contains("64 bytes; expected 16"));
        CHECK(card.done());
    }
    SECTION("cardid answered under another tag") {
        card.expect(get_cardid_default, tlv_hex("DF21", hex(card_id_hex)) + "9000");
        CHECK(thrown<CardError>([&] { GidsProfile().read(card); }).code() ==
              CardErrorCode::malformed);
    }
    SECTION("unexpected status word") {
        card.expect(get_cardid_default, "6982");
        const auto e = thrown<CardError>([&] { GidsProfile().read(card); });
        CHECK(e.code() == CardErrorCode::status);
        CHECK(e.sw() == std::optional<std::uint16_t>{0x6982});
    }
}

TEST_CASE("GIDS status word errors name the step", "[gids]") {
    SECTION("master file table") {
        ScriptedChannel card{{select_gids, "9000"}, {get_master_file, "6A82"}};
        const auto e = thrown<CardError>([&] { GidsProfile().read(card); });
        CHECK(e.code() == CardErrorCode::status);
        CHECK(e.sw() == std::optional<std::uint16_t>{0x6A82});
        CHECK(std::string(e.what()) ==
              "GIDS: GET DATA of the master file table answered 6A82; expected 9000");
    }
    SECTION("MSE SET refused for another reason than 'unknown command'") {
        ScriptedChannel card;
        card.expect(select_gids, "9000");
        card.expect(get_master_file, tlv_hex("DF1F", default_table()) + "9000");
        card.expect(get_cardid_default, tlv_hex("DF20", hex(card_id_hex)) + "9000");
        card.expect(mse_set, "6A88");
        const auto e = thrown<CardError>([&] { GidsProfile().read(card); });
        CHECK(e.code() == CardErrorCode::status);
        CHECK_THAT(e.what(), Catch::Contains("GIDS: MSE SET (external authentication, admin key "
                                             "80) answered 6A88"));
        CHECK(card.done());  // no fallback to GET CHALLENGE
    }
    SECTION("short challenge") {
        ScriptedChannel card;
        card.expect(select_gids, "9000");
        card.expect(get_master_file, tlv_hex("DF1F", default_table()) + "9000");
        card.expect(get_cardid_default, tlv_hex("DF20", hex(card_id_hex)) + "9000");
        card.expect(mse_set, "9000");
        card.expect(gids_challenge, "7C 06 81 04 01020304 9000");
        CHECK(thrown<CardError>([&] { GidsProfile().read(card); }).code() ==
              CardErrorCode::malformed);
    }
    SECTION("the legacy GET CHALLENGE answering a short challenge") {
        ScriptedChannel card;
        card.expect(select_gids, "9000");
        card.expect(get_master_file, tlv_hex("DF1F", default_table()) + "9000");
        card.expect(get_cardid_default, tlv_hex("DF20", hex(card_id_hex)) + "9000");
        card.expect(mse_set, "6D00");
        card.expect(get_challenge, "0102039000");
        CHECK(thrown<CardError>([&] { GidsProfile().read(card); }).code() ==
              CardErrorCode::malformed);
    }
    SECTION("SELECT answered with an error that is not 'no applet'") {
        ScriptedChannel card{{select_gids, "6283"}};
        const auto e = thrown<CardError>([&] { GidsProfile().read(card); });
        CHECK(e.code() == CardErrorCode::status);
        CHECK_THAT(e.what(), Catch::Contains("SELECT of the GIDS applet answered 6283"));
    }
}

TEST_CASE("GIDS returns nullopt when the card has no GIDS applet", "[gids]") {
    for (const char* sw : {"6A82", "6A86", "6D00", "6E00", "6999"}) {
        INFO(sw);
        ScriptedChannel card{{select_gids, sw}};
        CHECK_FALSE(GidsProfile().read(card).has_value());
        CHECK(card.done());
    }
}

// ---------------------------------------------------------------------------------------------
// PIV

TEST_CASE("PIV reads the CHUID GUID and a GENERAL AUTHENTICATE challenge", "[piv]") {
    ScriptedChannel card;
    script_piv(card, card_id_hex);
    PivProfile piv;
    const auto id = piv.read(card);
    REQUIRE(id.has_value());
    CHECK(to_hex(id->card_id.data(), id->card_id.size()) == card_id_hex);
    CHECK(to_hex(id->challenge) == challenge_hex);
    CHECK(id->profile == "piv");
    CHECK(piv.name() == "piv");
    CHECK(card.done());
}

TEST_CASE("PIV CHUID parsing", "[piv]") {
    SECTION("the CHUID uses a long length (53 81 xx)") {
        const std::string answer = chuid_hex("3410" + card_id_hex);
        REQUIRE(answer.substr(0, 4) == "5381");
        const auto id = PivProfile::card_id_from_chuid(hex(answer));
        CHECK(to_hex(id.data(), id.size()) == card_id_hex);
    }
    SECTION("without GUID") {
        const auto e =
            thrown<CardError>([&] { PivProfile::card_id_from_chuid(hex(chuid_hex(""))); });
        CHECK(e.code() == CardErrorCode::missing_card_id);
        CHECK_THAT(e.what(), Catch::Contains("no GUID (tag 34)"));
    }
    SECTION("zero GUID") {
        const auto e = thrown<CardError>(
            [&] { PivProfile::card_id_from_chuid(hex(chuid_hex("3410" + std::string(32, '0')))); });
        CHECK(e.code() == CardErrorCode::missing_card_id);
        CHECK_THAT(e.what(), Catch::Contains("all zero"));
    }
    SECTION("GUID of the wrong size") {
        const auto e = thrown<CardError>(
            [&] { PivProfile::card_id_from_chuid(hex(chuid_hex("3408" + std::string(16, '1')))); });
        CHECK(e.code() == CardErrorCode::malformed);
    }
    SECTION("no 53 container") {
        CHECK(thrown<CardError>([&] {
                  PivProfile::card_id_from_chuid(hex("3410" + card_id_hex));
              }).code() == CardErrorCode::malformed);
    }
    SECTION("truncated container") {
        std::string answer = chuid_hex("3410" + card_id_hex);
        answer.resize(answer.size() - 10);
        CHECK(thrown<CardError>([&] { PivProfile::card_id_from_chuid(hex(answer)); }).code() ==
              CardErrorCode::malformed);
    }
}

TEST_CASE("PIV card without CHUID or GUID fails with missing_card_id", "[piv]") {
    SECTION("CHUID not found") {
        ScriptedChannel card{{select_piv, "9000"}, {get_chuid, "6A82"}};
        const auto e = thrown<CardError>([&] { PivProfile().read(card); });
        CHECK(e.code() == CardErrorCode::missing_card_id);
        CHECK(e.sw() == std::optional<std::uint16_t>{0x6A82});
    }
    SECTION("zero GUID") {
        ScriptedChannel card{{select_piv, "9000"},
                             {get_chuid, chuid_hex("3410" + std::string(32, '0')) + "9000"}};
        CHECK(thrown<CardError>([&] { PivProfile().read(card); }).code() ==
              CardErrorCode::missing_card_id);
    }
    SECTION("a 64-byte GUID where 16 are expected") {
        ScriptedChannel card{{select_piv, "9000"},
                             {get_chuid, chuid_hex("3440" + std::string(128, '5')) + "9000"}};
        const auto e = thrown<CardError>([&] { PivProfile().read(card); });
        CHECK(e.code() == CardErrorCode::malformed);
        CHECK_THAT(e.what(), Catch::Contains("64 bytes; expected 16"));
        CHECK(card.done());
    }
    SECTION("CHUID needs PIN (security status)") {
        ScriptedChannel card{{select_piv, "9000"}, {get_chuid, "6982"}};
        const auto e = thrown<CardError>([&] { PivProfile().read(card); });
        CHECK(e.code() == CardErrorCode::status);
        CHECK_THAT(e.what(), Catch::Contains("PIV: GET DATA of the CHUID (5FC102) answered 6982"));
    }
}

TEST_CASE("PIV GENERAL AUTHENTICATE response parsing", "[piv]") {
    SECTION("tag 81") {
        CHECK(to_hex(PivProfile::challenge_from_response(hex("7C 0A 81 08" + challenge_hex))) ==
              challenge_hex);
    }
    SECTION("tag 80 is accepted too") {
        CHECK(to_hex(PivProfile::challenge_from_response(hex("7C 0A 80 08" + challenge_hex))) ==
              challenge_hex);
    }
    SECTION("other tags around the challenge are ignored") {
        CHECK(to_hex(PivProfile::challenge_from_response(
                  hex("7C 0E 82 02 AA BB 81 08" + challenge_hex))) == challenge_hex);
    }
    SECTION("errors") {
        const std::vector<std::string> bads{"7D 0A 81 08" + challenge_hex, "7C 04 82 02 AA BB",
                                            "7C 06 81 04 01020304", "7C 0A 81 08 0102", ""};
        for (const std::string& bad : bads) {
            INFO(bad);
            CHECK(thrown<CardError>([&] {
                      PivProfile::challenge_from_response(hex(bad));
                  }).code() == CardErrorCode::malformed);
        }
    }
    SECTION("GENERAL AUTHENTICATE refused with another status") {
        ScriptedChannel card{{select_piv, "9000"},
                             {get_chuid, chuid_hex("3410" + card_id_hex) + "9000"},
                             {piv_metadata, "6D00"},
                             {general_authenticate, "6982"}};
        const auto e = thrown<CardError>([&] { PivProfile().read(card); });
        CHECK(e.code() == CardErrorCode::status);
        CHECK(e.sw() == std::optional<std::uint16_t>{0x6982});
        CHECK_THAT(e.what(), Catch::Contains("GENERAL AUTHENTICATE"));
    }
    SECTION("GENERAL AUTHENTICATE with a 6Cxx quirk") {
        ScriptedChannel card{
            {select_piv, "9000"},
            {get_chuid, chuid_hex("3410" + card_id_hex) + "9000"},
            {piv_metadata, "6D00"},
            {general_authenticate, "6C0C"},
            {"00 87 03 9B 04 7C 02 81 00 0C", "7C 0A 81 08" + challenge_hex + "9000"}};
        const auto id = PivProfile().read(card);
        REQUIRE(id.has_value());
        CHECK(to_hex(id->challenge) == challenge_hex);
    }
}

TEST_CASE("PIV returns nullopt when the card has no PIV applet", "[piv]") {
    ScriptedChannel card{{select_piv, "6A82"}};
    CHECK_FALSE(PivProfile().read(card).has_value());
}

// ---------------------------------------------------------------------------------------------
// The profile resolver

TEST_CASE("profile resolver: PIV first, then GIDS, the applet left selected", "[auto]") {
    const mimcm::card::ProfileResolver resolver;
    SECTION("a PIV card is PIV, GIDS is not tried") {
        ScriptedChannel card{{select_piv, piv_apt + "9000"}};
        const auto profile = resolver.resolve(card);
        CHECK(profile->name() == "piv");
        CHECK(card.done());
    }
    SECTION("a GIDS card answers the PIV SELECT with 6A82 and is GIDS") {
        ScriptedChannel card{{select_piv, "6A82"}, {select_gids, gids_fci + "9000"}};
        const auto profile = resolver.resolve(card);
        CHECK(profile->name() == "gids");
        CHECK(card.done());
        // The applet stays selected: the card id is read without another SELECT.
        card.expect(get_master_file, tlv_hex("DF1F", default_table()) + "9000");
        card.expect(get_cardid_default, tlv_hex("DF20", hex(card_id_hex)) + "9000");
        const auto id = profile->read_card_id(card);
        CHECK(to_hex(id.data(), id.size()) == card_id_hex);
        CHECK(card.done());
    }
    SECTION("a card with neither throws no_profile naming what was tried") {
        ScriptedChannel card{{select_piv, "6A82"}, {select_gids, "6D00"}};
        const auto e = thrown<CardError>([&] { (void)resolver.resolve(card); });
        CHECK(e.code() == CardErrorCode::no_profile);
        CHECK_THAT(e.what(), Catch::Contains("(piv, gids)"));
        CHECK(card.done());
    }
    SECTION("an error in a present applet is not a reason to try the next one") {
        ScriptedChannel card{{select_piv, "6283"}};
        CHECK(thrown<CardError>([&] { (void)resolver.resolve(card); }).code() ==
              CardErrorCode::status);
        CHECK(card.done());
    }
    SECTION("channel failures pass through") {
        ScriptedChannel card;
        card.expect_failure(select_piv, "reader gone");
        CHECK_THROWS_WITH(resolver.resolve(card), "reader gone");
    }
    SECTION("every resolve makes fresh profiles") {
        ScriptedChannel card{{select_piv, "9000"}, {select_piv, "9000"}};
        const auto a = resolver.resolve(card);
        const auto b = resolver.resolve(card);
        CHECK(a.get() != b.get());
    }
}

namespace {
// A user-written profile: a proprietary applet with a fixed-format answer.
class DemoProfile : public CardProfile {
  public:
    std::string_view name() const override { return "demo"; }
    bool select(mimcm::card::ApduChannel& channel) override {
        return mimcm::card::transmit(channel,
                                     mimcm::card::CommandApdu::select_aid(hex("F0 01 02 03 04")))
            .ok();
    }
    std::array<std::uint8_t, 16> read_card_id(mimcm::card::ApduChannel&) override {
        std::array<std::uint8_t, 16> id{};
        id.fill(0x42);
        return id;
    }
};

std::unique_ptr<CardProfile> make_demo() {
    return std::make_unique<DemoProfile>();
}
std::unique_ptr<CardProfile> make_gids() {
    return std::make_unique<GidsProfile>();
}
}  // namespace

TEST_CASE("profile resolver with a user-given list, including a custom profile", "[auto]") {
    const mimcm::card::ProfileResolver resolver({make_demo, make_gids});

    SECTION("the custom profile answers; its defaults refuse what it lacks") {
        ScriptedChannel card{{"00 A4 04 00 05 F0 01 02 03 04 00", "9000"}};
        const auto profile = resolver.resolve(card);
        CHECK(profile->name() == "demo");
        CHECK(profile->supports(mimcm::card::CardOperation::read_card_id));
        CHECK_FALSE(profile->supports(mimcm::card::CardOperation::admin_challenge));
        const auto e = thrown<CardError>([&] { profile->get_challenge(card); });
        CHECK(e.code() == CardErrorCode::not_supported);
        CHECK(std::string(e.what()) == "the demo card profile does not support an admin challenge");
        CHECK(card.done());
    }
    SECTION("none answers") {
        ScriptedChannel card{{"00 A4 04 00 05 F0 01 02 03 04 00", "6A82"}, {select_gids, "6A82"}};
        const auto e = thrown<CardError>([&] { (void)resolver.resolve(card); });
        CHECK(e.code() == CardErrorCode::no_profile);
        CHECK_THAT(e.what(), Catch::Contains("(demo, gids)"));
    }
    SECTION("an empty list or an empty factory is refused") {
        CHECK_THROWS_AS(mimcm::card::ProfileResolver(std::vector<mimcm::card::ProfileFactory>{}),
                        mimcm::InvalidArgument);
        CHECK_THROWS_AS(mimcm::card::ProfileResolver({make_demo, nullptr}), mimcm::InvalidArgument);
    }
}

TEST_CASE("profile resolver by name", "[auto]") {
    using mimcm::card::ProfileResolver;
    {
        ScriptedChannel card{{select_gids, "9000"}};
        CHECK(ProfileResolver::by_name("gids").resolve(card)->name() == "gids");
    }
    {
        ScriptedChannel card{{select_piv, "9000"}};
        CHECK(ProfileResolver::by_name("PIV").resolve(card)->name() == "piv");
    }
    {
        ScriptedChannel card{{select_piv, "6A82"}, {select_gids, "9000"}};
        CHECK(ProfileResolver::by_name("auto").resolve(card)->name() == "gids");
    }
    {
        ScriptedChannel card{{select_gids, "6A82"}};  // "gids" tries GIDS only
        CHECK(thrown<CardError>([&] {
                  (void)ProfileResolver::by_name("gids").resolve(card);
              }).code() == CardErrorCode::no_profile);
    }
    try {
        ProfileResolver::by_name("opensc");
        FAIL("an unknown name was accepted");
    } catch (const mimcm::InvalidArgument& e) {
        CHECK(std::string(e.what()) ==
              "unknown card profile \"opensc\"; valid names: auto, gids, piv");
    }
    CHECK_THROWS_AS(ProfileResolver::by_name(""), mimcm::InvalidArgument);
}
