// RapidJSON helpers for response bodies. Internal to mimcm.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "mimcm/identifiers.hpp"
#include "mimcm/outcome.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::detail {

/// Parses a body that must be one JSON string ("00123456") into a SecretString. RapidJSON parses
/// in situ, in a local copy of the body that is wiped afterwards, so the decoded secret exists
/// nowhere else. Returns nullopt (and why) otherwise.
inline std::optional<SecretString> parse_json_string(std::string_view body, std::string& why) {
    std::string buffer(body);  // NUL-terminated and writable, as ParseInsitu needs
    std::optional<SecretString> out;
    {
        rapidjson::Document doc;
        doc.ParseInsitu(buffer.data());
        if (doc.HasParseError()) {
            why = std::string("body is not JSON (") +
                  rapidjson::GetParseError_En(doc.GetParseError()) + ", " +
                  std::to_string(body.size()) + " bytes)";
        } else if (!doc.IsString()) {
            why = "body is JSON but not a string";
        } else {
            out.emplace(std::string_view(doc.GetString(), doc.GetStringLength()));
        }
    }
    secure_wipe(buffer);
    return out;
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
    std::string lower;
    for (const char c : text)
        lower.push_back(ascii_lower(c));
    auto at = lower.find("correlation");
    if (at == std::string::npos)
        return {};
    for (std::size_t i = at; i + 36 <= text.size(); ++i) {
        if (auto guid = normalize_guid(text.substr(i, 36)))
            return *guid;
    }
    return {};
}

/// Reads the server's message and correlation id from an error body. ASP.NET Web API writes
/// {"Message": "...", "ExceptionMessage": "..."}; field casing varies across CM pages, so names are
/// matched case-insensitively. A correlation id is taken from a CorrelationId field or from the
/// text.
inline ErrorDetails error_details(int status, std::string_view body,
                                  std::string_view content_type) {
    ErrorDetails d;
    d.status = status;
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseStopWhenDoneFlag>(body.data(), body.size());
    if (!doc.HasParseError() && doc.IsObject()) {
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
    } else if (!doc.HasParseError() && doc.IsString()) {
        d.message = clean_message(std::string_view(doc.GetString(), doc.GetStringLength()));
    } else if (content_type.find("text/plain") != std::string_view::npos) {
        d.message = clean_message(body);
    }
    if (d.correlation_id.empty())
        d.correlation_id = find_correlation_id(d.message);
    return d;
}

}  // namespace mimcm::detail
