// Response bodies a hostile or broken server could send: nesting deep enough to exhaust the
// stack, numbers no integer can hold, values of the wrong type, bytes after the value or after a
// NUL. Each must be a typed ErrorKind::protocol error (or ModelError from the public parsers)
// naming what is wrong, never a crash, undefined behaviour or a silently defaulted value.
#include <catch2/catch.hpp>

#include <functional>
#include <limits>
#include <string>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#else
#include <thread>
#endif

#include "fake_transport.hpp"
#include "mimcm/core.hpp"
#include "results.hpp"

using namespace mimcm_test;  // NOLINT: test helpers over mimcm::Result
using namespace mimcm;
using mimcm_test::FakeTransport;

namespace {

const RequestId kRequest = RequestId::parse("a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099");
const ProfileId kProfile = ProfileId::parse("c0dd5c7d-ec35-4346-baca-3ad711e9722f");
const SmartcardId kSmartcard = SmartcardId::parse("17cf063d-e337-4aa9-a822-346554ddd3c9");

struct Fixture {
    FakeTransport transport;
    BasicClient<FakeTransport> client;
    Fixture(int status, const std::string& body, ClientOptions options = {},
            std::vector<Header> headers = {{"Content-Type", "application/json"}})
        : transport(FakeTransport::answer(status, body, std::move(headers))),
          client(CmUrl::parse("https://cm.contoso.com"), transport, std::move(options)) {}
};

/// The protocol error's message, or a description of what the result was instead.
template <class Result>
std::string protocol_error(const Result& result) {
    if (const auto* e = failed_with(result, ErrorKind::protocol))
        return e->message;
    return "not a protocol error: " + description(result);
}

/// The limit_exceeded error's message (a body nested too deep), or what the result was instead.
template <class Result>
std::string limit_error(const Result& result) {
    if (const auto* e = failed_with(result, ErrorKind::limit_exceeded))
        return e->message;
    return "not a limit_exceeded error: " + description(result);
}

/// The ModelError a parser throws for the JSON text, or "no error".
std::string model_error(const std::string& json, std::function<void(const rapidjson::Value&)> f) {
    detail::ParsedJson doc;
    const std::string problem = doc.parse(json, 64);
    if (!problem.empty())
        return "parse: " + problem;
    try {
        f(doc.value());
    } catch (const ModelError& e) {
        return e.what();
    }
    return "no error";
}

std::string request_error(const std::string& json) {
    return model_error(json, [](const rapidjson::Value& v) { (void)parse_request(v); });
}

CardData docs_card() {
    return CardData{Atr::from_hex("3b8d0180fba000000397425446590301c8"),
                    CardId::from_guid("bc88f13f-83ba-4037-8262-46eba1291c6e"),
                    Challenge::from_base64("1hFD+cz/0so=")};
}

std::string proposed_pin_error(const std::string& body) {
    Fixture f(200, body);
    return protocol_error(f.client.server_proposed_pin(kSmartcard, docs_card()));
}

std::string proposed_pin_limit(const std::string& body) {
    Fixture f(200, body);
    return limit_error(f.client.server_proposed_pin(kSmartcard, docs_card()));
}

/// Runs work on a thread with a 256 KiB stack (Linux: pthread_attr_setstacksize), so that
/// recursion over a deeply nested body would crash the test instead of passing unnoticed.
void on_small_stack(const std::function<void()>& work) {
#if defined(__linux__)
    pthread_attr_t attributes;
    REQUIRE(pthread_attr_init(&attributes) == 0);
    REQUIRE(pthread_attr_setstacksize(&attributes, 256 * 1024) == 0);
    pthread_t thread;
    auto run = [](void* arg) -> void* {
        (*static_cast<const std::function<void()>*>(arg))();
        return nullptr;
    };
    REQUIRE(pthread_create(&thread, &attributes, run, const_cast<std::function<void()>*>(&work)) ==
            0);
    REQUIRE(pthread_join(thread, nullptr) == 0);
    pthread_attr_destroy(&attributes);
#else
    std::thread thread(work);
    thread.join();
#endif
}

constexpr std::size_t kDeep = 1000000;

}  // namespace

TEST_CASE("the byte scan counts nesting outside strings and finds NUL bytes", "[json]") {
    using detail::JsonScan;
    using detail::scan_json;
    CHECK(scan_json(R"([[{"a":[]}]])", 4) == JsonScan::ok);
    CHECK(scan_json(R"([[{"a":[]}]])", 3) == JsonScan::too_deep);
    CHECK(scan_json(R"([[{"a":[[]]}]])", 3) == JsonScan::too_deep);
    CHECK(scan_json(R"(["[[[[[[", "{{{{{{{"])", 1) == JsonScan::ok);
    CHECK(scan_json(R"(["\"[[[[", "\\", [[]]])", 2) == JsonScan::too_deep);
    CHECK(scan_json(R"(["\"[[[[", "\\", []])", 2) == JsonScan::ok);
    CHECK(scan_json(std::string("\"1234\"\0junk", 11), 64) == JsonScan::nul_byte);
    CHECK(scan_json(std::string(kDeep, '['), 64) == JsonScan::too_deep);
    // Strings that end the text, or end in an escape, hide nothing and overrun nothing.
    CHECK(scan_json(R"(["abc[[[[)", 1) == JsonScan::ok);
    CHECK(scan_json("[\"ab\\", 1) == JsonScan::ok);
    CHECK(scan_json(R"(["\\\"[", [[]]])", 2) == JsonScan::too_deep);
    // A NUL byte is found wherever it is, also after nesting beyond the limit.
    CHECK(scan_json(std::string(100, '[') + '\0', 64) == JsonScan::nul_byte);
}

TEST_CASE("network JSON: trailing bytes, NUL, infinite numbers are rejected", "[json]") {
    detail::ParsedJson doc;
    CHECK(doc.parse(R"({"a":1})", 64).empty());
    CHECK(doc.parse(" {\"a\":1} \r\n", 64).empty());
    CHECK(doc.parse(R"({"a":1} junk)", 64).find("is not JSON") != std::string::npos);
    CHECK(doc.parse(R"({"a":1}{})", 64).find("is not JSON") != std::string::npos);
    CHECK(doc.parse(std::string("{\"a\":1}\0junk", 12), 64) == "holds a NUL byte");
    CHECK(doc.parse("NaN", 64).find("is not JSON") != std::string::npos);
    CHECK(doc.parse("[Infinity]", 64).find("is not JSON") != std::string::npos);
    // RapidJSON makes 1.8e308 infinity (and Writer then stops half way); 1e400 it rejects.
    CHECK(doc.parse("[1,1.8e308]", 64) == "holds a number beyond the range of a double");
    CHECK(doc.parse(R"({"a":{"b":[-1.8e308]}})", 64) ==
          "holds a number beyond the range of a double");
    CHECK(doc.parse("[1,1e400]", 64).find("is not JSON") == 0);
    CHECK(doc.parse("[1.7976931348623157e308]", 64).empty());
    CHECK(doc.parse(std::string(65, '[') + std::string(65, ']'), 64) ==
          "nests arrays or objects deeper than the JSON depth limit (64)");
    CHECK(doc.parse(std::string(64, '[') + std::string(64, ']'), 64).empty());
}

TEST_CASE("network JSON: an infinite number is found wherever it is", "[json]") {
    detail::ParsedJson doc;
    const std::string beyond = "holds a number beyond the range of a double";
    CHECK(doc.parse("1.8e308", 64) == beyond);
    CHECK(doc.parse("[[],{},[[1.8e308]]]", 64) == beyond);
    CHECK(doc.parse(R"([{"x":[1,2,{"y":-1.8e308}]},3])", 64) == beyond);
    CHECK(doc.parse(R"({"a":[],"b":{},"c":[1,{"d":2}],"e":1.8e308})", 64) == beyond);
    CHECK(doc.parse(R"({"a":[],"b":{},"c":[1,{"d":2}],"e":1.5})", 64).empty());
    // Deeper than the walker's first frames, and wider than any frame count.
    CHECK(doc.parse(std::string(200, '[') + "1.8e308" + std::string(200, ']'), 300) == beyond);
    CHECK(doc.parse(std::string(200, '[') + "1" + std::string(200, ']'), 300).empty());
    std::string wide = "[";
    for (int i = 0; i < 5000; ++i)
        wide += "[1.5],";
    CHECK(doc.parse(wide + "1]", 64).empty());
    CHECK(doc.parse(wide + "[[1.8e308]]]", 64) == beyond);
}

TEST_CASE("integers: range-checked, integral, no silent defaults", "[json]") {
    CHECK(request_error(R"({"Status": 1e300})") ==
          "Request.Status: expected an integer, got a number beyond 64 bits");
    CHECK(request_error(R"({"Status": -1e300})") ==
          "Request.Status: expected an integer, got a number beyond 64 bits");
    CHECK(request_error(R"({"Status": 9223372036854775808})") ==
          "Request.Status: expected an integer, got a number beyond 64 bits");
    CHECK(request_error(R"({"Status": 9.3e18})") ==
          "Request.Status: expected an integer, got a number beyond 64 bits");
    CHECK(request_error(R"({"Status": 2.5})") ==
          "Request.Status: expected an integer, got a number that is not one");
    CHECK(request_error(R"({"Status": "abc"})") ==
          "Request.Status: expected an integer, got a string that is not a 64-bit integer");
    CHECK(request_error(R"({"status": "4x"})") ==
          "Request.status: expected an integer, got a string that is not a 64-bit integer");
    CHECK(request_error(R"({"Priority": "99999999999999999999"})") ==
          "Request.Priority: expected an integer, got a string that is not a 64-bit integer");
    CHECK(request_error(R"({"Status": true})") ==
          "Request.Status: expected an integer, got a boolean");
    CHECK(request_error(R"({"Status": [3]})") ==
          "Request.Status: expected an integer, got an array");
    CHECK(request_error(R"({"Uuid": {"a": 1}})") ==
          "Request.Uuid: expected a GUID string, got an object");
    CHECK(request_error(R"({"IsSmartcard": "yes"})") ==
          "Request.IsSmartcard: expected a boolean, got a string that is not true or false");
    CHECK(request_error(R"({"DataCollection": 7})") ==
          "Request.DataCollection: expected an array or a string holding one, got a number");
    CHECK(request_error(R"({"DataCollection": [1]})") ==
          "Request.DataCollection: item 1: expected an object or a string, got a number");
    CHECK(request_error(R"({"DataCollection": "[1"})")
              .find("Request.DataCollection: the "
                    "string is not JSON") == 0);
    CHECK(request_error(R"({"DataCollection": "{}"})") ==
          "Request.DataCollection: expected a string holding an array, got one holding an "
          "object");
    CHECK(request_error(R"([])") == "Request: expected an object, got an array");
    CHECK(model_error(R"({"KeyStorageProviderNames": [1]})",
                      [](const rapidjson::Value& v) {
                          (void)parse_certificate_request_generation_options(v);
                      }) ==
          "CertificateRequestGenerationOptions.KeyStorageProviderNames: item 1: "
          "expected a string, got a number");
    CHECK(model_error(R"({"DefaultAdminKeyHex": 5})", [](const rapidjson::Value& v) {
              (void)parse_smartcard_policy(v);
          }) == "SmartcardPolicy.DefaultAdminKeyHex: expected a string, got a number");

    // The extremes that do fit, and the docs' leniency.
    detail::ParsedJson doc;
    REQUIRE(doc.parse(
                   R"({"status": -9223372036854775808, "FLAGS": 9223372036854775807,
                    "priority": "4", "RequestType": 2.0, "isSmartCard": "TRUE",
                    "DataCollection": "[{\"Name\":\"Request Reason\",\"Value\":null}]",
                    "Extra": {"x": [1, 2.5, "y"]}})",
                   64)
                .empty());
    const Request r = parse_request(doc.value());
    CHECK(r.status == std::numeric_limits<std::int64_t>::min());
    CHECK(r.flags == std::numeric_limits<std::int64_t>::max());
    CHECK(r.priority == 4);
    CHECK(r.request_type == 2);
    CHECK(r.is_smartcard);
    REQUIRE(r.data_collection.size() == 1);
    CHECK(r.data_collection[0].name == "Request Reason");
    REQUIRE(r.unknown_fields.size() == 1);
    CHECK(r.unknown_fields[0].name == "Extra");
    CHECK(r.unknown_fields[0].json == R"({"x":[1,2.5,"y"]})");
}

TEST_CASE("operations: a body of the wrong shape names what is wrong", "[json]") {
    CHECK(protocol_error(Fixture(200, "\"oops\"").client.list_requests()) ==
          "Request: expected an object, got a string");
    CHECK(protocol_error(Fixture(200, "[1,2,3]").client.list_requests()) ==
          "item 1: Request: expected an object, got a number");
    CHECK(
        protocol_error(Fixture(200, R"([{"Status":1},{"Status":"abc"}])").client.list_requests()) ==
        "item 2: Request.Status: expected an integer, got a string that is not a 64-bit "
        "integer");
    CHECK(protocol_error(Fixture(200, "42").client.list_requests()) ==
          "expected a JSON array, got a number");
    CHECK(protocol_error(Fixture(200, R"({"Status": 1e300})").client.get_request(kRequest)) ==
          "Request.Status: expected an integer, got a number beyond 64 bits");
    CHECK(protocol_error(Fixture(200, "[1]").client.get_request(kRequest)) ==
          "expected a JSON object, got a number");
    CHECK(protocol_error(
              Fixture(200, R"(["a", {"x": 1}])").client.get_profile_operations(kProfile)) ==
          "item 2: expected a string, got an object");
    CHECK(protocol_error(Fixture(200, R"({"Status": 1} junk)").client.get_request(kRequest))
              .find("the body is not JSON") == 0);
    CHECK(protocol_error(Fixture(200, std::string("{\"Status\": 1}\0junk", 18))
                             .client.get_request(kRequest)) == "the body holds a NUL byte");
    CHECK(protocol_error(
              Fixture(200, R"({"Status":1,"Other":[1,1.8e308]})").client.get_request(kRequest)) ==
          "the body holds a number beyond the range of a double");

    // Still accepted: one object where a list is described, and the request example.
    const auto one =
        Fixture(200, R"({"uuid":"A9B4B42C-CC50-4C9B-89D1-BBC0BCD5A099"})").client.list_requests();
    REQUIRE(one.ok());
    REQUIRE(one->size() == 1);
    CHECK(one.value()[0].uuid == kRequest);
}

TEST_CASE("models: an id field that is not a GUID is a protocol error naming the field", "[json]") {
    CHECK(protocol_error(Fixture(200, R"({"Uuid":"not-a-guid"})").client.get_request(kRequest)) ==
          "Request.Uuid: expected a GUID, got a string that is not one");
    CHECK(protocol_error(Fixture(200, R"({"TargetUserUuid":42})").client.get_request(kRequest)) ==
          "Request.TargetUserUuid: expected a GUID string, got a number");
    CHECK(protocol_error(
              Fixture(200, R"({"NewSmartcardUuid":["17cf063d-e337-4aa9-a822-346554ddd3c9"]})")
                  .client.get_request(kRequest)) ==
          "Request.NewSmartcardUuid: expected a GUID string, got an array");
    CHECK(protocol_error(Fixture(200, R"({"AssignedUserUuid":"8f1590dc-d932-4b66-8e68"})")
                             .client.get_smartcard(kSmartcard)) ==
          "Smartcard.AssignedUserUuid: expected a GUID, got a string that is not one");
    CHECK(protocol_error(
              Fixture(200, R"([{"ProfileTemplateUuid":"x"}])").client.get_profile(kProfile)) ==
          "item 1: Profile.ProfileTemplateUuid: expected a GUID, got a string that is not one");
    CHECK(protocol_error(
              Fixture(200, R"([{"Name":"T","Uuid":"{}"}])").client.list_profile_templates()) ==
          "item 1: ProfileTemplate.Uuid: expected a GUID, got a string that is not one");
    // The message names the field, never the value.
    CHECK(protocol_error(
              Fixture(200, R"({"Uuid":"SECRET-LOOKING-VALUE"})").client.get_request(kRequest))
              .find("SECRET") == std::string::npos);
}

TEST_CASE("models: null, an empty string and the all-zero GUID are an absent id", "[json]") {
    const auto result = Fixture(200, R"({"Uuid":"{A9B4B42C-CC50-4C9B-89D1-BBC0BCD5A099}",
        "OriginatorUserUuid":null,"TargetUserUuid":"",
        "NewSmartcardUuid":"00000000-0000-0000-0000-000000000000",
        "OldSmartcardUuid":"{00000000-0000-0000-0000-000000000000}",
        "ProfileTemplateUuid":"A039B4D0-5CE8-4EFF-8651-181C6576FDA3"})")
                            .client.get_request(kRequest);
    REQUIRE(object_of(result) != nullptr);
    const auto& r = *object_of(result);
    CHECK(r.uuid == kRequest);  // braces and case removed
    CHECK_FALSE(r.originator_user_uuid.has_value());
    CHECK_FALSE(r.target_user_uuid.has_value());
    CHECK_FALSE(r.new_smartcard_uuid.has_value());
    CHECK_FALSE(r.old_smartcard_uuid.has_value());
    REQUIRE(r.profile_template_uuid.has_value());
    CHECK(r.profile_template_uuid->str() == "a039b4d0-5ce8-4eff-8651-181c6576fda3");
    CHECK_FALSE(r.new_profile_uuid.has_value());  // left out
}

TEST_CASE("the proposed PIN: no NUL, no control character, nothing after it", "[json]") {
    CHECK(proposed_pin_error(std::string("\"1234\"\0junk", 11)) ==
          "the proposed PIN holds a NUL byte");
    CHECK(proposed_pin_error(R"("\u0000")") == "the proposed PIN holds a control character");
    CHECK(proposed_pin_error(R"("12\u001f34")") == "the proposed PIN holds a control character");
    CHECK(proposed_pin_error(R"("1234\u007f")") == "the proposed PIN holds a control character");
    CHECK(proposed_pin_error(R"("1234" "5678")").find("the proposed PIN body is not JSON") == 0);
    CHECK(proposed_pin_limit(std::string(kDeep, '[')) ==
          "the proposed PIN nests arrays or objects deeper than the JSON depth limit (64)");
    Fixture fine(200, R"("00123456")");
    const auto pin = fine.client.server_proposed_pin(kSmartcard, docs_card());
    REQUIRE(pin_proposed(pin));
}

TEST_CASE("max_json_depth is the client's option", "[json]") {
    ClientOptions shallow;
    shallow.max_json_depth = 2;
    const std::string body = R"({"Uuid":"a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099","X":[[1]]})";
    CHECK(limit_error(Fixture(200, body, shallow).client.get_request(kRequest)) ==
          "the body nests arrays or objects deeper than the JSON depth limit (2)");
    CHECK(object_of(Fixture(200, body).client.get_request(kRequest)) != nullptr);
    // Error bodies too; but plain text is not JSON, whatever brackets it holds.
    CHECK(limit_error(
              Fixture(500, R"({"Message":[[["x"]]]})", shallow).client.get_request(kRequest)) ==
          "the error body nests arrays or objects deeper than the JSON depth limit (2)");
    const auto text = Fixture(500, "[[[[ failed ]]]]", shallow, {{"Content-Type", "text/plain"}})
                          .client.get_request(kRequest);
    REQUIRE(fails_with(text, ErrorKind::server_error));
    CHECK(text.error().message == "[[[[ failed ]]]]");
}

TEST_CASE("a million nested brackets on a 256 KiB stack are a typed error", "[json]") {
    const std::string deep(kDeep, '[');
    const std::string deep_in_string =
        R"({"Uuid":"a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099","DataCollection":")" + deep + "\"}";
    std::string ok_body, error_body, string_body, templates_body, direct;
    on_small_stack([&] {
        ok_body = limit_error(Fixture(200, deep).client.list_requests());
        templates_body = limit_error(Fixture(200, "[" + deep).client.list_profile_templates());
        error_body = limit_error(Fixture(500, deep).client.get_request(kRequest));
        string_body = protocol_error(Fixture(200, deep_in_string).client.get_request(kRequest));
        direct = request_error(deep_in_string);
    });
    const std::string limit = "nests arrays or objects deeper than the JSON depth limit (64)";
    CHECK(ok_body == "the body " + limit);
    CHECK(templates_body == "the body " + limit);
    CHECK(error_body == "the error body " + limit);
    CHECK(string_body == "Request.DataCollection: the string " + limit);
    CHECK(direct == "Request.DataCollection: the string " + limit);
}

TEST_CASE("an unknown field the writer cannot write back is an error, not a fragment", "[json]") {
    // A value built by an application (not parsed from the network) holding infinity.
    rapidjson::Document doc(rapidjson::kObjectType);
    rapidjson::Value list(rapidjson::kArrayType);
    list.PushBack(1, doc.GetAllocator());
    list.PushBack(std::numeric_limits<double>::infinity(), doc.GetAllocator());
    doc.AddMember("Other", list, doc.GetAllocator());
    std::string error = "no error";
    try {
        (void)parse_request(doc);
    } catch (const ModelError& e) {
        error = e.what();
    }
    CHECK(error == "Request: an unknown field holds a value that cannot be written as JSON");
}
