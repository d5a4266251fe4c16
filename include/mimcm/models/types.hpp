// The objects the CM REST API returns, as typed models (parsed by mimcm/models/parse.hpp).
// Every model keeps the fields it does not know in unknown_fields. Id fields are typed
// (RequestId, SmartcardId...) and empty when the server leaves them out, sends null, an empty
// string, or the all-zero GUID CM writes for "none".
// Threads: every model is a plain value, like the standard containers: one object may be read
// from several threads at once, and changed only while nothing else reads it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mimcm/identifiers.hpp"
#include "mimcm/models/enums.hpp"
#include "mimcm/secret.hpp"

namespace mimcm {

/// A field the model does not know, as the server sent it (raw JSON text of the value).
struct UnknownField {
    std::string name;
    std::string json;
};
using UnknownFields = std::vector<UnknownField>;

/// GET profiletemplates: the view of a template a user may enroll for.
struct ProfileTemplateView {
    std::string name;
    std::string description;
    std::optional<ProfileTemplateId> uuid;
    bool is_smartcard = false;
    bool is_virtual_smartcard = false;
    UnknownFields unknown_fields;
};

/// One data item a workflow policy asks for (its shape is undocumented: a name, maybe more).
struct DataCollectionItem {
    std::string name;
    std::optional<std::string> value;
    bool required = false;
};

/// GET profiletemplates/{id}/policies/{type} (ProfileTemplatePolicy; JSON casing unconfirmed).
struct WorkflowPolicy {
    std::optional<bool> enabled;
    std::optional<bool> self_service_enabled;
    std::optional<bool> collect_comments;
    std::optional<bool> collect_request_priority;
    std::optional<std::int64_t> default_request_priority;
    std::optional<std::int64_t> approvals_needed;
    std::optional<bool> enroll_agent_required;
    std::vector<DataCollectionItem> data_collection;  ///< PolicyDataCollection / DataCollection
    UnknownFields unknown_fields;
};

/// GET profiletemplates/{id}/configuration/smartcards. Holds the template's default admin key.
struct SmartcardPolicy {
    SecretString default_admin_key_hex;  ///< an admin key: wiped, never printed
    bool diversify_admin_key = false;
    UserPinOption user_pin_option = UserPinOption::unknown;
    std::string user_pin_option_text;  ///< as the server sent it
    UnknownFields unknown_fields;
};

/// Request (Microsoft.Clm.Shared.Requests.Request).
struct Request {
    std::optional<RequestId> uuid;
    std::int64_t request_type = 0;
    std::int64_t status = 0;
    std::int64_t flags = 0;
    std::vector<DataCollectionItem> data_collection;
    std::int64_t data_collection_flags = 0;
    std::optional<UserId> originator_user_uuid;
    std::optional<UserId> target_user_uuid;
    std::string submitted;
    std::string completed;
    std::optional<ProfileId> new_profile_uuid;
    std::optional<ProfileId> old_profile_uuid;
    std::optional<SmartcardId> new_smartcard_uuid;
    std::optional<SmartcardId> old_smartcard_uuid;
    std::int64_t priority = 0;
    std::string comment;
    std::optional<ProfileTemplateId> profile_template_uuid;
    std::string security_descriptor;  ///< trailing NUL padding removed
    bool is_smartcard = false;
    bool is_enrollment_agent = false;
    bool is_data_collection_complete = false;
    UnknownFields unknown_fields;
};

/// Smartcard (Microsoft.Clm.Shared.Smartcards.Smartcard).
struct Smartcard {
    std::optional<SmartcardId> uuid;
    std::int64_t status = 0;
    std::int64_t flags = 0;
    std::optional<SmartcardId> parent_smartcard_uuid;
    std::optional<SmartcardId> primary_smartcard_uuid;
    std::optional<SmartcardId> permanent_smartcard_uuid;
    std::optional<UserId> assigned_user_uuid;
    std::optional<ProfileTemplateId> profile_template_uuid;
    std::int64_t profile_template_version = 0;
    std::string comment;
    std::string serial_number;  ///< as sent, e.g. "{bc88f13f-...}"
    std::string middleware;
    std::string atr;
    UnknownFields unknown_fields;

    /// The card id in SerialNumber, when it is a GUID (CM writes it in braces).
    [[nodiscard]] std::optional<CardId> card_id() const {
        if (!Guid::try_parse(serial_number))
            return std::nullopt;
        return CardId::from_guid(serial_number);
    }
};

/// CertificateRequestGenerationOptions: how to build one PKCS#10 request.
struct CertificateRequestGenerationOptions {
    std::string subject;
    std::string key_algorithm_name;
    std::int64_t key_size = 0;
    std::string friendly_name;
    std::string hash_algorithm_name;
    std::vector<std::string> key_storage_provider_names;
    std::int64_t exportable = 0;
    std::int64_t key_protection_level = 0;
    std::int64_t key_usages = 0;
    UnknownFields unknown_fields;
};

/// Certificate (Microsoft.Clm.Shared.Certificates.Certificate), answer to certificatedata.
struct Certificate {
    std::string template_common_name;
    std::int64_t certificate_id = 0;
    std::int64_t flags = 0;
    bool use_local_machine_store = false;
    std::optional<std::string> error;
    std::optional<std::string> pkcs7;  ///< base64 (line breaks removed)
    std::optional<SecretString> pfx;   ///< base64 PFX holding a private key: secret
    bool is_external = false;
    bool is_server_generated = false;
    bool is_pfx = false;
    bool is_pkcs7 = false;
    bool is_key_history = false;
    UnknownFields unknown_fields;
};

/// Profile (Microsoft.Clm.Shared.Profiles.Profile), a software certificate profile.
struct Profile {
    std::optional<ProfileId> uuid;
    std::int64_t status = 0;
    std::int64_t flags = 0;
    std::optional<ProfileId> parent_profile_uuid;
    std::optional<ProfileId> primary_profile_uuid;
    std::optional<UserId> assigned_user_uuid;
    std::optional<ProfileTemplateId> profile_template_uuid;
    std::int64_t profile_template_version = 0;
    std::string comment;
    std::vector<std::string> profile_operations;
    UnknownFields unknown_fields;
};

/// X509ClmCertificate: 6 fields for profiles and smart cards, 11 for the user's certificates.
struct ClmCertificate {
    bool is_key_history = false;
    bool archived_on_ca = false;
    std::int64_t certificate_type = 0;
    std::string template_common_name;
    std::string serial_number;
    std::string thumbprint;
    std::optional<std::string> not_after;
    std::optional<std::string> not_before;
    std::optional<std::string> issuer;
    std::optional<std::string> requester_name;
    std::optional<std::int64_t> status;
    UnknownFields unknown_fields;
};

/// What a 201 returns: the new object's URI (with or without the /CertificateManagement prefix:
/// docs/api-discrepancies.md AD-03) and the id in it, typed as the created object's id
/// (Created<RequestId> from create_request, Created<SmartcardId> from assign_smartcard).
template <class Id>
struct Created {
    std::string uri;
    Id id;
};
/// Body of POST requests (create a request).
struct NewRequest {
    RequestType type = RequestType::enroll;
    std::optional<ProfileTemplateId> profile_template;  ///< required except on a card (Unblock)
    std::optional<SmartcardId> smartcard;  ///< the card an Unblock request is for (AD-15)
    /// Name/value items the workflow policy asks for; sent as the docs' examples send them:
    /// a JSON string holding an array of {"name":"value"} objects.
    std::vector<std::pair<std::string, std::string>> data_collection;
    std::string comment;
    std::optional<UserId> target_user;  ///< default: the caller
    std::optional<int> priority;        ///< default: the template's; sent as a string like the docs
};

/// Body of POST requests/{id}/certificatedata.
struct CertificateData {
    SecretString pfx_password;                      ///< protects server-generated PFX results
    std::vector<std::string> certificate_requests;  ///< base64 DER PKCS#10 requests
    std::optional<std::string> comments;
};

/// A base64 JSON-string result decoded to bytes: an admin challenge response or a diversified
/// admin key. Both are secrets.
struct SecretBlob {
    SecretBytes bytes;
};

}  // namespace mimcm
