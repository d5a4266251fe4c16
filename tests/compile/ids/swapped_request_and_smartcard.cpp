// Must NOT compile: the request and smart card ids swapped.
#include "common.hpp"

int main() {
    auto c = ids_check::client();
    (void)c.update_smartcard_status(ids_check::smartcard, ids_check::request,
                                    mimcm::SmartcardStatus::retired);
}
