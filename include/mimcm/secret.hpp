// Memory that holds secrets (PINs, keys, challenge responses, response bodies that carry them):
// wiped when it is released or regrown, never printable by accident.
// Threads: SecretString and SecretBytes are values like std::string and std::vector: one object
// may be read from several threads at once, and changed only while nothing else uses it. The
// wipe functions and the wiping allocators keep no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mimcm {

namespace detail {
/// memset through a volatile pointer: the compiler cannot know which function it calls, so it
/// cannot drop the call as a store to memory about to die.
inline void* (*volatile wipe_memset)(void*, int, std::size_t) = std::memset;
}  // namespace detail

/// Overwrites size bytes at data with zeros in a way the optimiser may not remove: the platform's
/// wipe where there is one (explicit_bzero: glibc 2.25+, FreeBSD, OpenBSD), elsewhere (Windows
/// included: SecureZeroMemory is an inline of <windows.h>, which this header does not impose on
/// every user) memset through a volatile function pointer.
inline void secure_wipe(void* data, std::size_t size) noexcept {
    if (size == 0)
        return;
#if (defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 25))) || \
    defined(__FreeBSD__) || defined(__OpenBSD__)
    explicit_bzero(data, size);
#else
    detail::wipe_memset(data, 0, size);
#endif
}

/// Wipes a string's whole buffer (not only its current length: whatever a shorter value left
/// behind is wiped too) and empties it. For buffers whose history is unknown; SecretString, which
/// knows its own, wipes only the bytes it used.
inline void secure_wipe(std::string& s) noexcept {
    s.resize(s.capacity());  // never reallocates: capacity is already there
    secure_wipe(s.data(), s.size());
    s.clear();
}

/// Wipes a byte vector's whole buffer and empties it (as above).
inline void secure_wipe(std::vector<std::uint8_t>& v) noexcept {
    v.resize(v.capacity());
    secure_wipe(v.data(), v.size());
    v.clear();
}

namespace detail {

/// malloc-style blocks that are wiped when freed or left behind by a regrowth, for C and C++
/// libraries that take allocation functions (RapidJSON's parser stack, libcurl). Each block
/// carries its size in a header in front of it, as free() gives no size.
struct WipingMemory {
    static constexpr std::size_t header = 16;  // keeps malloc's alignment

    static void* allocate(std::size_t size) noexcept {
        if (size > static_cast<std::size_t>(-1) - header)
            return nullptr;
        auto* block = static_cast<unsigned char*>(std::malloc(header + size));
        if (block == nullptr)
            return nullptr;
        std::memcpy(block, &size, sizeof size);
        return block + header;
    }
    static std::size_t size_of(void* block) noexcept {
        std::size_t size = 0;
        std::memcpy(&size, static_cast<unsigned char*>(block) - header, sizeof size);
        return size;
    }
    static void release(void* block) noexcept {
        if (block == nullptr)
            return;
        unsigned char* start = static_cast<unsigned char*>(block) - header;
        secure_wipe(start, header + size_of(block));
        std::free(start);
    }
    /// Never in place: the old block is copied, wiped and freed. Null (the old block kept) when
    /// memory is short.
    static void* reallocate(void* block, std::size_t size) noexcept {
        if (block == nullptr)
            return allocate(size);
        void* moved = allocate(size);
        if (moved == nullptr)
            return nullptr;
        const std::size_t old_size = size_of(block);
        std::memcpy(moved, block, old_size < size ? old_size : size);
        release(block);
        return moved;
    }
};

}  // namespace detail

/// A string for secret text. Its buffer is wiped when destroyed, assigned over, moved from, or
/// regrown by append(). It has no stream operator: printing it is a compile error; call reveal()
/// where the secret really must be used. Move-only: clone() makes a copy where one is needed.
class SecretString {
  public:
    SecretString() = default;
    explicit SecretString(std::string_view text) { append(text); }
    /// Not copyable: a second copy of a secret is made only on purpose, with clone().
    SecretString(const SecretString&) = delete;
    SecretString& operator=(const SecretString&) = delete;
    /// Moves leave `other` wiped and empty.
    SecretString(SecretString&& other) noexcept
        : value_(std::move(other.value_)), written_(other.written_) {
        other.wipe();  // libstdc++ copies short strings on move: clear what stays behind
    }
    SecretString& operator=(SecretString&& other) noexcept {
        if (this != &other) {
            wipe();
            value_ = std::move(other.value_);
            written_ = other.written_;
            other.wipe();
        }
        return *this;
    }
    ~SecretString() { wipe(); }

    /// An explicit second copy, in a buffer of its own (wiped like this one).
    [[nodiscard]] SecretString clone() const { return SecretString(reveal()); }

    /// The secret itself. Valid until this object changes or dies; do not copy it into plain
    /// strings.
    [[nodiscard]] std::string_view reveal() const noexcept { return value_; }
    /// The same, NUL-terminated, for C APIs (libcurl copies what it is given).
    [[nodiscard]] const char* c_str() const noexcept { return value_.c_str(); }
    [[nodiscard]] std::size_t size() const noexcept { return value_.size(); }
    [[nodiscard]] bool empty() const noexcept { return value_.empty(); }

    /// Appends; when the buffer must grow, the old buffer is wiped before it is freed.
    void append(std::string_view text) {
        if (text.empty())
            return;
        if (value_.size() + text.size() > value_.capacity())
            reserve((value_.size() + text.size()) * 2);
        written_ = true;
        value_.append(text);
    }

    /// Makes room for `size` bytes in all (nothing if there is); the old buffer is wiped. For a
    /// buffer with a known bound, so that append() does not double it past the bound.
    void reserve(std::size_t size) {
        if (size <= value_.capacity())
            return;
        const bool written = written_;
        std::string bigger;
        bigger.reserve(size);
        bigger.append(value_);
        wipe();
        value_.swap(bigger);
        written_ = written;
    }
    [[nodiscard]] std::size_t capacity() const noexcept { return value_.capacity(); }

    /// Wipes the bytes in use and empties the string. Only those: nothing here ever shortens the
    /// string without wiping what it drops (append and reserve only grow it; reserve, assignment
    /// and this wipe the old bytes first), so the buffer beyond size() holds no secret. Except a
    /// short string's inline buffer, which a move copies out and leaves as it was (libstdc++):
    /// a buffer of up to small_buffer bytes is wiped whole. A string nothing was written into
    /// since the last wipe (most moved-from and empty ones) has nothing to wipe.
    void wipe() noexcept {
        if (!written_) {
            value_.clear();  // empty already, unless a move left a length behind
            return;
        }
        if (value_.capacity() <= small_buffer)
            value_.resize(value_.capacity());  // never reallocates
        secure_wipe(value_.data(), value_.size());
        value_.clear();
        written_ = false;
    }

    friend bool operator==(const SecretString& a, const SecretString& b) noexcept {
        return a.value_ == b.value_;
    }
    friend bool operator!=(const SecretString& a, const SecretString& b) noexcept {
        return !(a == b);
    }

    template <class Stream>
    friend Stream& operator<<(Stream&, const SecretString&) = delete;

  private:
    /// At least any standard library's inline (short string) buffer: 15 (libstdc++, MSVC), 22
    /// (libc++).
    static constexpr std::size_t small_buffer = 32;

    std::string value_;
    /// Whether bytes were written into value_'s buffer since it was last wiped. Only append()
    /// writes, and a move carries the flag with the bytes.
    bool written_ = false;
};

/// Byte buffer for secret binary data (keys, challenge responses), wiped like SecretString and,
/// like it, move-only with clone().
class SecretBytes {
  public:
    SecretBytes() = default;
    /// Takes the vector's buffer; whatever a shorter value left beyond its size is wiped now, so
    /// that wipe() later needs to wipe only the bytes in use.
    explicit SecretBytes(std::vector<std::uint8_t> bytes) noexcept : value_(std::move(bytes)) {
        const std::size_t used = value_.size();
        if (used < value_.capacity()) {
            value_.resize(value_.capacity());  // never reallocates
            secure_wipe(value_.data() + used, value_.size() - used);
            value_.resize(used);
        }
    }
    /// Not copyable: a second copy of a secret is made only on purpose, with clone().
    SecretBytes(const SecretBytes&) = delete;
    SecretBytes& operator=(const SecretBytes&) = delete;
    /// Moves leave `other` wiped and empty.
    SecretBytes(SecretBytes&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
    SecretBytes& operator=(SecretBytes&& other) noexcept {
        if (this != &other) {
            wipe();
            value_ = std::move(other.value_);
            other.wipe();
        }
        return *this;
    }
    ~SecretBytes() { wipe(); }

    /// An explicit second copy, in a buffer of its own (wiped like this one).
    [[nodiscard]] SecretBytes clone() const { return SecretBytes(value_); }

    [[nodiscard]] const std::vector<std::uint8_t>& reveal() const noexcept { return value_; }
    [[nodiscard]] std::size_t size() const noexcept { return value_.size(); }
    [[nodiscard]] bool empty() const noexcept { return value_.empty(); }
    /// Wipes the bytes in use and empties the buffer: nothing here shortens it otherwise, and a
    /// moved-from vector keeps no buffer, so nothing beyond size() holds a secret.
    void wipe() noexcept {
        secure_wipe(value_.data(), value_.size());
        value_.clear();
    }

    template <class Stream>
    friend Stream& operator<<(Stream&, const SecretBytes&) = delete;

  private:
    std::vector<std::uint8_t> value_;
};

}  // namespace mimcm
