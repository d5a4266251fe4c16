// What the card tests share: the APDUs of the GIDS and PIV profiles and the docs' card id
// (card_apdus.hpp), and a helper that catches the exception a call must throw.
#pragma once

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "card_apdus.hpp"

namespace mimcm_test {

/// The exception of type E that f throws; fails the test when f throws none.
template <class E, class F>
E thrown(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e;
    }
    FAIL("the expected exception was not thrown");
    throw std::logic_error("unreachable");
}

}  // namespace mimcm_test
