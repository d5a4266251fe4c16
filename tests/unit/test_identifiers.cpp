#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mimcm/core.hpp"

using namespace mimcm;

TEST_CASE("card id bytes read as a Windows GUID, as in the CM docs", "[identifiers]") {
    const CardId id(*from_hex("3ff188bcba833740826246eba1291c6e"));
    CHECK(id.guid() == "bc88f13f-83ba-4037-8262-46eba1291c6e");
    CHECK(CardId::from_guid("bc88f13f-83ba-4037-8262-46eba1291c6e").bytes() == id.bytes());
    CHECK(CardId::from_guid("{BC88F13F-83BA-4037-8262-46EBA1291C6E}").guid() == id.guid());
}

TEST_CASE("card id must be 16 bytes", "[identifiers]") {
    CHECK_THROWS_AS(CardId(Bytes(15, 1)), InvalidArgument);
    CHECK_THROWS_AS(CardId(Bytes(17, 1)), InvalidArgument);
    CHECK_THROWS_WITH(CardId(Bytes{}), Catch::Contains("16 bytes"));
    CHECK_THROWS_AS(CardId::from_guid("bc88f13f-83ba-4037-8262-46eba1291c6"), InvalidArgument);
}

TEST_CASE("ATR is lowercase hex of 2 to 33 bytes", "[identifiers]") {
    CHECK(Atr::from_hex("3B8D0180FBA000000397425446590301C8").hex() ==
          "3b8d0180fba000000397425446590301c8");
    CHECK_THROWS_AS(Atr::from_hex(""), InvalidArgument);
    CHECK_THROWS_WITH(Atr::from_hex("3b8z"), Catch::Contains("not hex"));
    CHECK_THROWS_AS(Atr::from_hex("3b8"), InvalidArgument);
    CHECK_THROWS_AS(Atr(Bytes(34, 0x3b)), InvalidArgument);
    CHECK_THROWS_AS(Atr(Bytes(1, 0x3b)), InvalidArgument);
}

TEST_CASE("challenge is non-empty and travels as base64", "[identifiers]") {
    const Challenge c(*from_hex("d61143f9ccffd2ca"));
    CHECK(c.base64() == "1hFD+cz/0so=");
    CHECK(Challenge::from_base64("1hFD+cz/0so=").bytes() == c.bytes());
    CHECK_THROWS_WITH(Challenge(Bytes{}), Catch::Contains("empty"));
    CHECK_THROWS_AS(Challenge::from_base64("1hFD+cz/0so"), InvalidArgument);
    CHECK_THROWS_AS(Challenge::from_base64(""), InvalidArgument);
}

TEST_CASE("smart card ids must be GUIDs and are kept canonical", "[identifiers]") {
    CHECK(SmartcardId::parse("C6BAD97C-F97F-4920-8947-BE980C98C6B5").str() ==
          "c6bad97c-f97f-4920-8947-be980c98c6b5");
    CHECK(SmartcardId::parse("{17cf063d-e337-4aa9-a822-346554ddd3c9}").str() ==
          "17cf063d-e337-4aa9-a822-346554ddd3c9");
    for (const char* bad : {"", "17cf063d", "17cf063d-e337-4aa9-a822-346554ddd3cz",
                            "17cf063de3374aa9a822346554ddd3c9", "../../requests",
                            "17cf063d-e337-4aa9-a822-346554ddd3c9/x"}) {
        CAPTURE(bad);
        CHECK_THROWS_WITH(SmartcardId::parse(bad), Catch::Contains("is not a GUID"));
    }
}

TEST_CASE("typed ids: parse names the kind of id, try_parse, canonical text", "[identifiers]") {
    CHECK_THROWS_WITH(RequestId::parse("x"), Catch::StartsWith("request id \"x\" is not a GUID"));
    CHECK_THROWS_WITH(ProfileTemplateId::parse("x"),
                      Catch::StartsWith("profile template id \"x\" is not a GUID"));
    CHECK_THROWS_WITH(ProfileId::parse("x"), Catch::StartsWith("profile id \"x\" is not a GUID"));
    CHECK_THROWS_WITH(SmartcardId::parse("x"),
                      Catch::StartsWith("smart card id \"x\" is not a GUID"));
    CHECK_THROWS_WITH(UserId::parse("x"), Catch::StartsWith("user id \"x\" is not a GUID"));
    CHECK_THROWS_AS(RequestId::parse(""), InvalidArgument);

    CHECK_FALSE(RequestId::try_parse("a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a09").has_value());
    const auto request = RequestId::try_parse("{A9B4B42C-CC50-4C9B-89D1-BBC0BCD5A099}");
    REQUIRE(request.has_value());
    CHECK(request->str() == "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099");
    CHECK(request->guid() == Guid::parse("a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099"));
    CHECK(*request == RequestId(Guid::parse("A9B4B42C-CC50-4C9B-89D1-BBC0BCD5A099")));
    CHECK(*request != RequestId::parse("b105403d-d021-41ea-9f11-be3d677d229e"));
    CHECK(*request < RequestId::parse("b105403d-d021-41ea-9f11-be3d677d229e"));
    CHECK(TargetUser::user(UserId::parse("8F1590DC-D932-4B66-8E68-2E91C5880780")).query_value() ==
          "8f1590dc-d932-4b66-8e68-2e91c5880780");
    CHECK(TargetUser::current().query_value() == "current");
}

TEST_CASE("typed ids: no conversion between kinds, from a Guid or from text", "[identifiers]") {
    // The compile tests (tests/compile) prove calls with the wrong id do not build; these are
    // the conversions behind them.
    CHECK_FALSE(std::is_convertible<RequestId, SmartcardId>::value);
    CHECK_FALSE(std::is_convertible<SmartcardId, RequestId>::value);
    CHECK_FALSE(std::is_convertible<ProfileTemplateId, RequestId>::value);
    CHECK_FALSE(std::is_convertible<ProfileId, ProfileTemplateId>::value);
    CHECK_FALSE(std::is_convertible<UserId, RequestId>::value);
    CHECK_FALSE(std::is_convertible<Guid, RequestId>::value);
    CHECK_FALSE(std::is_convertible<std::string, RequestId>::value);
    CHECK_FALSE(std::is_convertible<const char*, SmartcardId>::value);
    CHECK_FALSE(std::is_convertible<RequestId, Guid>::value);
    CHECK_FALSE(std::is_assignable<RequestId&, SmartcardId>::value);
    CHECK_FALSE(std::is_constructible<RequestId, SmartcardId>::value);
    CHECK(std::is_constructible<RequestId, Guid>::value);  // explicitly only
}

TEST_CASE("CM URL: scheme, host, default path", "[identifiers]") {
    CHECK(CmUrl::parse("https://cm.contoso.com/CertificateManagement").base() ==
          "https://cm.contoso.com/CertificateManagement");
    CHECK(CmUrl::parse("https://cm.contoso.com").base() ==
          "https://cm.contoso.com/CertificateManagement");
    CHECK(CmUrl::parse("https://cm.contoso.com/").base() ==
          "https://cm.contoso.com/CertificateManagement");
    CHECK(CmUrl::parse("HTTP://127.0.0.1:8080/certificatemanagement/").base() ==
          "http://127.0.0.1:8080/certificatemanagement");
    CHECK(CmUrl::parse("https://[::1]:8443/cm").api("smartcards") ==
          "https://[::1]:8443/cm/api/v1.0/smartcards");
    CHECK(CmUrl::parse("https://cm.contoso.com").https());
    CHECK_FALSE(CmUrl::parse("http://cm.contoso.com").https());
    for (const char* bad :
         {"", "cm.contoso.com", "ftp://cm.contoso.com", "file:///etc/passwd", "https://",
          "https:///CertificateManagement", "https://user:pw@cm.contoso.com",
          "https://cm.contoso.com/x?y=1", "https://cm contoso.com"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(CmUrl::parse(bad), InvalidArgument);
    }
}

TEST_CASE("CM URL: the port is 1 to 65535 in digits, checked before any request", "[identifiers]") {
    CHECK(CmUrl::parse("https://cm.example:1").base() ==
          "https://cm.example:1/CertificateManagement");
    CHECK(CmUrl::parse("https://cm.example:65535/cm").base() == "https://cm.example:65535/cm");
    CHECK(CmUrl::parse("https://[::1]").base() == "https://[::1]/CertificateManagement");
    for (const char* bad :
         {"https://cm.example:notaport", "https://cm.example:99999", "https://cm.example:65536",
          "https://cm.example:0", "https://cm.example:00000", "https://cm.example:",
          "https://cm.example:/cm", "https://cm.example:-1", "https://cm.example:+443",
          "https://cm.example:44a3", "https://cm.example:99999999999999999999",
          "https://[::1]:99999", "https://[::1]:", "https://[::1]x", "https://[::1", "https://:443",
          "https://cm.example:443:1"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(CmUrl::parse(bad), InvalidArgument);
    }
    CHECK_THROWS_WITH(CmUrl::parse("https://cm.example:notaport"),
                      Catch::Contains("the port must be a number from 1 to 65535"));
    CHECK_THROWS_WITH(CmUrl::parse("https://cm.example:99999"),
                      Catch::Contains("the port must be a number from 1 to 65535"));
    CHECK_THROWS_WITH(CmUrl::parse("https://cm.example:"), Catch::Contains("empty port"));
}

TEST_CASE("CM URL: non-ASCII bytes in the host or path are refused, not sent raw",
          "[identifiers]") {
    for (const char* bad : {"https://cm.b\xc3\xa4r.example",
                            "https://cm.example/Zertifikat\xc3\xa9", "https://cm.example/\xff"}) {
        CAPTURE(bad);
        CHECK_THROWS_WITH(CmUrl::parse(bad), Catch::Contains("non-ASCII"));
    }
    CHECK(CmUrl::parse("https://xn--cm-bar-5qa.example/cm%C3%A9").base() ==
          "https://xn--cm-bar-5qa.example/cm%C3%A9");
}

TEST_CASE("URL error text never echoes credentials", "[identifiers]") {
    try {
        (void)CmUrl::parse("https://user:secretpw@cm.contoso.com");
        FAIL("expected InvalidArgument");
    } catch (const InvalidArgument& e) {
        // The URL is echoed to say what was wrong, but the message tells why it was refused.
        CHECK_THAT(e.what(), Catch::Contains("credentials do not belong in the URL"));
    }
}

TEST_CASE("encodings", "[encoding]") {
    CHECK(percent_encode("1hFD+cz/0so=") == "1hFD%2Bcz%2F0so%3D");
    CHECK(percent_encode("a-b_c.d~") == "a-b_c.d~");
    CHECK(base64_encode(Bytes{}) == "");
    CHECK(base64_encode(Bytes{'f'}) == "Zg==");
    CHECK(base64_encode(Bytes{'f', 'o'}) == "Zm8=");
    CHECK(base64_encode(Bytes{'f', 'o', 'o'}) == "Zm9v");
    CHECK(base64_decode("Zm8=") == Bytes{'f', 'o'});
    CHECK_FALSE(base64_decode("Zm=8").has_value());
    CHECK_FALSE(base64_decode("Z===").has_value());
    CHECK_FALSE(base64_decode("Zm8").has_value());
    CHECK(to_hex(Bytes{0x00, 0xab, 0xff}) == "00abff");
    CHECK_FALSE(from_hex("0g").has_value());
}

TEST_CASE("text helpers: one hex table, one ASCII case fold", "[encoding]") {
    using namespace mimcm::detail;
    for (unsigned v = 0; v < 16; ++v) {
        CHECK(hex_value(hex_digit(v)) == static_cast<int>(v));
        CHECK(hex_value(hex_digit(v, HexCase::upper)) == static_cast<int>(v));
    }
    CHECK(hex_digit(0xab) == 'b');  // only the low four bits
    CHECK(hex_digit(10, HexCase::upper) == 'A');
    std::string out = "0x";
    append_hex(out, 0x6a82, 4, HexCase::upper);
    CHECK(out == "0x6A82");
    out.clear();
    append_hex(out, 0x8010002e, 8);
    CHECK(out == "8010002e");
    CHECK(hex_value('g') == -1);
    CHECK(percent_encode("\xff\n") == "%FF%0A");
    CHECK(ascii_lower('Q') == 'q');
    CHECK(ascii_lower('[') == '[');                                    // just after 'Z'
    CHECK(ascii_lower('@') == '@');                                    // just before 'A'
    CHECK(ascii_lower(std::string_view("AtR-\xc4Z")) == "atr-\xc4z");  // bytes >= 0x80 unchanged
    CHECK(iequals("WWW-Authenticate", "www-authenticate"));
    CHECK_FALSE(iequals("abc", "abd"));
    CHECK_FALSE(iequals("abc", "abcd"));
    CHECK_FALSE(iequals("[", "{"));  // '[' + 32 is '{': only letters fold
}

TEST_CASE("secret buffers wipe and cannot be streamed", "[secret]") {
    SecretString s("1234");
    s.append(std::string(100, '5'));  // regrows: the old buffer is wiped before release
    CHECK(s.size() == 104);
    CHECK(s.reveal().substr(0, 4) == "1234");
    SecretString moved(std::move(s));
    CHECK(moved.reveal().substr(0, 4) == "1234");
    CHECK(s.empty());  // NOLINT(bugprone-use-after-move): moved-from state is specified
    moved.wipe();
    CHECK(moved.empty());

    std::string plain = "short";
    const char* buffer = plain.data();
    secure_wipe(plain);
    CHECK(plain.empty());
    CHECK(plain.data() == buffer);  // wiped in place, not released unwiped
    CHECK(std::string(buffer, 5) == std::string(5, '\0'));
}

static_assert(!std::is_copy_constructible_v<SecretString>, "a secret is copied only by clone()");
static_assert(!std::is_copy_assignable_v<SecretString>, "a secret is copied only by clone()");
static_assert(std::is_nothrow_move_constructible_v<SecretString>);
static_assert(std::is_nothrow_move_assignable_v<SecretString>);
static_assert(!std::is_copy_constructible_v<SecretBytes>, "a secret is copied only by clone()");
static_assert(!std::is_copy_assignable_v<SecretBytes>, "a secret is copied only by clone()");
static_assert(std::is_nothrow_move_constructible_v<SecretBytes>);
static_assert(std::is_nothrow_move_assignable_v<SecretBytes>);
// What holds a secret is move-only too.
static_assert(!std::is_copy_constructible_v<PinProposed>);
static_assert(!std::is_copy_constructible_v<HttpResponse>);
static_assert(!std::is_copy_constructible_v<SecretBlob>);
static_assert(std::is_nothrow_move_constructible_v<HttpResponse>);

TEST_CASE("secret buffers are copied only by clone(), into a buffer of their own", "[secret]") {
    for (const std::string& text : {std::string("1234"), std::string(200, '7')}) {
        CAPTURE(text.size());  // a short string (in place) and a long one (on the heap)
        const SecretString original(text);
        const SecretString copy = original.clone();
        CHECK(copy == original);
        CHECK(copy.reveal() == text);
        CHECK(copy.reveal().data() != original.reveal().data());
        SecretString scratch = original.clone();
        scratch.wipe();  // the copy's buffer is its own: wiping it leaves the original
        CHECK(original.reveal() == text);
    }

    const std::vector<std::uint8_t> key = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    const SecretBytes bytes(key);
    const SecretBytes copy = bytes.clone();
    CHECK(copy.reveal() == key);
    CHECK(copy.reveal().data() != bytes.reveal().data());
    CHECK(SecretBytes().clone().empty());
}

TEST_CASE("a moved-from secret is empty, and assigning over a secret replaces it", "[secret]") {
    for (const std::string& text : {std::string("1234"), std::string(200, '7')}) {
        CAPTURE(text.size());
        SecretString source(text);
        SecretString target(std::move(source));
        CHECK(target.reveal() == text);
        CHECK(source.empty());  // NOLINT(bugprone-use-after-move): moved-from state is specified
        CHECK(source.reveal().empty());

        SecretString other("old secret");
        other = std::move(target);
        CHECK(other.reveal() == text);
        CHECK(target.empty());  // NOLINT(bugprone-use-after-move)
    }

    SecretBytes source(std::vector<std::uint8_t>{0xde, 0xad, 0xbe, 0xef});
    SecretBytes target(std::move(source));
    CHECK(target.reveal() == std::vector<std::uint8_t>{0xde, 0xad, 0xbe, 0xef});
    CHECK(source.empty());  // NOLINT(bugprone-use-after-move)
    SecretBytes other(std::vector<std::uint8_t>{0x01});
    other = std::move(target);
    CHECK(other.size() == 4);
    CHECK(target.empty());  // NOLINT(bugprone-use-after-move)
}
