// Must NOT compile: a bare bool where the admin key is named.
#include "common.hpp"

int main() {
    auto c = ids_check::client();
    const mimcm::CardId card = mimcm::CardId::from_guid("bc88f13f-83ba-4037-8262-46eba1291c6e");
    (void)c.get_authentication_response(ids_check::request, ids_check::smartcard, card,
                                        mimcm::Challenge::from_base64("1hFD+cz/0so="), true);
}
