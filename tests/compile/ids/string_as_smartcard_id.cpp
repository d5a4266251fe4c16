// Must NOT compile: text where a smart card id is expected (parse it first).
#include <string>

#include "common.hpp"

int main() {
    auto c = ids_check::client();
    const std::string text = "17cf063d-e337-4aa9-a822-346554ddd3c9";
    (void)c.get_smartcard(text);
}
