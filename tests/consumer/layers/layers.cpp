// Uses every layer the build gives it and prints their names ("core curl pcsc"), so a test can
// check which layers a way of taking mimcm provides. Also checks the version agrees. In the
// compiled mode it also prints "compiled", and links only if the package compiled the client.
#include <mimcm/mimcm.hpp>

#if defined(MIMCM_NO_CURL) && defined(LIBCURL_VERSION_NUM)
#error "<mimcm/mimcm.hpp> included curl.h although the curl layer is left out"
#endif
#if defined(MIMCM_NO_PCSC) && defined(SCARD_S_SUCCESS)
#error "<mimcm/mimcm.hpp> included PC/SC although the pcsc layer is left out"
#endif

#include <cstdlib>
#include <iostream>

int main() {
    if (mimcm::version_string != MIMCM_EXPECTED_VERSION) {
        std::cerr << "the build says version " << MIMCM_EXPECTED_VERSION << ", the headers say "
                  << mimcm::version_string << "\n";
        return 1;
    }
    const auto url = mimcm::CmUrl::parse("https://cm.contoso.com");
    std::cout << "core";
#ifndef MIMCM_NO_CURL
    mimcm::CurlGlobal curl;
    mimcm::Client client(url, mimcm::CurlTransport{});
    if (client.server().base() != url.base())
        return 1;
    std::cout << " curl";
#ifdef MIMCM_COMPILED
    // Never called by the test, but linked: declared extern here, only src/mimcm.cpp defines it.
    if (std::getenv("MIMCM_LAYERS_CALL_THE_SERVER") != nullptr)
        return client.list_profile_templates().ok() ? 0 : 1;
    std::cout << " compiled";
#endif
#endif
#ifndef MIMCM_NO_PCSC
    try {
        mimcm::pcsc::Context context;  // calls PC/SC, so the library must link; pcscd need not run
    } catch (const mimcm::pcsc::Error&) {
    }
    if (mimcm::card::GidsProfile().name() != "gids")
        return 1;
    std::cout << " pcsc";
#endif
    std::cout << "\n";
    return url.base() == "https://cm.contoso.com/CertificateManagement" ? 0 : 1;
}
