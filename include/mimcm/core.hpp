// The part of mimcm that needs neither libcurl nor PC/SC: values, results and errors, the client
// template, and the card layer (APDUs, card profiles, the card session) on any
// mimcm::card::ApduChannel.
#pragma once

#include "mimcm/call.hpp"
#include "mimcm/card/apdu.hpp"
#include "mimcm/card/des.hpp"
#include "mimcm/card/gids.hpp"
#include "mimcm/card/piv.hpp"
#include "mimcm/card/profile.hpp"
#include "mimcm/card/resolver.hpp"
#include "mimcm/card/session.hpp"
#include "mimcm/card/tlv.hpp"
#include "mimcm/client.hpp"
#include "mimcm/encoding.hpp"
#include "mimcm/enrollment.hpp"
#include "mimcm/error.hpp"
#include "mimcm/http.hpp"
#include "mimcm/identifiers.hpp"
#include "mimcm/models.hpp"
#include "mimcm/result.hpp"
#include "mimcm/secret.hpp"
#include "mimcm/version.hpp"
