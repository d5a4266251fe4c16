// The compiled mode's one source file. The CMake target mimcm::compiled adds it to the program
// that links it and defines MIMCM_COMPILED there: <mimcm/mimcm.hpp> then declares the client and
// the enrollment on the default transport and card as instantiated elsewhere (extern template),
// and they are compiled once, here, instead of in every translation unit that calls them.
// Without CMake: compile this file once with -DMIMCM_COMPILED, and every file that includes
// <mimcm/mimcm.hpp> with -DMIMCM_COMPILED too.
#include "mimcm/mimcm.hpp"

#ifndef MIMCM_COMPILED
#error "src/mimcm.cpp is the compiled mode's source: compile it with -DMIMCM_COMPILED"
#endif

#ifndef MIMCM_NO_CURL
template class mimcm::BasicClient<mimcm::CurlTransport>;
#ifndef MIMCM_NO_PCSC
template class mimcm::Enrollment<mimcm::CurlTransport, mimcm::pcsc::EnrollmentCard>;
#endif
#endif
