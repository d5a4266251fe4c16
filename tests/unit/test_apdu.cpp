// APDU encoding, response parsing and the 61xx / 6Cxx handling of transmit().
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "mimcm/card/apdu.hpp"
#include "scripted_channel.hpp"

using mimcm::Bytes;
using mimcm::to_hex;
using mimcm::card::CardError;
using mimcm::card::CardErrorCode;
using mimcm::card::CommandApdu;
using mimcm::card::Le;
using mimcm::card::ResponseApdu;
using mimcm::card::transmit;
using mimcm_test::hex;
using mimcm_test::ScriptedChannel;

TEST_CASE("CommandApdu encodes the four ISO cases in short form", "[apdu]") {
    SECTION("case 1: header only") {
        const CommandApdu c(0x00, 0x44, 0x00, 0x00);
        CHECK(c.iso_case() == 1);
        CHECK(to_hex(c.encode()) == "00440000");
    }
    SECTION("case 1: empty braces are no data and no Le, never Le 256") {
        const CommandApdu c(0x00, 0x44, 0x00, 0x00, {});
        CHECK_FALSE(c.le.has_value());
        CHECK(c.iso_case() == 1);
        CHECK(to_hex(c.encode()) == "00440000");
        const CommandApdu empty_data(0x00, 0x44, 0x00, 0x00, Bytes{});
        CHECK(to_hex(empty_data.encode()) == "00440000");
    }
    SECTION("case 2 short: Le only") {
        const CommandApdu c(0x00, 0x84, 0x00, 0x00, Le(8));
        CHECK(c.iso_case() == 2);
        CHECK(to_hex(c.encode()) == "0084000008");
        CHECK(to_hex(CommandApdu(0x00, 0xB0, 0x00, 0x00, Le(1)).encode()) == "00b0000001");
        CHECK(to_hex(CommandApdu(0x00, 0xB0, 0x00, 0x00, Le(255)).encode()) == "00b00000ff");
    }
    SECTION("case 2: Le 256 is written as 00") {
        CHECK(to_hex(CommandApdu(0x00, 0xC0, 0x00, 0x00, Le(256)).encode()) == "00c0000000");
        const CommandApdu max(0x00, 0xC0, 0x00, 0x00, Le::max());
        REQUIRE(max.le.has_value());
        CHECK(max.le->value() == 256);
        CHECK(max.iso_case() == 2);
        CHECK(to_hex(max.encode()) == "00c0000000");
    }
    SECTION("Le from a status word's SW2: 00 is 256") {
        CHECK(Le::from_sw2(0x00).value() == 256);
        CHECK(Le::from_sw2(0x1E).value() == 0x1E);
    }
    SECTION("case 3: Lc and data") {
        const CommandApdu c(0x00, 0x22, 0xC1, 0xA4, hex("83 01 80"));
        CHECK(c.iso_case() == 3);
        CHECK_FALSE(c.le.has_value());
        CHECK(to_hex(c.encode()) == "0022c1a403830180");
    }
    SECTION("case 4: Lc, data and Le") {
        const CommandApdu c(0x00, 0xCB, 0x3F, 0xFF, hex("5C 03 5F C1 02"), Le::max());
        CHECK(c.iso_case() == 4);
        CHECK(to_hex(c.encode()) == "00cb3fff055c035fc10200");
        const CommandApdu eight(0x00, 0x87, 0x03, 0x9B, hex("7C 02 81 00"), Le(8));
        CHECK(to_hex(eight.encode()) == "0087039b047c02810008");
    }
    SECTION("SELECT by AID and GET RESPONSE helpers") {
        CHECK(to_hex(CommandApdu::select_aid(hex("A0 00 00 03 97 42 54 46 59")).encode()) ==
              "00a4040009a0000003974254465900");
        CHECK(to_hex(CommandApdu::get_response(Le(0x1E)).encode()) == "00c000001e");
        CHECK(to_hex(CommandApdu::get_response(Le::max()).encode()) == "00c0000000");
    }
    SECTION("255 data bytes fit, 256 do not") {
        const CommandApdu c(0x80, 0xDB, 0x3F, 0xFF, Bytes(255, 0xAB), Le::max());
        const Bytes encoded = c.encode();
        REQUIRE(encoded.size() == 4 + 1 + 255 + 1);
        CHECK(encoded[4] == 0xFF);
        CHECK(encoded.back() == 0x00);
        CHECK_THROWS_AS(CommandApdu(0x00, 0xDB, 0x3F, 0xFF, Bytes(256, 0)), mimcm::InvalidArgument);
    }
    SECTION("an Le of 0 or above 256 is refused when made") {
        CHECK_THROWS_AS(Le(257), mimcm::InvalidArgument);
        CHECK_THROWS_AS(Le(0), mimcm::InvalidArgument);
        CHECK_THROWS_WITH(Le(0), Catch::Contains("1..256"));
    }
}

TEST_CASE("sw_to_string writes four uppercase hex digits", "[apdu]") {
    CHECK(mimcm::card::sw_to_string(0x6A82) == "6A82");
    CHECK(mimcm::card::sw_to_string(0x9000) == "9000");
    CHECK(mimcm::card::sw_to_string(0x0001) == "0001");
}

TEST_CASE("transmit passes a plain answer through", "[apdu]") {
    ScriptedChannel card{{"00 84 00 00 08", "11 22 33 44 55 66 77 88 90 00"}};
    const auto r = transmit(card, CommandApdu(0x00, 0x84, 0x00, 0x00, Le(8)));
    CHECK(r.ok());
    CHECK(to_hex(r.data) == "1122334455667788");
    CHECK(card.done());
}

TEST_CASE("transmit follows 61xx with GET RESPONSE until 9000", "[apdu]") {
    SECTION("one round") {
        ScriptedChannel card{{"00 A4 04 00 02 3F 00 00", "61 04"},
                             {"00 C0 00 00 04", "AA BB CC DD 90 00"}};
        const auto r = transmit(card, CommandApdu(0x00, 0xA4, 0x04, 0x00, hex("3F 00"), Le::max()));
        CHECK(r.ok());
        CHECK(to_hex(r.data) == "aabbccdd");
        CHECK(card.done());
    }
    SECTION("several rounds, data accumulated, 61 00 means 256") {
        const std::string first(2 * 10, 'a');    // 10 bytes with the first answer
        const std::string second(2 * 256, 'b');  // 256 bytes after 61 00
        const std::string third(2 * 3, 'c');
        ScriptedChannel card{{"00 CB A0 00 04 5C 02 DF 1F 00", first + "6100"},
                             {"00 C0 00 00 00", second + "6103"},
                             {"00 C0 00 00 03", third + "9000"}};
        const auto r =
            transmit(card, CommandApdu(0x00, 0xCB, 0xA0, 0x00, hex("5C 02 DF 1F"), Le::max()));
        CHECK(r.ok());
        REQUIRE(r.data.size() == 10 + 256 + 3);
        CHECK(to_hex(r.data) == first + second + third);
        CHECK(card.done());
    }
    SECTION("the final status word is the last one, e.g. a warning after the chain") {
        ScriptedChannel card{{"00 B0 00 00 00", "01 61 01"}, {"00 C0 00 00 01", "02 62 82"}};
        const auto r = transmit(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, Le::max()));
        CHECK(r.sw() == 0x6282);
        CHECK(to_hex(r.data) == "0102");
    }
    SECTION("a 6Cxx answer to GET RESPONSE is resent once with that Le") {
        ScriptedChannel card{{"00 B0 00 00 00", "61 00"},
                             {"00 C0 00 00 00", "6C 05"},
                             {"00 C0 00 00 05", "01 02 03 04 05 90 00"}};
        const auto r = transmit(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, Le::max()));
        CHECK(r.ok());
        CHECK(to_hex(r.data) == "0102030405");
        CHECK(card.done());
    }
}

TEST_CASE("transmit bounds the GET RESPONSE loop", "[apdu]") {
    ScriptedChannel card;
    card.expect("00 B0 00 00 00", "01 61 01");
    for (int i = 0; i < 3; ++i)
        card.expect("00 C0 00 00 01", "02 61 01");
    mimcm::card::TransmitLimits limits;
    limits.max_get_response_rounds = 3;
    try {
        transmit(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, Le::max()), limits);
        FAIL("an endless 61xx chain was accepted");
    } catch (const CardError& e) {
        CHECK(e.code() == CardErrorCode::protocol);
        CHECK(e.sw() == std::optional<std::uint16_t>{0x6101});
        CHECK_THAT(e.what(), Catch::Contains("after 3 GET RESPONSE rounds"));
    }
    CHECK(card.done());
    CHECK(card.sent().size() == 4);
}

TEST_CASE("the default GET RESPONSE bound is 64 rounds", "[apdu]") {
    ScriptedChannel card;
    card.expect("00 B0 00 00 00", "61 01");
    for (int i = 0; i < 64; ++i)
        card.expect("00 C0 00 00 01", "00 61 01");
    CHECK_THROWS_AS(transmit(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, Le::max())), CardError);
    CHECK(card.done());
}

TEST_CASE("transmit resends once with the right Le after 6Cxx", "[apdu]") {
    SECTION("case 4 command") {
        ScriptedChannel card{
            {"00 87 03 9B 04 7C 02 81 00 00", "6C 0C"},
            {"00 87 03 9B 04 7C 02 81 00 0C", "7C 0A 81 08 01 02 03 04 05 06 07 08 90 00"}};
        const auto r =
            transmit(card, CommandApdu(0x00, 0x87, 0x03, 0x9B, hex("7C 02 81 00"), Le::max()));
        CHECK(r.ok());
        CHECK(to_hex(r.data) == "7c0a81080102030405060708");
        CHECK(card.done());
    }
    SECTION("6C 00 means Le 256") {
        ScriptedChannel card{{"00 B0 00 00 10", "6C 00"}, {"00 B0 00 00 00", "90 00"}};
        CHECK(transmit(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, Le(16))).ok());
        CHECK(card.done());
    }
    SECTION("the resent command may answer 61xx, which is then followed") {
        ScriptedChannel card{{"00 B0 00 00 00", "6C 04"},
                             {"00 B0 00 00 04", "61 04"},
                             {"00 C0 00 00 04", "DE AD BE EF 90 00"}};
        const auto r = transmit(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, Le::max()));
        CHECK(to_hex(r.data) == "deadbeef");
        CHECK(card.done());
    }
    SECTION("only once: a second 6Cxx is returned to the caller") {
        ScriptedChannel card{{"00 B0 00 00 00", "6C 04"}, {"00 B0 00 00 04", "6C 02"}};
        const auto r = transmit(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, Le::max()));
        CHECK(r.sw() == 0x6C02);
        CHECK(card.done());
    }
}

TEST_CASE("transmit lets the channel's exceptions through", "[apdu]") {
    ScriptedChannel card;
    card.expect_failure("00 84 00 00 08", "reader gone");
    CHECK_THROWS_WITH(transmit(card, CommandApdu(0x00, 0x84, 0x00, 0x00, Le(8))), "reader gone");
}

TEST_CASE("transmit reports a short response as malformed", "[apdu]") {
    ScriptedChannel card{{"00 84 00 00 08", "90"}};
    try {
        transmit(card, CommandApdu(0x00, 0x84, 0x00, 0x00, Le(8)));
        FAIL("no exception");
    } catch (const CardError& e) {
        CHECK(e.code() == CardErrorCode::malformed);
    }
}

TEST_CASE("card faults end in a typed card error, bounded", "[apdu][faults]") {
    SECTION("61xx forever: at most 64 GET RESPONSE rounds, then protocol") {
        ScriptedChannel card;
        card.expect("00 B0 00 00 00", "AA 61 00");
        for (int i = 0; i < 64; ++i)
            card.expect("00 C0 00 00 00", std::string(512, 'b') + "6100");
        try {
            transmit(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, Le::max()));
            FAIL("an endless 61xx chain was accepted");
        } catch (const CardError& e) {
            CHECK(e.code() == CardErrorCode::protocol);
        }
        CHECK(card.done());
        CHECK(card.sent().size() == 65);
    }
    SECTION("6Cxx forever: resent once, then the 6Cxx is the answer") {
        ScriptedChannel card{{"00 B0 00 00 00", "6C 10"}, {"00 B0 00 00 10", "6C 10"}};
        const auto r = transmit(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, Le::max()));
        CHECK(r.sw() == 0x6C10);
        CHECK(card.done());
    }
    SECTION("6Cxx forever inside a GET RESPONSE chain: one resend, then it ends") {
        ScriptedChannel card{
            {"00 B0 00 00 00", "61 08"}, {"00 C0 00 00 08", "6C 04"}, {"00 C0 00 00 04", "6C 04"}};
        const auto r = transmit(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, Le::max()));
        CHECK(r.sw() == 0x6C04);
        CHECK(card.done());
    }
    SECTION("61xx then 6Cxx alternating: still at most 64 rounds") {
        ScriptedChannel card;
        card.expect("00 B0 00 00 00", "61 08");
        for (int i = 0; i < 64; ++i) {
            card.expect("00 C0 00 00 08", "6C 04");
            card.expect("00 C0 00 00 04", "01 02 03 04 61 08");
        }
        CHECK_THROWS_AS(transmit(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, Le::max())), CardError);
        CHECK(card.done());
    }
    SECTION("a truncated answer: no byte, or one byte") {
        for (const char* answer : {"", "90"}) {
            CAPTURE(answer);
            ScriptedChannel card{{"00 84 00 00 08", answer}};
            try {
                transmit(card, CommandApdu(0x00, 0x84, 0x00, 0x00, Le(8)));
                FAIL("a truncated answer was accepted");
            } catch (const CardError& e) {
                CHECK(e.code() == CardErrorCode::malformed);
                CHECK_THAT(e.what(), Catch::Contains("expected at least the 2 status bytes"));
            }
        }
    }
    SECTION("a truncated answer inside a GET RESPONSE chain") {
        ScriptedChannel card{{"00 B0 00 00 00", "61 08"}, {"00 C0 00 00 08", "61"}};
        try {
            transmit(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, Le::max()));
            FAIL("a truncated answer was accepted");
        } catch (const CardError& e) {
            CHECK(e.code() == CardErrorCode::malformed);
        }
    }
    SECTION("an answer over the maximum answer size") {
        ScriptedChannel card{
            {"00 B0 00 00 00", std::string(2 * (65536 + 1), 'a') + "9000"}};  // 65539 bytes
        try {
            transmit(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, Le::max()));
            FAIL("an oversized answer was accepted");
        } catch (const CardError& e) {
            CHECK(e.code() == CardErrorCode::protocol);
            CHECK_THAT(e.what(), Catch::Contains("65539 bytes; expected at most 65538"));
        }
    }
    SECTION("the largest answer (65536 data bytes) passes") {
        ScriptedChannel card{{"00 B0 00 00 00", std::string(2 * 65536, 'a') + "9000"}};
        CHECK(transmit(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, Le::max())).data.size() == 65536);
    }
    SECTION("GET RESPONSE data over 64 KiB in all") {
        ScriptedChannel card;
        card.expect("00 B0 00 00 00", std::string(2 * 65400, 'a') + "6100");
        card.expect("00 C0 00 00 00", std::string(2 * 100, 'b') + "6100");  // 65500 bytes
        card.expect("00 C0 00 00 00", std::string(2 * 256, 'c') + "6100");  // 65756 > 65536
        try {
            transmit(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, Le::max()));
            FAIL("more than 64 KiB was accepted");
        } catch (const CardError& e) {
            CHECK(e.code() == CardErrorCode::protocol);
            CHECK_THAT(e.what(), Catch::Contains("more than 65536 data bytes"));
        }
        CHECK(card.done());
    }
    SECTION("tighter limits are honoured") {
        mimcm::card::TransmitLimits limits;
        limits.max_answer_size = 10;
        ScriptedChannel card{{"00 B0 00 00 00", std::string(2 * 9, 'a') + "9000"}};
        CHECK_THROWS_AS(transmit(card, CommandApdu(0x00, 0xB0, 0x00, 0x00, Le::max()), limits),
                        CardError);
    }
}
