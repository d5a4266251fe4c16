// The default transport, on libcurl. One easy handle per transport, reused for every call, so
// connections stay alive between calls. Not thread-safe: use one client per thread.
//
// libcurl needs curl_global_init before any other thread starts. mimcm never calls it from a
// static initialiser; create one mimcm::CurlGlobal at the start of main() instead.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <curl/curl.h>

#include "mimcm/client.hpp"
#include "mimcm/http.hpp"

namespace mimcm {

/// Owns libcurl's global state: create one in main() before any thread uses mimcm.
class CurlGlobal {
  public:
    CurlGlobal() {
        if (const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
            throw std::runtime_error(std::string("curl_global_init failed: ") +
                                     curl_easy_strerror(rc));
        }
    }
    ~CurlGlobal() { curl_global_cleanup(); }
    CurlGlobal(const CurlGlobal&) = delete;
    CurlGlobal& operator=(const CurlGlobal&) = delete;
};

struct CurlOptions {
    /// Verify the server's certificate chain and host name. Keep this on outside of tests.
    bool verify_peer = true;
    std::string ca_file;  ///< PEM bundle of trusted CAs (CURLOPT_CAINFO); empty: system store
    std::string ca_path;  ///< directory of trusted CAs (CURLOPT_CAPATH)
    /// Time allowed to connect (TCP and TLS handshake).
    std::chrono::milliseconds connect_timeout{10000};
    /// Time allowed for the whole call; 0 means no limit.
    std::chrono::milliseconds timeout{30000};
    /// Proxy: nullopt follows curl's environment rules (https_proxy, no_proxy...), "" means no
    /// proxy, anything else is the proxy URL.
    std::optional<std::string> proxy;
    /// Called on the easy handle after mimcm has set its options, for anything else curl offers.
    std::function<void(CURL*)> configure;
};

class CurlTransport {
  public:
    explicit CurlTransport(CurlOptions options = {})
        : options_(std::move(options)), handle_(curl_easy_init()) {
        if (!handle_)
            throw std::runtime_error("curl_easy_init failed");
    }

    [[nodiscard]] TransportResult send(const HttpRequest& request) {
        CURL* curl = handle_.get();
        HttpResponse response;
        error_buffer_[0] = '\0';

        std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr,
                                                                            &curl_slist_free_all);
        for (const auto& h : request.headers) {
            const std::string line = h.name + ": " + h.value;
            curl_slist* grown = curl_slist_append(headers.get(), line.c_str());
            if (!grown)
                return TransportError{TransportError::Kind::other, CURLE_OUT_OF_MEMORY,
                                      "out of memory"};
            (void)headers.release();
            headers.reset(grown);
        }

        if (const CURLcode rc = apply_options(request, headers.get(), response); rc != CURLE_OK) {
            return TransportError{
                TransportError::Kind::invalid, rc,
                std::string("curl rejected an option: ") + curl_easy_strerror(rc)};
        }
        const CURLcode rc = curl_easy_perform(curl);
        // The request body may be a secret: make sure curl keeps no pointer to it.
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, nullptr);
        if (rc != CURLE_OK)
            return error_from(rc);
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        response.status = static_cast<int>(status);
        return response;
    }

  private:
    struct HandleDeleter {
        void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
    };

    CURLcode apply_options(const HttpRequest& request, curl_slist* headers,
                           HttpResponse& response) {
        CURL* curl = handle_.get();
        CURLcode rc = CURLE_OK;
        auto set = [&](CURLoption option, auto value) {
            if (rc == CURLE_OK)
                rc = curl_easy_setopt(curl, option, value);
        };
        set(CURLOPT_URL, request.url.c_str());
        set(CURLOPT_HTTPHEADER, headers);
        set(CURLOPT_ERRORBUFFER, error_buffer_);
        set(CURLOPT_NOSIGNAL, 1L);
        set(CURLOPT_FOLLOWLOCATION, 0L);
        set(CURLOPT_PROTOCOLS_STR, "http,https");
        set(CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
        set(CURLOPT_SSL_VERIFYPEER, options_.verify_peer ? 1L : 0L);
        set(CURLOPT_SSL_VERIFYHOST, options_.verify_peer ? 2L : 0L);
        if (!options_.ca_file.empty())
            set(CURLOPT_CAINFO, options_.ca_file.c_str());
        if (!options_.ca_path.empty())
            set(CURLOPT_CAPATH, options_.ca_path.c_str());
        set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
        set(CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
        if (options_.proxy)
            set(CURLOPT_PROXY, options_.proxy->c_str());
        set(CURLOPT_WRITEFUNCTION, &CurlTransport::on_body);
        set(CURLOPT_WRITEDATA, &response);
        set(CURLOPT_HEADERFUNCTION, &CurlTransport::on_header);
        set(CURLOPT_HEADERDATA, &response);
        if (request.method == "GET") {
            set(CURLOPT_HTTPGET, 1L);
            set(CURLOPT_CUSTOMREQUEST, static_cast<const char*>(nullptr));
        } else {
            set(CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
            set(CURLOPT_POSTFIELDS, request.body.reveal().data());
            set(CURLOPT_CUSTOMREQUEST, request.method == "POST" ? nullptr : request.method.c_str());
        }
        if (rc == CURLE_OK && options_.configure)
            options_.configure(curl);
        return rc;
    }

    static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
        auto* response = static_cast<HttpResponse*>(user);
        response->body.append(std::string_view(data, size * count));
        return size * count;
    }

    static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
        auto* response = static_cast<HttpResponse*>(user);
        std::string_view line(data, size * count);
        while (!line.empty() && (line.back() == '\r' || line.back() == '\n'))
            line.remove_suffix(1);
        if (line.rfind("HTTP/", 0) == 0) {
            response->headers.clear();  // a new response (after 100-continue or auth rounds)
        } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
            std::string_view value = line.substr(colon + 1);
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
                value.remove_prefix(1);
            response->headers.push_back({std::string(line.substr(0, colon)), std::string(value)});
        }
        return size * count;
    }

    TransportError error_from(CURLcode rc) const {
        TransportError::Kind kind = TransportError::Kind::other;
        switch (rc) {
            case CURLE_OPERATION_TIMEDOUT:
                kind = TransportError::Kind::timeout;
                break;
            case CURLE_COULDNT_RESOLVE_HOST:
            case CURLE_COULDNT_RESOLVE_PROXY:
                kind = TransportError::Kind::resolve;
                break;
            case CURLE_COULDNT_CONNECT:
                kind = TransportError::Kind::connect;
                break;
            case CURLE_SSL_CONNECT_ERROR:
            case CURLE_PEER_FAILED_VERIFICATION:
            case CURLE_SSL_CACERT_BADFILE:
            case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            case CURLE_SSL_CERTPROBLEM:
            case CURLE_SSL_CIPHER:
            case CURLE_SSL_ISSUER_ERROR:
                kind = TransportError::Kind::tls;
                break;
            case CURLE_SEND_ERROR:
            case CURLE_RECV_ERROR:
            case CURLE_GOT_NOTHING:
            case CURLE_PARTIAL_FILE:
                kind = TransportError::Kind::send_receive;
                break;
            case CURLE_UNSUPPORTED_PROTOCOL:
            case CURLE_URL_MALFORMAT:
                kind = TransportError::Kind::invalid;
                break;
            default:
                break;
        }
        std::string message = curl_easy_strerror(rc);
        if (error_buffer_[0] != '\0')
            message += std::string(": ") + error_buffer_;
        message += " (curl code " + std::to_string(static_cast<int>(rc)) + ")";
        return TransportError{kind, static_cast<int>(rc), std::move(message)};
    }

    CurlOptions options_;
    std::unique_ptr<CURL, HandleDeleter> handle_;
    char error_buffer_[CURL_ERROR_SIZE] = {};
};

/// The client most applications use: the CM REST API over libcurl.
using Client = BasicClient<CurlTransport>;

}  // namespace mimcm
