// Every CM REST operation over HTTPS against the stateful emulator: what went on the wire (the
// emulator's record) and the models parsed from the docs' example data it serves.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "emulator.hpp"
#include "mimcm/mimcm.hpp"
#include "results_require.hpp"
#include "test_data.hpp"

using namespace mimcm_test;  // NOLINT: test helpers over mimcm::Result
using namespace mimcm;
using mimcm_test::Emulator;
using mimcm_test::Recorded;

namespace {

const CurlGlobal curl_global;

const RequestId kDocsRequest = RequestId::parse("a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099");
const SmartcardId kDocsSmartcard = SmartcardId::parse("17cf063d-e337-4aa9-a822-346554ddd3c9");
const SmartcardId kActiveSmartcard = SmartcardId::parse("438d1b30-f3b4-4bed-85fa-285e08605ba7");
const ProfileTemplateId kVscTemplate =
    ProfileTemplateId::parse("97cd65fa-af4b-4587-9309-0dd6bfd8b4e1");
const ProfileTemplateId kDocsTemplate =
    ProfileTemplateId::parse("a039b4d0-5ce8-4eff-8651-181c6576fda3");
const ProfileId kProfile = ProfileId::parse("c0dd5c7d-ec35-4346-baca-3ad711e9722f");
const CardId kDocsCard = CardId::from_guid("bc88f13f-83ba-4037-8262-46eba1291c6e");

struct Api {
    Emulator emulator;
    Client client;
    Api() : client(CmUrl::parse(emulator.https_url()), CurlTransport(options())) {}
    static CurlOptions options() {
        CurlOptions o;
        o.ca_file = Emulator::ca_file();
        o.proxy = "";
        return o;
    }
    /// The last request the emulator recorded whose path ends with `suffix`.
    Recorded last(const std::string& suffix) {
        const auto all = emulator.requests_for(suffix);
        std::vector<Recorded> matching;
        for (const auto& r : all) {
            if (r.path.size() >= suffix.size() &&
                r.path.compare(r.path.size() - suffix.size(), suffix.size(), suffix) == 0) {
                matching.push_back(r);
            }
        }
        REQUIRE_FALSE(matching.empty());
        return matching.back();
    }
};

const std::string kPrefix = "/CertificateManagement/api/v1.0/";

}  // namespace

TEST_CASE("api over HTTPS: templates and policies", "[http][api]") {
    Api api;
    const auto templates =
        ok<std::vector<ProfileTemplateView>>(api.client.list_profile_templates());
    bool sample = false, logon = false;
    for (const auto& t : templates) {
        sample =
            sample || (t.uuid == ProfileTemplateId::parse("12bd5120-86a2-4ee1-8d05-131066871578") &&
                       !t.is_smartcard);
        logon =
            logon || (t.uuid == ProfileTemplateId::parse("2b7044cf-aa96-4911-b886-177947e9271b") &&
                      t.is_smartcard && !t.is_virtual_smartcard);
    }
    CHECK(sample);
    CHECK(logon);
    CHECK(api.last("profiletemplates").method == "GET");
    CHECK(api.last("profiletemplates").headers.at("accept") == "application/json");

    const auto policy =
        ok<WorkflowPolicy>(api.client.get_workflow_policy(kVscTemplate, WorkflowType::enroll));
    CHECK(api.last("/policies/enroll").path ==
          kPrefix + "profiletemplates/" + kVscTemplate.str() + "/policies/enroll");
    REQUIRE_FALSE(policy.data_collection.empty());
    CHECK(policy.data_collection[0].name == "Request Reason");

    const auto config = ok<SmartcardPolicy>(api.client.get_smartcard_policy(kVscTemplate));
    CHECK(api.last("/configuration/smartcards").method == "GET");
    CHECK(config.diversify_admin_key);  // the walkthrough's template diversifies
    CHECK(config.user_pin_option == UserPinOption::user_provided);
    CHECK(config.default_admin_key_hex.size() == 48);
}

TEST_CASE("api over HTTPS: requests", "[http][api]") {
    Api api;
    const auto docs = ok<Request>(api.client.get_request(kDocsRequest));
    CHECK(api.last("requests/" + kDocsRequest.str()).method == "GET");
    CHECK(docs.request_type == 1);
    CHECK(docs.data_collection_flags == 32);
    CHECK(docs.uuid == kDocsRequest);
    CHECK(docs.originator_user_uuid == UserId::parse("8f1590dc-d932-4b66-8e68-2e91c5880780"));
    CHECK_FALSE(docs.new_smartcard_uuid.has_value());  // the all-zero GUID is "none"
    CHECK(docs.submitted == "2015-07-07T23:36:21.93Z");
    CHECK(docs.profile_template_uuid == kDocsTemplate);
    CHECK(docs.is_smartcard);

    CHECK_FALSE(ok<std::vector<Request>>(api.client.list_requests()).empty());
    CHECK(api.last("/api/v1.0/requests").method == "GET");

    NewRequest request;
    request.profile_template = kVscTemplate;
    request.data_collection = {{"Request Reason", "Need VPN Certs"}};
    const auto created = ok<Created<RequestId>>(api.client.create_request(request));
    const auto sent = api.last("/api/v1.0/requests");
    CHECK(sent.method == "POST");
    CHECK(sent.headers.at("content-type") == "application/json");
    CHECK(sent.body ==
          R"({"datacollection":"[{\"Request Reason\":\"Need VPN Certs\"}]","type":"Enroll",)"
          R"("profiletemplateuuid":"97cd65fa-af4b-4587-9309-0dd6bfd8b4e1","comment":""})");
    CHECK(created.uri == "api/v1.0/requests/" + created.id.str());  // no prefix, no slash (AD-03)

    const auto fresh = ok<Request>(api.client.get_request(created.id));
    CHECK(fresh.status == request_status::approved);
    REQUIRE(fresh.data_collection.size() == 1);
    CHECK(fresh.data_collection[0].value == std::string("Need VPN Certs"));

    const auto canceled =
        ok<Request>(api.client.set_request_status(created.id, RequestStatus::canceled));
    const auto put = api.last("requests/" + created.id.str());
    CHECK(put.method == "PUT");
    CHECK(put.body == R"({"status":"Canceled"})");
    CHECK(canceled.status != request_status::approved);

    const auto options = ok<std::vector<CertificateRequestGenerationOptions>>(
        api.client.get_certificate_request_generation_options(kDocsRequest));
    REQUIRE(options.size() == 1);
    CHECK(options[0].key_algorithm_name == "RSA");
    CHECK(options[0].key_size == 2048);
    CHECK(options[0].key_usages == 3);
}

TEST_CASE("api over HTTPS: smart cards, challenge responses, keys", "[http][api]") {
    Api api;
    const auto active = ok<Smartcard>(api.client.get_smartcard(kActiveSmartcard));
    CHECK(active.status == 3);
    CHECK(active.serial_number == "{d1ef6869-5517-42a0-8f05-16ca1a0b834d}");
    CHECK(active.atr == "3b8d0180fba000000397425446590301c8");
    CHECK(active.profile_template_version == 46);

    const auto found = ok<std::vector<Smartcard>>(
        api.client.find_smartcards(CardId::from_guid("d1ef6869-5517-42a0-8f05-16ca1a0b834d")));
    REQUIRE(found.size() == 1);
    CHECK(found[0].uuid == kActiveSmartcard);
    CHECK(api.last("/api/v1.0/smartcards").raw_query ==
          "cardid=d1ef6869-5517-42a0-8f05-16ca1a0b834d");

    // The docs' vectors: challenge 1hFD+cz/0so= with the all-zero key gives F0Zudm4wPLY=.
    const auto response = ok<SecretBlob>(api.client.get_authentication_response(
        kDocsRequest, kDocsSmartcard, kDocsCard, Challenge::from_base64("1hFD+cz/0so="),
        AdminKey::default_key));
    CHECK(to_hex(response.bytes.reveal()) == "17466e766e303cb6");
    CHECK(api.last("/authenticationresponse").raw_query ==
          "cardid=bc88f13f-83ba-4037-8262-46eba1291c6e&challenge=1hFD%2Bcz%2F0so%3D&diversified="
          "false");
    const auto key = ok<SecretBlob>(
        api.client.get_diversified_admin_key(kDocsRequest, kDocsSmartcard, kDocsCard));
    CHECK(base64_encode(key.bytes.reveal()) == "mBVA+HopB/gc+6FuKsQqx+OX01hK1WQI");

    // A new request, a card bound to it, its status changed.
    NewRequest request;
    request.profile_template = ProfileTemplateId::parse("7e570000-0000-4000-8000-000000000010");
    request.data_collection = {{"Request Reason", "test"}};
    const auto created = ok<Created<RequestId>>(api.client.create_request(request));
    const CardId card = CardId::from_guid(mimcm_test::fresh_smartcard_id());
    const auto bound = ok<Created<SmartcardId>>(api.client.assign_smartcard(
        created.id, card, Atr::from_hex("3b8d0180fba000000397425446590301c8")));
    CHECK(api.last("/api/v1.0/smartcards").body ==
          R"({"requestid":")" + created.id.str() + R"(","cardid":")" + card.guid() +
              R"(","atr":"3b8d0180fba000000397425446590301c8"})");
    const SmartcardId smartcard = bound.id;
    const auto assigned = ok<Smartcard>(api.client.get_smartcard(smartcard));
    CHECK(assigned.status == 2);
    CHECK(assigned.uuid == smartcard);
    CHECK(assigned.card_id()->bytes() == card.bytes());
    const auto retired = ok<Smartcard>(
        api.client.update_smartcard_status(created.id, smartcard, SmartcardStatus::retired));
    CHECK(api.last("/smartcards/" + smartcard.str()).method == "PUT");
    CHECK(smartcard_status_from_number(retired.status) == SmartcardStatus::retired);

    CHECK(ok<std::vector<std::string>>(api.client.get_smartcard_operations(kActiveSmartcard)) ==
          std::vector<std::string>{"renew", "unblock", "retire"});
    const auto certs = ok<std::vector<ClmCertificate>>(api.client.get_smartcard_certificates(
        SmartcardId::parse("5badfea3-de31-4837-99f9-8249515a5473")));
    CHECK(certs.size() == 4);
    CHECK_FALSE(certs.at(0).not_after.has_value());  // the 6-field view
}

TEST_CASE("api over HTTPS: profiles and certificates", "[http][api]") {
    Api api;
    const auto active = ok<std::vector<Profile>>(api.client.list_profiles("Active"));
    CHECK(api.last("/api/v1.0/profiles").raw_query == "status=Active");
    REQUIRE_FALSE(active.empty());
    for (const auto& p : active)
        CHECK(p.status == 2);
    const auto one = ok<std::vector<Profile>>(api.client.get_profile(kProfile));
    REQUIRE(one.size() == 1);
    CHECK(one[0].profile_template_version == 8);
    CHECK(one[0].profile_operations == std::vector<std::string>{"renew", "disable", "recover"});
    (void)ok<std::vector<Profile>>(api.client.list_request_profiles(kDocsRequest));
    CHECK(api.last("requests/" + kDocsRequest.str() + "/profiles").method == "GET");
    CHECK_FALSE(ok<std::vector<std::string>>(api.client.get_profile_operations(kProfile)).empty());
    (void)ok<std::vector<ClmCertificate>>(api.client.get_profile_certificates(kProfile));
    CHECK(api.last("profiles/" + kProfile.str() + "/certificates").method == "GET");
    const auto mine = ok<std::vector<ClmCertificate>>(api.client.get_user_certificates());
    REQUIRE_FALSE(mine.empty());
    CHECK(mine[0].not_after.has_value());  // the 11-field view
    CHECK(mine[0].issuer.has_value());
}
