// How the client reads a response: the Error of a status that is not one of the operation's
// successes (one mimcm::Error), and the decoding of each kind of success body (a list, an object,
// a created URI, a secret base64 string, a proposed PIN). A body that does not fit is a protocol
// Error (limit_exceeded when it nests too deep) that never quotes it.
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
#include "mimcm/result.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::detail {

/// The Error for a response that is not one of the operation's successes: its kind follows the
/// status; a 401 keeps its WWW-Authenticate challenges; an error body nested deeper than
/// max_json_depth is limit_exceeded.
inline Error failure_error(const HttpResponse& response, std::size_t max_json_depth) {
    const std::string_view content_type = response.header("Content-Type");
    if (content_type.find("text/plain") == std::string_view::npos &&
        scan_json(response.body.reveal(), max_json_depth) == JsonScan::too_deep) {
        return Error::limit(response.status,
                            "the error body " + json_depth_message(max_json_depth));
    }
    Error error =
        error_details(response.status, response.body.reveal(), content_type, max_json_depth);
    if (error.kind == ErrorKind::unauthorized) {
        for (const auto& h : response.headers) {
            if (iequals(h.name, "WWW-Authenticate"))
                error.authenticate.push_back(h.value);
        }
    }
    return error;
}

/// The Error for a body that does not fit (`problem`, from ParsedJson::parse or
/// parse_json_string, said of `what`): limit_exceeded when the body nests deeper than
/// max_json_depth, protocol otherwise. The body is never quoted.
inline Error body_error(const HttpResponse& response, int status, std::string what,
                        const std::string& problem, std::size_t max_json_depth) {
    if (scan_json(response.body.reveal(), max_json_depth) == JsonScan::too_deep)
        return Error::limit(status, std::move(what) + " " + problem);
    return Error::protocol(status, std::move(what) + " " + problem);
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
/// the value); the Error otherwise (the body is not quoted).
inline std::optional<Error> parse_body(const HttpResponse& response, ParsedJson& json,
                                       std::size_t max_json_depth) {
    const std::string problem = json.parse(response.body.reveal(), max_json_depth);
    if (problem.empty())
        return std::nullopt;
    return body_error(response, response.status, "the body", problem, max_json_depth);
}

/// A list: 200 with an array (or one object: the API's examples show single objects where lists
/// are described), 204 as an empty list. Items are parsed in one pass.
template <class Parse>
Result<std::vector<parsed_t<Parse>>> list_result(const HttpResponse& response, Parse& parse,
                                                 std::size_t max_json_depth) {
    using Item = parsed_t<Parse>;
    if (response.status == 204)
        return std::vector<Item>{};
    ParsedJson json;
    if (auto bad = parse_body(response, json, max_json_depth))
        return std::move(*bad);
    const rapidjson::Value& doc = json.value();
    std::vector<Item> items;
    if (doc.IsArray()) {
        items.reserve(doc.Size());
        for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
            try {
                items.push_back(parse(doc[i]));
            } catch (const ModelError& e) {
                return Error::protocol(200, item_prefix(i) + e.what());
            }
        }
    } else if (doc.IsObject() || doc.IsString()) {
        // One object where a list is described (the docs show both), or one string in a list
        // of strings; parse() rejects a string where it needs an object.
        try {
            items.push_back(parse(doc));
        } catch (const ModelError& e) {
            return Error::protocol(200, e.what());
        }
    } else if (!doc.IsNull()) {
        return Error::protocol(200, std::string("expected a JSON array, got ") + type_name(doc));
    }
    return items;
}

/// One object: 200 with it (or with an array of one), 204 as an empty optional.
template <class Parse>
Result<std::optional<parsed_t<Parse>>> object_result(const HttpResponse& response, Parse& parse,
                                                     std::size_t max_json_depth) {
    if (response.status == 204)
        return std::nullopt;
    ParsedJson json;
    if (auto bad = parse_body(response, json, max_json_depth))
        return std::move(*bad);
    const rapidjson::Value& doc = json.value();
    const rapidjson::Value* value = &doc;
    if (doc.IsArray() && doc.Size() == 1)
        value = &doc[0];
    if (!value->IsObject()) {
        return Error::protocol(200,
                               std::string("expected a JSON object, got ") + type_name(*value));
    }
    try {
        return std::optional<parsed_t<Parse>>(parse(*value));
    } catch (const ModelError& e) {
        return Error::protocol(200, e.what());
    }
}

/// A POST that creates: 201 (or 200) with the new object's URI as a JSON string, 204 as an empty
/// optional.
template <class Id>
Result<std::optional<Created<Id>>> created_result(const HttpResponse& response,
                                                  std::size_t max_json_depth) {
    if (response.status == 204)
        return std::nullopt;
    std::string why;
    auto uri = parse_json_string(response.body.reveal(), why, max_json_depth);
    if (!uri)
        return body_error(response, response.status, "the new object's URI", why, max_json_depth);
    if (has_control_character(uri->reveal()))
        return Error::protocol(response.status, "the new object's URI holds a control character");
    auto id = id_from_uri<Id>(uri->reveal());
    if (!id)
        return Error::protocol(response.status, "the returned URI does not end with an id");
    return std::optional<Created<Id>>(Created<Id>{std::string(uri->reveal()), *std::move(id)});
}

/// A secret base64 JSON string (challenge response, admin key), 204 as an empty optional.
inline Result<std::optional<SecretBlob>> blob_result(const HttpResponse& response,
                                                     std::size_t max_json_depth) {
    if (response.status == 204)
        return std::nullopt;
    std::string why;
    auto text = parse_json_string(response.body.reveal(), why, max_json_depth);
    if (!text)
        return body_error(response, 200, "the value", why, max_json_depth);
    auto bytes = base64_decode(text->reveal());
    if (!bytes || bytes->empty())
        return Error::protocol(200, "the value is not base64");
    return std::optional<SecretBlob>(SecretBlob{SecretBytes(*std::move(bytes))});
}

/// The proposed PIN: 200 with it as a JSON string (leading zeros kept), 204 as NoPinProposed.
inline Result<PinProposal> proposal_result(const HttpResponse& response,
                                           std::size_t max_json_depth) {
    if (response.status == 204)
        return PinProposal(NoPinProposed{});
    std::string why;
    auto pin = parse_json_string(response.body.reveal(), why, max_json_depth);
    if (!pin)
        return body_error(response, 200, "the proposed PIN", why, max_json_depth);
    if (pin->empty())
        return Error::protocol(200, "the proposed PIN is an empty string");
    if (has_control_character(pin->reveal()))
        return Error::protocol(200, "the proposed PIN holds a control character");
    return PinProposal(PinProposed{std::move(*pin)});
}

}  // namespace mimcm::detail
