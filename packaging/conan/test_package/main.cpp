// Uses the installed package offline: the core API over an in-process transport, and every layer
// the package was configured with through the umbrella header.
#include <mimcm/mimcm.hpp>

#include <iostream>
#include <string>

namespace {

// Answers every request as a CM server proposing a PIN would, and keeps the URL it was asked for.
struct CannedTransport {
    std::string* url;

    mimcm::TransportResult send(const mimcm::HttpRequest& request) {
        *url = request.url;
        mimcm::HttpResponse response;
        response.status = 200;
        response.headers = {{"Content-Type", "application/json"}};
        response.body.append("\"00123456\"");
        return response;
    }
};

}  // namespace

int main() {
    std::string url;
    mimcm::BasicClient<CannedTransport> client(mimcm::CmUrl::parse("https://cm.contoso.com"),
                                               CannedTransport{&url});
    const auto result = client.server_proposed_pin(
        mimcm::SmartcardId::parse("17cf063d-e337-4aa9-a822-346554ddd3c9"),
        mimcm::CardData{mimcm::Atr::from_hex("3b8d0180fba000000397425446590301c8"),
                        mimcm::CardId::from_guid("bc88f13f-83ba-4037-8262-46eba1291c6e"),
                        mimcm::Challenge::from_base64("1hFD+cz/0so=")});
    if (!result) {
        std::cerr << "unexpected error: " << result.error().describe() << "\n";
        return 1;
    }
    const auto* proposed = std::get_if<mimcm::PinProposed>(&*result);
    if (proposed == nullptr || proposed->pin.reveal() != "00123456" ||
        url.find("/CertificateManagement/api/v1.0/smartcards/") == std::string::npos) {
        std::cerr << "unexpected result: no PIN, or the wrong URL\n";
        return 1;
    }

    int curl = 0;
    int pcsc = 0;
#ifndef MIMCM_NO_CURL
    mimcm::CurlGlobal curl_global;
    const mimcm::Client curl_client(mimcm::CmUrl::parse("https://cm.contoso.com"),
                                    mimcm::CurlTransport{});
    curl = curl_client.server().base() == "https://cm.contoso.com/CertificateManagement" ? 1 : 0;
#endif
#ifndef MIMCM_NO_PCSC
    // Linked against the PC/SC library: its functions have addresses.
    decltype(&SCardListReaders) volatile list_readers = &SCardListReaders;
    pcsc = mimcm::card::GidsProfile().name() == "gids" && list_readers != nullptr ? 1 : 0;
#endif
    std::cout << "mimcm " << mimcm::version_string << ": core ok, curl=" << curl << " pcsc=" << pcsc
              << "\n";
    return 0;
}
