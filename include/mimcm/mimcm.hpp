// Umbrella header: the core, the libcurl transport (mimcm::Client) and the PC/SC card layer.
// Define MIMCM_NO_CURL or MIMCM_NO_PCSC (the CMake options MIMCM_WITH_CURL/MIMCM_WITH_PCSC=OFF do)
// to leave a layer out; <mimcm/core.hpp> alone needs neither library.
//
// The compiled mode, for an application that calls many operations from many files: define
// MIMCM_COMPILED in every file (the CMake target mimcm::compiled does, and compiles src/mimcm.cpp
// into the program once). mimcm::Client (in every file that includes mimcm/transport/curl.hpp)
// and mimcm::Enrollment<CurlTransport, pcsc::EnrollmentCard> (in every file that includes this
// header) are then compiled once, in src/mimcm.cpp, not in each file that calls them. Header-only
// use, without MIMCM_COMPILED, is the default and needs nothing else.
#pragma once

#include "mimcm/core.hpp"

#ifndef MIMCM_NO_CURL
#include "mimcm/transport/curl.hpp"
#endif

#ifndef MIMCM_NO_PCSC
#include "mimcm/pcsc.hpp"
#endif

#if defined(MIMCM_COMPILED) && !defined(MIMCM_NO_CURL) && !defined(MIMCM_NO_PCSC)
extern template class mimcm::Enrollment<mimcm::CurlTransport, mimcm::pcsc::EnrollmentCard>;
#endif
