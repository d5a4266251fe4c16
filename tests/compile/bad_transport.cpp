// Must NOT compile: NotATransport has no send(const HttpRequest&). The test that builds it expects
// the client's readable static_assert message.
#include "mimcm/core.hpp"

struct NotATransport {
    int send(int) { return 0; }
};

int main() {
    mimcm::BasicClient<NotATransport> client(mimcm::CmUrl::parse("https://cm.contoso.com"),
                                             NotATransport{});
    (void)client;
}
