// Every CM REST operation with a fake transport: the request line and body as the docs specify,
// and the example responses of the CM REST API documentation as parsing vectors.
#include <catch2/catch.hpp>

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fake_transport.hpp"
#include "mimcm/core.hpp"
#include "results_require.hpp"

using namespace mimcm_test;  // NOLINT: test helpers over mimcm::Result
using namespace mimcm;
using mimcm_test::FakeTransport;

namespace {

const std::string kBase = "https://cm.contoso.com/CertificateManagement/api/v1.0/";
const RequestId kRequest = RequestId::parse("a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099");
const SmartcardId kSmartcard = SmartcardId::parse("17cf063d-e337-4aa9-a822-346554ddd3c9");
const ProfileTemplateId kTemplate =
    ProfileTemplateId::parse("a039b4d0-5ce8-4eff-8651-181c6576fda3");
const CardId kCard = CardId::from_guid("bc88f13f-83ba-4037-8262-46eba1291c6e");

/// A client whose transport answers `status` and `body`, plus the record of what it sent.
struct Fixture {
    FakeTransport transport;
    BasicClient<FakeTransport> client;
    Fixture(int status, const std::string& body)
        : transport(FakeTransport::answer(status, body)),
          client(CmUrl::parse("https://cm.contoso.com"), transport) {}
    const mimcm_test::RecordedRequest& sent() const {
        REQUIRE(transport.requests().size() == 1);
        return transport.requests()[0];
    }
    std::string content_type() const {
        for (const auto& h : sent().headers) {
            if (h.name == "Content-Type")
                return h.value;
        }
        return {};
    }
};

// The docs' examples, verbatim apart from line breaks.
const char* const kTemplates =
    R"([ {"Name":"FIM CM Sample Profile Template","Description":"Description of the template goes here",
   "Uuid":"12bd5120-86a2-4ee1-8d05-131066871578","IsSmartcardProfileTemplate":false,"IsVirtualSmartcardProfileTemplate":false},
  {"Name":"FIM CM Sample Smart Card Logon Profile Template","Description":"Description of the template goes here",
   "Uuid":"2b7044cf-aa96-4911-b886-177947e9271b","IsSmartcardProfileTemplate":true,"IsVirtualSmartcardProfileTemplate":false} ])";

const char* const kRequestExample =
    R"({"Uuid":"a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099","RequestType":1,"Status":3,"Flags":2,"DataCollection":[],
 "DataCollectionFlags":32,"OriginatorUserUuid":"8f1590dc-d932-4b66-8e68-2e91c5880780",
 "TargetUserUuid":"8f1590dc-d932-4b66-8e68-2e91c5880780","Submitted":"2015-07-07T23:36:21.93Z","Completed":"0001-01-01T00:00:00",
 "NewProfileUuid":"00000000-0000-0000-0000-000000000000","OldProfileUuid":"00000000-0000-0000-0000-000000000000",
 "NewSmartcardUuid":"00000000-0000-0000-0000-000000000000","OldSmartcardUuid":"00000000-0000-0000-0000-000000000000",
 "Priority":0,"Comment":"","ProfileTemplateUuid":"a039b4d0-5ce8-4eff-8651-181c6576fda3",
 "SecurityDescriptor":"O:S-1-5-21-1-14134865D:(A;;RC;;;WD)\u0000\u0000\u0000",
 "IsSmartcard":true,"IsEnrollmentAgent":false,"IsDataCollectionComplete":false})";

const char* const kUnblockRequestExample =
    R"({"Uuid":"0c96d73f-967b-420e-854a-43ad2a1504bc","RequestType":5,"Status":3,"Flags":2,
 "DataCollection":[{"Name":"Sample Data Item","Value":null}],"DataCollectionFlags":32,
 "Submitted":"2015-07-07T23:40:33.133Z","NewProfileUuid":"b99ff38c-6653-471f-ae3c-325bb351a6bc",
 "NewSmartcardUuid":"17cf063d-e337-4aa9-a822-346554ddd3c9","OldSmartcardUuid":"17cf063d-e337-4aa9-a822-346554ddd3c9"})";

const char* const kSmartcardExample =
    R"({"Uuid":"438d1b30-f3b4-4bed-85fa-285e08605ba7","Status":3,"Flags":1,
 "ParentSmartcardUuid":"00000000-0000-0000-0000-000000000000","PrimarySmartcardUuid":"00000000-0000-0000-0000-000000000000",
 "PermanentSmartcardUuid":"00000000-0000-0000-0000-000000000000","AssignedUserUuid":"8f1590dc-d932-4b66-8e68-2e91c5880780",
 "ProfileTemplateUuid":"a039b4d0-5ce8-4eff-8651-181c6576fda3","ProfileTemplateVersion":46,"Comment":"",
 "SerialNumber":"{d1ef6869-5517-42a0-8f05-16ca1a0b834d}","Middleware":"MSBaseCSP","Atr":"3b8d0180fba000000397425446590301c8"})";

const char* const kGenerationOptions =
    R"([{"Subject":"","KeyAlgorithmName":"RSA","KeySize":2048,"FriendlyName":"","HashAlgorithmName":"SHA1",
  "KeyStorageProviderNames":["Contoso Smart Card Key Storage Provider"],"Exportable":0,"KeyProtectionLevel":0,"KeyUsages":3}])";

const char* const kCertificates =
    R"([{"TemplateCommonName":"ContosoVirtualSmartCardLimitedRelease-KSP","CertificateId":0,"Flags":65536,
        "UseLocalMachineStore":false,"Error":null,"Pkcs7":"MIIUhgYJKoZIhvcNAQcCoIIUdzCC\r\nAAAA","Pfx":null,
        "IsExternal":false,"isServerGenerated":false,"isPfx":false,"isPkcs7":true,"isKeyHistory":false}])";

const char* const kProfiles =
    R"([{"Uuid":"c0dd5c7d-ec35-4346-baca-3ad711e9722f","Status":2,"Flags":1,"ParentProfileUuid":"1c9e2606-fea2-4048-a6ac-b014e54c22df",
  "PrimaryProfileUuid":"00000000-0000-0000-0000-000000000000","AssignedUserUuid":"0378a33b-8650-4713-a727-efd233903643",
  "ProfileTemplateUuid":"8f31803f-8afc-49bb-911d-402ec264b589","ProfileTemplateVersion":8,"Comment":"",
  "ProfileOperations":["renew","disable","recover"]}])";

const char* const kShortCertificates =
    R"([{"IsKeyHistory":false,"ArchivedOnCa":false,"CertificateType":1,"TemplateCommonName":"ContosoVirtualSmartCardLimitedRelease-KSP",
  "SerialNumber":"1B0000B01052AFA01313FB77AC00010000B010","Thumbprint":"C52B0C5FB8AAD31A5B239FF2712ED14122D67D30"}])";

const char* const kUserCertificates =
    R"([{"IsKeyHistory":false,"ArchivedOnCa":false,"CertificateType":1,"TemplateCommonName":"KSPusercertificate",
  "SerialNumber":"270000013C3A98764EC3233BE400000000013C","Thumbprint":"09B41AC106F0C40168940DF4AB74D6DB39DE55EE",
  "NotAfter":"2016-07-13T09:10:31","NotBefore":"2015-07-14T09:10:31",
  "Issuer":"WIN-TRUR24L4CFS.corp.cmteam.com\\corp-WIN-TRUR24L4CFS-CA","RequesterName":"CORP\\Administrator","Status":0}])";

}  // namespace

TEST_CASE("1 list profile templates: docs example", "[operations]") {
    Fixture f(200, kTemplates);
    const auto& list = ok<std::vector<ProfileTemplateView>>(f.client.list_profile_templates());
    CHECK(f.sent().method == "GET");
    CHECK(f.sent().url == kBase + "profiletemplates");
    REQUIRE(list.size() == 2);
    CHECK(list[0].name == "FIM CM Sample Profile Template");
    CHECK(list[0].uuid == ProfileTemplateId::parse("12bd5120-86a2-4ee1-8d05-131066871578"));
    CHECK_FALSE(list[0].is_smartcard);
    CHECK(list[1].is_smartcard);
    CHECK_FALSE(list[1].is_virtual_smartcard);
    CHECK(list[1].unknown_fields.empty());
}

TEST_CASE("1 list profile templates: 204 is an empty list, targetuser travels", "[operations]") {
    Fixture f(204, "");
    CHECK(
        ok<std::vector<ProfileTemplateView>>(f.client.list_profile_templates(TargetUser::current()))
            .empty());
    CHECK(f.sent().url == kBase + "profiletemplates?targetuser=current");
}

TEST_CASE("2 workflow policy: policies/{type}, fields in any casing, unknown fields kept",
          "[operations]") {
    Fixture f(
        200,
        R"({"Enabled":true,"collectComments":false,"DataCollection":[{"Name":"Request Reason"}],
                      "ApprovalsNeeded":0,"Personalization":{"x":1}})");
    const auto& p =
        ok<WorkflowPolicy>(f.client.get_workflow_policy(kTemplate, WorkflowType::enroll));
    CHECK(f.sent().url ==
          kBase + "profiletemplates/a039b4d0-5ce8-4eff-8651-181c6576fda3/policies/enroll");
    CHECK(p.enabled == true);
    CHECK(p.collect_comments == false);
    REQUIRE(p.data_collection.size() == 1);
    CHECK(p.data_collection[0].name == "Request Reason");
    REQUIRE(p.unknown_fields.size() == 1);
    CHECK(p.unknown_fields[0].name == "Personalization");
    CHECK(p.unknown_fields[0].json == R"({"x":1})");
}

TEST_CASE("3 smart card policy: configuration/smartcards and the admin key is a secret",
          "[operations]") {
    Fixture f(200, R"({"DefaultAdminKeyHex":"000000000000000000000000000000000000000000000000",
                      "diversifyadminkey":true,"UserPinOption":"ServerProposed"})");
    const auto& p = ok<SmartcardPolicy>(f.client.get_smartcard_policy(kTemplate));
    CHECK(f.sent().url ==
          kBase + "profiletemplates/a039b4d0-5ce8-4eff-8651-181c6576fda3/configuration/smartcards");
    CHECK(p.default_admin_key_hex.reveal() == std::string(48, '0'));
    CHECK(p.diversify_admin_key);
    CHECK(p.user_pin_option == UserPinOption::server_proposed);
}

TEST_CASE("4 create request: body as the docs send it and the URI with or without prefix",
          "[operations]") {
    for (const char* uri :
         {R"("api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099")",
          R"("/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099")"}) {
        CAPTURE(uri);
        Fixture f(201, uri);
        NewRequest request;
        request.profile_template = kTemplate;
        request.data_collection = {{"Request Reason", "Need VPN Certs"}};
        const auto& created = ok<Created<RequestId>>(f.client.create_request(request));
        CHECK(created.id == kRequest);
        CHECK(f.sent().method == "POST");
        CHECK(f.sent().url == kBase + "requests");
        CHECK(f.content_type() == "application/json");
        CHECK(f.sent().body ==
              R"({"datacollection":"[{\"Request Reason\":\"Need VPN Certs\"}]","type":"Enroll",)"
              R"("profiletemplateuuid":"a039b4d0-5ce8-4eff-8651-181c6576fda3","comment":""})");
    }
}

TEST_CASE("4 create request: an Unblock names the card and no template and no card is refused",
          "[operations]") {
    Fixture f(201, R"("api/v1.0/requests/0c96d73f-967b-420e-854a-43ad2a1504bc")");
    NewRequest unblock;
    unblock.type = RequestType::unblock;
    unblock.smartcard = kSmartcard;
    ok<Created<RequestId>>(f.client.create_request(unblock));
    CHECK(
        f.sent().body ==
        R"({"datacollection":"[]","type":"Unblock","smartcard":"17cf063d-e337-4aa9-a822-346554ddd3c9","comment":""})");
    Fixture g(201, "");
    CHECK_THROWS_AS(g.client.create_request(NewRequest{}), InvalidArgument);
    CHECK(g.transport.requests().empty());
}

TEST_CASE("Request::status numbers: the ones the examples show have names", "[operations]") {
    CHECK(mimcm::request_status_from_number(3) == RequestStatus::approved);
    CHECK(mimcm::request_status_from_number(8) == RequestStatus::completed);
    CHECK(mimcm::request_status_name(mimcm::request_status::approved) == "Approved");
    CHECK(mimcm::request_status_name(mimcm::request_status::completed) == "Completed");
    for (const std::int64_t n :
         {std::int64_t{-1}, std::int64_t{0}, std::int64_t{1}, std::int64_t{2}, std::int64_t{4},
          std::int64_t{7}, std::int64_t{9}}) {
        CHECK_FALSE(mimcm::request_status_from_number(n));
        CHECK(mimcm::request_status_name(n).empty());
    }
}

TEST_CASE("5, 6 list and get requests: docs examples", "[operations]") {
    Fixture one(200, kRequestExample);
    const auto& r = ok<Request>(one.client.get_request(kRequest));
    CHECK(one.sent().url == kBase + "requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099");
    CHECK(r.uuid == kRequest);
    CHECK(r.originator_user_uuid == UserId::parse("8f1590dc-d932-4b66-8e68-2e91c5880780"));
    CHECK(r.target_user_uuid == r.originator_user_uuid);
    CHECK(r.profile_template_uuid == kTemplate);
    CHECK(r.request_type == 1);
    CHECK(r.status == mimcm::request_status::approved);
    CHECK(mimcm::request_status_name(r.status) == "Approved");
    CHECK(r.data_collection_flags == 32);
    CHECK(r.submitted == "2015-07-07T23:36:21.93Z");
    CHECK(r.completed == "0001-01-01T00:00:00");
    // CM's all-zero GUID means "none".
    CHECK_FALSE(r.new_smartcard_uuid.has_value());
    CHECK_FALSE(r.old_smartcard_uuid.has_value());
    CHECK_FALSE(r.new_profile_uuid.has_value());
    CHECK(r.security_descriptor == "O:S-1-5-21-1-14134865D:(A;;RC;;;WD)");
    CHECK(r.is_smartcard);
    CHECK(r.unknown_fields.empty());

    Fixture unblock(200, kUnblockRequestExample);
    const auto& u = ok<Request>(unblock.client.get_request(kRequest));
    CHECK(u.request_type == 5);
    REQUIRE(u.data_collection.size() == 1);
    CHECK(u.data_collection[0].name == "Sample Data Item");
    CHECK_FALSE(u.data_collection[0].value.has_value());

    Fixture list(200, kRequestExample);  // a single object where a list is described
    const auto& all = ok<std::vector<Request>>(
        list.client.list_requests(RequestStatus::approved, TargetUser::current()));
    CHECK(list.sent().url == kBase + "requests?targetuser=current&status=Approved");
    CHECK(all.size() == 1);
}

TEST_CASE("7 set request status: PUT with a JSON body and other statuses refused", "[operations]") {
    Fixture f(200, kRequestExample);
    ok<Request>(f.client.set_request_status(kRequest, RequestStatus::completed));
    CHECK(f.sent().method == "PUT");
    CHECK(f.sent().body == R"({"status":"Completed"})");
    Fixture g(200, kRequestExample);
    CHECK_THROWS_AS(g.client.set_request_status(kRequest, RequestStatus::approved),
                    InvalidArgument);
    CHECK(g.transport.requests().empty());
}

TEST_CASE("8 certificate request generation options: docs example", "[operations]") {
    Fixture f(200, kGenerationOptions);
    const auto& options = ok<std::vector<CertificateRequestGenerationOptions>>(
        f.client.get_certificate_request_generation_options(kRequest));
    CHECK(f.sent().url ==
          kBase +
              "requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/certificaterequestgenerationoptions");
    REQUIRE(options.size() == 1);
    CHECK(options[0].key_algorithm_name == "RSA");
    CHECK(options[0].key_size == 2048);
    CHECK(options[0].hash_algorithm_name == "SHA1");
    CHECK(options[0].key_storage_provider_names ==
          std::vector<std::string>{"Contoso Smart Card Key Storage Provider"});
    CHECK(options[0].key_usages == 3);
}

TEST_CASE("9 certificate data: POST the CSRs, parse the docs example", "[operations]") {
    Fixture f(200, kCertificates);
    CertificateData data;
    data.pfx_password = SecretString("6b75162c");
    data.certificate_requests = {"MIIDXDCCAkQCAQAw"};
    const auto& certs =
        ok<std::vector<Certificate>>(f.client.submit_certificate_requests(kRequest, data));
    CHECK(f.sent().method == "POST");
    CHECK(f.sent().url == kBase + "requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/certificatedata");
    CHECK(f.sent().body ==
          R"({"pfxpassword":"6b75162c","certificaterequests":["MIIDXDCCAkQCAQAw"]})");
    REQUIRE(certs.size() == 1);
    CHECK(certs[0].template_common_name == "ContosoVirtualSmartCardLimitedRelease-KSP");
    CHECK(certs[0].flags == 65536);
    CHECK(certs[0].is_pkcs7);  // "isPkcs7" in lower-case "is" (AD-05)
    CHECK_FALSE(certs[0].is_pfx);
    CHECK(certs[0].pkcs7 == std::string("MIIUhgYJKoZIhvcNAQcCoIIUdzCCAAAA"));
    CHECK_FALSE(certs[0].pfx.has_value());
    CHECK_FALSE(certs[0].error.has_value());
}

TEST_CASE("9 certificate data: a password that escaping makes longer, and a server PFX",
          "[operations]") {
    // Every character of this password becomes six in JSON (\u0001): the body outgrows any
    // estimate made from the password's length and must still be exact.
    std::string password = "p\"w\\";
    password.append(3000, '\x01');
    Fixture f(200, R"([{"TemplateCommonName":"T","Pfx":"MIIK\r\nAAAA\r\nBB==","isPfx":true}])");
    CertificateData data;
    data.pfx_password = SecretString(password);
    data.certificate_requests = {"MIIDXDCCAkQCAQAw"};
    const auto& certs =
        ok<std::vector<Certificate>>(f.client.submit_certificate_requests(kRequest, data));
    std::string escaped = "p\\\"w\\\\";
    for (int i = 0; i < 3000; ++i)
        escaped += "\\u0001";
    CHECK(f.sent().body ==
          R"({"pfxpassword":")" + escaped + R"(","certificaterequests":["MIIDXDCCAkQCAQAw"]})");
    REQUIRE(certs.size() == 1);
    REQUIRE(certs[0].pfx.has_value());
    CHECK(certs[0].pfx->reveal() == "MIIKAAAABB==");  // the server's line breaks removed
    CHECK(certs[0].is_pfx);
}

TEST_CASE("9 certificate data: a PFX that is not a string is a protocol error", "[operations]") {
    Fixture f(200, R"([{"TemplateCommonName":"T","Pfx":12345}])");
    CertificateData data;
    data.certificate_requests = {"MIIDXDCCAkQCAQAw"};
    const auto result = f.client.submit_certificate_requests(kRequest, data);
    REQUIRE(fails_with(result, ErrorKind::protocol));
    CHECK(result.error().message == "item 1: Certificate.Pfx: expected a string, got a number");
}

TEST_CASE("10 assign smart card: body and the unprefixed URI", "[operations]") {
    Fixture f(201, R"("api/v1.0/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9")");
    const auto& created = ok<Created<SmartcardId>>(f.client.assign_smartcard(
        kRequest, kCard, Atr::from_hex("3b8d0180fba000000397425446590301c8")));
    CHECK(created.id == kSmartcard);
    CHECK(f.sent().url == kBase + "smartcards");
    CHECK(
        f.sent().body ==
        R"({"requestid":"a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099",)"
        R"("cardid":"bc88f13f-83ba-4037-8262-46eba1291c6e","atr":"3b8d0180fba000000397425446590301c8"})");
}

TEST_CASE("11, 12 find and get smart cards: docs example", "[operations]") {
    Fixture get(200, kSmartcardExample);
    const auto& card = ok<Smartcard>(
        get.client.get_smartcard(SmartcardId::parse("438d1b30-f3b4-4bed-85fa-285e08605ba7")));
    CHECK(get.sent().url == kBase + "smartcards/438d1b30-f3b4-4bed-85fa-285e08605ba7");
    CHECK(card.status == 3);
    CHECK(smartcard_status_from_number(card.status) == SmartcardStatus::active);
    CHECK(card.profile_template_version == 46);
    CHECK(card.serial_number == "{d1ef6869-5517-42a0-8f05-16ca1a0b834d}");
    REQUIRE(card.card_id().has_value());
    CHECK(card.card_id()->guid() == "d1ef6869-5517-42a0-8f05-16ca1a0b834d");
    CHECK(card.uuid == SmartcardId::parse("438d1b30-f3b4-4bed-85fa-285e08605ba7"));
    CHECK(card.assigned_user_uuid == UserId::parse("8f1590dc-d932-4b66-8e68-2e91c5880780"));
    CHECK_FALSE(card.parent_smartcard_uuid.has_value());
    CHECK(card.middleware == "MSBaseCSP");

    Fixture find(200, kSmartcardExample);
    const auto& found = ok<std::vector<Smartcard>>(
        find.client.find_smartcards(CardId::from_guid("d1ef6869-5517-42a0-8f05-16ca1a0b834d")));
    CHECK(find.sent().url == kBase + "smartcards?cardid=d1ef6869-5517-42a0-8f05-16ca1a0b834d");
    CHECK(found.size() == 1);
}

TEST_CASE("13 authentication response: docs example, base64 challenge, secret answer",
          "[operations]") {
    Fixture f(200, R"("F0Zudm4wPLY=")");
    const auto& blob = ok<SecretBlob>(f.client.get_authentication_response(
        kRequest, kSmartcard, kCard, Challenge::from_base64("1hFD+cz/0so="),
        AdminKey::default_key));
    CHECK(f.sent().url == kBase +
                              "requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/"
                              "17cf063d-e337-4aa9-a822-346554ddd3c9/authenticationresponse"
                              "?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e&challenge=1hFD%2Bcz%"
                              "2F0so%3D&diversified=false");
    CHECK(to_hex(blob.bytes.reveal()) == "17466e766e303cb6");
}

TEST_CASE("13 authentication response: AdminKey::diversified asks for the diversified key",
          "[operations]") {
    Fixture f(200, R"("F0Zudm4wPLY=")");
    ok<SecretBlob>(f.client.get_authentication_response(kRequest, kSmartcard, kCard,
                                                        Challenge::from_base64("1hFD+cz/0so="),
                                                        AdminKey::diversified));
    CHECK(f.sent().url.find("&diversified=true") != std::string::npos);
}

TEST_CASE("14 diversified admin key: docs example, 24 bytes", "[operations]") {
    Fixture f(200, R"("mBVA+HopB/gc+6FuKsQqx+OX01hK1WQI")");
    const auto& key =
        ok<SecretBlob>(f.client.get_diversified_admin_key(kRequest, kSmartcard, kCard));
    CHECK(f.sent().url == kBase +
                              "requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/"
                              "17cf063d-e337-4aa9-a822-346554ddd3c9/"
                              "diversifiedkey?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e");
    CHECK(key.bytes.size() == 24);
}

TEST_CASE("16 update smart card status: PUT (not the table's GET)", "[operations]") {
    Fixture f(200, kSmartcardExample);
    ok<Smartcard>(
        f.client.update_smartcard_status(RequestId::parse("b105403d-d021-41ea-9f11-be3d677d229e"),
                                         kSmartcard, SmartcardStatus::retired));
    CHECK(f.sent().method == "PUT");
    CHECK(f.sent().url == kBase +
                              "requests/b105403d-d021-41ea-9f11-be3d677d229e/smartcards/"
                              "17cf063d-e337-4aa9-a822-346554ddd3c9");
    CHECK(f.sent().body == R"({"status":"Retired"})");
}

TEST_CASE("17, 18, 19 profiles: docs example", "[operations]") {
    Fixture f(200, kProfiles);
    const auto& profiles = ok<std::vector<Profile>>(f.client.list_profiles("Active"));
    CHECK(f.sent().url == kBase + "profiles?status=Active");
    REQUIRE(profiles.size() == 1);
    CHECK(profiles[0].status == 2);
    CHECK(profiles[0].profile_template_version == 8);
    CHECK(profiles[0].uuid == ProfileId::parse("c0dd5c7d-ec35-4346-baca-3ad711e9722f"));
    CHECK(profiles[0].parent_profile_uuid ==
          ProfileId::parse("1c9e2606-fea2-4048-a6ac-b014e54c22df"));
    CHECK_FALSE(profiles[0].primary_profile_uuid.has_value());
    CHECK(profiles[0].assigned_user_uuid == UserId::parse("0378a33b-8650-4713-a727-efd233903643"));
    CHECK(profiles[0].profile_template_uuid ==
          ProfileTemplateId::parse("8f31803f-8afc-49bb-911d-402ec264b589"));
    CHECK(profiles[0].profile_operations ==
          std::vector<std::string>{"renew", "disable", "recover"});
    Fixture g(200, kProfiles);
    ok<std::vector<Profile>>(
        g.client.get_profile(ProfileId::parse("c0dd5c7d-ec35-4346-baca-3ad711e9722f")));
    CHECK(g.sent().url == kBase + "profiles/c0dd5c7d-ec35-4346-baca-3ad711e9722f");
    Fixture h(200, kProfiles);
    ok<std::vector<Profile>>(h.client.list_request_profiles(kRequest));
    CHECK(h.sent().url == kBase + "requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/profiles");
}

TEST_CASE("20, 21 operations: lower-case names as returned", "[operations]") {
    Fixture f(200, R"(["renew","unblock","retire"])");
    const auto& ops = ok<std::vector<std::string>>(f.client.get_smartcard_operations(
        SmartcardId::parse("438d1b30-f3b4-4bed-85fa-285e08605ba7")));
    CHECK(f.sent().url == kBase + "smartcards/438d1b30-f3b4-4bed-85fa-285e08605ba7/operations");
    CHECK(ops == std::vector<std::string>{"renew", "unblock", "retire"});
    Fixture g(200, R"(["renew","disable"])");
    CHECK(ok<std::vector<std::string>>(g.client.get_profile_operations(ProfileId::parse(
                                           "c0dd5c7d-ec35-4346-baca-3ad711e9722f")))
              .size() == 2);
}

TEST_CASE("22, 23, 24 certificates: the 6-field and 11-field views", "[operations]") {
    Fixture f(200, kShortCertificates);
    const auto& short_view = ok<std::vector<ClmCertificate>>(f.client.get_smartcard_certificates(
        SmartcardId::parse("5badfea3-de31-4837-99f9-8249515a5473")));
    CHECK(f.sent().url == kBase + "smartcards/5badfea3-de31-4837-99f9-8249515a5473/certificates");
    REQUIRE(short_view.size() == 1);
    CHECK(short_view[0].thumbprint == "C52B0C5FB8AAD31A5B239FF2712ED14122D67D30");
    CHECK_FALSE(short_view[0].not_after.has_value());

    Fixture g(200, kUserCertificates);
    const auto& long_view = ok<std::vector<ClmCertificate>>(g.client.get_user_certificates());
    CHECK(g.sent().url == kBase + "certificates");
    REQUIRE(long_view.size() == 1);
    CHECK(long_view[0].issuer ==
          std::string("WIN-TRUR24L4CFS.corp.cmteam.com\\corp-WIN-TRUR24L4CFS-CA"));
    CHECK(long_view[0].requester_name == std::string("CORP\\Administrator"));
    CHECK(long_view[0].status == 0);

    Fixture h(200, kShortCertificates);
    ok<std::vector<ClmCertificate>>(h.client.get_profile_certificates(
        ProfileId::parse("c0dd5c7d-ec35-4346-baca-3ad711e9722f")));
    CHECK(h.sent().url == kBase + "profiles/c0dd5c7d-ec35-4346-baca-3ad711e9722f/certificates");
}

TEST_CASE("every operation maps failures the same way", "[operations]") {
    Fixture forbidden(403, R"({"Message":"Access is denied."})");
    CHECK(fails_with(forbidden.client.get_request(kRequest), ErrorKind::forbidden));
    Fixture error(500, R"({"Message":"correlation ID 1c6d0f41-5b8e-4d5a-9c2b-1a3f5e7d9b20"})");
    const auto result = error.client.list_profile_templates();
    REQUIRE(fails_with(result, ErrorKind::server_error));
    CHECK(result.error().correlation_id == "1c6d0f41-5b8e-4d5a-9c2b-1a3f5e7d9b20");
    Fixture garbage(200, "<html>");
    CHECK(fails_with(garbage.client.get_smartcard(kSmartcard), ErrorKind::protocol));
    Fixture none(204, "");
    CHECK(empty_success(none.client.get_smartcard(kSmartcard)));
    CHECK(name_of(none.client.get_smartcard(kSmartcard)) == "no_content");
}

TEST_CASE("a client reuses its request: headers follow the body, a copy sends the same",
          "[operations]") {
    static_assert(std::is_copy_constructible_v<BasicClient<FakeTransport>>);
    FakeTransport transport(
        FakeTransport::answer(201, R"("api/v1.0/requests/)" + kRequest.str() + R"(")"));
    BasicClient<FakeTransport> client(CmUrl::parse("https://cm.contoso.com"), transport);
    NewRequest request;
    request.profile_template = kTemplate;
    const auto names = [&](std::size_t i) {
        std::vector<std::string> out;
        for (const auto& h : transport.requests().at(i).headers)
            out.push_back(h.name + ": " + h.value);
        return out;
    };
    const std::vector<std::string> get_headers = {"Accept: application/json",
                                                  "User-Agent: " + ClientOptions{}.user_agent};
    std::vector<std::string> post_headers = get_headers;
    post_headers.insert(post_headers.begin(), "Content-Type: application/json");

    (void)client.list_profile_templates();     // GET, no body
    (void)client.create_request(request);      // POST with a body
    (void)client.list_profile_templates();     // GET again: no Content-Type left over
    BasicClient<FakeTransport> copy = client;  // a copy starts with a fresh request
    (void)copy.create_request(request);
    BasicClient<FakeTransport> moved = std::move(copy);
    (void)moved.list_profile_templates();
    REQUIRE(transport.requests().size() == 5);
    CHECK(names(0) == get_headers);
    CHECK(names(1) == post_headers);
    CHECK(!transport.requests()[1].body.empty());
    CHECK(names(2) == get_headers);
    CHECK(transport.requests()[2].body.empty());
    CHECK(names(3) == post_headers);
    CHECK(names(4) == get_headers);
    CHECK(transport.requests()[4].body.empty());
}
