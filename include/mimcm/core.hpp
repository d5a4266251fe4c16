// The part of mimcm that needs neither libcurl nor PC/SC: values, outcomes, the client template.
#pragma once

#include "mimcm/client.hpp"
#include "mimcm/encoding.hpp"
#include "mimcm/enrollment.hpp"
#include "mimcm/http.hpp"
#include "mimcm/identifiers.hpp"
#include "mimcm/models.hpp"
#include "mimcm/outcome.hpp"
#include "mimcm/secret.hpp"
#include "mimcm/version.hpp"
