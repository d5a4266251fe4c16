// All card profiles in one include: the CardProfile interface (mimcm/card/profile.hpp), BER-TLV
// (mimcm/card/tlv.hpp), GIDS (mimcm/card/gids.hpp), PIV (mimcm/card/piv.hpp) and the
// ProfileResolver that finds the one a card has (mimcm/card/resolver.hpp).
#pragma once

#include "mimcm/card/gids.hpp"
#include "mimcm/card/piv.hpp"
#include "mimcm/card/profile.hpp"
#include "mimcm/card/resolver.hpp"
#include "mimcm/card/tlv.hpp"
