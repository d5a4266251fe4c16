// The CM REST API's models: named values (models/enums.hpp), the objects (models/types.hpp) and
// their lenient parsers (models/parse.hpp).
#pragma once

#include "mimcm/models/enums.hpp"
#include "mimcm/models/parse.hpp"
#include "mimcm/models/types.hpp"
