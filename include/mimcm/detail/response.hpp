// How the client reads a response: the outcome of a status that is not one of the operation's
// successes, and the decoding of each kind of success body (a list, an object, a created URI, a
// secret base64 string, a proposed PIN). A body that does not fit is a ProtocolError that never
// quotes it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "mimcm/detail/json.hpp"
#include "mimcm/encoding.hpp"
#include "mimcm/http.hpp"
#include "mimcm/identifiers.hpp"
#include "mimcm/models/parse.hpp"
#include "mimcm/models/types.hpp"
#include "mimcm/outcome.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::detail {

/// The outcome for a response that is not one of the operation's successes.
template <class Result>
Result failure_outcome(const HttpResponse& response, std::size_t max_json_depth) {
    const std::string_view content_type = response.header("Content-Type");
    if (content_type.find("text/plain") == std::string_view::npos &&
        scan_json(response.body.reveal(), max_json_depth) == JsonScan::too_deep) {
        return ProtocolError{response.status,
                             "the error body " + json_depth_message(max_json_depth)};
    }
    ErrorDetails details =
        error_details(response.status, response.body.reveal(), content_type, max_json_depth);
    switch (response.status) {
        case 401: {
            Unauthorized u{std::move(details), {}};
            for (const auto& h : response.headers) {
                if (iequals(h.name, "WWW-Authenticate"))
                    u.authenticate.push_back(h.value);
            }
            return u;
        }
        case 403:
            return Forbidden{std::move(details)};
        case 404:
            return NotFound{std::move(details)};
        default:
            break;
    }
    if (response.status >= 500 && response.status <= 599)
        return ServerError{std::move(details)};
    return UnexpectedStatus{std::move(details)};
}

/// The id at the end of a returned URI: "api/v1.0/requests/{id}" or
/// "/CertificateManagement/api/v1.0/requests/{id}", possibly absolute (AD-03 in
/// docs/api-discrepancies.md).
template <class Id>
std::optional<Id> id_from_uri(std::string_view uri) {
    while (!uri.empty() && (uri.back() == '/' || uri.back() == ' '))
        uri.remove_suffix(1);
    const auto slash = uri.rfind('/');
    return Id::try_parse(slash == std::string_view::npos ? uri : uri.substr(slash + 1));
}

/// An item of a list of strings (operation names): a string, nothing else.
inline std::string string_item(const rapidjson::Value& v) {
    if (!v.IsString())
        wrong_type("a string", v);
    return as_string(v);
}

/// The item type a parser gives.
template <class Parse>
using parsed_t =
    std::decay_t<decltype(std::declval<Parse&>()(std::declval<const rapidjson::Value&>()))>;

/// Parses a JSON body (ParsedJson: in place in a wiped copy, depth limit, no NUL, nothing after
/// the value); a ProtocolError result otherwise (the body is not quoted).
template <class Result>
std::optional<Result> parse_body(const HttpResponse& response, ParsedJson& json,
                                 std::size_t max_json_depth) {
    const std::string problem = json.parse(response.body.reveal(), max_json_depth);
    if (problem.empty())
        return std::nullopt;
    return Result{ProtocolError{response.status, "the body " + problem}};
}

/// A list: 200 with an array (or one object: the API's examples show single objects where lists
/// are described), 204 as an empty list. Items are parsed in one pass.
template <class Parse>
ApiResult<std::vector<parsed_t<Parse>>> list_outcome(const HttpResponse& response, Parse& parse,
                                                     std::size_t max_json_depth) {
    using Item = parsed_t<Parse>;
    using Result = ApiResult<std::vector<Item>>;
    if (response.status == 204)
        return std::vector<Item>{};
    ParsedJson json;
    if (auto bad = parse_body<Result>(response, json, max_json_depth))
        return std::move(*bad);
    const rapidjson::Value& doc = json.value();
    std::vector<Item> items;
    if (doc.IsArray()) {
        items.reserve(doc.Size());
        for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
            try {
                items.push_back(parse(doc[i]));
            } catch (const ModelError& e) {
                return ProtocolError{200, item_prefix(i) + e.what()};
            }
        }
    } else if (doc.IsObject() || doc.IsString()) {
        // One object where a list is described (the docs show both), or one string in a list
        // of strings; parse() rejects a string where it needs an object.
        try {
            items.push_back(parse(doc));
        } catch (const ModelError& e) {
            return ProtocolError{200, e.what()};
        }
    } else if (!doc.IsNull()) {
        return ProtocolError{200, std::string("expected a JSON array, got ") + type_name(doc)};
    }
    return items;
}

/// One object: 200 with it (or with an array of one), 204 as NoContent.
template <class Parse>
ApiResult<parsed_t<Parse>, NoContent> object_outcome(const HttpResponse& response, Parse& parse,
                                                     std::size_t max_json_depth) {
    using Result = ApiResult<parsed_t<Parse>, NoContent>;
    if (response.status == 204)
        return NoContent{};
    ParsedJson json;
    if (auto bad = parse_body<Result>(response, json, max_json_depth))
        return std::move(*bad);
    const rapidjson::Value& doc = json.value();
    const rapidjson::Value* value = &doc;
    if (doc.IsArray() && doc.Size() == 1)
        value = &doc[0];
    if (!value->IsObject()) {
        return ProtocolError{200, std::string("expected a JSON object, got ") + type_name(*value)};
    }
    try {
        return parse(*value);
    } catch (const ModelError& e) {
        return ProtocolError{200, e.what()};
    }
}

/// A POST that creates: 201 (or 200) with the new object's URI as a JSON string, 204 as NoContent.
template <class Id>
ApiResult<Created<Id>, NoContent> created_outcome(const HttpResponse& response,
                                                  std::size_t max_json_depth) {
    if (response.status == 204)
        return NoContent{};
    std::string why;
    auto uri = parse_json_string(response.body.reveal(), why, max_json_depth);
    if (!uri)
        return ProtocolError{response.status, "the new object's URI " + why};
    if (has_control_character(uri->reveal()))
        return ProtocolError{response.status, "the new object's URI holds a control character"};
    auto id = id_from_uri<Id>(uri->reveal());
    if (!id)
        return ProtocolError{response.status, "the returned URI does not end with an id"};
    return Created<Id>{std::string(uri->reveal()), *std::move(id)};
}

/// A secret base64 JSON string (challenge response, admin key), 204 as NoContent.
inline ApiResult<SecretBlob, NoContent> blob_outcome(const HttpResponse& response,
                                                     std::size_t max_json_depth) {
    if (response.status == 204)
        return NoContent{};
    std::string why;
    auto text = parse_json_string(response.body.reveal(), why, max_json_depth);
    if (!text)
        return ProtocolError{200, "the value " + why};
    auto bytes = base64_decode(text->reveal());
    if (!bytes || bytes->empty())
        return ProtocolError{200, "the value is not base64"};
    return SecretBlob{SecretBytes(*std::move(bytes))};
}

/// The proposed PIN: 200 with it as a JSON string (leading zeros kept), 204 as NoPinProposed.
inline ProposedPinResult proposed_pin_outcome(const HttpResponse& response,
                                              std::size_t max_json_depth) {
    if (response.status == 204)
        return NoPinProposed{};
    std::string why;
    auto pin = parse_json_string(response.body.reveal(), why, max_json_depth);
    if (!pin)
        return ProtocolError{200, "the proposed PIN " + why};
    if (pin->empty())
        return ProtocolError{200, "the proposed PIN is an empty string"};
    if (has_control_character(pin->reveal()))
        return ProtocolError{200, "the proposed PIN holds a control character"};
    return PinProposed{std::move(*pin)};
}

}  // namespace mimcm::detail
