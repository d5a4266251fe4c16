// Every exception the SDK throws is a mimcm::Exception with a kind and the SDK function that threw,
// and its text never carries a secret.
#include <catch2/catch.hpp>

#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <rapidjson/document.h>

#include "fake_transport.hpp"
#include "mimcm/core.hpp"
#include "mimcm/pcsc/error.hpp"

using namespace mimcm;
using mimcm_test::FakeTransport;

namespace {

struct Caught {
    ExceptionKind kind;
    std::string where;
    std::string what;
};

/// What `body` threw, caught as mimcm::Exception (the test fails when it throws anything else
/// or nothing).
Caught caught(const std::function<void()>& body) {
    try {
        body();
    } catch (const Exception& e) {
        return Caught{e.kind(), e.where(), e.what()};
    } catch (const std::exception& e) {
        FAIL("not a mimcm::Exception: " << e.what());
    }
    FAIL("nothing was thrown");
    return {};
}

}  // namespace

static_assert(std::is_base_of_v<std::runtime_error, Exception>);
static_assert(std::is_base_of_v<Exception, InvalidArgument>);
static_assert(std::is_base_of_v<Exception, UsageError>);
static_assert(std::is_base_of_v<Exception, TransportSetupError>);
static_assert(std::is_base_of_v<Exception, ResultError>);
static_assert(std::is_base_of_v<Exception, ModelError>);
static_assert(std::is_base_of_v<Exception, card::DeviceError>);
static_assert(std::is_base_of_v<card::DeviceError, card::CardError>);
static_assert(std::is_base_of_v<card::DeviceError, pcsc::Error>);

TEST_CASE("invalid arguments are mimcm::Exception{invalid_argument} naming the call",
          "[exceptions]") {
    auto e = caught([] { (void)Guid::parse("not-a-guid"); });
    CHECK(e.kind == ExceptionKind::invalid_argument);
    CHECK(e.where == "Guid::parse");

    e = caught([] { (void)CmUrl::parse("ftp://cm.contoso.com"); });
    CHECK(e.kind == ExceptionKind::invalid_argument);
    CHECK(e.where == "CmUrl::parse");

    e = caught([] { (void)card::Le(0); });
    CHECK(e.kind == ExceptionKind::invalid_argument);
    CHECK(e.where == "card::Le::checked");

    e = caught([] { (void)card::ProfileResolver::by_name("nope"); });
    CHECK(e.kind == ExceptionKind::invalid_argument);
    CHECK(e.where == "card::ProfileResolver::by_name");

    // Refused before anything is sent.
    FakeTransport transport(FakeTransport::answer(201, "\"api/v1.0/requests/x\""));
    BasicClient<FakeTransport> client(CmUrl::parse("https://cm.contoso.com"), transport);
    e = caught([&] { (void)client.create_request(NewRequest{}); });
    CHECK(e.kind == ExceptionKind::invalid_argument);
    CHECK(e.where == "BasicClient::create_request");
    CHECK(transport.requests().empty());

    // A key of the wrong size: the message gives sizes, never the key.
    e = caught([] {
        (void)card::des3_cbc(SecretBytes(Bytes{0xA1, 0xB2, 0xC3, 0xD4, 0xE5}), Bytes(8, 0));
    });
    CHECK(e.kind == ExceptionKind::invalid_argument);
    CHECK(e.where == "card::des3_cbc");
    CHECK(e.what.find("a1b2") == std::string::npos);
    CHECK(e.what.find("A1B2") == std::string::npos);
}

TEST_CASE("card, PC/SC, model, result and usage failures are mimcm::Exception with their kind",
          "[exceptions]") {
    auto e = caught([] { (void)card::ResponseApdu(Bytes{0x90}); });
    CHECK(e.kind == ExceptionKind::card);
    CHECK(e.where == "card::ResponseApdu::ResponseApdu");

    e = caught([] { (void)card::tlv::parse(Bytes{0x53, 0x05, 0x01}, "the CHUID"); });
    CHECK(e.kind == ExceptionKind::card);
    CHECK(e.where == "card::tlv::parse");

    e = caught([] { pcsc::check("pcsc::Card::transmit", SCARD_E_NO_SMARTCARD, "SCardTransmit"); });
    CHECK(e.kind == ExceptionKind::pcsc);
    CHECK(e.where == "pcsc::Card::transmit");

    e = caught([] {
        rapidjson::Document doc;
        doc.Parse(R"("a string where a request belongs")");
        (void)parse_request(doc);
    });
    CHECK(e.kind == ExceptionKind::protocol);
    CHECK(e.where == "models::read_object");

    e = caught([] {
        Result<int> failed = Error::from_status(403, "Access is denied.");
        (void)failed.value();
    });
    CHECK(e.kind == ExceptionKind::result);
    CHECK(e.where == "Result::value");
    CHECK(e.what == "access denied by the CM server (HTTP 403): Access is denied.");

    e = caught([] {
        Result<int> fine = 1;
        (void)fine.error();
    });
    CHECK(e.kind == ExceptionKind::usage);
    CHECK(e.where == "Result::error");

    // Thrown only when libcurl cannot be set up, which a test machine cannot provoke.
    e = caught([] { throw TransportSetupError("CurlGlobal::CurlGlobal", "curl_global_init"); });
    CHECK(e.kind == ExceptionKind::transport);
    CHECK(e.where == "CurlGlobal::CurlGlobal");
}

TEST_CASE("ExceptionKind names are stable", "[exceptions]") {
    CHECK(to_string(ExceptionKind::invalid_argument) == "invalid_argument");
    CHECK(to_string(ExceptionKind::usage) == "usage");
    CHECK(to_string(ExceptionKind::pcsc) == "pcsc");
    CHECK(to_string(ExceptionKind::card) == "card");
    CHECK(to_string(ExceptionKind::protocol) == "protocol");
    CHECK(to_string(ExceptionKind::result) == "result");
    CHECK(to_string(ExceptionKind::transport) == "transport");
}
