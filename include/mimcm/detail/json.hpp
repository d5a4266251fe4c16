// RapidJSON helpers for response bodies. Internal to mimcm.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "mimcm/detail/text.hpp"
#include "mimcm/identifiers.hpp"
#include "mimcm/result.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::detail {

/// The deepest nesting of arrays and objects accepted in a body by default
/// (ClientOptions::max_json_depth), and in JSON held inside a string field.
inline constexpr std::size_t default_max_json_depth = 64;

/// What a byte scan of a network body found before any parser runs.
enum class JsonScan { ok, nul_byte, too_deep };

/// Scans text for what no parser may see: a NUL byte anywhere (RapidJSON would stop there and
/// ignore the rest), else arrays or objects nested deeper than max_depth (counted outside
/// strings). Iterative and linear, so a hostile body cannot exhaust the stack here; the inside of
/// a string is skipped in a tight loop, as only its closing quote matters.
inline JsonScan scan_json(std::string_view text, std::size_t max_depth) noexcept {
    if (!text.empty() && std::memchr(text.data(), '\0', text.size()) != nullptr)
        return JsonScan::nul_byte;
    std::size_t depth = 0;
    const char* p = text.data();
    const char* const end = p + text.size();
    while (p != end) {
        const char c = *p++;
        if (c == '"') {
            while (p != end && *p != '"') {
                if (*p == '\\' && ++p == end)  // an escape: the next character is skipped too
                    break;
                ++p;
            }
            if (p != end)
                ++p;  // the closing quote
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return JsonScan::too_deep;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return JsonScan::ok;
}

inline std::string json_depth_message(std::size_t max_depth) {
    return "nests arrays or objects deeper than the JSON depth limit (" +
           std::to_string(max_depth) + ")";
}

/// Whether every number in v is finite (RapidJSON turns some numbers beyond the range of a
/// double into infinity). Walks with its own stack, not recursion: one frame per open array or
/// object (the scan bounded the depth), so a body of any width costs one allocation.
inline bool all_numbers_finite(const rapidjson::Value& v) {
    struct Frame {
        const rapidjson::Value* container;
        rapidjson::SizeType next;  ///< index of the next element or member to visit
    };
    std::vector<Frame> open;
    open.reserve(16);
    const rapidjson::Value* x = &v;
    for (;;) {
        if (x != nullptr) {
            if (x->IsDouble() && !std::isfinite(x->GetDouble()))
                return false;
            if ((x->IsArray() && !x->Empty()) || (x->IsObject() && !x->ObjectEmpty()))
                open.push_back({x, 0});
        }
        if (open.empty())
            return true;
        Frame& top = open.back();
        const rapidjson::Value& c = *top.container;
        const bool array = c.IsArray();
        if (top.next == (array ? c.Size() : c.MemberCount())) {
            open.pop_back();
            x = nullptr;
            continue;
        }
        x = array ? &c[top.next] : &(c.MemberBegin() + top.next)->value;
        ++top.next;
    }
}

/// A RapidJSON allocator that wipes every block it frees or leaves behind when it regrows one
/// (each block carries its size in a header). The parser's stack and the writers' buffers use
/// it, so the text of a body or of a request never stays in freed memory.
class WipingAllocator {
  public:
    static const bool kNeedFree = true;

    void* Malloc(std::size_t size) { return size == 0 ? nullptr : WipingMemory::allocate(size); }
    void* Realloc(void* old_block, std::size_t /*old_size*/, std::size_t new_size) {
        if (new_size == 0) {
            Free(old_block);
            return nullptr;
        }
        return WipingMemory::reallocate(old_block, new_size);
    }
    static void Free(void* block) { WipingMemory::release(block); }
};

/// A RapidJSON document whose parser stack wipes itself. Its values are rapidjson::Value.
using JsonDocument = rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                                                WipingAllocator>;

/// JSON text from the network, parsed in place (RapidJSON's ParseInsitu) in a copy that is wiped
/// when this dies: every string of the document, member names included, points into that copy, so
/// no string is copied into RapidJSON's memory pool (which is freed without wiping), and the
/// parser's stack wipes itself. Every body, secret or not, is parsed this way.
class ParsedJson {
  public:
    ParsedJson() = default;
    ParsedJson(const ParsedJson&) = delete;
    ParsedJson& operator=(const ParsedJson&) = delete;
    ~ParsedJson() { wipe(); }

    /// Parses text (a body, or JSON held in a string field): the byte scan first, then RapidJSON's
    /// iterative parser, which rejects bytes after the value. Returns what is wrong, as a
    /// predicate for "the body ..." (never quoting the text), or "" when value() holds it.
    std::string parse(std::string_view text, std::size_t max_depth) {
        wipe();  // an earlier document goes, also when this text is refused
        switch (scan_json(text, max_depth)) {
            case JsonScan::nul_byte:
                return "holds a NUL byte";
            case JsonScan::too_deep:
                return json_depth_message(max_depth);
            case JsonScan::ok:
                break;
        }
        buffer_.reserve(text.size() + 1);  // one allocation: never regrown, so never copied
        buffer_.assign(text.begin(), text.end());
        buffer_.push_back('\0');
        doc_.ParseInsitu<rapidjson::kParseIterativeFlag>(buffer_.data());
        if (doc_.HasParseError()) {
            return std::string("is not JSON (") +
                   rapidjson::GetParseError_En(doc_.GetParseError()) + ", " +
                   std::to_string(text.size()) + " bytes)";
        }
        if (!all_numbers_finite(doc_))
            return "holds a number beyond the range of a double";
        return {};
    }

    /// The parsed value (null before parse() succeeded). Valid as long as this object.
    [[nodiscard]] const rapidjson::Value& value() const noexcept { return doc_; }

  private:
    void wipe() noexcept {
        doc_.SetNull();
        if (!buffer_.empty())
            secure_wipe(buffer_.data(), buffer_.size());
        buffer_.clear();
    }

    std::vector<char> buffer_;
    JsonDocument doc_;
};

/// Whether text holds a C0 control character or DEL.
inline bool has_control_character(std::string_view text) noexcept {
    for (const char c : text) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

/// Parses a body that must be one JSON string ("00123456") into a SecretString (ParsedJson: in
/// place, in a copy that is wiped), so the decoded secret exists nowhere else. Returns nullopt
/// (and why) otherwise.
inline std::optional<SecretString> parse_json_string(std::string_view body, std::string& why,
                                                     std::size_t max_depth) {
    ParsedJson json;
    if (std::string problem = json.parse(body, max_depth); !problem.empty()) {
        why = problem.rfind("is not JSON", 0) == 0 ? "body " + problem : problem;
        return std::nullopt;
    }
    const rapidjson::Value& doc = json.value();
    if (!doc.IsString()) {
        why = "body is JSON but not a string";
        return std::nullopt;
    }
    return SecretString(std::string_view(doc.GetString(), doc.GetStringLength()));
}

inline std::string clean_message(std::string_view text) {
    constexpr std::size_t limit = 1024;
    std::string out;
    for (const char c : text.substr(0, limit)) {
        out.push_back((static_cast<unsigned char>(c) < 0x20) ? ' ' : c);
    }
    if (text.size() > limit)
        out += "...";
    return out;
}

/// First GUID that follows the word "correlation" in text, if any.
inline std::string find_correlation_id(std::string_view text) {
    const auto at = ascii_lower(text).find("correlation");
    if (at == std::string::npos)
        return {};
    for (std::size_t i = at; i + 36 <= text.size(); ++i) {
        if (auto guid = normalize_guid(text.substr(i, 36)))
            return *guid;
    }
    return {};
}

/// The Error of an error answer (its kind follows the status) with the server's message and
/// correlation id read from the body. ASP.NET Web API writes
/// {"Message": "...", "ExceptionMessage": "..."}; field casing varies across CM pages, so names are
/// matched case-insensitively. A correlation id is taken from a CorrelationId field or from the
/// text.
inline Error error_details(int status, std::string_view body, std::string_view content_type,
                           std::size_t max_depth) {
    Error d = Error::from_status(status);
    ParsedJson parsed;
    const bool json = parsed.parse(body, max_depth).empty();
    const rapidjson::Value& doc = parsed.value();
    if (json && doc.IsObject()) {
        std::string exception_message;
        // Indexing, not iterator comparison: RapidJSON 1.1's iterator operators are ambiguous
        // in C++20.
        for (rapidjson::SizeType i = 0; i < doc.MemberCount(); ++i) {
            const auto it = doc.MemberBegin() + i;
            if (!it->value.IsString())
                continue;
            const std::string_view key(it->name.GetString(), it->name.GetStringLength());
            const std::string_view value(it->value.GetString(), it->value.GetStringLength());
            if (iequals(key, "message"))
                d.message = clean_message(value);
            if (iequals(key, "exceptionmessage"))
                exception_message = clean_message(value);
            if (iequals(key, "correlationid")) {
                if (auto g = normalize_guid(value))
                    d.correlation_id = *g;
            }
        }
        if (!exception_message.empty()) {
            d.message += d.message.empty() ? exception_message : " (" + exception_message + ")";
        }
    } else if (json && doc.IsString()) {
        d.message = clean_message(std::string_view(doc.GetString(), doc.GetStringLength()));
    } else if (content_type.find("text/plain") != std::string_view::npos) {
        d.message = clean_message(body);
    }
    if (d.correlation_id.empty())
        d.correlation_id = find_correlation_id(d.message);
    return d;
}

}  // namespace mimcm::detail
