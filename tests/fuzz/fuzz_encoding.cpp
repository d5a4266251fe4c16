// Identifiers, URLs and encodings: the input is one text, given to every parser of
// identifiers.hpp and encoding.hpp (and the URL helpers of the client), and as bytes to the
// encoders. Round trips must hold: from_hex(to_hex(x)) == x, base64_decode(base64_encode(x)) == x,
// percent-decoding percent_encode(x) gives x, a GUID normalises to itself, a parsed CM URL parses
// again to the same base.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "mimcm/client.hpp"
#include "mimcm/detail/json.hpp"
#include "mimcm/encoding.hpp"
#include "mimcm/http.hpp"
#include "mimcm/identifiers.hpp"

namespace {

bool unreserved(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/// Strict percent-decoding of what percent_encode() writes: unreserved characters and %XX
/// (upper-case hex) only.
std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (unreserved(c)) {
            out.push_back(c);
            continue;
        }
        if (c != '%' || i + 2 >= text.size())
            return std::nullopt;
        const int hi = mimcm::detail::hex_value(text[i + 1]);
        const int lo = mimcm::detail::hex_value(text[i + 2]);
        if (hi < 0 || lo < 0 || (text[i + 1] >= 'a') || (text[i + 2] >= 'a'))
            return std::nullopt;
        out.push_back(static_cast<char>((hi << 4) | lo));
        i += 2;
    }
    return out;
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        c = mimcm::detail::ascii_lower(c);
    return out;
}

void guids(std::string_view text) {
    const auto canonical = mimcm::detail::normalize_guid(text);
    const auto guid = mimcm::Guid::try_parse(text);
    MIMCM_FUZZ_CHECK(canonical.has_value() == guid.has_value());
    if (!canonical) {
        try {
            (void)mimcm::Guid::parse(text);
            MIMCM_FUZZ_CHECK(false);
        } catch (const mimcm::InvalidArgument&) {
        }
        try {
            (void)mimcm::CardId::from_guid(text);
            MIMCM_FUZZ_CHECK(false);
        } catch (const mimcm::InvalidArgument&) {
        }
        return;
    }
    MIMCM_FUZZ_CHECK(canonical->size() == 36);
    MIMCM_FUZZ_CHECK(*canonical == lower(*canonical));
    MIMCM_FUZZ_CHECK(mimcm::detail::normalize_guid(*canonical) == canonical);
    MIMCM_FUZZ_CHECK(guid->str() == *canonical);
    MIMCM_FUZZ_CHECK(mimcm::SmartcardId::parse(text).str() == *canonical);
    MIMCM_FUZZ_CHECK(mimcm::RequestId::try_parse(text)->guid() == *guid);
    const auto card = mimcm::CardId::from_guid(text);
    MIMCM_FUZZ_CHECK(card.guid() == *canonical);
    MIMCM_FUZZ_CHECK(mimcm::detail::id_from_uri<mimcm::RequestId>(
                         "api/v1.0/requests/" + *canonical + "/") == mimcm::RequestId(*guid));
}

void card_id_bytes(const mimcm::Bytes& bytes) {
    if (bytes.size() != mimcm::CardId::size) {
        try {
            (void)mimcm::CardId(bytes);
            MIMCM_FUZZ_CHECK(false);
        } catch (const mimcm::InvalidArgument&) {
        }
        return;
    }
    const mimcm::CardId card(bytes);
    const auto again = mimcm::CardId::from_guid(card.guid());
    MIMCM_FUZZ_CHECK(mimcm::Bytes(again.bytes().begin(), again.bytes().end()) == bytes);
}

void urls(std::string_view text) {
    std::optional<mimcm::CmUrl> url;
    try {
        url = mimcm::CmUrl::parse(text);
    } catch (const mimcm::InvalidArgument& e) {
        MIMCM_FUZZ_CHECK(std::string_view(e.what()).find("invalid CM server URL") == 0);
        return;
    }
    const std::string& base = url->base();
    MIMCM_FUZZ_CHECK(base.rfind(url->https() ? "https://" : "http://", 0) == 0);
    MIMCM_FUZZ_CHECK(base.back() != '/');
    MIMCM_FUZZ_CHECK(!mimcm::detail::has_control_character(base));
    MIMCM_FUZZ_CHECK(base.find_first_of(" ?#") == std::string::npos);
    MIMCM_FUZZ_CHECK(std::all_of(base.begin(), base.end(),
                                 [](char c) { return static_cast<unsigned char>(c) < 0x80; }));
    const std::size_t authority = base.find("://") + 3;
    MIMCM_FUZZ_CHECK(base.find('@') == std::string::npos ||
                     base.find('@') > base.find('/', authority));
    MIMCM_FUZZ_CHECK(url->api("requests") == base + "/api/v1.0/requests");
    const auto again = mimcm::CmUrl::parse(base);
    MIMCM_FUZZ_CHECK(again.base() == base && again.https() == url->https());
}

void hex(std::string_view text, const mimcm::Bytes& bytes) {
    if (const auto decoded = mimcm::from_hex(text)) {
        MIMCM_FUZZ_CHECK(decoded->size() * 2 == text.size());
        MIMCM_FUZZ_CHECK(mimcm::to_hex(*decoded) == lower(text));
    }
    const std::string encoded = mimcm::to_hex(bytes);
    MIMCM_FUZZ_CHECK(encoded.size() == 2 * bytes.size());
    MIMCM_FUZZ_CHECK(mimcm::from_hex(encoded) == bytes);
    try {
        const auto atr = mimcm::Atr::from_hex(text);
        MIMCM_FUZZ_CHECK(atr.hex() == lower(text));
        MIMCM_FUZZ_CHECK(atr.bytes().size() >= 2 && atr.bytes().size() <= 33);
    } catch (const mimcm::InvalidArgument&) {
    }
}

void base64(std::string_view text, const mimcm::Bytes& bytes) {
    const std::string encoded = mimcm::base64_encode(bytes);
    MIMCM_FUZZ_CHECK(encoded.size() == (bytes.size() + 2) / 3 * 4);
    MIMCM_FUZZ_CHECK(mimcm::base64_decode(encoded) == bytes);
    if (const auto decoded = mimcm::base64_decode(text)) {
        MIMCM_FUZZ_CHECK(decoded->size() <= text.size() / 4 * 3);
        // Non-canonical padding bits are accepted; re-encoding gives the same bytes back.
        const std::string canonical = mimcm::base64_encode(*decoded);
        MIMCM_FUZZ_CHECK(canonical.size() == text.size());
        MIMCM_FUZZ_CHECK(mimcm::base64_decode(canonical) == decoded);
    }
    try {
        const auto challenge = mimcm::Challenge::from_base64(text);
        MIMCM_FUZZ_CHECK(!challenge.bytes().empty() && challenge.bytes().size() <= 64);
        MIMCM_FUZZ_CHECK(mimcm::base64_decode(challenge.base64()) == challenge.bytes());
    } catch (const mimcm::InvalidArgument&) {
    }
}

void percent(std::string_view text) {
    const std::string encoded = mimcm::percent_encode(text);
    MIMCM_FUZZ_CHECK(percent_decode(encoded) == std::string(text));
    static const mimcm::CmUrl server = mimcm::CmUrl::parse("https://cm.example/x");
    const std::string built =
        mimcm::detail::UrlBuilder(server, 16).path("p").param("a", text).param("b", "1").take();
    const std::string prefix = "https://cm.example/x/api/v1.0/p";
    MIMCM_FUZZ_CHECK(built.rfind(prefix, 0) == 0);
    const std::string query = built.substr(prefix.size());
    MIMCM_FUZZ_CHECK(query == (text.empty() ? "?b=1" : "?a=" + encoded + "&b=1"));
    // The redacted URL keeps the path and the names, never a value.
    const std::string url = "https://cm.example/x?" + std::string(text);
    const std::string redacted = mimcm::detail::redact_query(url);
    MIMCM_FUZZ_CHECK(redacted.rfind("https://cm.example/x?", 0) == 0);
    const std::string with_query = "https://cm.example/x" + query;
    MIMCM_FUZZ_CHECK(mimcm::detail::redact_query(with_query) ==
                     (text.empty() ? "https://cm.example/x?b=REDACTED"
                                   : "https://cm.example/x?a=REDACTED&b=REDACTED"));
}

void messages(std::string_view text) {
    const std::string clean = mimcm::detail::clean_message(text);
    MIMCM_FUZZ_CHECK(clean.size() <= 1024 + 3);
    for (const char c : clean)
        MIMCM_FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20);
    const std::string id = mimcm::detail::find_correlation_id(text);
    MIMCM_FUZZ_CHECK(id.empty() || mimcm::detail::normalize_guid(id) == id);
    const std::string quoted = mimcm::detail::quoted(text);
    MIMCM_FUZZ_CHECK(quoted.size() <= 80 + 5);
    (void)mimcm::detail::id_from_uri<mimcm::SmartcardId>(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const mimcm::Bytes bytes(data, data + size);
    guids(text);
    card_id_bytes(bytes);
    urls(text);
    hex(text, bytes);
    base64(text, bytes);
    percent(text);
    messages(text);
    return 0;
}
