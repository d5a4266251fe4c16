// Memory that holds secrets (PINs, keys, challenge responses, response bodies that carry them):
// wiped when it is released or regrown, never printable by accident.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mimcm {

/// Overwrites size bytes at data with zeros in a way the optimiser may not remove.
inline void secure_wipe(void* data, std::size_t size) noexcept {
    volatile auto* p = static_cast<volatile unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i)
        p[i] = 0;
}

/// Wipes a string's whole buffer (not only its current length) and empties it.
inline void secure_wipe(std::string& s) noexcept {
    s.resize(s.capacity());  // never reallocates: capacity is already there
    secure_wipe(s.data(), s.size());
    s.clear();
}

/// Wipes a byte vector's whole buffer and empties it.
inline void secure_wipe(std::vector<std::uint8_t>& v) noexcept {
    v.resize(v.capacity());
    secure_wipe(v.data(), v.size());
    v.clear();
}

/// A string for secret text. Its buffer is wiped when destroyed, assigned over, moved from, or
/// regrown by append(). It has no stream operator: printing it is a compile error; call reveal()
/// where the secret really must be used.
class SecretString {
  public:
    SecretString() = default;
    explicit SecretString(std::string_view text) { append(text); }
    SecretString(const SecretString& other) { append(other.reveal()); }
    SecretString(SecretString&& other) noexcept : value_(std::move(other.value_)) {
        other.wipe();  // libstdc++ copies short strings on move: clear what stays behind
    }
    SecretString& operator=(const SecretString& other) {
        if (this != &other) {
            wipe();
            append(other.reveal());
        }
        return *this;
    }
    SecretString& operator=(SecretString&& other) noexcept {
        if (this != &other) {
            wipe();
            value_ = std::move(other.value_);
            other.wipe();
        }
        return *this;
    }
    ~SecretString() { wipe(); }

    /// The secret itself. Valid until this object changes or dies; do not copy it into plain
    /// strings.
    [[nodiscard]] std::string_view reveal() const noexcept { return value_; }
    /// The same, NUL-terminated, for C APIs (libcurl copies what it is given).
    [[nodiscard]] const char* c_str() const noexcept { return value_.c_str(); }
    [[nodiscard]] std::size_t size() const noexcept { return value_.size(); }
    [[nodiscard]] bool empty() const noexcept { return value_.empty(); }

    /// Appends; when the buffer must grow, the old buffer is wiped before it is freed.
    void append(std::string_view text) {
        if (value_.size() + text.size() > value_.capacity())
            reserve((value_.size() + text.size()) * 2);
        value_.append(text);
    }

    /// Makes room for `capacity` characters in one buffer; the old buffer, if there was one, is
    /// wiped before it is freed.
    void reserve(std::size_t capacity) {
        if (capacity <= value_.capacity())
            return;
        std::string bigger;
        bigger.reserve(capacity);
        bigger.append(value_);
        wipe();
        value_.swap(bigger);
    }

    void wipe() noexcept { secure_wipe(value_); }

    friend bool operator==(const SecretString& a, const SecretString& b) noexcept {
        return a.value_ == b.value_;
    }
    friend bool operator!=(const SecretString& a, const SecretString& b) noexcept {
        return !(a == b);
    }

    template <class Stream>
    friend Stream& operator<<(Stream&, const SecretString&) = delete;

  private:
    std::string value_;
};

/// Byte buffer for secret binary data (keys, challenge responses), wiped like SecretString.
class SecretBytes {
  public:
    SecretBytes() = default;
    explicit SecretBytes(std::vector<std::uint8_t> bytes) noexcept : value_(std::move(bytes)) {}
    SecretBytes(const SecretBytes& other) : value_(other.value_) {}
    SecretBytes(SecretBytes&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
    SecretBytes& operator=(const SecretBytes& other) {
        if (this != &other) {
            wipe();
            value_ = other.value_;
        }
        return *this;
    }
    SecretBytes& operator=(SecretBytes&& other) noexcept {
        if (this != &other) {
            wipe();
            value_ = std::move(other.value_);
            other.wipe();
        }
        return *this;
    }
    ~SecretBytes() { wipe(); }

    [[nodiscard]] const std::vector<std::uint8_t>& reveal() const noexcept { return value_; }
    [[nodiscard]] std::size_t size() const noexcept { return value_.size(); }
    [[nodiscard]] bool empty() const noexcept { return value_.empty(); }
    void wipe() noexcept { secure_wipe(value_); }

    template <class Stream>
    friend Stream& operator<<(Stream&, const SecretBytes&) = delete;

  private:
    std::vector<std::uint8_t> value_;
};

}  // namespace mimcm
