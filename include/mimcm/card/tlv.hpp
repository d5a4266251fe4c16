// BER-TLV, the subset of ISO/IEC 7816-4 / X.690 that GIDS and PIV answers use: parsing
// concatenated items (without recursing into constructed ones), finding a tag, a tag's bytes.
//
// Threads: free functions on their arguments only; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mimcm/card/apdu.hpp"
#include "mimcm/encoding.hpp"

namespace mimcm::card {

namespace tlv {

/// One BER-TLV item. Threads: a plain value; concurrent reads are safe.
struct Item {
    std::uint32_t tag = 0;  ///< tag bytes big-endian, e.g. 0xDF1F, 0x5FC102
    Bytes value;
};

/// Parses concatenated BER-TLV items (not recursing into constructed ones). Tags of up to 4
/// bytes; lengths in short form or 81 xx, 82 xx xx, 83 xx xx xx, 84 xx xx xx xx. Bytes 00 and
/// FF between items are padding and skipped. Throws CardError{malformed} naming `what`.
inline std::vector<Item> parse(const std::uint8_t* data, std::size_t size, std::string_view what) {
    auto fail = [&](const std::string& why, std::size_t at) {
        return CardError(
            "card::tlv::parse", CardErrorCode::malformed,
            std::string(what) + ": malformed TLV at byte " + std::to_string(at) + " (" + why + ")");
    };
    std::vector<Item> items;
    std::size_t pos = 0;
    while (pos < size) {
        if (data[pos] == 0x00 || data[pos] == 0xFF) {
            ++pos;
            continue;
        }
        const std::size_t start = pos;
        std::uint32_t tag = data[pos++];
        if ((tag & 0x1F) == 0x1F) {  // multi-byte tag: more bytes while bit 8 is set
            int extra = 0;
            for (;;) {
                if (pos >= size)
                    throw fail("tag truncated", start);
                if (++extra > 3)
                    throw fail("tag longer than 4 bytes", start);
                const std::uint8_t b = data[pos++];
                tag = (tag << 8) | b;
                if ((b & 0x80) == 0)
                    break;
            }
        }
        if (pos >= size)
            throw fail("length missing", start);
        std::size_t length = data[pos++];
        if (length & 0x80) {
            const std::size_t count = length & 0x7F;
            if (count == 0 || count > 4)
                throw fail("unsupported length form", start);
            if (size - pos < count)
                throw fail("length truncated", start);
            length = 0;
            for (std::size_t i = 0; i < count; ++i)
                length = (length << 8) | data[pos++];
        }
        if (size - pos < length) {
            throw fail("length " + std::to_string(length) + " but only " +
                           std::to_string(size - pos) + " byte(s) left",
                       start);
        }
        items.push_back(Item{tag, Bytes(data + pos, data + pos + length)});
        pos += length;
    }
    return items;
}

inline std::vector<Item> parse(const Bytes& data, std::string_view what) {
    return parse(data.data(), data.size(), what);
}

/// The first item with this tag, or nullptr.
inline const Item* find(const std::vector<Item>& items, std::uint32_t tag) {
    for (const auto& item : items) {
        if (item.tag == tag)
            return &item;
    }
    return nullptr;
}

/// A tag's bytes, big-endian, without leading zero bytes (0xDF20 -> DF 20).
inline Bytes tag_bytes(std::uint32_t tag) {
    Bytes out;
    for (int shift = 24; shift >= 0; shift -= 8) {
        const auto b = static_cast<std::uint8_t>((tag >> shift) & 0xFF);
        if (!out.empty() || b != 0 || shift == 0)
            out.push_back(b);
    }
    return out;
}

}  // namespace tlv

}  // namespace mimcm::card
