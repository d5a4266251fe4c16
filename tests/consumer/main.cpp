// Built against the installed package: every layer of the umbrella header must be usable, and the
// package's version must be the headers'.
#include <mimcm/mimcm.hpp>

#include <iostream>

int main() {
    if (mimcm::version_string != MIMCM_EXPECTED_VERSION) {
        std::cerr << "the package says version " << MIMCM_EXPECTED_VERSION << ", the headers say "
                  << mimcm::version_string << "\n";
        return 1;
    }
    mimcm::CurlGlobal curl;
    mimcm::Client client(mimcm::CmUrl::parse("https://cm.contoso.com"), mimcm::CurlTransport{});
    std::cout << client.server().base() << " " << mimcm::card::GidsProfile().name() << " "
              << mimcm::version_string << "\n";
    return client.server().base() == "https://cm.contoso.com/CertificateManagement" ? 0 : 1;
}
