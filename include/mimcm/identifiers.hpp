// Validated values that go on the wire: the CM address, smart card ids, and the data read off a
// card. Each one checks its input when it is made, so nothing malformed can reach the server.
// Threads: every type here is an immutable value once made; share it or copy it across threads.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "mimcm/detail/text.hpp"
#include "mimcm/encoding.hpp"
#include "mimcm/error.hpp"

namespace mimcm {

namespace detail {
/// Canonical GUID text (lowercase, hyphens, no braces) or nullopt. Accepts either case and braces.
inline std::optional<std::string> normalize_guid(std::string_view text) {
    if (text.size() == 38 && text.front() == '{' && text.back() == '}') {
        text = text.substr(1, 36);
    }
    if (text.size() != 36)
        return std::nullopt;
    std::string out(text);  // one allocation, lower-cased in place
    for (std::size_t i = 0; i < out.size(); ++i) {
        char& c = out[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return std::nullopt;
        } else if (hex_value(c) < 0) {
            return std::nullopt;
        } else {
            c = ascii_lower(c);
        }
    }
    return out;
}

inline std::string quoted(std::string_view text) {
    constexpr std::size_t limit = 80;
    std::string out = "\"";
    for (const char c : text.substr(0, limit)) {
        out.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
    }
    if (text.size() > limit)
        out += "...";
    return out + "\"";
}
}  // namespace detail

/// The CM web application address as administrators know it, e.g.
/// "https://cm.contoso.com/CertificateManagement". A URL with no path means /CertificateManagement.
class CmUrl {
  public:
    [[nodiscard]] static CmUrl parse(std::string_view url) {
        auto fail = [&](std::string_view why) -> InvalidArgument {
            return InvalidArgument("CmUrl::parse", "invalid CM server URL " + detail::quoted(url) +
                                                       ": " + std::string(why));
        };
        const auto scheme_end = url.find("://");
        if (scheme_end == std::string_view::npos)
            throw fail("expected http:// or https://");
        const std::string scheme = detail::ascii_lower(url.substr(0, scheme_end));
        if (scheme != "http" && scheme != "https")
            throw fail("only http and https are supported");
        const std::string_view rest = url.substr(scheme_end + 3);
        const auto path_start = rest.find('/');
        const std::string_view authority = rest.substr(0, path_start);
        std::string_view path =
            path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
        if (authority.empty())
            throw fail("no host name");
        if (authority.find('@') != std::string_view::npos) {
            throw fail(
                "credentials do not belong in the URL; use the client's authentication options");
        }
        for (const char c : url) {
            if (static_cast<unsigned char>(c) <= 0x20 || c == '\x7f')
                throw fail("contains spaces or control characters");
            // Nothing percent-encodes the URL later, so it would go to the wire as raw bytes.
            if (static_cast<unsigned char>(c) >= 0x80) {
                throw fail(
                    "contains non-ASCII characters; write the host name in its xn-- form "
                    "and percent-encode the path");
            }
        }
        if (url.find_first_of("?#") != std::string_view::npos)
            throw fail("no query or fragment allowed");
        check_port(authority, fail);
        while (!path.empty() && path.back() == '/')
            path.remove_suffix(1);
        CmUrl result;
        result.https_ = scheme == "https";
        result.base_ = scheme + "://" + std::string(authority) +
                       (path.empty() ? std::string("/CertificateManagement") : std::string(path));
        return result;
    }

    /// "https://host[:port]/CertificateManagement" (no trailing slash).
    [[nodiscard]] const std::string& base() const noexcept { return base_; }
    [[nodiscard]] bool https() const noexcept { return https_; }
    /// base() + "/api/v1.0/" + relative, e.g. api("smartcards/{id}/serverproposedpin").
    [[nodiscard]] std::string api(std::string_view relative) const {
        return base_ + "/api/v1.0/" + std::string(relative);
    }

  private:
    CmUrl() = default;

    /// The port after the host ("host:443", "[::1]:8443"), when one is given: 1 to 65535 in
    /// decimal digits. An IPv6 literal's own colons are inside the brackets.
    template <class Fail>
    static void check_port(std::string_view authority, const Fail& fail) {
        std::string_view host = authority;
        if (!authority.empty() && authority.front() == '[') {
            const auto close = authority.find(']');
            if (close == std::string_view::npos)
                throw fail("unclosed '[' in the host");
            host = authority.substr(0, close + 1);
            const std::string_view after = authority.substr(close + 1);
            if (after.empty())
                return;
            if (after.front() != ':')
                throw fail("unexpected text after the IPv6 address");
        } else {
            const auto colon = authority.find(':');
            if (colon == std::string_view::npos)
                return;
            host = authority.substr(0, colon);
        }
        if (host.empty() || host == "[]")
            throw fail("no host name");
        const std::string_view port = authority.substr(host.size() + 1);
        if (port.empty())
            throw fail("empty port after ':'");
        std::uint32_t value = 0;
        for (const char c : port) {
            if (c < '0' || c > '9')
                throw fail("the port must be a number from 1 to 65535");
            value = value * 10 + static_cast<std::uint32_t>(c - '0');
            if (value > 65535)
                throw fail("the port must be a number from 1 to 65535");
        }
        if (value == 0)
            throw fail("the port must be a number from 1 to 65535");
    }

    std::string base_;
    bool https_ = false;
};

/// A GUID the CM server assigned (Smartcard.Uuid, request ids...), kept in canonical form.
class Guid {
  public:
    [[nodiscard]] static std::optional<Guid> try_parse(std::string_view text) {
        auto canonical = detail::normalize_guid(text);
        if (!canonical)
            return std::nullopt;
        return Guid(std::move(*canonical));
    }
    [[nodiscard]] static Guid parse(std::string_view text, std::string_view what = "GUID") {
        if (auto g = try_parse(text))
            return *std::move(g);
        throw InvalidArgument("Guid::parse",
                              std::string(what) + " " + detail::quoted(text) +
                                  " is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
    }
    /// Lowercase, hyphenated, no braces.
    [[nodiscard]] const std::string& str() const noexcept { return text_; }
    friend bool operator==(const Guid& a, const Guid& b) noexcept { return a.text_ == b.text_; }
    friend bool operator!=(const Guid& a, const Guid& b) noexcept { return !(a == b); }

  private:
    explicit Guid(std::string text) : text_(std::move(text)) {}
    std::string text_;
};

/// A GUID-valued id of one kind of CM object. Each kind is its own type (RequestId,
/// SmartcardId...): none converts to another, nor from a Guid or a string, except through the
/// explicit constructor or parse(). Thread safety: an immutable value; copies may be used on any
/// thread.
template <class Derived>
class BasicId {
  public:
    explicit BasicId(Guid guid) noexcept : guid_(std::move(guid)) {}

    /// Throws InvalidArgument naming the kind of id ("request id \"x\" is not a GUID ...").
    [[nodiscard]] static Derived parse(std::string_view text) {
        return Derived(Guid::parse(text, Derived::kind));
    }
    [[nodiscard]] static std::optional<Derived> try_parse(std::string_view text) {
        if (auto g = Guid::try_parse(text))
            return Derived(*std::move(g));
        return std::nullopt;
    }
    /// Lowercase, hyphenated, no braces.
    [[nodiscard]] const std::string& str() const noexcept { return guid_.str(); }
    [[nodiscard]] const Guid& guid() const noexcept { return guid_; }

    friend bool operator==(const Derived& a, const Derived& b) noexcept {
        return a.guid() == b.guid();
    }
    friend bool operator!=(const Derived& a, const Derived& b) noexcept { return !(a == b); }
    /// An order (of the canonical text), for sorted containers.
    friend bool operator<(const Derived& a, const Derived& b) noexcept { return a.str() < b.str(); }
    friend std::ostream& operator<<(std::ostream& out, const Derived& id) {
        return out << id.str();
    }

  private:
    Guid guid_;
};

/// The CM id of a certificate request (Request.Uuid), the {id} of /requests/{id}/....
class RequestId : public BasicId<RequestId> {
  public:
    static constexpr const char* kind = "request id";
    using BasicId<RequestId>::BasicId;
};

/// The CM id of a profile template (ProfileTemplate.Uuid).
class ProfileTemplateId : public BasicId<ProfileTemplateId> {
  public:
    static constexpr const char* kind = "profile template id";
    using BasicId<ProfileTemplateId>::BasicId;
};

/// The CM id of a software certificate profile (Profile.Uuid), the {id} of /profiles/{id}/....
class ProfileId : public BasicId<ProfileId> {
  public:
    static constexpr const char* kind = "profile id";
    using BasicId<ProfileId>::BasicId;
};

/// The CM id of a smart card object (Smartcard.Uuid), the {id} of /smartcards/{id}/.... Not the
/// card's own id (CardId), which the card holds.
class SmartcardId : public BasicId<SmartcardId> {
  public:
    static constexpr const char* kind = "smart card id";
    using BasicId<SmartcardId>::BasicId;
};

/// The CM id of a user (Request.TargetUserUuid, Smartcard.AssignedUserUuid...).
class UserId : public BasicId<UserId> {
  public:
    static constexpr const char* kind = "user id";
    using BasicId<UserId>::BasicId;
};

/// Whose objects a list operation asks for (the targetuser query): the caller, or one user.
/// An immutable value; copies may be used on any thread.
class TargetUser {
  public:
    /// The caller's own ("current", the only value the CM documents).
    [[nodiscard]] static TargetUser current() { return TargetUser("current"); }
    [[nodiscard]] static TargetUser user(const UserId& id) { return TargetUser(id.str()); }
    /// The value of the targetuser query parameter.
    [[nodiscard]] const std::string& query_value() const noexcept { return value_; }

  private:
    explicit TargetUser(std::string value) : value_(std::move(value)) {}
    std::string value_;
};

/// The card's answer to reset, 2 to 33 bytes (ISO/IEC 7816-3). Sent as lowercase hex.
class Atr {
  public:
    explicit Atr(Bytes bytes) : bytes_(std::move(bytes)) {
        if (bytes_.size() < 2 || bytes_.size() > 33) {
            throw InvalidArgument(
                "Atr::Atr", "ATR must be 2 to 33 bytes, got " + std::to_string(bytes_.size()));
        }
    }
    [[nodiscard]] static Atr from_hex(std::string_view text) {
        auto bytes = mimcm::from_hex(text);
        if (!bytes || bytes->empty()) {
            throw InvalidArgument("Atr::from_hex", "ATR " + detail::quoted(text) +
                                                       " is not hex (expected e.g. 3b8d0180...)");
        }
        return Atr(*std::move(bytes));
    }
    [[nodiscard]] const Bytes& bytes() const noexcept { return bytes_; }
    [[nodiscard]] std::string hex() const { return to_hex(bytes_); }

  private:
    Bytes bytes_;
};

/// The card's 16-byte minidriver card id. CM writes it as a Windows GUID: the first three groups
/// are little-endian, so bytes 3ff188bc ba83 3740 8262... read bc88f13f-83ba-4037-8262-....
class CardId {
  public:
    static constexpr std::size_t size = 16;

    explicit CardId(const std::array<std::uint8_t, size>& bytes) noexcept : bytes_(bytes) {}
    explicit CardId(const Bytes& bytes) {
        if (bytes.size() != size) {
            throw InvalidArgument("CardId::CardId",
                                  "card id must be 16 bytes, got " + std::to_string(bytes.size()));
        }
        std::copy(bytes.begin(), bytes.end(), bytes_.begin());
    }
    /// From the GUID text CM uses (inverse of guid()).
    [[nodiscard]] static CardId from_guid(std::string_view text) {
        const auto canonical = detail::normalize_guid(text);
        if (!canonical) {
            throw InvalidArgument("CardId::from_guid",
                                  "card id " + detail::quoted(text) + " is not a GUID");
        }
        std::string hex;
        for (const char c : *canonical) {
            if (c != '-')
                hex.push_back(c);
        }
        Bytes b = *mimcm::from_hex(hex);
        swap_guid_order(b.data());
        return CardId(b);
    }
    [[nodiscard]] const std::array<std::uint8_t, size>& bytes() const noexcept { return bytes_; }

    /// "bc88f13f-83ba-4037-8262-46eba1291c6e": lowercase, hyphens, no braces.
    [[nodiscard]] std::string guid() const {
        std::array<std::uint8_t, size> b = bytes_;
        swap_guid_order(b.data());
        const std::string hex = to_hex(b.data(), b.size());
        return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' +
               hex.substr(16, 4) + '-' + hex.substr(20);
    }

  private:
    // Data1 (4 bytes), Data2 and Data3 (2 bytes each) are little-endian in a Windows GUID.
    static void swap_guid_order(std::uint8_t* b) noexcept {
        std::swap(b[0], b[3]);
        std::swap(b[1], b[2]);
        std::swap(b[4], b[5]);
        std::swap(b[6], b[7]);
    }
    std::array<std::uint8_t, size> bytes_{};
};

/// A challenge the card issued (8 bytes for GIDS and 3DES PIV). Sent as base64.
class Challenge {
  public:
    explicit Challenge(Bytes bytes) : bytes_(std::move(bytes)) {
        if (bytes_.empty())
            throw InvalidArgument("Challenge::Challenge", "challenge is empty");
        if (bytes_.size() > 64) {
            throw InvalidArgument(
                "Challenge::Challenge",
                "challenge must be at most 64 bytes, got " + std::to_string(bytes_.size()));
        }
    }
    [[nodiscard]] static Challenge from_base64(std::string_view text) {
        auto bytes = base64_decode(text);
        if (!bytes || bytes->empty()) {
            throw InvalidArgument("Challenge::from_base64",
                                  "challenge " + detail::quoted(text) + " is not base64");
        }
        return Challenge(*std::move(bytes));
    }
    [[nodiscard]] const Bytes& bytes() const noexcept { return bytes_; }
    [[nodiscard]] std::string base64() const { return base64_encode(bytes_); }

  private:
    Bytes bytes_;
};

/// What a card gives for the proposed-PIN call: its ATR, card id and a fresh challenge.
struct CardData {
    Atr atr;
    CardId card_id;
    Challenge challenge;
};

}  // namespace mimcm
