// Must NOT compile: a profile template id where a request id is expected.
#include "common.hpp"

int main() {
    auto c = ids_check::client();
    (void)c.get_request(ids_check::profile_template);
}
