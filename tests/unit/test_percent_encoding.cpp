// Percent-encoding of query values: every byte value against RFC 3986's "unreserved" set, the
// docs' challenge, and appending to what is already there.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "mimcm/encoding.hpp"

using mimcm::percent_encode;
using mimcm::percent_encode_to;

TEST_CASE("percent_encode keeps exactly the unreserved bytes and escapes every other one") {
    const std::string unreserved =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    for (int c = 0; c < 256; ++c) {
        const std::string one(1, static_cast<char>(c));
        INFO("byte " << c);
        if (unreserved.find(static_cast<char>(c)) != std::string::npos) {
            CHECK(percent_encode(one) == one);
        } else {
            const char* const hex = "0123456789ABCDEF";
            const std::string escaped = {'%', hex[c >> 4], hex[c & 15]};
            CHECK(percent_encode(one) == escaped);
        }
    }
}

TEST_CASE("percent_encode escapes base64's + / = and keeps runs in order") {
    CHECK(percent_encode("1hFD+cz/0so=") == "1hFD%2Bcz%2F0so%3D");
    CHECK(percent_encode("") == "");
    CHECK(percent_encode("a b&c=d") == "a%20b%26c%3Dd");
    CHECK(percent_encode(std::string_view("\xff\x00z", 3)) == "%FF%00z");
}

TEST_CASE("percent_encode_to appends to what the buffer holds") {
    std::string url = "https://cm/api?challenge=";
    percent_encode_to(url, "1hFD+cz/0so=");
    CHECK(url == "https://cm/api?challenge=1hFD%2Bcz%2F0so%3D");
    percent_encode_to(url, "");
    CHECK(url == "https://cm/api?challenge=1hFD%2Bcz%2F0so%3D");
}
