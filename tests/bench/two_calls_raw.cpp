// The raw equivalent of two_calls.cpp: the same two calls with libcurl and RapidJSON.
//   two_calls_raw URL
#include <string>

#include "raw_calls.hpp"

int main(int argc, char** argv) {
    if (argc != 2)
        return 2;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    const std::string base = argv[1];
    bool ok = false;
    {
        mimcm_bench::RawCurl seed(
            base + "/api/v1.0/smartcards/" + std::string(mimcm_bench::kSmartcard) +
                "/serverproposedpin?atr=" + std::string(mimcm_bench::kAtr) +
                "&cardid=" + std::string(mimcm_bench::kCardId) + "&challenge=1hFD%2Bcz%2F0so%3D",
            "", "raw");
        mimcm_bench::RawCurl list(base + "/api/v1.0/profiletemplates", "", "raw");
        ok = mimcm_bench::raw_seed(seed) && mimcm_bench::raw_list(list);
    }
    curl_global_cleanup();
    return ok ? 0 : 1;
}
