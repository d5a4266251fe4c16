// Built against the installed package: every layer of the umbrella header must be usable.
#include <mimcm/mimcm.hpp>

#include <iostream>

int main() {
    mimcm::CurlGlobal curl;
    mimcm::Client client(mimcm::CmUrl::parse("https://cm.contoso.com"), mimcm::CurlTransport{});
    const auto profiles = mimcm::card::ProfileResolver::by_name("auto");
    std::cout << client.server().base() << " " << mimcm::card::GidsProfile().name() << "\n";
    return client.server().base() == "https://cm.contoso.com/CertificateManagement" ? 0 : 1;
}
