// The JSON a CM server sends, through every model parser: the input is one response body. It is
// parsed as the client parses a body (byte scan, depth limit, iterative parser), then given to
// each parse_* function whole and item by item, to the data collection parsers, to
// error_details() as a JSON and as a text/plain error body, and to parse_json_string().
// A parser may only reject with ModelError; what it keeps must be sound (an unknown field's raw
// JSON parses again, an error message stays bounded).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "fuzz_input.hpp"
#include "mimcm/detail/json.hpp"
#include "mimcm/models.hpp"

namespace {

using mimcm::detail::default_max_json_depth;

void check_unknown(const mimcm::UnknownFields& fields) {
    for (const auto& field : fields) {
        mimcm::detail::ParsedJson again;
        MIMCM_FUZZ_CHECK(again.parse(field.json, default_max_json_depth).empty());
    }
}

template <class Parse>
void run(Parse parse, const rapidjson::Value& value) {
    try {
        const auto parsed = parse(value);
        if constexpr (std::is_class_v<decltype(parsed)>) {
            if constexpr (!std::is_same_v<std::decay_t<decltype(parsed)>,
                                          mimcm::DataCollectionItem>)
                check_unknown(parsed.unknown_fields);
        }
    } catch (const mimcm::ModelError& e) {
        MIMCM_FUZZ_CHECK(e.what()[0] != '\0');
    }
}

void run_all(const rapidjson::Value& value) {
    run(mimcm::parse_profile_template_view, value);
    run(mimcm::parse_workflow_policy, value);
    run(mimcm::parse_smartcard_policy, value);
    run(mimcm::parse_request, value);
    run(mimcm::parse_smartcard, value);
    run(mimcm::parse_certificate_request_generation_options, value);
    run(mimcm::parse_certificate, value);
    run(mimcm::parse_profile, value);
    run(mimcm::parse_clm_certificate, value);
    run(mimcm::detail::parse_data_item, value);
    try {
        (void)mimcm::detail::parse_data_collection(value);
    } catch (const mimcm::ModelError&) {
    }
}

void check_details(const mimcm::Error& d, int status) {
    MIMCM_FUZZ_CHECK(d.status == status);
    MIMCM_FUZZ_CHECK(d.kind == mimcm::error_kind_for_status(status));
    // Each of the two messages is cut at 1024 characters plus "...".
    MIMCM_FUZZ_CHECK(d.message.size() <= 2 * (1024 + 3) + 3);
    MIMCM_FUZZ_CHECK(d.correlation_id.empty() || d.correlation_id.size() == 36);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);

    mimcm::detail::ParsedJson parsed;
    if (parsed.parse(body, default_max_json_depth).empty()) {
        const rapidjson::Value& doc = parsed.value();
        run_all(doc);
        if (doc.IsArray()) {
            for (rapidjson::SizeType i = 0; i < doc.Size(); ++i)
                run_all(doc[i]);
        }
    }

    check_details(mimcm::detail::error_details(500, body, "application/json; charset=utf-8",
                                               default_max_json_depth),
                  500);
    check_details(mimcm::detail::error_details(404, body, "text/plain", 4), 404);

    std::string why;
    const auto text = mimcm::detail::parse_json_string(body, why, default_max_json_depth);
    MIMCM_FUZZ_CHECK(text.has_value() == why.empty());
    return 0;
}
