// Byte buffers and the text encodings the CM API uses: hex, base64, percent-encoding.
// Threads: the functions here are pure (no state, no locale); call them from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mimcm/detail/text.hpp"
#include "mimcm/secret.hpp"

namespace mimcm {

using Bytes = std::vector<std::uint8_t>;

/// Appends lowercase hex, no separators ("3b8d01..."), to `out`.
inline void to_hex_to(std::string& out, const std::uint8_t* data, std::size_t size) {
    const std::size_t start = out.size();
    out.resize(start + size * 2);
    for (std::size_t i = 0; i < size; ++i) {
        out[start + 2 * i] = detail::hex_digit(data[i] >> 4u);
        out[start + 2 * i + 1] = detail::hex_digit(data[i]);
    }
}

/// Lowercase hex, no separators ("3b8d01...").
inline std::string to_hex(const std::uint8_t* data, std::size_t size) {
    std::string out;
    to_hex_to(out, data, size);
    return out;
}

inline std::string to_hex(const Bytes& bytes) {
    return to_hex(bytes.data(), bytes.size());
}

namespace detail {
/// Zeroes a decoding's partial output before it is dropped (the decoded text may be a key).
inline void wipe_bytes(std::vector<std::uint8_t>& bytes) noexcept {
    secure_wipe(bytes.data(), bytes.size());  // only pushed back into: nothing beyond size()
}
}  // namespace detail

/// Decodes hex (either case, no separators). Empty optional when the text is not hex.
inline std::optional<Bytes> from_hex(std::string_view text) {
    if (text.size() % 2 != 0)
        return std::nullopt;
    Bytes out;
    out.reserve(text.size() / 2);
    for (std::size_t i = 0; i < text.size(); i += 2) {
        const int hi = detail::hex_value(text[i]);
        const int lo = detail::hex_value(text[i + 1]);
        if (hi < 0 || lo < 0) {
            detail::wipe_bytes(out);  // what was decoded may be part of a secret
            return std::nullopt;
        }
        out.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
    }
    return out;
}

/// Standard base64 (RFC 4648 section 4) with padding.
inline std::string base64_encode(const std::uint8_t* data, std::size_t size) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((size + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= size; i += 3) {
        const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) |
                                std::uint32_t{data[i + 2]};
        out.push_back(alphabet[(v >> 18) & 0x3f]);
        out.push_back(alphabet[(v >> 12) & 0x3f]);
        out.push_back(alphabet[(v >> 6) & 0x3f]);
        out.push_back(alphabet[v & 0x3f]);
    }
    if (const std::size_t rest = size - i; rest > 0) {
        std::uint32_t v = std::uint32_t{data[i]} << 16;
        if (rest == 2)
            v |= std::uint32_t{data[i + 1]} << 8;
        out.push_back(alphabet[(v >> 18) & 0x3f]);
        out.push_back(alphabet[(v >> 12) & 0x3f]);
        out.push_back(rest == 2 ? alphabet[(v >> 6) & 0x3f] : '=');
        out.push_back('=');
    }
    return out;
}

inline std::string base64_encode(const Bytes& bytes) {
    return base64_encode(bytes.data(), bytes.size());
}

/// Decodes standard base64 with padding. Empty optional on any malformed input.
inline std::optional<Bytes> base64_decode(std::string_view text) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z')
            return c - 'A';
        if (c >= 'a' && c <= 'z')
            return c - 'a' + 26;
        if (c >= '0' && c <= '9')
            return c - '0' + 52;
        if (c == '+')
            return 62;
        if (c == '/')
            return 63;
        return -1;
    };
    if (text.size() % 4 != 0)
        return std::nullopt;
    Bytes out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = text[i + static_cast<std::size_t>(k)];
            if (c == '=' && last && k >= 2) {
                v[k] = 0;
                ++pad;
                continue;
            }
            if (pad > 0 || value(c) < 0) {  // data after padding, or not base64
                detail::wipe_bytes(out);    // what was decoded may be part of a secret
                return std::nullopt;
            }
            v[k] = value(c);
        }
        const std::uint32_t triple =
            (static_cast<std::uint32_t>(v[0]) << 18) | (static_cast<std::uint32_t>(v[1]) << 12) |
            (static_cast<std::uint32_t>(v[2]) << 6) | static_cast<std::uint32_t>(v[3]);
        out.push_back(static_cast<std::uint8_t>(triple >> 16));
        if (pad < 2)
            out.push_back(static_cast<std::uint8_t>((triple >> 8) & 0xff));
        if (pad < 1)
            out.push_back(static_cast<std::uint8_t>(triple & 0xff));
    }
    return out;
}

/// Appends text to out percent-encoded: everything outside RFC 3986 "unreserved" (so '+', '/',
/// '=' of base64 too) as %XX, upper-case hex. Grows out once; unreserved runs are copied whole.
inline void percent_encode_to(std::string& out, std::string_view text) {
    std::size_t escaped = 0;
    for (const char c : text)
        escaped += detail::unreserved_bytes[c] ? 0 : 1;
    out.reserve(out.size() + text.size() + 2 * escaped);
    const char* p = text.data();
    const char* const end = p + text.size();
    while (p != end) {
        const char* const run = p;
        while (p != end && detail::unreserved_bytes[*p])
            ++p;
        out.append(run, static_cast<std::size_t>(p - run));
        if (p == end)
            break;
        const auto c = static_cast<unsigned char>(*p++);
        const char escape[3] = {'%', detail::hex_digit(c >> 4u, detail::HexCase::upper),
                                detail::hex_digit(c, detail::HexCase::upper)};
        out.append(escape, 3);
    }
}

/// Percent-encodes everything outside RFC 3986 "unreserved" (see percent_encode_to).
inline std::string percent_encode(std::string_view text) {
    std::string out;
    percent_encode_to(out, text);
    return out;
}

}  // namespace mimcm
