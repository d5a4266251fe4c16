// Raw libcurl and RapidJSON doing what the two benchmarked operations do: the floor mimcm is
// measured against (bench_calls.cpp, and the compile-cost translation unit).
#pragma once

#include <curl/curl.h>
#include <rapidjson/document.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "bench_data.hpp"

namespace mimcm_bench {

/// Raw libcurl: one easy handle, every option and the header list set once, the response body
/// into one reused buffer. The same behaviour options mimcm's transport sets by default (cookie
/// engine, TLS 1.2 minimum, timeouts, protocols, body size limit), the same headers.
class RawCurl {
  public:
    RawCurl(const std::string& url, const std::string& ca_file, const std::string& user_agent)
        : handle_(curl_easy_init()) {
        if (handle_ == nullptr) {
            std::fputs("curl_easy_init failed\n", stderr);
            std::abort();
        }
        headers_ = curl_slist_append(headers_, "Accept: application/json");
        const std::string agent = "User-Agent: " + user_agent;
        headers_ = curl_slist_append(headers_, agent.c_str());
        curl_easy_setopt(handle_, CURLOPT_URL, url.c_str());
        curl_easy_setopt(handle_, CURLOPT_HTTPHEADER, headers_);
        curl_easy_setopt(handle_, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(handle_, CURLOPT_COOKIEFILE, "");
        curl_easy_setopt(handle_, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
        if (!ca_file.empty())
            curl_easy_setopt(handle_, CURLOPT_CAINFO, ca_file.c_str());
        curl_easy_setopt(handle_, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
        curl_easy_setopt(handle_, CURLOPT_TIMEOUT_MS, 30000L);
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(handle_, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
        curl_easy_setopt(handle_, CURLOPT_MAXFILESIZE_LARGE, curl_off_t{16 * 1024 * 1024});
        curl_easy_setopt(handle_, CURLOPT_WRITEFUNCTION, &RawCurl::on_body);
        curl_easy_setopt(handle_, CURLOPT_WRITEDATA, &body_);
    }
    ~RawCurl() {
        curl_easy_cleanup(handle_);
        curl_slist_free_all(headers_);
    }
    RawCurl(const RawCurl&) = delete;
    RawCurl& operator=(const RawCurl&) = delete;

    /// One GET; the body, or nullptr when the call failed or the status is not 200.
    const std::string* get() {
        body_.clear();
        if (curl_easy_perform(handle_) != CURLE_OK)
            return nullptr;
        long status = 0;
        curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &status);
        return status == 200 ? &body_ : nullptr;
    }

  private:
    static size_t on_body(char* data, size_t size, size_t count, void* user) {
        static_cast<std::string*>(user)->append(data, size * count);
        return size * count;
    }

    CURL* handle_;
    curl_slist* headers_ = nullptr;
    std::string body_;
};

inline bool raw_seed(RawCurl& curl) {
    const std::string* body = curl.get();
    if (body == nullptr)
        return false;
    rapidjson::Document doc;
    doc.Parse(body->data(), body->size());
    return !doc.HasParseError() && doc.IsString() &&
           std::string_view(doc.GetString(), doc.GetStringLength()) == kPin;
}

/// The same values mimcm's ProfileTemplateView holds.
struct RawTemplate {
    std::string name;
    std::string description;
    std::string uuid;
    bool is_smartcard = false;
    bool is_virtual_smartcard = false;
};

inline bool raw_list(RawCurl& curl) {
    const std::string* body = curl.get();
    if (body == nullptr)
        return false;
    rapidjson::Document doc;
    doc.Parse(body->data(), body->size());
    if (doc.HasParseError() || !doc.IsArray())
        return false;
    std::vector<RawTemplate> templates;
    templates.reserve(doc.Size());
    for (const auto& v : doc.GetArray()) {
        if (!v.IsObject())
            return false;
        RawTemplate t;
        for (const auto& m : v.GetObject()) {
            const std::string_view key(m.name.GetString(), m.name.GetStringLength());
            if (key == "Name" && m.value.IsString())
                t.name.assign(m.value.GetString(), m.value.GetStringLength());
            else if (key == "Description" && m.value.IsString())
                t.description.assign(m.value.GetString(), m.value.GetStringLength());
            else if (key == "Uuid" && m.value.IsString())
                t.uuid.assign(m.value.GetString(), m.value.GetStringLength());
            else if (key == "IsSmartcardProfileTemplate" && m.value.IsBool())
                t.is_smartcard = m.value.GetBool();
            else if (key == "IsVirtualSmartcardProfileTemplate" && m.value.IsBool())
                t.is_virtual_smartcard = m.value.GetBool();
        }
        templates.push_back(std::move(t));
    }
    return templates.size() == kTemplateCount && templates.back().uuid == kLastTemplate &&
           templates.back().is_smartcard;
}

}  // namespace mimcm_bench
