// The CM REST API's named values: request types, workflow policy types, request and smart card
// statuses (names for filters and PUT bodies, and the numbers the server returns), PIN options,
// admin keys.
// Threads: constants and pure functions; use them from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace mimcm {

/// Request types (create request "type"; workflow policy types use TemporaryEnroll:
/// docs/api-discrepancies.md AD-18).
enum class RequestType {
    enroll,
    duplicate,
    offline_unblock,
    online_update,
    renew,
    recover,
    recover_on_behalf,
    reinstate,
    retire,
    revoke,
    temporary_cards,
    unblock,
};

/// The names the API uses for request types, as the docs' examples send them.
[[nodiscard]] inline std::string_view to_string(RequestType t) noexcept {
    switch (t) {
        case RequestType::enroll:
            return "Enroll";
        case RequestType::duplicate:
            return "Duplicate";
        case RequestType::offline_unblock:
            return "OfflineUnblock";
        case RequestType::online_update:
            return "OnlineUpdate";
        case RequestType::renew:
            return "Renew";
        case RequestType::recover:
            return "Recover";
        case RequestType::recover_on_behalf:
            return "RecoverOnBehalf";
        case RequestType::reinstate:
            return "Reinstate";
        case RequestType::retire:
            return "Retire";
        case RequestType::revoke:
            return "Revoke";
        case RequestType::temporary_cards:
            return "TemporaryCards";
        case RequestType::unblock:
            return "Unblock";
    }
    return "Enroll";
}

/// Workflow policy types for GET profiletemplates/{id}/policies/{type}. The docs' examples
/// send them in lower case ("enroll").
enum class WorkflowType {
    enroll,
    duplicate,
    offline_unblock,
    online_update,
    renew,
    recover,
    recover_on_behalf,
    reinstate,
    retire,
    revoke,
    temporary_enroll,
    unblock,
};

[[nodiscard]] inline std::string_view to_string(WorkflowType t) noexcept {
    switch (t) {
        case WorkflowType::enroll:
            return "enroll";
        case WorkflowType::duplicate:
            return "duplicate";
        case WorkflowType::offline_unblock:
            return "offlineunblock";
        case WorkflowType::online_update:
            return "onlineupdate";
        case WorkflowType::renew:
            return "renew";
        case WorkflowType::recover:
            return "recover";
        case WorkflowType::recover_on_behalf:
            return "recoveronbehalf";
        case WorkflowType::reinstate:
            return "reinstate";
        case WorkflowType::retire:
            return "retire";
        case WorkflowType::revoke:
            return "revoke";
        case WorkflowType::temporary_enroll:
            return "temporaryenroll";
        case WorkflowType::unblock:
            return "unblock";
    }
    return "enroll";
}

/// Request status names (filters and PUT bodies). The numbers the server returns in
/// Request::status are not documented: request_status_name() gives the name of those the API's
/// examples show.
enum class RequestStatus {
    none,
    pending,
    approved,
    executing,
    completed,
    canceled,
    denied,
    failed,
    abandoned
};

[[nodiscard]] inline std::string_view to_string(RequestStatus s) noexcept {
    switch (s) {
        case RequestStatus::none:
            return "None";
        case RequestStatus::pending:
            return "Pending";
        case RequestStatus::approved:
            return "Approved";
        case RequestStatus::executing:
            return "Executing";
        case RequestStatus::completed:
            return "Completed";
        case RequestStatus::canceled:
            return "Canceled";
        case RequestStatus::denied:
            return "Denied";
        case RequestStatus::failed:
            return "Failed";
        case RequestStatus::abandoned:
            return "Abandoned";
    }
    return "None";
}

/// The numbers the CM server returns in Request::status. The API reference has no table for them;
/// its examples show 3 for a request just created and auto-approved (the enrollment walkthrough
/// calls it "approved") and 8 after PUT {"status":"Completed"}. RequestStatus names the statuses
/// in filters and PUT bodies; its enumerators are not these numbers.
namespace request_status {
/// Approved: execution (card, certificates) may start.
inline constexpr int approved = 3;
/// Completed: the request was executed and closed.
inline constexpr int completed = 8;
}  // namespace request_status

/// The status a Request::status number stands for, where the API's examples show one
/// (request_status::approved, request_status::completed); nullopt for any other number.
[[nodiscard]] inline std::optional<RequestStatus> request_status_from_number(
    std::int64_t n) noexcept {
    if (n == request_status::approved)
        return RequestStatus::approved;
    if (n == request_status::completed)
        return RequestStatus::completed;
    return std::nullopt;
}

/// The name of a Request::status number ("Approved" for 3), or an empty view for a number no
/// example shows.
[[nodiscard]] inline std::string_view request_status_name(std::int64_t n) noexcept {
    const auto status = request_status_from_number(n);
    return status ? to_string(*status) : std::string_view();
}

/// Smart card statuses for PUT requests/{r}/smartcards/{s} ("Retired"...).
enum class SmartcardStatus { none, new_, assigned, active, suspended, disabled, retired };

[[nodiscard]] inline std::string_view to_string(SmartcardStatus s) noexcept {
    switch (s) {
        case SmartcardStatus::none:
            return "None";
        case SmartcardStatus::new_:
            return "New";
        case SmartcardStatus::assigned:
            return "Assigned";
        case SmartcardStatus::active:
            return "Active";
        case SmartcardStatus::suspended:
            return "Suspended";
        case SmartcardStatus::disabled:
            return "Disabled";
        case SmartcardStatus::retired:
            return "Retired";
    }
    return "None";
}

/// The inferred meaning of Smartcard::status numbers: the API's examples show 2 for a card just
/// assigned, 3 for an active one and 6 after a "Retired" update, which fit None=0...Retired=6;
/// nullopt outside that range.
[[nodiscard]] inline std::optional<SmartcardStatus> smartcard_status_from_number(
    std::int64_t n) noexcept {
    if (n < 0 || n > 6)
        return std::nullopt;
    return static_cast<SmartcardStatus>(n);
}

/// Whether the user or the server chooses the PIN (smart card configuration UserPinOption).
enum class UserPinOption { unknown, user_provided, server_proposed };

/// Which admin key the server answers a card's admin challenge with (the `diversified` query of
/// the authentication response): the template's default key, or the card's diversified key.
enum class AdminKey { default_key, diversified };
}  // namespace mimcm
