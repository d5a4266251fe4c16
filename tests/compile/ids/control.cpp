// Must compile: every id where its operation wants it. The other sources in this folder are
// this file with one id in the wrong place.
#include "common.hpp"

int main() {
    using namespace ids_check;
    auto c = client();
    (void)c.get_request(request);
    (void)c.set_request_status(request, mimcm::RequestStatus::canceled);
    (void)c.get_workflow_policy(profile_template, mimcm::WorkflowType::enroll);
    (void)c.get_smartcard_policy(profile_template);
    (void)c.get_smartcard(smartcard);
    (void)c.update_smartcard_status(request, smartcard, mimcm::SmartcardStatus::retired);
    (void)c.get_profile(profile);
    (void)c.list_requests(std::nullopt, mimcm::TargetUser::user(user));
    const mimcm::CardId card = mimcm::CardId::from_guid("bc88f13f-83ba-4037-8262-46eba1291c6e");
    (void)c.get_authentication_response(request, smartcard, card,
                                        mimcm::Challenge::from_base64("1hFD+cz/0so="),
                                        mimcm::AdminKey::diversified);
    mimcm::NewRequest fresh;
    fresh.profile_template = profile_template;
    fresh.target_user = user;
    (void)c.create_request(fresh);
    mimcm::RequestId copy = request;
    copy = mimcm::RequestId(guid);  // explicitly from a Guid
    return copy == request ? 0 : 1;
}
