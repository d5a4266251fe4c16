// Every public header in this translation unit and in test_headers_again.cpp: a function or
// variable that is not inline fails to link, and each header must stand on its own.
#include <catch2/catch.hpp>

#if defined(_WIN32)
// An application that includes <windows.h> first, without NOMINMAX: its min and max macros must
// not break mimcm (winsock2.h before it, as libcurl's headers need).
#include <winsock2.h>

#include <windows.h>
#endif

#include "mimcm/mimcm.hpp"

static_assert(mimcm::is_transport_v<mimcm::CurlTransport>);
static_assert(std::is_same_v<mimcm::Client, mimcm::BasicClient<mimcm::CurlTransport>>);
static_assert(!std::is_copy_constructible_v<mimcm::pcsc::Context>);
static_assert(std::is_move_constructible_v<mimcm::pcsc::Card>);

int mimcm_headers_again();

TEST_CASE("the umbrella header links from two translation units", "[headers]") {
    CHECK(mimcm_headers_again() == 3);
    CHECK(mimcm::to_hex(mimcm::Bytes{0x3b}) == "3b");
}
