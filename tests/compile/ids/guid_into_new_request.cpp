// Must NOT compile: a bare Guid as the new request's profile template.
#include "common.hpp"

int main() {
    mimcm::NewRequest fresh;
    fresh.profile_template = ids_check::guid;
    (void)fresh;
}
