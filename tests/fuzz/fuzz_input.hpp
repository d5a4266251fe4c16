// Reads a fuzz input as a sequence of fields: the fuzz targets and tests/fuzz/make_corpus.py
// agree on this layout. Every read is bounded by what is left; a read past the end gives zeros or
// an empty field, so every input is a valid one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mimcm/encoding.hpp"

namespace mimcm_fuzz {

class Input {
  public:
    Input(const std::uint8_t* data, std::size_t size) noexcept : data_(data), size_(size) {}

    [[nodiscard]] bool empty() const noexcept { return pos_ >= size_; }
    [[nodiscard]] std::size_t left() const noexcept { return size_ - pos_; }

    std::uint8_t byte() noexcept { return pos_ < size_ ? data_[pos_++] : 0; }

    std::uint16_t u16() noexcept {
        const auto hi = byte();
        return static_cast<std::uint16_t>((hi << 8) | byte());
    }

    /// A field with its length first: one byte below 255, or 255 followed by two bytes (big
    /// endian). Shorter when the input ends first.
    std::string_view field() noexcept {
        std::size_t length = byte();
        if (length == 255)
            length = u16();
        return take(length);
    }

    mimcm::Bytes bytes_field() {
        const std::string_view text = field();
        return mimcm::Bytes(text.begin(), text.end());
    }

    /// Everything not read yet.
    std::string_view rest() noexcept { return take(left()); }

  private:
    std::string_view take(std::size_t length) noexcept {
        if (length > left())
            length = left();
        const std::string_view out(reinterpret_cast<const char*>(data_) + pos_, length);
        pos_ += length;
        return out;
    }

    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

/// A property of the code under test does not hold: report it as a crash, with what failed.
#define MIMCM_FUZZ_CHECK(condition)                                                            \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                      \
        }                                                                                      \
    } while (false)

}  // namespace mimcm_fuzz
