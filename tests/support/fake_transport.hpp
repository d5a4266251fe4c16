// A transport for unit tests: records each request and answers with a scripted function.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mimcm/http.hpp"

namespace mimcm_test {

struct RecordedRequest {
    std::string method;
    std::string url;
    std::vector<mimcm::Header> headers;
    std::string bearer_token;  ///< a plain copy: fine in a test
    std::string body;          ///< likewise
};

class FakeTransport {
  public:
    using Handler = std::function<mimcm::TransportResult(const mimcm::HttpRequest&)>;

    explicit FakeTransport(Handler handler)
        : state_(std::make_shared<State>(State{std::move(handler), {}})) {}

    mimcm::TransportResult send(const mimcm::HttpRequest& request) {
        state_->requests.push_back({request.method, request.url, request.headers,
                                    std::string(request.bearer_token.reveal()),
                                    std::string(request.body.reveal())});
        return state_->handler(request);
    }

    /// Requests seen so far (shared between copies, so a test keeps a handle after moving it in).
    [[nodiscard]] const std::vector<RecordedRequest>& requests() const { return state_->requests; }

    /// A handler that always answers with this status, body and headers.
    static Handler answer(int status, std::string body = {},
                          std::vector<mimcm::Header> headers = {
                              {"Content-Type", "application/json"}}) {
        return [=](const mimcm::HttpRequest&) -> mimcm::TransportResult {
            mimcm::HttpResponse r;
            r.status = status;
            r.headers = headers;
            r.body.append(body);
            return r;
        };
    }

  private:
    struct State {
        Handler handler;
        std::vector<RecordedRequest> requests;
    };
    std::shared_ptr<State> state_;
};

}  // namespace mimcm_test
