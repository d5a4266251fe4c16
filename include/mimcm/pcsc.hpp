// The PC/SC card layer, RAII style. One concept per header under mimcm/pcsc/:
//   pcsc/error.hpp       ErrorCode, describe(), Error (every failing PC/SC call throws it)
//   pcsc/context.hpp     Context (SCardEstablishContext; cancel() ends a wait)
//   pcsc/card.hpp        Card (a connection, usable as a card::ApduChannel), Transaction
//   pcsc/readers.hpp     list_readers(), select_reader() (waits for a card if asked)
//   pcsc/session.hpp     CardSession (one applet selection per card), read_card()
//   pcsc/enrollment.hpp  EnrollmentCard: the card side of mimcm::Enrollment
//   pcsc/platform.hpp    the platform's PC/SC headers (the only header that includes them)
//
// Errors: every failing PC/SC call throws mimcm::pcsc::Error, which carries a portable
// ErrorCode, the native PC/SC code, the operation and the reader; describe(code) tells the user
// what to do. Card-level failures (status words, malformed data) are mimcm::card::CardError.
//
// Threads: use one Context (and the Cards and sessions made from it) per thread;
// Context::cancel() may be called from another thread to end a wait.
#pragma once

#include "mimcm/pcsc/card.hpp"
#include "mimcm/pcsc/context.hpp"
#include "mimcm/pcsc/enrollment.hpp"
#include "mimcm/pcsc/error.hpp"
#include "mimcm/pcsc/platform.hpp"
#include "mimcm/pcsc/readers.hpp"
#include "mimcm/pcsc/session.hpp"
