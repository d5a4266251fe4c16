// The second translation unit of test_headers.cpp.
#include "mimcm/card/apdu.hpp"
#include "mimcm/card/des.hpp"
#include "mimcm/card/detail/commands.hpp"
#include "mimcm/card/gids.hpp"
#include "mimcm/card/piv.hpp"
#include "mimcm/card/profile.hpp"
#include "mimcm/card/resolver.hpp"
#include "mimcm/card/session.hpp"
#include "mimcm/card/tlv.hpp"
#include "mimcm/client.hpp"
#include "mimcm/core.hpp"
#include "mimcm/encoding.hpp"
#include "mimcm/error.hpp"
#include "mimcm/http.hpp"
#include "mimcm/identifiers.hpp"
#include "mimcm/mimcm.hpp"
#include "mimcm/pcsc.hpp"
#include "mimcm/pcsc/card.hpp"
#include "mimcm/pcsc/context.hpp"
#include "mimcm/pcsc/enrollment.hpp"
#include "mimcm/pcsc/error.hpp"
#include "mimcm/pcsc/platform.hpp"
#include "mimcm/pcsc/readers.hpp"
#include "mimcm/pcsc/session.hpp"
#include "mimcm/result.hpp"
#include "mimcm/secret.hpp"
#include "mimcm/transport/curl.hpp"
#include "mimcm/version.hpp"

int mimcm_headers_again() {
    return static_cast<int>(mimcm::card::GidsProfile().name().size()) +
           static_cast<int>(mimcm::detail::redact_query("x").size()) - 2 +
           static_cast<int>(mimcm::version_string.empty());
}
