// Triple DES (3DES-EDE, three 8-byte keys K1 K2 K3, FIPS 46-3 / SP 800-67) for the admin
// authentication with a key the application holds itself (GIDS and PIV mutual authentication).
// The CM admin flow does not need it: there the CM server computes the response. Small and
// slow on purpose (a few blocks per card session); every key-dependent buffer is wiped.
//
// Threads: des3_cbc() works on its arguments only; safe from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "mimcm/encoding.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::card {
/// Which way a block cipher runs.
enum class CipherDirection { encrypt, decrypt };
}  // namespace mimcm::card

namespace mimcm::card::detail::des {

// The tables number bits from 1 = most significant, as FIPS 46-3 does.
inline constexpr std::uint8_t ip[64] = {
    58, 50, 42, 34, 26, 18, 10, 2,  60, 52, 44, 36, 28, 20, 12, 4,  62, 54, 46, 38, 30, 22,
    14, 6,  64, 56, 48, 40, 32, 24, 16, 8,  57, 49, 41, 33, 25, 17, 9,  1,  59, 51, 43, 35,
    27, 19, 11, 3,  61, 53, 45, 37, 29, 21, 13, 5,  63, 55, 47, 39, 31, 23, 15, 7};
inline constexpr std::uint8_t fp[64] = {
    40, 8,  48, 16, 56, 24, 64, 32, 39, 7,  47, 15, 55, 23, 63, 31, 38, 6,  46, 14, 54, 22,
    62, 30, 37, 5,  45, 13, 53, 21, 61, 29, 36, 4,  44, 12, 52, 20, 60, 28, 35, 3,  43, 11,
    51, 19, 59, 27, 34, 2,  42, 10, 50, 18, 58, 26, 33, 1,  41, 9,  49, 17, 57, 25};
inline constexpr std::uint8_t expansion[48] = {
    32, 1,  2,  3,  4,  5,  4,  5,  6,  7,  8,  9,  8,  9,  10, 11, 12, 13, 12, 13, 14, 15, 16, 17,
    16, 17, 18, 19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1};
inline constexpr std::uint8_t pbox[32] = {16, 7, 20, 21, 29, 12, 28, 17, 1,  15, 23,
                                          26, 5, 18, 31, 10, 2,  8,  24, 14, 32, 27,
                                          3,  9, 19, 13, 30, 6,  22, 11, 4,  25};
inline constexpr std::uint8_t pc1[56] = {57, 49, 41, 33, 25, 17, 9,  1,  58, 50, 42, 34, 26, 18,
                                         10, 2,  59, 51, 43, 35, 27, 19, 11, 3,  60, 52, 44, 36,
                                         63, 55, 47, 39, 31, 23, 15, 7,  62, 54, 46, 38, 30, 22,
                                         14, 6,  61, 53, 45, 37, 29, 21, 13, 5,  28, 20, 12, 4};
inline constexpr std::uint8_t pc2[48] = {
    14, 17, 11, 24, 1,  5,  3,  28, 15, 6,  21, 10, 23, 19, 12, 4,  26, 8,  16, 7,  27, 20, 13, 2,
    41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32};
inline constexpr std::uint8_t shifts[16] = {1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1};
inline constexpr std::uint8_t sbox[8][64] = {
    {14, 4,  13, 1, 2,  15, 11, 8, 3, 10, 6, 12, 5,  9,  0,  7,  0,  15, 7,  4,  14, 2,
     13, 1,  10, 6, 12, 11, 9,  5, 3, 8,  4, 1,  14, 8,  13, 6,  2,  11, 15, 12, 9,  7,
     3,  10, 5,  0, 15, 12, 8,  2, 4, 9,  1, 7,  5,  11, 3,  14, 10, 0,  6,  13},
    {15, 1,  8,  14, 6,  11, 3,  4, 9,  7,  2, 13, 12, 0,  5,  10, 3,  13, 4,  7, 15, 2,
     8,  14, 12, 0,  1,  10, 6,  9, 11, 5,  0, 14, 7,  11, 10, 4,  13, 1,  5,  8, 12, 6,
     9,  3,  2,  15, 13, 8,  10, 1, 3,  15, 4, 2,  11, 6,  7,  12, 0,  5,  14, 9},
    {10, 0,  9,  14, 6, 3,  15, 5,  1,  13, 12, 7, 11, 4,  2,  8,  13, 7, 0,  9, 3, 4,
     6,  10, 2,  8,  5, 14, 12, 11, 15, 1,  13, 6, 4,  9,  8,  15, 3,  0, 11, 1, 2, 12,
     5,  10, 14, 7,  1, 10, 13, 0,  6,  9,  8,  7, 4,  15, 14, 3,  11, 5, 2,  12},
    {7, 13, 14, 3, 0, 6,  9, 10, 1,  2, 8,  5, 11, 12, 4,  15, 13, 8,  11, 5, 6, 15,
     0, 3,  4,  7, 2, 12, 1, 10, 14, 9, 10, 6, 9,  0,  12, 11, 7,  13, 15, 1, 3, 14,
     5, 2,  8,  4, 3, 15, 0, 6,  10, 1, 13, 8, 9,  4,  5,  11, 12, 7,  2,  14},
    {2,  12, 4, 1,  7,  10, 11, 6, 8, 5,  3, 15, 13, 0,  14, 9,  14, 11, 2,  12, 4,  7,
     13, 1,  5, 0,  15, 10, 3,  9, 8, 6,  4, 2,  1,  11, 10, 13, 7,  8,  15, 9,  12, 5,
     6,  3,  0, 14, 11, 8,  12, 7, 1, 14, 2, 13, 6,  15, 0,  9,  10, 4,  5,  3},
    {12, 1,  10, 15, 9,  2,  6, 8,  0, 13, 3,  4,  14, 7,  5, 11, 10, 15, 4, 2, 7, 12,
     9,  5,  6,  1,  13, 14, 0, 11, 3, 8,  9,  14, 15, 5,  2, 8,  12, 3,  7, 0, 4, 10,
     1,  13, 11, 6,  4,  3,  2, 12, 9, 5,  15, 10, 11, 14, 1, 7,  6,  0,  8, 13},
    {4, 11, 2,  14, 15, 0,  8,  13, 3, 12, 9,  7, 5,  10, 6,  1,  13, 0,  11, 7,  4, 9,
     1, 10, 14, 3,  5,  12, 2,  15, 8, 6,  1,  4, 11, 13, 12, 3,  7,  14, 10, 15, 6, 8,
     0, 5,  9,  2,  6,  11, 13, 8,  1, 4,  10, 7, 9,  5,  0,  15, 14, 2,  3,  12},
    {13, 2, 8,  4, 6, 15, 11, 1,  10, 9,  3, 14, 5,  0,  12, 7,  1,  15, 13, 8, 10, 3,
     7,  4, 12, 5, 6, 11, 0,  14, 9,  2,  7, 11, 4,  1,  9,  12, 14, 2,  0,  6, 10, 13,
     15, 3, 5,  8, 2, 1,  14, 7,  4,  10, 8, 13, 15, 12, 9,  0,  3,  5,  6,  11}};

/// `count` bits of `in` (an `width`-bit value) picked by `table`, first entry most significant.
inline std::uint64_t permute(std::uint64_t in, const std::uint8_t* table, int count,
                             int width) noexcept {
    std::uint64_t out = 0;
    for (int i = 0; i < count; ++i)
        out = (out << 1) | ((in >> (width - table[i])) & 1U);
    return out;
}

/// The 16 round keys of one 8-byte DES key.
class KeySchedule {
  public:
    explicit KeySchedule(const std::uint8_t* key) noexcept {
        std::uint64_t k = 0;
        for (int i = 0; i < 8; ++i)
            k = (k << 8) | key[i];
        const std::uint64_t permuted = permute(k, pc1, 56, 64);
        std::uint32_t c = static_cast<std::uint32_t>(permuted >> 28) & 0x0FFFFFFFU;
        std::uint32_t d = static_cast<std::uint32_t>(permuted) & 0x0FFFFFFFU;
        for (int round = 0; round < 16; ++round) {
            for (int s = 0; s < shifts[round]; ++s) {
                c = ((c << 1) | (c >> 27)) & 0x0FFFFFFFU;
                d = ((d << 1) | (d >> 27)) & 0x0FFFFFFFU;
            }
            round_keys_[static_cast<std::size_t>(round)] =
                permute((std::uint64_t{c} << 28) | d, pc2, 48, 56);
        }
        k = 0;
        c = d = 0;
        secure_wipe(&k, sizeof(k));
    }
    KeySchedule(const KeySchedule&) = delete;
    KeySchedule& operator=(const KeySchedule&) = delete;
    ~KeySchedule() { secure_wipe(round_keys_.data(), sizeof(round_keys_)); }

    [[nodiscard]] std::uint64_t crypt(std::uint64_t block,
                                      CipherDirection direction) const noexcept {
        const bool decrypt = direction == CipherDirection::decrypt;
        const std::uint64_t permuted = permute(block, ip, 64, 64);
        std::uint32_t left = static_cast<std::uint32_t>(permuted >> 32);
        std::uint32_t right = static_cast<std::uint32_t>(permuted);
        for (int round = 0; round < 16; ++round) {
            const std::uint64_t key =
                round_keys_[static_cast<std::size_t>(decrypt ? 15 - round : round)];
            const std::uint64_t mixed = permute(right, expansion, 48, 32) ^ key;
            std::uint32_t substituted = 0;
            for (int box = 0; box < 8; ++box) {
                const auto six = static_cast<unsigned>((mixed >> (42 - 6 * box)) & 0x3F);
                const unsigned row = ((six & 0x20U) >> 4) | (six & 1U);
                const unsigned column = (six >> 1) & 0x0FU;
                substituted = (substituted << 4) | sbox[box][row * 16 + column];
            }
            const auto f = static_cast<std::uint32_t>(permute(substituted, pbox, 32, 32));
            const std::uint32_t next = left ^ f;
            left = right;
            right = next;
        }
        return permute((std::uint64_t{right} << 32) | left, fp, 64, 64);
    }

  private:
    std::array<std::uint64_t, 16> round_keys_{};
};

inline std::uint64_t load(const std::uint8_t* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
        v = (v << 8) | p[i];
    return v;
}

inline void store(std::uint64_t v, std::uint8_t* p) noexcept {
    for (int i = 7; i >= 0; --i) {
        p[i] = static_cast<std::uint8_t>(v & 0xFF);
        v >>= 8;
    }
}

}  // namespace mimcm::card::detail::des

namespace mimcm::card {

/// 3DES-EDE in CBC mode with a zero IV, no padding (for one block: ECB). `key` has 24 bytes
/// (K1 K2 K3), `data` whole 8-byte blocks; std::invalid_argument otherwise (no key material
/// in the message).
inline Bytes des3_cbc(const SecretBytes& key, const Bytes& data,
                      CipherDirection direction = CipherDirection::encrypt) {
    if (key.size() != 24)
        throw std::invalid_argument("3DES needs a 24-byte key, got " + std::to_string(key.size()));
    if (data.size() % 8 != 0) {
        throw std::invalid_argument("3DES-CBC needs whole 8-byte blocks, got " +
                                    std::to_string(data.size()) + " bytes");
    }
    const std::uint8_t* k = key.reveal().data();
    const detail::des::KeySchedule k1(k);
    const detail::des::KeySchedule k2(k + 8);
    const detail::des::KeySchedule k3(k + 16);
    constexpr auto encrypt = CipherDirection::encrypt;
    constexpr auto decrypt = CipherDirection::decrypt;
    Bytes out(data.size());
    std::uint64_t chain = 0;
    for (std::size_t at = 0; at < data.size(); at += 8) {
        const std::uint64_t block = detail::des::load(data.data() + at);
        std::uint64_t result = 0;
        if (direction == CipherDirection::decrypt) {
            result = k1.crypt(k2.crypt(k3.crypt(block, decrypt), encrypt), decrypt) ^ chain;
            chain = block;
        } else {
            result = k3.crypt(k2.crypt(k1.crypt(block ^ chain, encrypt), decrypt), encrypt);
            chain = result;
        }
        detail::des::store(result, out.data() + at);
    }
    secure_wipe(&chain, sizeof(chain));
    return out;
}

}  // namespace mimcm::card
