// The client and the call context: a context already cancelled or past its deadline sends
// nothing; a transport that takes the context gets it; the 401 token retry honours it.
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fake_transport.hpp"
#include "mimcm/core.hpp"
#include "test_data.hpp"

using namespace mimcm;
using mimcm_test::docs_card;
using mimcm_test::FakeTransport;

namespace {

const char* const kSmartcard = "17cf063d-e337-4aa9-a822-346554ddd3c9";
const char* const kRequest = "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099";

/// A transport with the two-argument send: records what context each request came with.
class ContextTransport {
  public:
    struct Seen {
        std::string url;
        bool cancellable = false;
        std::optional<CallContext::Clock::time_point> deadline;
    };
    using Handler = std::function<TransportResult(const HttpRequest&)>;

    explicit ContextTransport(Handler handler) : handler_(std::move(handler)) {}

    TransportResult send(const HttpRequest& request, const CallContext& context) {
        seen.push_back({request.url, context.cancellation.can_be_cancelled(), context.deadline});
        return handler_(request);
    }
    TransportResult send(const HttpRequest&) {
        ++one_argument_calls;
        return TransportError{TransportError::Kind::other, 0, "the client must pass the context"};
    }

    std::vector<Seen> seen;
    int one_argument_calls = 0;

  private:
    Handler handler_;
};

static_assert(is_transport_v<ContextTransport>);
static_assert(transport_takes_context_v<ContextTransport>);
static_assert(!transport_takes_context_v<FakeTransport>);

CallContext cancelled_context(CancellationSource& source) {
    source.cancel();
    CallContext context;
    context.cancellation = source.token();
    return context;
}

const TransportError* transport_error(const ProposedPinResult& result) {
    const auto* failure = std::get_if<TransportFailure>(&result);
    return failure ? &failure->error : nullptr;
}

}  // namespace

TEST_CASE("a cancelled or expired context sends nothing", "[client][cancel]") {
    FakeTransport transport(FakeTransport::answer(200, "\"00123456\""));
    BasicClient<FakeTransport> client(CmUrl::parse("https://cm.contoso.com"), transport);
    const auto smartcard = SmartcardId::parse(kSmartcard);
    const auto request = RequestId::parse(kRequest);

    CancellationSource source;
    const CallContext cancelled = cancelled_context(source);
    const auto stopped = client.server_proposed_pin(smartcard, docs_card(), cancelled);
    REQUIRE(transport_error(stopped) != nullptr);
    CHECK(transport_error(stopped)->kind == TransportError::Kind::cancelled);
    CHECK(outcome_name(stopped) == "transport_failure");

    const auto expired = CallContext::timeout(std::chrono::milliseconds(-1));
    const auto late = client.server_proposed_pin(smartcard, docs_card(), expired);
    REQUIRE(transport_error(late) != nullptr);
    CHECK(transport_error(late)->kind == TransportError::Kind::timeout);

    // Every kind of operation: list, object, create, blob, status PUT.
    const auto list = client.list_profile_templates({}, cancelled);
    CHECK(std::holds_alternative<TransportFailure>(list));
    const auto object = client.get_request(request, expired);
    CHECK(std::holds_alternative<TransportFailure>(object));
    NewRequest create;
    create.profile_template = ProfileTemplateId::parse(kRequest);
    CHECK(std::holds_alternative<TransportFailure>(client.create_request(create, cancelled)));
    CHECK(std::holds_alternative<TransportFailure>(client.get_diversified_admin_key(
        request, smartcard, docs_card().card_id, std::nullopt, cancelled)));
    CHECK(std::holds_alternative<TransportFailure>(
        client.set_request_status(request, RequestStatus::canceled, expired)));
    CHECK(transport.requests().empty());

    // Without a context, and with one that is neither, the request goes out.
    CHECK(std::holds_alternative<PinProposed>(client.server_proposed_pin(smartcard, docs_card())));
    CancellationSource live;
    auto context = CallContext::timeout(std::chrono::seconds(30));
    context.cancellation = live.token();
    CHECK(std::holds_alternative<PinProposed>(
        client.server_proposed_pin(smartcard, docs_card(), context)));
    CHECK(transport.requests().size() == 2);
}

TEST_CASE("a transport that takes the context gets the call's context", "[client][cancel]") {
    ContextTransport transport([](const HttpRequest&) -> TransportResult {
        HttpResponse response;
        response.status = 200;
        response.body.append("\"00123456\"");
        return response;
    });
    BasicClient<ContextTransport> client(CmUrl::parse("https://cm.contoso.com"),
                                         std::move(transport));
    CancellationSource source;
    auto context = CallContext::timeout(std::chrono::seconds(30));
    context.cancellation = source.token();
    const auto result =
        client.server_proposed_pin(SmartcardId::parse(kSmartcard), docs_card(), context);
    CHECK(std::holds_alternative<PinProposed>(result));
    CHECK(std::holds_alternative<PinProposed>(
        client.server_proposed_pin(SmartcardId::parse(kSmartcard), docs_card())));
    const auto& seen = client.transport().seen;
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].cancellable);
    CHECK(seen[0].deadline == context.deadline);
    CHECK_FALSE(seen[1].cancellable);
    CHECK_FALSE(seen[1].deadline);
    CHECK(client.transport().one_argument_calls == 0);
}

TEST_CASE("the 401 token retry is not sent once the call is cancelled", "[client][cancel]") {
    CancellationSource source;
    // The server answers 401; the user cancels while that answer comes back.
    FakeTransport transport([&](const HttpRequest&) -> TransportResult {
        source.cancel();
        HttpResponse response;
        response.status = 401;
        return response;
    });
    int tokens = 0;
    ClientOptions options;
    options.token_provider = [&](TokenRequest) {
        return SecretString("token-" + std::to_string(++tokens));
    };
    BasicClient<FakeTransport> client(CmUrl::parse("https://cm.contoso.com"), transport, options);
    CallContext context;
    context.cancellation = source.token();
    const auto result =
        client.server_proposed_pin(SmartcardId::parse(kSmartcard), docs_card(), context);
    REQUIRE(transport_error(result) != nullptr);
    CHECK(transport_error(result)->kind == TransportError::Kind::cancelled);
    CHECK(transport.requests().size() == 1);

    // Without the cancel, the retry with the fresh token goes out.
    FakeTransport again(FakeTransport::answer(401));
    BasicClient<FakeTransport> other(CmUrl::parse("https://cm.contoso.com"), again, options);
    CHECK(std::holds_alternative<Unauthorized>(
        other.server_proposed_pin(SmartcardId::parse(kSmartcard), docs_card())));
    CHECK(again.requests().size() == 2);
}
