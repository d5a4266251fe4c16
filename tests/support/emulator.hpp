// Access to the CM emulator the "rig" ctest fixture started (tests/rig/rig.sh): its URLs, its
// certificates, and its control API (outcomes per smart card, the record of requests).
#pragma once

#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "mimcm/transport/curl.hpp"
#include "rig.hpp"

namespace mimcm_test {

/// The whole content of a file (empty if it cannot be read).
inline std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

/// A file in the rig's state directory.
inline std::string rig_path(const std::string& relative) {
    return rig::rig_dir() + "/" + relative;
}

/// One request as the emulator recorded it.
struct Recorded {
    std::string method;
    std::string path;
    std::string raw_query;
    std::map<std::string, std::string> headers;  ///< names in lower case
    std::string local_addr;
    std::string body;
    int connection = 0;
    bool tls = false;
    bool authorized = true;
    bool session = false;
    int status = 0;
    std::string query_value(const std::string& name) const {
        // raw_query is kept as sent; this decodes nothing, so tests compare the wire form.
        const std::string key = name + "=";
        std::size_t at = 0;
        while (at < raw_query.size()) {
            const std::size_t end = raw_query.find('&', at);
            const std::string pair = raw_query.substr(at, end - at);
            if (pair.compare(0, key.size(), key) == 0)
                return pair.substr(key.size());
            if (end == std::string::npos)
                break;
            at = end + 1;
        }
        return {};
    }
};

class Emulator {
  public:
    /// port_file: "emulator.json" (the open emulator) or "auth-emulator.json" (the one that
    /// requires a bearer token, sets a session cookie and has the TLS variant listeners).
    explicit Emulator(const std::string& port_file = "emulator.json") {
        rapidjson::Document doc;
        doc.Parse(slurp(rig_path(port_file)).c_str());
        if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("http") ||
            !doc.HasMember("https")) {
            throw std::runtime_error("cannot read " + rig_path(port_file));
        }
        for (rapidjson::SizeType i = 0; i < doc.MemberCount(); ++i) {
            const auto m = doc.MemberBegin() + i;
            if (m->value.IsInt())
                ports_[m->name.GetString()] = m->value.GetInt();
        }
        http_port_ = doc["http"].GetInt();
        https_port_ = doc["https"].GetInt();
        mimcm::CurlOptions options;
        options.ca_file = ca_file();
        options.proxy = "";
        control_ = std::make_unique<mimcm::CurlTransport>(std::move(options));
    }

    [[nodiscard]] std::string http_url() const {
        return "http://127.0.0.1:" + std::to_string(http_port_) + "/CertificateManagement";
    }
    [[nodiscard]] std::string https_url() const {
        return "https://localhost:" + std::to_string(https_port_) + "/CertificateManagement";
    }
    [[nodiscard]] int http_port() const { return http_port_; }
    [[nodiscard]] int https_port() const { return https_port_; }
    /// Any port of the port file, e.g. port("https_expired").
    [[nodiscard]] int port(const std::string& name) const {
        const auto it = ports_.find(name);
        if (it == ports_.end())
            throw std::runtime_error("the emulator has no port " + name);
        return it->second;
    }
    [[nodiscard]] static std::string ca_file() { return rig_path("certs/ca.pem"); }
    [[nodiscard]] static std::string other_ca_file() { return rig_path("certs/other-ca.pem"); }

    /// Sets the outcome for one smart card id, e.g. R"({"outcome":"pin","pin":"00123456"})".
    void set_outcome(const std::string& smartcard_id, const std::string& outcome_json) {
        control("PUT", "/_emulator/smartcards/" + smartcard_id, outcome_json);
    }

    /// The recorded requests whose path contains `needle` (a smart card id), oldest first.
    /// Tests share the emulator and run in parallel: they look only at their own requests, by
    /// the fresh smart card ids they use, and never clear the record.
    [[nodiscard]] std::vector<Recorded> requests_for(const std::string& needle) {
        return records([&](const Recorded& r) { return r.path.find(needle) != std::string::npos; });
    }

    /// The recorded requests whose path, query or body contains `needle` (the same places a
    /// fault's "request_contains" looks at), oldest first.
    [[nodiscard]] std::vector<Recorded> requests_containing(const std::string& needle) {
        return records([&](const Recorded& r) {
            return r.path.find(needle) != std::string::npos ||
                   r.raw_query.find(needle) != std::string::npos ||
                   r.body.find(needle) != std::string::npos;
        });
    }

    /// Arms faults: `faults_json` is the body of PUT /_emulator/faults (tests/rig/emulator.md),
    /// e.g. R"({"GetRequest":{"status":503,"retry_after":1,"request_contains":"<id>"}})".
    void set_faults(const std::string& faults_json) {
        control("PUT", "/_emulator/faults", faults_json);
    }

  private:
    template <class Keep>
    [[nodiscard]] std::vector<Recorded> records(Keep keep) {
        const std::string body = control("GET", "/_emulator/requests", "");
        rapidjson::Document doc;
        doc.Parse(body.c_str());
        if (doc.HasParseError() || !doc.IsArray())
            throw std::runtime_error("bad /_emulator/requests");
        std::vector<Recorded> out;
        auto text = [](const rapidjson::Value& v, const char* key) {
            return v.HasMember(key) && v[key].IsString() ? std::string(v[key].GetString())
                                                         : std::string();
        };
        auto flag = [](const rapidjson::Value& v, const char* key, bool fallback) {
            return v.HasMember(key) && v[key].IsBool() ? v[key].GetBool() : fallback;
        };
        for (const auto& r : doc.GetArray()) {
            Recorded rec;
            rec.path = text(r, "path");
            rec.method = text(r, "method");
            rec.raw_query = text(r, "raw_query");
            rec.local_addr = text(r, "local_addr");
            rec.body = text(r, "body");
            rec.connection = r["connection"].GetInt();
            rec.tls = flag(r, "tls", false);
            rec.authorized = flag(r, "authorized", true);
            rec.session = flag(r, "session", false);
            if (r.HasMember("status") && r["status"].IsInt())
                rec.status = r["status"].GetInt();
            const auto& headers = r["headers"];
            for (rapidjson::SizeType i = 0; i < headers.MemberCount(); ++i) {
                const auto h = headers.MemberBegin() + i;
                if (h->value.IsString())
                    rec.headers[h->name.GetString()] = h->value.GetString();
            }
            if (keep(rec))
                out.push_back(std::move(rec));
        }
        return out;
    }

    std::string control(const std::string& method, const std::string& path,
                        const std::string& body) {
        mimcm::HttpRequest request;
        request.method = method;
        request.url = "http://127.0.0.1:" + std::to_string(http_port_) + path;
        request.headers.push_back({"Content-Type", "application/json"});
        request.body.append(body);
        auto result = control_->send(request);
        auto* response = std::get_if<mimcm::HttpResponse>(&result);
        if (!response || response->status >= 300) {
            throw std::runtime_error("emulator control " + method + " " + path + " failed");
        }
        return std::string(response->body.reveal());
    }

    std::map<std::string, int> ports_;
    int http_port_ = 0;
    int https_port_ = 0;
    std::unique_ptr<mimcm::CurlTransport> control_;
};

}  // namespace mimcm_test

namespace mimcm_test {

/// NAME=value lines of a file the rig wrote (kerberos.env, ntlm.env).
inline std::map<std::string, std::string> read_env_file(const std::string& relative) {
    std::ifstream in(rig_path(relative));
    if (!in)
        throw std::runtime_error("cannot read " + rig_path(relative));
    std::map<std::string, std::string> values;
    for (std::string line; std::getline(in, line);) {
        const auto eq = line.find('=');
        if (eq != std::string::npos && line[0] != '#')
            values[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return values;
}

}  // namespace mimcm_test
