// Compile cost of an application that calls two operations with mimcm (compile_cost.sh times it
// against two_calls_raw.cpp). Also a working program: two_calls URL.
#include "calls.hpp"

int main(int argc, char** argv) {
    if (argc != 2)
        return 2;
    const mimcm::CurlGlobal curl_global;
    mimcm::Client client(mimcm::CmUrl::parse(argv[1]), mimcm::CurlTransport{});
    const bool ok =
        mimcm_bench::call_seed(client, mimcm::SmartcardId::parse(mimcm_bench::kSmartcard),
                               mimcm_bench::bench_card_data()) &&
        mimcm_bench::call_list(client);
    return ok ? 0 : 1;
}
