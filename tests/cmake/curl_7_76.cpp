// Built against the libcurl 7.76 shim (curl-7.76/curl.h.in): the transport compiles without the
// options libcurl added later, refuses what needs them when it is made, and its fallbacks work
// against the real library it runs with.
#include <mimcm/mimcm.hpp>

#include <iostream>
#include <string>
#include <utility>
#include <variant>

static_assert(LIBCURL_VERSION_NUM == 0x074c00, "the libcurl 7.76 shim is not the curl.h in use");

namespace {
int failures = 0;
void check(bool ok, const std::string& what) {
    if (!ok) {
        std::cerr << "FAIL: " << what << "\n";
        ++failures;
    }
}
}  // namespace

int main() {
    mimcm::CurlGlobal curl;

    // In-memory CA certificates need 7.77: refused when the transport is made, not ignored.
    mimcm::CurlOptions with_pem;
    with_pem.ca_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    try {
        mimcm::CurlTransport transport(std::move(with_pem));
        check(false, "a transport with ca_pem was made against libcurl 7.76");
    } catch (const mimcm::InvalidArgument& e) {
        const std::string what = e.what();
        check(what.find("ca_pem") != std::string::npos && what.find("7.77") != std::string::npos,
              "the ca_pem refusal says what and which version: " + what);
    }

    // The protocol restriction falls back to the CURLOPT_PROTOCOLS bitmask: any other scheme is
    // refused before anything is sent.
    mimcm::CurlTransport transport;
    for (const char* url : {"file:///etc/hostname", "ftp://127.0.0.1:9/"}) {
        mimcm::HttpRequest request;
        request.method = "GET";
        request.url = url;
        const mimcm::TransportResult result = transport.send(request);
        const auto* error = std::get_if<mimcm::TransportError>(&result);
        check(error && error->native_code == CURLE_UNSUPPORTED_PROTOCOL,
              std::string("a request to ") + url + " was not refused as an unsupported protocol");
    }
    if (failures == 0)
        std::cout << "libcurl 7.76 guards: all checks passed\n";
    return failures == 0 ? 0 : 1;
}
