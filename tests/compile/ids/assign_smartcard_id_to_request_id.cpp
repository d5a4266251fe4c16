// Must NOT compile: one kind of id assigned to another.
#include "common.hpp"

int main() {
    mimcm::RequestId id = ids_check::request;
    id = ids_check::smartcard;
    return id == ids_check::request ? 0 : 1;
}
