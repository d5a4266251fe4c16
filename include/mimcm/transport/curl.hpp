// The default transport, on libcurl. One easy handle and one multi handle per transport, reused
// for every call, so connections stay alive between calls. Not thread-safe: use one client per
// thread (a call's CancellationToken may be cancelled from any thread).
//
// The HttpResponse of a 2xx status carries only its Content-Type header (all the client reads of a
// success); a response of any other status carries every header.
//
// libcurl needs curl_global_init before any other thread starts. mimcm never calls it from a
// static initialiser; create one mimcm::CurlGlobal at the start of main() instead.
#pragma once

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <curl/curl.h>

#include "mimcm/call.hpp"
#include "mimcm/client.hpp"
#include "mimcm/http.hpp"
#include "mimcm/identifiers.hpp"
#include "mimcm/secret.hpp"

// The oldest libcurl supported is 7.76 (RHEL 9). Newer options are used only when the headers
// have them; the library loaded at run time is checked against what the headers promised.
#if LIBCURL_VERSION_NUM < 0x074c00
#error "mimcm needs libcurl 7.76 or newer"
#endif

namespace mimcm {

namespace detail {

/// The libcurl version the library loaded at run time must have: 7.85 when the headers have
/// CURLOPT_PROTOCOLS_STR (newer headers, older library: that option would be rejected), else 7.76.
/// (CURLOPT_CAINFO_BLOB, 7.77, is set only when CurlOptions::ca_pem asks for it.)
constexpr unsigned curl_runtime_version_needed() {
    return LIBCURL_VERSION_NUM >= 0x075500 ? 0x075500u : 0x074c00u;
}

inline std::string curl_version_text(unsigned v) {
    return std::to_string(v >> 16) + "." + std::to_string((v >> 8) & 0xff) + "." +
           std::to_string(v & 0xff);
}

/// Throws if the libcurl loaded at run time is older than the headers mimcm was compiled with
/// need; returns its version (LIBCURL_VERSION_NUM form).
inline unsigned check_curl_runtime() {
    const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
    const unsigned loaded = info ? info->version_num : 0;
    if (loaded < curl_runtime_version_needed()) {
        throw TransportSetupError("check_curl_runtime",
                                  "libcurl " + curl_version_text(loaded) +
                                      " is loaded, but this program was built with libcurl " +
                                      LIBCURL_VERSION + " headers and needs libcurl " +
                                      curl_version_text(curl_runtime_version_needed()) +
                                      " or newer at run time");
    }
    return loaded;
}

}  // namespace detail

namespace detail {
/// libcurl's strdup and calloc over WipingMemory (CurlMemory::wiped).
struct WipingCurlMemory : WipingMemory {
    static char* duplicate(const char* text) noexcept {
        const std::size_t size = std::strlen(text) + 1;
        auto* copy = static_cast<char*>(allocate(size));
        if (copy != nullptr)
            std::memcpy(copy, text, size);
        return copy;
    }
    static void* allocate_zeroed(std::size_t count, std::size_t size) noexcept {
        if (size != 0 && count > static_cast<std::size_t>(-1) / size)
            return nullptr;
        void* block = allocate(count * size);
        if (block != nullptr)
            std::memset(block, 0, count * size);
        return block;
    }
};
}  // namespace detail

/// Where libcurl's own memory comes from.
enum class CurlMemory {
    /// The C library's malloc and free (libcurl's default).
    system,
    /// Functions that wipe each block before freeing it. libcurl keeps its own copies of what
    /// passes through it: the request it writes (the Authorization header with a bearer token, a
    /// request body that fits in its send buffer), the strings of its options (the proxy, NTLM and
    /// key passwords, the token) and its receive buffer (the last response body: a PIN, a key, a
    /// PFX). With the system's functions these are freed unwiped. Costs a wipe per free. Covers
    /// libcurl only: the TLS library (OpenSSL) and other libraries libcurl uses allocate on their
    /// own.
    wiped,
};

/// Owns libcurl's global state: create one in main() before any thread uses mimcm.
class CurlGlobal {
  public:
    /// memory: CurlMemory::wiped has libcurl wipe what it frees (curl_global_init_mem). It takes
    /// effect only when this is the process's first initialisation of libcurl.
    explicit CurlGlobal(CurlMemory memory = CurlMemory::system) {
        detail::check_curl_runtime();
        using M = detail::WipingCurlMemory;
        const CURLcode rc =
            memory == CurlMemory::wiped
                ? curl_global_init_mem(CURL_GLOBAL_DEFAULT, &M::allocate, &M::release,
                                       &M::reallocate, &M::duplicate, &M::allocate_zeroed)
                : curl_global_init(CURL_GLOBAL_DEFAULT);
        if (rc != CURLE_OK) {
            throw TransportSetupError(
                "CurlGlobal::CurlGlobal",
                std::string("curl_global_init failed: ") + curl_easy_strerror(rc));
        }
    }
    ~CurlGlobal() { curl_global_cleanup(); }
    CurlGlobal(const CurlGlobal&) = delete;
    CurlGlobal& operator=(const CurlGlobal&) = delete;
};

/// Windows Integrated Authentication with the user's Kerberos ticket (SPNEGO): the ticket cache
/// on Linux and macOS (kinit; KRB5CCNAME), the logged-on user on Windows. The service principal is
/// <service_name>/<host of the URL>, as curl derives it.
struct NegotiateAuth {
    std::string service_name =
        "HTTP";  ///< the service part of the principal (CURLOPT_SERVICE_NAME)
};

/// NTLM with explicit credentials, for machines outside the domain. Move-only, as its password
/// is: clone() copies it.
struct NtlmAuth {
    std::string domain;
    std::string user;
    SecretString password;

    [[nodiscard]] NtlmAuth clone() const { return {domain, user, password.clone()}; }
};

/// How the transport authenticates at the HTTP level. Bearer tokens (ADFS) are the client's
/// business: see ClientOptions::token_provider.
using HttpAuth = std::variant<std::monostate, NegotiateAuth, NtlmAuth>;

/// A TLS client certificate, for deployments that require one. Move-only, as its password is:
/// clone() copies it.
struct ClientCertificate {
    enum class Format { pem, pkcs12 };
    std::string certificate_file;  ///< PEM certificate, or a PKCS#12 (.p12/.pfx) bundle
    std::string key_file;          ///< PEM private key (PEM only; empty if in certificate_file)
    Format format = Format::pem;
    SecretString password;  ///< of the key or of the PKCS#12 bundle; empty if none

    [[nodiscard]] ClientCertificate clone() const {
        return {certificate_file, key_file, format, password.clone()};
    }
};

/// A copy of an HttpAuth, its NTLM password included.
[[nodiscard]] inline HttpAuth clone(const HttpAuth& auth) {
    if (const auto* ntlm = std::get_if<NtlmAuth>(&auth))
        return ntlm->clone();
    if (const auto* negotiate = std::get_if<NegotiateAuth>(&auth))
        return *negotiate;
    return std::monostate{};
}

/// Options of a CurlTransport. Move-only, as the passwords in it are: clone() copies them, for
/// example to give each thread a transport of its own.
struct CurlOptions {
    // Server trust. Peer and host name verification are always on unless you set the flag whose
    // name says what it does.
    std::string ca_file;  ///< PEM bundle of trusted CAs (CURLOPT_CAINFO); empty: system store
    std::string ca_path;  ///< directory of trusted CAs (CURLOPT_CAPATH)
    std::string ca_pem;   ///< trusted CAs as in-memory PEM text (CURLOPT_CAINFO_BLOB)
    /// Public key pinning: "sha256//<base64>[;sha256//...]" (CURLOPT_PINNEDPUBLICKEY). The chain
    /// must still verify.
    std::string pinned_public_key;
    /// Turns off TLS peer and host name verification. Anyone on the path can then read the PINs
    /// and credentials. Only for throwaway test servers.
    bool insecure_skip_tls_verification = false;

    std::optional<ClientCertificate> client_certificate;
    HttpAuth auth;

    /// Keep cookies the server sets (a session cookie) and send them back on later calls of the
    /// same transport. In memory only.
    bool cookies = true;
    /// Follow redirects (off by default). Credentials and tokens are never sent to another host.
    bool follow_redirects = false;
    long max_redirects = 5;

    /// Time allowed to connect (TCP and TLS handshake).
    std::chrono::milliseconds connect_timeout{10000};
    /// Time allowed for the whole call; 0 means no limit.
    std::chrono::milliseconds timeout{30000};

    // Limits against a broken or hostile server. Each one, when hit, ends the call with a
    // TransportError of its own kind (response_too_large, headers_too_large, too_slow), never with
    // unbounded memory or a wait until the total timeout. 0 turns a limit off.

    /// Largest response body accepted, in bytes (16 MiB). Enforced while receiving; a response
    /// whose Content-Length announces more is refused before its body is read.
    std::size_t max_response_body = std::size_t{16} * 1024 * 1024;
    /// Largest total size of the header lines received in one call (64 KiB), status lines and the
    /// responses of redirects and authentication rounds included. libcurl itself also refuses a
    /// single header line over 100 KiB.
    std::size_t max_header_bytes = std::size_t{64} * 1024;
    /// Most header lines received in one call (200), counted like max_header_bytes.
    std::size_t max_header_count = 200;
    /// Low-speed limit: a call receiving (or sending) fewer than low_speed_bytes bytes per second
    /// for low_speed_time ends with too_slow. A server that drips a byte a second, or accepts and
    /// then says nothing, fails after low_speed_time instead of at the total timeout. Raise
    /// low_speed_time for a server that thinks longer than that before it answers.
    long low_speed_bytes = 32;
    std::chrono::seconds low_speed_time{15};

    /// Proxy: nullopt follows curl's environment rules (https_proxy, no_proxy...), "" means no
    /// proxy, anything else is the proxy URL.
    std::optional<std::string> proxy;
    std::string proxy_user;       ///< proxy credentials (any scheme the proxy offers)
    SecretString proxy_password;  ///< never logged
    /// Called on the easy handle once, before the first call, after mimcm has set the options
    /// that stay the same between calls: for anything else curl offers. The ones mimcm sets per
    /// call (URL, method, body, request headers, authentication, timeout, the callbacks' data)
    /// are mimcm's.
    std::function<void(CURL*)> configure;

    /// Every field copied, the passwords with SecretString::clone(). (A field added above must be
    /// added here.)
    [[nodiscard]] CurlOptions clone() const {
        CurlOptions copy;
        copy.ca_file = ca_file;
        copy.ca_path = ca_path;
        copy.ca_pem = ca_pem;
        copy.pinned_public_key = pinned_public_key;
        copy.insecure_skip_tls_verification = insecure_skip_tls_verification;
        if (client_certificate)
            copy.client_certificate = client_certificate->clone();
        copy.auth = mimcm::clone(auth);
        copy.cookies = cookies;
        copy.follow_redirects = follow_redirects;
        copy.max_redirects = max_redirects;
        copy.connect_timeout = connect_timeout;
        copy.timeout = timeout;
        copy.max_response_body = max_response_body;
        copy.max_header_bytes = max_header_bytes;
        copy.max_header_count = max_header_count;
        copy.low_speed_bytes = low_speed_bytes;
        copy.low_speed_time = low_speed_time;
        copy.proxy = proxy;
        copy.proxy_user = proxy_user;
        copy.proxy_password = proxy_password.clone();
        copy.configure = configure;
        return copy;
    }
};

class CurlTransport {
  public:
    /// Throws mimcm::InvalidArgument if an option needs a newer libcurl than the one compiled
    /// against (ca_pem needs 7.77), mimcm::TransportSetupError if the libcurl loaded is older than
    /// the one compiled against needs.
    explicit CurlTransport(CurlOptions options = {})
        : options_(check(std::move(options))),
          multi_(curl_multi_init()),
          handle_(curl_easy_init()) {
        if (!multi_)
            throw std::runtime_error("curl_multi_init failed");
        if (!handle_)
            throw TransportSetupError("CurlTransport::CurlTransport", "curl_easy_init failed");
        // The cookie engine lives as long as the handle: enabled once, not per request.
        if (options_.cookies)
            curl_easy_setopt(handle_.get(), CURLOPT_COOKIEFILE, "");
    }

    /// Every failure of the server or the network, a limit included, is a TransportError. Throws
    /// only what the process itself failed at while receiving (std::bad_alloc), rethrown once
    /// libcurl has returned, so the transport stays usable.
    [[nodiscard]] TransportResult send(const HttpRequest& request) {
        return send(request, CallContext{});
    }

    /// The same, bounded by `context`: a cancel of its token (from any thread) ends the call
    /// within about 10 ms with TransportError::Kind::cancelled (the connection in use is closed);
    /// its deadline caps CurlOptions::timeout for this call (Kind::timeout).
    [[nodiscard]] TransportResult send(const HttpRequest& request, const CallContext& context) {
        if (auto stopped = detail::stopped_before_sending(context))
            return std::move(*stopped);
        CURL* curl = handle_.get();
        HttpResponse response;
        Receiving receiving;
        receiving.options = &options_;
        receiving.response = &response;
        error_buffer_[0] = '\0';

        // The deadline, when it comes before the transport's own timeout, is this call's limit.
        const long timeout = timeout_ms(context);
        const bool deadline_first = context.deadline && (options_.timeout.count() == 0 ||
                                                         timeout < options_.timeout.count());
        if (const CURLcode rc = apply_options(request, receiving, timeout); rc != CURLE_OK) {
            forget_options();
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, nullptr);  // no pointer to the body kept
            if (rc == CURLE_OUT_OF_MEMORY)
                return TransportError{TransportError::Kind::other, rc, "out of memory"};
            return TransportError{
                TransportError::Kind::invalid, rc,
                std::string("curl rejected an option: ") + curl_easy_strerror(rc)};
        }
        bool cancelled = false;
        const CURLcode rc = perform(context, cancelled);
        // The request body may be a secret: make sure curl keeps no pointer to it. (That puts the
        // handle in POST mode: the next GET sets HTTPGET again.)
        if (!get_mode_)
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, nullptr);
        if (cancelled) {
            return TransportError{TransportError::Kind::cancelled, CURLE_ABORTED_BY_CALLBACK,
                                  "the call was cancelled"};
        }
        // An exception in a callback (bad_alloc...) was caught there, since it must not cross
        // libcurl's C frames; it is the caller's, as if thrown by send() itself.
        if (receiving.exception)
            std::rethrow_exception(receiving.exception);
        if (receiving.limit_hit)
            return limit_error(*receiving.limit_hit, rc, receiving.status_line);
        // libcurl refuses a single header line over 100 KiB itself, as out of memory (older
        // versions) or CURLE_TOO_LARGE (8.6 and newer).
        if (receiving.in_headers && (rc == CURLE_OUT_OF_MEMORY || is_too_large(rc)))
            return limit_error(TransportError::Kind::headers_too_large, rc, true);
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        // libcurl counts HTTP authentication rounds as redirects: a server that keeps answering
        // 401 to valid Negotiate tokens (an application behind an authenticating proxy refusing
        // the user) ends in CURLE_TOO_MANY_REDIRECTS. That is an answer: 401.
        if (rc == CURLE_TOO_MANY_REDIRECTS && status == 401) {
            response.status = 401;
            return response;
        }
        if (rc != CURLE_OK) {
            TransportError error = error_from(rc);
            if (error.kind == TransportError::Kind::timeout && deadline_first)
                error.message = "the call's deadline passed: " + error.message;
            error.response_started = receiving.status_line;
            return error;
        }
        // libcurl 7.88 reports success when the connection closes inside the response headers,
        // with whatever status line came: that is a broken receive, not an empty answer.
        if (receiving.in_headers || status == 0) {
            TransportError error{TransportError::Kind::send_receive, CURLE_PARTIAL_FILE,
                                 "the connection closed before the end of the response headers"};
            error.response_started = receiving.status_line;
            return error;
        }
        response.status = static_cast<int>(status);
        return response;
    }

  private:
    static CurlOptions check(CurlOptions options) {
        const unsigned loaded = detail::check_curl_runtime();
        if (!options.ca_pem.empty()) {
            // In the headers and in the library loaded.
            const bool has_cainfo_blob = LIBCURL_VERSION_NUM >= 0x074d00 && loaded >= 0x074d00;
            if (!has_cainfo_blob) {
                throw InvalidArgument(
                    "CurlTransport::CurlTransport",
                    "CurlOptions::ca_pem (in-memory CA certificates) needs libcurl 7.77 or newer, "
                    "built with " LIBCURL_VERSION ", running with " +
                        detail::curl_version_text(loaded) + ": use ca_file or ca_path instead");
            }
        }
        return options;
    }

    /// What the callbacks of one call share: where the response goes, the limits, and what
    /// stopped the transfer (a limit, or an exception caught before it could reach libcurl).
    struct Receiving {
        const CurlOptions* options = nullptr;
        HttpResponse* response = nullptr;
        std::size_t header_bytes = 0;
        std::size_t header_count = 0;
        bool in_headers = false;  ///< a status line came, the blank line ending its headers not yet
        bool status_line = false;  ///< a status line came (of any response of the transfer)
        bool success = false;      ///< the last status line is a 2xx
        std::optional<TransportError::Kind> limit_hit;
        std::exception_ptr exception;
    };

    struct HandleDeleter {
        void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
    };
    struct MultiDeleter {
        void operator()(CURLM* m) const noexcept { curl_multi_cleanup(m); }
    };
    struct SlistDeleter {
        void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
    };
    using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

    /// Runs the transfer on the transport's multi handle (what curl_easy_perform does inside,
    /// so the connection cache and what a call allocates are the same), waking every 10 ms to
    /// look at the token when the call can be cancelled. Sets `cancelled` when it stopped for it.
    CURLcode perform(const CallContext& context, bool& cancelled) {
        CURLM* multi = multi_.get();
        CURL* curl = handle_.get();
        if (curl_multi_add_handle(multi, curl) != CURLM_OK)
            return CURLE_FAILED_INIT;
        const bool cancellable = context.cancellation.can_be_cancelled();
        const int slice_ms = cancellable ? 10 : 1000;
        CURLcode result = CURLE_OK;
        for (bool done = false; !done;) {
            if (cancellable && context.cancelled()) {
                cancelled = true;
                break;
            }
            int running = 0;
            CURLMcode mc = curl_multi_perform(multi, &running);
            int queued = 0;
            while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
                if (message->msg == CURLMSG_DONE && message->easy_handle == curl) {
                    result = message->data.result;
                    done = true;
                }
            }
            if (!done && mc == CURLM_OK && running == 0) {
                result = CURLE_GOT_NOTHING;  // not expected: the transfer ended without a result
                done = true;
            }
            if (!done && mc == CURLM_OK)
                mc = curl_multi_poll(multi, nullptr, 0, slice_ms, nullptr);
            if (mc != CURLM_OK) {
                result = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
                done = true;
            }
        }
        curl_multi_remove_handle(multi, curl);
        return result;
    }

    /// CurlOptions::timeout, capped by the context's deadline (0: no limit).
    long timeout_ms(const CallContext& context) const {
        long limit = static_cast<long>(options_.timeout.count());
        if (const auto left = context.remaining()) {
            const long cap = static_cast<long>(
                (std::min)((std::max)(static_cast<std::int64_t>(left->count()), std::int64_t{1}),
                           static_cast<std::int64_t>((std::numeric_limits<long>::max)())));
            limit = limit == 0 ? cap : (std::min)(limit, cap);
        }
        return limit;
    }

    /// Sets what each call needs: the URL, the method and body, the header list (again only when
    /// the request's headers differ from the last call's), the authentication and the timeout
    /// (again only when it differs). The options that never change between calls are set once,
    /// before the first call (set_fixed_options).
    CURLcode apply_options(const HttpRequest& request, Receiving& receiving, long timeout) {
        CURL* curl = handle_.get();
        CURLcode rc = CURLE_OK;
        if (!fixed_set_) {
            rc = set_fixed_options();
            if (rc != CURLE_OK)
                return rc;
            fixed_set_ = true;
        }
        auto set = [&](CURLoption option, auto value) {
            if (rc == CURLE_OK)
                rc = curl_easy_setopt(curl, option, value);
        };
        set(CURLOPT_URL, request.url.c_str());
        set(CURLOPT_ERRORBUFFER, error_buffer_);  // per call: the transport may have moved
        if (!same_headers(request.headers)) {
            rc = set_headers(request.headers);
            if (rc != CURLE_OK)
                return rc;
        }
        if (timeout != timeout_set_) {
            set(CURLOPT_TIMEOUT_MS, timeout);
            timeout_set_ = timeout;
        }
        apply_auth(request, set);
        set(CURLOPT_WRITEDATA, &receiving);
        set(CURLOPT_HEADERDATA, &receiving);
        if (request.method == "GET") {
            if (!get_mode_) {
                set(CURLOPT_HTTPGET, 1L);
                set(CURLOPT_CUSTOMREQUEST, static_cast<const char*>(nullptr));
                get_mode_ = true;
            }
        } else {
            get_mode_ = false;
            set(CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
            set(CURLOPT_POSTFIELDS, request.body.c_str());
            set(CURLOPT_CUSTOMREQUEST, request.method == "POST" ? nullptr : request.method.c_str());
        }
        return rc;
    }

    /// The options that stay the same for every call of the transport, then the configure hook.
    CURLcode set_fixed_options() {
        CURL* curl = handle_.get();
        CURLcode rc = CURLE_OK;
        auto set = [&](CURLoption option, auto value) {
            if (rc == CURLE_OK)
                rc = curl_easy_setopt(curl, option, value);
        };
        set(CURLOPT_NOSIGNAL, 1L);
        set(CURLOPT_FOLLOWLOCATION, options_.follow_redirects ? 1L : 0L);
        set(CURLOPT_MAXREDIRS, options_.max_redirects);
        set(CURLOPT_UNRESTRICTED_AUTH, 0L);  // credentials only ever go to the first host
#if LIBCURL_VERSION_NUM >= 0x075500
        set(CURLOPT_PROTOCOLS_STR, "http,https");
        set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
        set(CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
        set(CURLOPT_REDIR_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        set(CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
        const bool verify = !options_.insecure_skip_tls_verification;
        set(CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
        set(CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
        if (!options_.ca_file.empty())
            set(CURLOPT_CAINFO, options_.ca_file.c_str());
        if (!options_.ca_path.empty())
            set(CURLOPT_CAPATH, options_.ca_path.c_str());
#if LIBCURL_VERSION_NUM >= 0x074d00
        if (!options_.ca_pem.empty()) {
            curl_blob blob{const_cast<char*>(options_.ca_pem.data()), options_.ca_pem.size(),
                           CURL_BLOB_COPY};
            set(CURLOPT_CAINFO_BLOB, &blob);
        }
#endif  // older: refused when the transport is made
#if defined(_WIN32) && defined(CURLSSLOPT_NATIVE_CA)
        // The system store on Windows is the Windows certificate store: libcurl with Schannel
        // always uses it; this makes a libcurl built with OpenSSL use it too.
        if (verify && options_.ca_file.empty() && options_.ca_path.empty() &&
            options_.ca_pem.empty())
            set(CURLOPT_SSL_OPTIONS, static_cast<long>(CURLSSLOPT_NATIVE_CA));
#endif
        if (!options_.pinned_public_key.empty()) {
            set(CURLOPT_PINNEDPUBLICKEY, options_.pinned_public_key.c_str());
        }
        if (const auto& cert = options_.client_certificate) {
            set(CURLOPT_SSLCERT, cert->certificate_file.c_str());
            set(CURLOPT_SSLCERTTYPE,
                cert->format == ClientCertificate::Format::pkcs12 ? "P12" : "PEM");
            if (!cert->key_file.empty())
                set(CURLOPT_SSLKEY, cert->key_file.c_str());
            if (!cert->password.empty())
                set(CURLOPT_KEYPASSWD, cert->password.c_str());
        }
        set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
        const bool low_speed = options_.low_speed_bytes > 0 && options_.low_speed_time.count() > 0;
        set(CURLOPT_LOW_SPEED_LIMIT, low_speed ? options_.low_speed_bytes : 0L);
        set(CURLOPT_LOW_SPEED_TIME,
            low_speed ? static_cast<long>(options_.low_speed_time.count()) : 0L);
        // Refuses a Content-Length announcing more than the limit; on_body enforces it on what
        // actually arrives (chunked, close-delimited, or a lying Content-Length).
        set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_response_body));
        if (options_.proxy)
            set(CURLOPT_PROXY, options_.proxy->c_str());
        if (!options_.proxy_user.empty()) {
            set(CURLOPT_PROXYAUTH, static_cast<long>(CURLAUTH_ANY));
            set(CURLOPT_PROXYUSERNAME, options_.proxy_user.c_str());
            set(CURLOPT_PROXYPASSWORD, options_.proxy_password.c_str());
        }
        set(CURLOPT_WRITEFUNCTION, &CurlTransport::on_body);
        set(CURLOPT_HEADERFUNCTION, &CurlTransport::on_header);
        if (rc == CURLE_OK && options_.configure)
            options_.configure(curl);
        return rc;
    }

    /// After an option was refused: every option is set again on the next call.
    void forget_options() noexcept {
        fixed_set_ = false;
        get_mode_ = false;
        transport_auth_set_ = false;
        timeout_set_ = -1;
        headers_set_ = false;
        header_lines_.clear();
    }

    bool same_headers(const std::vector<Header>& headers) const noexcept {
        return headers_set_ && headers.size() == header_lines_.size() &&
               std::equal(headers.begin(), headers.end(), header_lines_.begin(),
                          [](const Header& a, const Header& b) {
                              return a.name == b.name && a.value == b.value;
                          });
    }

    /// A new header list for these headers; the one it replaces is freed once curl no longer
    /// points at it.
    CURLcode set_headers(const std::vector<Header>& headers) {
        HeaderList list(nullptr);
        std::string line;
        for (const auto& h : headers) {
            line.assign(h.name).append(": ").append(h.value);
            curl_slist* grown = curl_slist_append(list.get(), line.c_str());
            if (!grown)
                return CURLE_OUT_OF_MEMORY;
            (void)list.release();
            list.reset(grown);
        }
        if (list == nullptr) {
            // No headers: a list of none is still "set", so the next call can compare.
            const CURLcode rc = curl_easy_setopt(handle_.get(), CURLOPT_HTTPHEADER, nullptr);
            if (rc != CURLE_OK)
                return rc;
        } else if (const CURLcode rc =
                       curl_easy_setopt(handle_.get(), CURLOPT_HTTPHEADER, list.get());
                   rc != CURLE_OK) {
            return rc;
        }
        header_list_ = std::move(list);
        header_lines_ = headers;
        headers_set_ = true;
        return CURLE_OK;
    }

    /// HTTP authentication: the transport's scheme (Negotiate, NTLM) or the request's bearer
    /// token. A bearer token is set on every request that has one; a request without one sets
    /// the transport's scheme again whenever the call before had a token (or was the first), so
    /// nothing of an earlier request's token lingers.
    template <class Set>
    void apply_auth(const HttpRequest& request, Set& set) {
        if (!request.bearer_token.empty()) {
            transport_auth_set_ = false;
            set(CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BEARER));
            set(CURLOPT_XOAUTH2_BEARER, request.bearer_token.c_str());
            return;
        }
        if (transport_auth_set_)
            return;
        transport_auth_set_ = true;
        set(CURLOPT_XOAUTH2_BEARER, static_cast<const char*>(nullptr));
        if (std::holds_alternative<NegotiateAuth>(options_.auth)) {
            const auto& negotiate = std::get<NegotiateAuth>(options_.auth);
            set(CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_NEGOTIATE));
            set(CURLOPT_USERPWD, ":");  // curl sends no token without (empty) credentials
            set(CURLOPT_SERVICE_NAME, negotiate.service_name.c_str());
        } else if (std::holds_alternative<NtlmAuth>(options_.auth)) {
            const auto& ntlm = std::get<NtlmAuth>(options_.auth);
            const std::string user =
                ntlm.domain.empty() ? ntlm.user : ntlm.domain + "\\" + ntlm.user;
            set(CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_NTLM));
            set(CURLOPT_USERNAME, user.c_str());
            set(CURLOPT_PASSWORD, ntlm.password.c_str());
        } else {
            set(CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
            set(CURLOPT_USERPWD, static_cast<const char*>(nullptr));
        }
    }

    // libcurl's callbacks: nothing may throw through libcurl's C frames. Returning fewer bytes
    // than given makes libcurl abort the transfer (CURLE_WRITE_ERROR); send() then reports why.

    static std::size_t on_body(char* data, std::size_t size, std::size_t count,
                               void* user) noexcept {
        auto* call = static_cast<Receiving*>(user);
        const std::size_t n = size * count;
        try {
            const std::size_t limit = call->options->max_response_body;
            if (limit != 0 && n > limit - std::min(limit, call->response->body.size())) {
                call->limit_hit = TransportError::Kind::response_too_large;
                return 0;
            }
            // The buffer doubles, but past a quarter of the limit it goes straight to the limit:
            // doubling towards the limit would end with a regrowth from nearly the limit to the
            // limit, both buffers alive, twice the limit in memory.
            SecretString& body = call->response->body;
            const std::size_t need = body.size() + n;
            if (limit != 0 && need > body.capacity())
                body.reserve(need > limit / 4 ? limit : need * 2);
            body.append(std::string_view(data, n));
            return n;
        } catch (...) {
            call->exception = std::current_exception();
            return 0;
        }
    }

    static std::size_t on_header(char* data, std::size_t size, std::size_t count,
                                 void* user) noexcept {
        auto* call = static_cast<Receiving*>(user);
        const std::size_t n = size * count;
        try {
            const CurlOptions& limits = *call->options;
            call->header_bytes += n;
            call->header_count += 1;
            if ((limits.max_header_bytes != 0 && call->header_bytes > limits.max_header_bytes) ||
                (limits.max_header_count != 0 && call->header_count > limits.max_header_count)) {
                call->limit_hit = TransportError::Kind::headers_too_large;
                return 0;
            }
            HttpResponse& response = *call->response;
            std::string_view line(data, n);
            while (!line.empty() && (line.back() == '\r' || line.back() == '\n'))
                line.remove_suffix(1);
            if (line.empty()) {
                call->in_headers = false;
            } else if (line.rfind("HTTP/", 0) == 0) {
                call->in_headers = true;
                call->status_line = true;
                // A new response (after 100-continue, authentication rounds or redirects): only
                // the last one counts.
                response.headers.clear();
                response.body.wipe();
                call->success = is_success_status_line(line);
            } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
                const std::string_view name = line.substr(0, colon);
                // A success keeps only its Content-Type (all a client reads of one); other
                // statuses keep every header (WWW-Authenticate, Retry-After...).
                if (call->success && !detail::iequals(name, "Content-Type"))
                    return n;
                std::string_view value = line.substr(colon + 1);
                while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
                    value.remove_prefix(1);
                response.headers.push_back({std::string(name), std::string(value)});
            }
            return n;
        } catch (...) {
            call->exception = std::current_exception();
            return 0;
        }
    }

    /// "HTTP/1.1 2xx ...", "HTTP/2 2xx".
    static bool is_success_status_line(std::string_view line) noexcept {
        const auto space = line.find(' ');
        return space != std::string_view::npos && line.size() >= space + 4 &&
               line[space + 1] == '2' &&
               std::isdigit(static_cast<unsigned char>(line[space + 2])) != 0 &&
               std::isdigit(static_cast<unsigned char>(line[space + 3])) != 0;
    }

    static constexpr bool is_too_large(CURLcode rc) {
#if LIBCURL_VERSION_NUM >= 0x080600
        return rc == CURLE_TOO_LARGE;
#else
        (void)rc;
        return false;
#endif
    }

    /// The error for a limit hit in a callback; `rc` is what libcurl made of the abort.
    TransportError limit_error(TransportError::Kind kind, CURLcode rc,
                               bool response_started) const {
        std::string message;
        if (kind == TransportError::Kind::response_too_large) {
            message = "the response body is larger than the limit of " +
                      std::to_string(options_.max_response_body) + " bytes";
        } else if (rc != CURLE_WRITE_ERROR) {
            message = "a response header line is longer than libcurl accepts (100 KiB)";
        } else {
            message = "the response headers exceed the limit of " +
                      std::to_string(options_.max_header_bytes) + " bytes or " +
                      std::to_string(options_.max_header_count) + " lines";
        }
        message += " (curl code " + std::to_string(static_cast<int>(rc)) + ")";
        TransportError error{kind, static_cast<int>(rc), std::move(message)};
        error.response_started = response_started;
        return error;
    }

    TransportError error_from(CURLcode rc) const {
        TransportError::Kind kind = TransportError::Kind::other;
        switch (rc) {
            case CURLE_OPERATION_TIMEDOUT:
                // The low-speed limit ends a transfer with the same code as the total timeout.
                kind = std::string_view(error_buffer_).rfind("Operation too slow", 0) == 0
                           ? TransportError::Kind::too_slow
                           : TransportError::Kind::timeout;
                break;
            case CURLE_FILESIZE_EXCEEDED:  // Content-Length over max_response_body
                kind = TransportError::Kind::response_too_large;
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
            case CURLE_WEIRD_SERVER_REPLY:
                kind = TransportError::Kind::malformed_response;
                break;
            case CURLE_UNSUPPORTED_PROTOCOL:
                // Also what libcurl says of an answer without a status line (HTTP/0.9 refused).
                kind = std::string_view(error_buffer_).find("HTTP/0.9") != std::string_view::npos
                           ? TransportError::Kind::malformed_response
                           : TransportError::Kind::invalid;
                break;
            case CURLE_URL_MALFORMAT:
                kind = TransportError::Kind::invalid;
                break;
            default:
                break;
        }
        // A TLS alert read after the handshake (TLS 1.3 sends "certificate required" that way)
        // surfaces as a receive error: it is still a TLS failure.
        if (kind == TransportError::Kind::send_receive &&
            std::string_view(error_buffer_).find("SSL") != std::string_view::npos) {
            kind = TransportError::Kind::tls;
        }
        std::string message = curl_easy_strerror(rc);
        if (error_buffer_[0] != '\0')
            message += std::string(": ") + error_buffer_;
        message += " (curl code " + std::to_string(static_cast<int>(rc)) + ")";
        return TransportError{kind, static_cast<int>(rc), std::move(message)};
    }

    CurlOptions options_;
    /// The CURLOPT_HTTPHEADER list (curl keeps only the pointer): outlives the easy handle.
    HeaderList header_list_;
    std::unique_ptr<CURLM, MultiDeleter> multi_;  ///< declared first: outlives the easy handle
    std::unique_ptr<CURL, HandleDeleter> handle_;
    char error_buffer_[CURL_ERROR_SIZE] = {};
    // What the handle holds from earlier calls (see apply_options).
    bool fixed_set_ = false;           ///< set_fixed_options done
    bool get_mode_ = false;            ///< in GET mode (HTTPGET set, no custom method)
    bool transport_auth_set_ = false;  ///< the transport's scheme set, no bearer token
    bool headers_set_ = false;         ///< header_list_ made from header_lines_ is set
    long timeout_set_ = -1;            ///< CURLOPT_TIMEOUT_MS as last set
    std::vector<Header> header_lines_;
};

/// The client most applications use: the CM REST API over libcurl.
using Client = BasicClient<CurlTransport>;

#ifdef MIMCM_COMPILED
// The compiled mode (see <mimcm/mimcm.hpp>): compiled once, in src/mimcm.cpp.
extern template class BasicClient<CurlTransport>;
#endif

}  // namespace mimcm
