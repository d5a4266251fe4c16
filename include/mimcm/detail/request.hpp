// How the client writes a request: JSON bodies straight into wiped memory, query strings, and
// the URL as it may appear in a log line.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <rapidjson/writer.h>

#include "mimcm/detail/json.hpp"
#include "mimcm/encoding.hpp"
#include "mimcm/identifiers.hpp"
#include "mimcm/models/types.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::detail {

/// The URL with every query value replaced by REDACTED, for logs.
inline std::string redact_query(std::string_view url) {
    const auto q = url.find('?');
    if (q == std::string_view::npos)
        return std::string(url);
    std::string out(url.substr(0, q + 1));
    std::string_view query = url.substr(q + 1);
    bool first = true;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        if (!first)
            out.push_back('&');
        first = false;
        out.append(pair.substr(0, pair.find('=')));
        out.append("=REDACTED");
        if (amp == std::string_view::npos)
            break;
        query.remove_prefix(amp + 1);
    }
    return out;
}

/// A RapidJSON output stream into a SecretString: a body that grows past its first buffer wipes
/// the buffer it leaves, whatever the escaping of its strings makes of their length.
class SecretOutput {
  public:
    using Ch = char;
    explicit SecretOutput(std::size_t reserve) { text_.reserve(reserve); }
    void Put(char c) { text_.append(std::string_view(&c, 1)); }
    void Flush() noexcept {}
    SecretString take() { return std::move(text_); }

  private:
    SecretString text_;
};

using JsonWriter =
    rapidjson::Writer<SecretOutput, rapidjson::UTF8<>, rapidjson::UTF8<>, WipingAllocator>;

/// Writes a JSON body straight into a SecretString (bodies may hold passwords and PINs); no
/// other buffer ever holds its text.
template <class Build>
SecretString json_body(Build build, std::size_t reserve = 256) {
    SecretOutput out(reserve);
    JsonWriter writer(out);
    build(writer);
    return out.take();
}

inline void write_string(JsonWriter& w, std::string_view text) {
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

/// A request URL written into one reserved buffer: the server's API prefix, the path parts, then
/// the query with percent-encoded values (empty values left out). Every operation builds its
/// URL with it.
class UrlBuilder {
  public:
    UrlBuilder(const CmUrl& server, std::size_t reserve) {
        static constexpr std::string_view prefix = "/api/v1.0/";
        out_.reserve(server.base().size() + prefix.size() + reserve);
        out_.append(server.base()).append(prefix);
    }
    UrlBuilder& path(std::string_view part) {
        out_.append(part);
        return *this;
    }
    UrlBuilder& param(std::string_view name, std::string_view value) {
        if (value.empty())
            return *this;
        out_ += has_query_ ? '&' : '?';
        has_query_ = true;
        out_.append(name).append(1, '=');
        percent_encode_to(out_, value);
        return *this;
    }
    /// A value given as bytes, written as lowercase hex (which needs no encoding); left out when
    /// empty.
    UrlBuilder& hex_param(std::string_view name, const Bytes& value) {
        if (value.empty())
            return *this;
        out_ += has_query_ ? '&' : '?';
        has_query_ = true;
        out_.append(name).append(1, '=');
        to_hex_to(out_, value.data(), value.size());
        return *this;
    }
    [[nodiscard]] std::string take() { return std::move(out_); }

  private:
    std::string out_;
    bool has_query_ = false;
};

/// {"status": "..."}: the body of the status PUTs.
inline SecretString status_body(std::string_view status) {
    return json_body([&](auto& w) {
        w.StartObject();
        w.Key("status");
        write_string(w, status);
        w.EndObject();
    });
}

/// The body of POST requests: the data collection travels as a JSON string holding an array of
/// {"name":"value"} objects, as in the API's examples.
inline SecretString new_request_body(const NewRequest& request) {
    return json_body([&](auto& w) {
        const SecretString items = json_body([&](auto& a) {
            a.StartArray();
            for (const auto& [name, value] : request.data_collection) {
                a.StartObject();
                write_string(a, name);
                write_string(a, value);
                a.EndObject();
            }
            a.EndArray();
        });
        w.StartObject();
        w.Key("datacollection");
        write_string(w, items.reveal());
        w.Key("type");
        write_string(w, to_string(request.type));
        if (request.profile_template) {
            w.Key("profiletemplateuuid");
            write_string(w, request.profile_template->str());
        }
        if (request.smartcard) {
            w.Key("smartcard");
            write_string(w, request.smartcard->str());
        }
        if (request.target_user) {
            w.Key("target");
            write_string(w, request.target_user->str());
        }
        w.Key("comment");
        write_string(w, request.comment);
        if (request.priority) {
            w.Key("priority");
            write_string(w, std::to_string(*request.priority));
        }
        w.EndObject();
    });
}

/// The body of POST requests/{id}/certificatedata.
inline SecretString certificate_data_body(const CertificateData& data) {
    // A first guess of the size; escaping may grow it (the body then wipes what it leaves).
    std::size_t size = 128 + data.pfx_password.size();
    for (const auto& csr : data.certificate_requests)
        size += csr.size() + 4;
    if (data.comments)
        size += data.comments->size();
    return json_body(
        [&](auto& w) {
            w.StartObject();
            w.Key("pfxpassword");
            write_string(w, data.pfx_password.reveal());
            w.Key("certificaterequests");
            w.StartArray();
            for (const auto& csr : data.certificate_requests)
                write_string(w, csr);
            w.EndArray();
            if (data.comments) {
                w.Key("comments");
                write_string(w, *data.comments);
            }
            w.EndObject();
        },
        size);
}

/// The body of POST smartcards: the card bound to the request.
inline SecretString assign_smartcard_body(const RequestId& request, const CardId& card,
                                          const std::optional<Atr>& atr) {
    return json_body([&](auto& w) {
        w.StartObject();
        w.Key("requestid");
        write_string(w, request.str());
        w.Key("cardid");
        write_string(w, card.guid());
        if (atr) {
            w.Key("atr");
            write_string(w, atr->hex());
        }
        w.EndObject();
    });
}

}  // namespace mimcm::detail
