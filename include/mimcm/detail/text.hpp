// ASCII text helpers the whole SDK shares: the one hex-digit table and the one case fold. Locale
// never matters here: the text is protocol text (GUIDs, hex, header and field names, URL schemes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mimcm::detail {

enum class HexCase { lower, upper };

/// The hex digit of the low four bits of value ('a'-'f' or 'A'-'F').
[[nodiscard]] constexpr char hex_digit(unsigned value, HexCase letters = HexCase::lower) noexcept {
    constexpr const char* digits = "0123456789abcdef0123456789ABCDEF";
    return digits[(letters == HexCase::upper ? 16u : 0u) + (value & 0x0fu)];
}

/// Appends the last `digits` hex digits of value, most significant first ("6A82" for 0x6a82, 4).
inline void append_hex(std::string& out, std::uint64_t value, int digits,
                       HexCase letters = HexCase::lower) {
    for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4)
        out.push_back(hex_digit(static_cast<unsigned>((value >> shift) & 0x0fu), letters));
}

/// One flag per byte value: whether RFC 3986 counts it "unreserved" (A-Z a-z 0-9 - . _ ~), the
/// bytes a URL carries as they are.
struct UnreservedBytes {
    bool flag[256];

    constexpr UnreservedBytes() : flag{} {
        for (int c = 0; c < 256; ++c) {
            flag[c] = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
        }
    }
    [[nodiscard]] constexpr bool operator[](char c) const noexcept {
        return flag[static_cast<unsigned char>(c)];
    }
};
inline constexpr UnreservedBytes unreserved_bytes{};

/// The value of a hex digit (either case), -1 for any other character.
[[nodiscard]] constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/// ASCII lower case of c ('A'-'Z' only; every other byte unchanged).
[[nodiscard]] constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/// ASCII lower case of text.
[[nodiscard]] inline std::string ascii_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        c = ascii_lower(c);
    return out;
}

/// Equal but for ASCII case.
[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    }
    return true;
}

}  // namespace mimcm::detail
