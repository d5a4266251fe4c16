// Umbrella header: the core, the libcurl transport (mimcm::Client) and the PC/SC card layer.
// Define MIMCM_NO_CURL or MIMCM_NO_PCSC (the CMake options MIMCM_WITH_CURL/MIMCM_WITH_PCSC=OFF do)
// to leave a layer out; <mimcm/core.hpp> alone needs neither library.
#pragma once

#include "mimcm/core.hpp"

#ifndef MIMCM_NO_CURL
#include "mimcm/transport/curl.hpp"
#endif

#ifndef MIMCM_NO_PCSC
#include "mimcm/pcsc.hpp"
#endif
