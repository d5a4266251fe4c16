// What every typed-id compile check uses: a client over a transport that never answers, and one
// id of each kind. The checks in this folder must not compile (except control.cpp); the test
// that builds each one expects the compiler's message to name the id types involved.
#pragma once

#include "mimcm/core.hpp"

namespace ids_check {

struct NoTransport {
    mimcm::TransportResult send(const mimcm::HttpRequest&) {
        mimcm::TransportError error{};
        error.kind = mimcm::TransportError::Kind::invalid;
        return error;
    }
};

using Client = mimcm::BasicClient<NoTransport>;

inline Client client() {
    return Client(mimcm::CmUrl::parse("https://cm.contoso.com"), NoTransport{});
}

inline const mimcm::RequestId request =
    mimcm::RequestId::parse("a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099");
inline const mimcm::ProfileTemplateId profile_template =
    mimcm::ProfileTemplateId::parse("a039b4d0-5ce8-4eff-8651-181c6576fda3");
inline const mimcm::ProfileId profile =
    mimcm::ProfileId::parse("c0dd5c7d-ec35-4346-baca-3ad711e9722f");
inline const mimcm::SmartcardId smartcard =
    mimcm::SmartcardId::parse("17cf063d-e337-4aa9-a822-346554ddd3c9");
inline const mimcm::UserId user = mimcm::UserId::parse("8f1590dc-d932-4b66-8e68-2e91c5880780");
inline const mimcm::Guid guid = mimcm::Guid::parse("a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099");

}  // namespace ids_check
