// Parsers of the CM REST API's objects into the models (mimcm/models/types.hpp). Parsing is lenient
// where the docs disagree with themselves: field names match whatever their casing, an integer may
// come as a number or a decimal string, a data collection as an array or a string holding one, and
// fields the model does not know are kept in unknown_fields as raw JSON text. It is strict where a
// wrong value could be taken for a right one: a known field of the wrong JSON type, a number that
// is not an integer or does not fit in 64 bits where an integer is expected, an id that is not a
// GUID, or an object that is not an object throws ModelError naming the field ("Request.Status:
// expected an integer, got a string"). The message never quotes a value.
// Threads: the parsers keep no state; parse on any thread (each JSON value read by one at a time).
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "mimcm/detail/json.hpp"
#include "mimcm/identifiers.hpp"
#include "mimcm/models/types.hpp"
#include "mimcm/secret.hpp"

namespace mimcm {

/// A JSON value that does not fit the model: thrown by the parse_* functions, reported by the
/// client as an ErrorKind::protocol error. what() names the object and field, never the value.
class ModelError : public Exception {
  public:
    /// `where` names the SDK function that threw (a string literal).
    ModelError(const char* where, const std::string& message)
        : Exception(ExceptionKind::protocol, where, message) {}
};

namespace detail {

using JsonValue = rapidjson::Value;

/// The JSON type of v, for messages ("a string").
inline const char* type_name(const JsonValue& v) noexcept {
    if (v.IsNull())
        return "null";
    if (v.IsBool())
        return "a boolean";
    if (v.IsObject())
        return "an object";
    if (v.IsArray())
        return "an array";
    if (v.IsString())
        return "a string";
    return "a number";
}

[[noreturn]] inline void wrong_type(const char* expected, const JsonValue& v) {
    throw ModelError("models::wrong_type",
                     std::string("expected ") + expected + ", got " + type_name(v));
}

inline std::string raw_json(const JsonValue& v) {
    // A wiping buffer: the text leaves no copy behind as the buffer grows.
    using Buffer = rapidjson::GenericStringBuffer<rapidjson::UTF8<>, WipingAllocator>;
    Buffer buffer;
    rapidjson::Writer<Buffer, rapidjson::UTF8<>, rapidjson::UTF8<>, WipingAllocator> writer(buffer);
    if (!v.Accept(writer))  // e.g. an infinite number, which JSON cannot hold
        throw ModelError("models::raw_json", "a value that cannot be written as JSON");
    return std::string(buffer.GetString(), buffer.GetSize());
}

/// A string field. Numbers and booleans are taken as their JSON text (the docs send some
/// fields either way); null is empty; an array or object is an error.
inline std::string as_string(const JsonValue& v) {
    if (v.IsString())
        return std::string(v.GetString(), v.GetStringLength());
    if (v.IsNull())
        return {};
    if (v.IsArray() || v.IsObject())
        wrong_type("a string", v);
    return raw_json(v);
}

/// A secret string field, as a view of the parsed text (never copied into a plain string). A
/// number or a boolean is an error here.
inline std::string_view as_secret_text(const JsonValue& v) {
    if (!v.IsString())
        wrong_type("a string", v);
    return std::string_view(v.GetString(), v.GetStringLength());
}

inline std::optional<std::string> as_optional_string(const JsonValue& v) {
    if (v.IsNull())
        return std::nullopt;
    return as_string(v);
}

/// An id field (Id is RequestId, SmartcardId...): a GUID string in either case, braces or not.
/// null, an empty string and the all-zero GUID (CM's "none") are absent; anything else is an
/// error.
template <class Id>
std::optional<Id> as_id(const JsonValue& v) {
    if (v.IsNull())
        return std::nullopt;
    if (!v.IsString())
        wrong_type("a GUID string", v);
    const std::string_view text(v.GetString(), v.GetStringLength());
    if (text.empty())
        return std::nullopt;
    auto id = Id::try_parse(text);
    if (!id)
        throw ModelError("models::as_id", "expected a GUID, got a string that is not one");
    if (id->str() == "00000000-0000-0000-0000-000000000000")
        return std::nullopt;
    return id;
}

/// An integer field: a JSON integer, an integral double within range, or a string of decimal
/// digits ("4": the docs send priority as a string). null is 0. Anything else is an error; no
/// value is ever converted with a range the target cannot hold.
inline std::int64_t as_int(const JsonValue& v) {
    if (v.IsInt64())
        return v.GetInt64();
    if (v.IsUint64())
        throw ModelError("models::as_int", "expected an integer, got a number beyond 64 bits");
    if (v.IsNumber()) {
        const double d = v.GetDouble();
        if (!std::isfinite(d) || std::trunc(d) != d)
            throw ModelError("models::as_int", "expected an integer, got a number that is not one");
        // -2^63 and 2^63 are exact doubles; int64 holds [-2^63, 2^63).
        if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
            throw ModelError("models::as_int", "expected an integer, got a number beyond 64 bits");
        return static_cast<std::int64_t>(d);
    }
    if (v.IsString()) {
        const char* first = v.GetString();
        const char* last = first + v.GetStringLength();
        std::int64_t out = 0;
        const auto [end, error] = std::from_chars(first, last, out);
        if (first == last || error != std::errc() || end != last)
            throw ModelError("models::as_int",
                             "expected an integer, got a string that is not a 64-bit integer");
        return out;
    }
    if (v.IsNull())
        return 0;
    wrong_type("an integer", v);
}

inline std::optional<std::int64_t> as_optional_int(const JsonValue& v) {
    if (v.IsNull())
        return std::nullopt;
    return as_int(v);
}

/// A boolean field: true/false, the strings "true"/"false" (any case), or an integer (non-zero
/// is true). null is false.
inline bool as_bool(const JsonValue& v) {
    if (v.IsBool())
        return v.GetBool();
    if (v.IsString()) {
        const std::string_view text(v.GetString(), v.GetStringLength());
        if (iequals(text, "true"))
            return true;
        if (iequals(text, "false"))
            return false;
        throw ModelError("models::as_bool",
                         "expected a boolean, got a string that is not true or false");
    }
    if (v.IsNull())
        return false;
    if (v.IsNumber())
        return as_int(v) != 0;
    wrong_type("a boolean", v);
}

/// Text without the base64 line breaks the server inserts every 64 characters.
inline std::string without_line_breaks(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        if (c != '\r' && c != '\n')
            out.push_back(c);
    }
    return out;
}

/// The same for a secret (a PFX), written straight into one SecretString buffer.
inline SecretString secret_without_line_breaks(std::string_view text) {
    SecretString out;
    out.reserve(text.size());
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find_first_of("\r\n", start);
        if (end == std::string_view::npos)
            end = text.size();
        out.append(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

/// "item 2: " for messages about a list's items (counted from 1).
inline std::string item_prefix(rapidjson::SizeType index) {
    return "item " + std::to_string(index + 1) + ": ";
}

/// A list of strings: an array of them, or one string as a list of one. null is empty.
inline std::vector<std::string> as_string_list(const JsonValue& v) {
    std::vector<std::string> out;
    if (v.IsNull())
        return out;
    if (v.IsString()) {
        out.push_back(as_string(v));
        return out;
    }
    if (!v.IsArray())
        wrong_type("an array of strings", v);
    out.reserve(v.Size());
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        if (!v[i].IsString())
            throw ModelError("models::as_string_list",
                             item_prefix(i) + "expected a string, got " + type_name(v[i]));
        out.push_back(as_string(v[i]));
    }
    return out;
}

/// What a field does with its value: a reference to the caller's handler (a lambda), not a copy.
/// The handlers are temporaries of the read_object() call that gets them and live until it
/// returns, so nothing is allocated or copied per field.
class FieldReader {
  public:
    template <class Handler,
              class = std::enable_if_t<!std::is_same_v<std::decay_t<Handler>, FieldReader>>>
    FieldReader(
        Handler&& handler) noexcept  // NOLINT(google-explicit-constructor): {"name", [&]...}
        : handler_(const_cast<void*>(static_cast<const void*>(std::addressof(handler)))),
          call_([](void* h, const JsonValue& value) {
              (*static_cast<std::remove_reference_t<Handler>*>(h))(value);
          }) {}

    void operator()(const JsonValue& value) const { call_(handler_, value); }

  private:
    void* handler_;
    void (*call_)(void*, const JsonValue&);
};

/// One member handler: the field's name in lower case and what to do with its value.
struct Field {
    std::string_view name;
    FieldReader read;
};

/// Reads an object (of the model `type`, for messages), matching names case-insensitively; the
/// rest go to unknown. A value a field rejects throws ModelError "Type.Field: why".
inline void read_object(const JsonValue& object, const char* type, UnknownFields& unknown,
                        std::initializer_list<Field> fields) {
    if (!object.IsObject())
        throw ModelError("models::read_object",
                         std::string(type) + ": expected an object, got " + type_name(object));
    for (rapidjson::SizeType i = 0; i < object.MemberCount(); ++i) {
        const auto member = object.MemberBegin() + i;
        const std::string_view name(member->name.GetString(), member->name.GetStringLength());
        bool known = false;
        for (const auto& field : fields) {
            if (iequals(name, field.name)) {
                // The name matched a known field, so it is safe to repeat (only its case varies).
                try {
                    field.read(member->value);
                } catch (const ModelError& e) {
                    throw ModelError("models::read_object",
                                     std::string(type) + "." + std::string(name) + ": " + e.what());
                }
                known = true;
                break;
            }
        }
        if (!known) {
            try {
                unknown.push_back({std::string(name), raw_json(member->value)});
            } catch (const ModelError& e) {
                throw ModelError("models::read_object",
                                 std::string(type) + ": an unknown field holds " + e.what());
            }
        }
    }
}

inline DataCollectionItem parse_data_item(const JsonValue& v) {
    DataCollectionItem item;
    if (v.IsString()) {
        item.name = as_string(v);
        return item;
    }
    if (!v.IsObject())
        wrong_type("an object or a string", v);
    UnknownFields other;
    read_object(v, "DataCollectionItem", other,
                {{"name", [&](const JsonValue& x) { item.name = as_string(x); }},
                 {"value", [&](const JsonValue& x) { item.value = as_optional_string(x); }},
                 {"required", [&](const JsonValue& x) { item.required = as_bool(x); }},
                 {"isrequired", [&](const JsonValue& x) { item.required = as_bool(x); }}});
    // Create-request style single-key objects {"Request Reason":"..."}
    // (docs/api-discrepancies.md AD-19).
    if (item.name.empty() && other.size() == 1) {
        item.name = other[0].name;
        // Our own writer's text: no parse error; kept as the text if it is not a string anyway.
        ParsedJson json;
        const bool parsed = json.parse(other[0].json, default_max_json_depth).empty();
        const JsonValue& value = json.value();
        item.value = (parsed && (value.IsString() || value.IsNull())) ? as_optional_string(value)
                                                                      : other[0].json;
    }
    return item;
}

/// A data collection given as an array, or as a JSON string holding an array (AD-16 in
/// docs/api-discrepancies.md). null and
/// an empty string are empty. The JSON inside a string gets the same byte scan and depth limit
/// (default_max_json_depth) as a body.
inline std::vector<DataCollectionItem> parse_data_collection(const JsonValue& v) {
    std::vector<DataCollectionItem> items;
    ParsedJson inner;
    const JsonValue* array = &v;
    if (v.IsNull())
        return items;
    if (v.IsString()) {
        const std::string_view text(v.GetString(), v.GetStringLength());
        if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
            return items;
        const std::string problem = inner.parse(text, default_max_json_depth);
        if (!problem.empty())
            throw ModelError("models::parse_data_collection", "the string " + problem);
        if (!inner.value().IsArray())
            throw ModelError("models::parse_data_collection",
                             std::string("expected a string holding an array, got one holding ") +
                                 type_name(inner.value()));
        array = &inner.value();
    }
    if (!array->IsArray())
        wrong_type("an array or a string holding one", *array);
    items.reserve(array->Size());
    for (rapidjson::SizeType i = 0; i < array->Size(); ++i) {
        try {
            items.push_back(parse_data_item((*array)[i]));
        } catch (const ModelError& e) {
            throw ModelError("models::parse_data_collection", item_prefix(i) + e.what());
        }
    }
    return items;
}

}  // namespace detail

/// Parsers from RapidJSON values. Public so that applications can parse stored responses too.
inline ProfileTemplateView parse_profile_template_view(const rapidjson::Value& v) {
    using detail::JsonValue;
    ProfileTemplateView t;
    detail::read_object(
        v, "ProfileTemplate", t.unknown_fields,
        {{"name", [&](const JsonValue& x) { t.name = detail::as_string(x); }},
         {"description", [&](const JsonValue& x) { t.description = detail::as_string(x); }},
         {"uuid", [&](const JsonValue& x) { t.uuid = detail::as_id<ProfileTemplateId>(x); }},
         {"issmartcardprofiletemplate",
          [&](const JsonValue& x) { t.is_smartcard = detail::as_bool(x); }},
         {"isvirtualsmartcardprofiletemplate",
          [&](const JsonValue& x) { t.is_virtual_smartcard = detail::as_bool(x); }}});
    return t;
}

inline WorkflowPolicy parse_workflow_policy(const rapidjson::Value& v) {
    using detail::JsonValue;
    WorkflowPolicy p;
    auto data = [&](const JsonValue& x) { p.data_collection = detail::parse_data_collection(x); };
    detail::read_object(
        v, "WorkflowPolicy", p.unknown_fields,
        {{"enabled", [&](const JsonValue& x) { p.enabled = detail::as_bool(x); }},
         {"selfserviceenabled",
          [&](const JsonValue& x) { p.self_service_enabled = detail::as_bool(x); }},
         {"collectcomments", [&](const JsonValue& x) { p.collect_comments = detail::as_bool(x); }},
         {"collectrequestpriority",
          [&](const JsonValue& x) { p.collect_request_priority = detail::as_bool(x); }},
         {"defaultrequestpriority",
          [&](const JsonValue& x) { p.default_request_priority = detail::as_optional_int(x); }},
         {"approvalsneeded",
          [&](const JsonValue& x) { p.approvals_needed = detail::as_optional_int(x); }},
         {"enrollagentrequired",
          [&](const JsonValue& x) { p.enroll_agent_required = detail::as_bool(x); }},
         {"policydatacollection", data},
         {"datacollection", data}});
    return p;
}

inline SmartcardPolicy parse_smartcard_policy(const rapidjson::Value& v) {
    using detail::JsonValue;
    SmartcardPolicy p;
    detail::read_object(v, "SmartcardPolicy", p.unknown_fields,
                        {{"defaultadminkeyhex",
                          [&](const JsonValue& x) {
                              if (x.IsString())
                                  p.default_admin_key_hex = SecretString(
                                      std::string_view(x.GetString(), x.GetStringLength()));
                              else if (!x.IsNull())
                                  detail::wrong_type("a string", x);
                          }},
                         {"diversifyadminkey",
                          [&](const JsonValue& x) { p.diversify_admin_key = detail::as_bool(x); }},
                         {"userpinoption", [&](const JsonValue& x) {
                              p.user_pin_option_text = detail::as_string(x);
                              const std::string t = detail::ascii_lower(p.user_pin_option_text);
                              if (t.find("server") != std::string::npos ||
                                  t.find("proposed") != std::string::npos || t == "1") {
                                  p.user_pin_option = UserPinOption::server_proposed;
                              } else if (t.find("user") != std::string::npos || t == "0") {
                                  p.user_pin_option = UserPinOption::user_provided;
                              }
                          }}});
    return p;
}

inline Request parse_request(const rapidjson::Value& v) {
    using detail::JsonValue;
    Request r;
    detail::read_object(
        v, "Request", r.unknown_fields,
        {{"uuid", [&](const JsonValue& x) { r.uuid = detail::as_id<RequestId>(x); }},
         {"requesttype", [&](const JsonValue& x) { r.request_type = detail::as_int(x); }},
         {"status", [&](const JsonValue& x) { r.status = detail::as_int(x); }},
         {"flags", [&](const JsonValue& x) { r.flags = detail::as_int(x); }},
         {"datacollection",
          [&](const JsonValue& x) { r.data_collection = detail::parse_data_collection(x); }},
         {"datacollectionflags",
          [&](const JsonValue& x) { r.data_collection_flags = detail::as_int(x); }},
         {"originatoruseruuid",
          [&](const JsonValue& x) { r.originator_user_uuid = detail::as_id<UserId>(x); }},
         {"targetuseruuid",
          [&](const JsonValue& x) { r.target_user_uuid = detail::as_id<UserId>(x); }},
         {"submitted", [&](const JsonValue& x) { r.submitted = detail::as_string(x); }},
         {"completed", [&](const JsonValue& x) { r.completed = detail::as_string(x); }},
         {"newprofileuuid",
          [&](const JsonValue& x) { r.new_profile_uuid = detail::as_id<ProfileId>(x); }},
         {"oldprofileuuid",
          [&](const JsonValue& x) { r.old_profile_uuid = detail::as_id<ProfileId>(x); }},
         {"newsmartcarduuid",
          [&](const JsonValue& x) { r.new_smartcard_uuid = detail::as_id<SmartcardId>(x); }},
         {"oldsmartcarduuid",
          [&](const JsonValue& x) { r.old_smartcard_uuid = detail::as_id<SmartcardId>(x); }},
         {"priority", [&](const JsonValue& x) { r.priority = detail::as_int(x); }},
         {"comment", [&](const JsonValue& x) { r.comment = detail::as_string(x); }},
         {"profiletemplateuuid",
          [&](const JsonValue& x) {
              r.profile_template_uuid = detail::as_id<ProfileTemplateId>(x);
          }},
         {"securitydescriptor",
          [&](const JsonValue& x) {
              r.security_descriptor = detail::as_string(x);
              while (!r.security_descriptor.empty() && r.security_descriptor.back() == '\0') {
                  r.security_descriptor.pop_back();
              }
          }},
         {"issmartcard", [&](const JsonValue& x) { r.is_smartcard = detail::as_bool(x); }},
         {"isenrollmentagent",
          [&](const JsonValue& x) { r.is_enrollment_agent = detail::as_bool(x); }},
         {"isdatacollectioncomplete",
          [&](const JsonValue& x) { r.is_data_collection_complete = detail::as_bool(x); }}});
    return r;
}

inline Smartcard parse_smartcard(const rapidjson::Value& v) {
    using detail::JsonValue;
    Smartcard s;
    detail::read_object(
        v, "Smartcard", s.unknown_fields,
        {{"uuid", [&](const JsonValue& x) { s.uuid = detail::as_id<SmartcardId>(x); }},
         {"status", [&](const JsonValue& x) { s.status = detail::as_int(x); }},
         {"flags", [&](const JsonValue& x) { s.flags = detail::as_int(x); }},
         {"parentsmartcarduuid",
          [&](const JsonValue& x) { s.parent_smartcard_uuid = detail::as_id<SmartcardId>(x); }},
         {"primarysmartcarduuid",
          [&](const JsonValue& x) { s.primary_smartcard_uuid = detail::as_id<SmartcardId>(x); }},
         {"permanentsmartcarduuid",
          [&](const JsonValue& x) { s.permanent_smartcard_uuid = detail::as_id<SmartcardId>(x); }},
         {"assigneduseruuid",
          [&](const JsonValue& x) { s.assigned_user_uuid = detail::as_id<UserId>(x); }},
         {"profiletemplateuuid",
          [&](const JsonValue& x) {
              s.profile_template_uuid = detail::as_id<ProfileTemplateId>(x);
          }},
         {"profiletemplateversion",
          [&](const JsonValue& x) { s.profile_template_version = detail::as_int(x); }},
         {"comment", [&](const JsonValue& x) { s.comment = detail::as_string(x); }},
         {"serialnumber", [&](const JsonValue& x) { s.serial_number = detail::as_string(x); }},
         {"middleware", [&](const JsonValue& x) { s.middleware = detail::as_string(x); }},
         {"atr", [&](const JsonValue& x) { s.atr = detail::ascii_lower(detail::as_string(x)); }}});
    return s;
}

inline CertificateRequestGenerationOptions parse_certificate_request_generation_options(
    const rapidjson::Value& v) {
    using detail::JsonValue;
    CertificateRequestGenerationOptions o;
    detail::read_object(
        v, "CertificateRequestGenerationOptions", o.unknown_fields,
        {{"subject", [&](const JsonValue& x) { o.subject = detail::as_string(x); }},
         {"keyalgorithmname",
          [&](const JsonValue& x) { o.key_algorithm_name = detail::as_string(x); }},
         {"keysize", [&](const JsonValue& x) { o.key_size = detail::as_int(x); }},
         {"friendlyname", [&](const JsonValue& x) { o.friendly_name = detail::as_string(x); }},
         {"hashalgorithmname",
          [&](const JsonValue& x) { o.hash_algorithm_name = detail::as_string(x); }},
         {"keystorageprovidernames",
          [&](const JsonValue& x) { o.key_storage_provider_names = detail::as_string_list(x); }},
         {"exportable", [&](const JsonValue& x) { o.exportable = detail::as_int(x); }},
         {"keyprotectionlevel",
          [&](const JsonValue& x) { o.key_protection_level = detail::as_int(x); }},
         {"keyusages", [&](const JsonValue& x) { o.key_usages = detail::as_int(x); }}});
    return o;
}

inline Certificate parse_certificate(const rapidjson::Value& v) {
    using detail::JsonValue;
    Certificate c;
    detail::read_object(
        v, "Certificate", c.unknown_fields,
        {{"templatecommonname",
          [&](const JsonValue& x) { c.template_common_name = detail::as_string(x); }},
         {"certificateid", [&](const JsonValue& x) { c.certificate_id = detail::as_int(x); }},
         {"flags", [&](const JsonValue& x) { c.flags = detail::as_int(x); }},
         {"uselocalmachinestore",
          [&](const JsonValue& x) { c.use_local_machine_store = detail::as_bool(x); }},
         {"error", [&](const JsonValue& x) { c.error = detail::as_optional_string(x); }},
         {"pkcs7",
          [&](const JsonValue& x) {
              if (!x.IsNull())
                  c.pkcs7 = detail::without_line_breaks(detail::as_string(x));
          }},
         {"pfx",
          [&](const JsonValue& x) {
              if (!x.IsNull())
                  c.pfx = detail::secret_without_line_breaks(detail::as_secret_text(x));
          }},
         {"isexternal", [&](const JsonValue& x) { c.is_external = detail::as_bool(x); }},
         {"isservergenerated",
          [&](const JsonValue& x) { c.is_server_generated = detail::as_bool(x); }},
         {"ispfx", [&](const JsonValue& x) { c.is_pfx = detail::as_bool(x); }},
         {"ispkcs7", [&](const JsonValue& x) { c.is_pkcs7 = detail::as_bool(x); }},
         {"iskeyhistory", [&](const JsonValue& x) { c.is_key_history = detail::as_bool(x); }}});
    return c;
}

inline Profile parse_profile(const rapidjson::Value& v) {
    using detail::JsonValue;
    Profile p;
    detail::read_object(
        v, "Profile", p.unknown_fields,
        {{"uuid", [&](const JsonValue& x) { p.uuid = detail::as_id<ProfileId>(x); }},
         {"status", [&](const JsonValue& x) { p.status = detail::as_int(x); }},
         {"flags", [&](const JsonValue& x) { p.flags = detail::as_int(x); }},
         {"parentprofileuuid",
          [&](const JsonValue& x) { p.parent_profile_uuid = detail::as_id<ProfileId>(x); }},
         {"primaryprofileuuid",
          [&](const JsonValue& x) { p.primary_profile_uuid = detail::as_id<ProfileId>(x); }},
         {"assigneduseruuid",
          [&](const JsonValue& x) { p.assigned_user_uuid = detail::as_id<UserId>(x); }},
         {"profiletemplateuuid",
          [&](const JsonValue& x) {
              p.profile_template_uuid = detail::as_id<ProfileTemplateId>(x);
          }},
         {"profiletemplateversion",
          [&](const JsonValue& x) { p.profile_template_version = detail::as_int(x); }},
         {"comment", [&](const JsonValue& x) { p.comment = detail::as_string(x); }},
         {"profileoperations",
          [&](const JsonValue& x) { p.profile_operations = detail::as_string_list(x); }}});
    return p;
}

inline ClmCertificate parse_clm_certificate(const rapidjson::Value& v) {
    using detail::JsonValue;
    ClmCertificate c;
    detail::read_object(
        v, "ClmCertificate", c.unknown_fields,
        {{"iskeyhistory", [&](const JsonValue& x) { c.is_key_history = detail::as_bool(x); }},
         {"archivedonca", [&](const JsonValue& x) { c.archived_on_ca = detail::as_bool(x); }},
         {"certificatetype", [&](const JsonValue& x) { c.certificate_type = detail::as_int(x); }},
         {"templatecommonname",
          [&](const JsonValue& x) { c.template_common_name = detail::as_string(x); }},
         {"serialnumber", [&](const JsonValue& x) { c.serial_number = detail::as_string(x); }},
         {"thumbprint", [&](const JsonValue& x) { c.thumbprint = detail::as_string(x); }},
         {"notafter", [&](const JsonValue& x) { c.not_after = detail::as_optional_string(x); }},
         {"notbefore", [&](const JsonValue& x) { c.not_before = detail::as_optional_string(x); }},
         {"issuer", [&](const JsonValue& x) { c.issuer = detail::as_optional_string(x); }},
         {"requestername",
          [&](const JsonValue& x) { c.requester_name = detail::as_optional_string(x); }},
         {"status", [&](const JsonValue& x) { c.status = detail::as_optional_int(x); }}});
    return c;
}

}  // namespace mimcm
