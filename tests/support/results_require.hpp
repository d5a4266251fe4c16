// Catch2 helpers over mimcm::Result<T>: the success value, or a test failure that describes the
// error. (tests/support/results.hpp stays free of Catch2: the fuzz targets include it.)
#pragma once

#include <catch2/catch.hpp>

#include <optional>
#include <utility>

#include "results.hpp"

namespace mimcm_test {

/// The success value of a result (by value: results are temporaries).
template <class T>
T ok(mimcm::Result<T> result) {
    INFO(description(result));
    REQUIRE(result.ok());
    return std::move(result).value();
}

/// The object of an object operation's result: a success that holds one.
template <class T>
T ok(mimcm::Result<std::optional<T>> result) {
    INFO(description(result));
    REQUIRE(result.ok());
    REQUIRE(result->has_value());
    return *std::move(result).value();
}

}  // namespace mimcm_test
