// Must NOT compile against the libcurl 7.76 shim: proves the shim hides the newer options.
#include <curl/curl.h>

int main() {
    CURL* curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_cleanup(curl);
}
