// A file of an application that calls the client and the enrollment. Built twice: with
// MIMCM_COMPILED its object must only refer to the operations (compiled once, in src/mimcm.cpp);
// header-only it must hold them (see expect_symbols.cmake).
#include <mimcm/mimcm.hpp>

bool calls(mimcm::Client& client, mimcm::pcsc::EnrollmentCard& card,
           const mimcm::SmartcardId& smartcard, const mimcm::CardData& data) {
    const auto pin = client.server_proposed_pin(smartcard, data);
    const auto requests = client.list_requests();
    mimcm::Enrollment<mimcm::CurlTransport, mimcm::pcsc::EnrollmentCard> enrollment(client, card,
                                                                                    {});
    const mimcm::EnrollmentReport report = enrollment.run();
    return pin.ok() && requests.ok() && report.succeeded;
}
