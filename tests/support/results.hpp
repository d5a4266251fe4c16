// Test helpers over mimcm::Result<T>: which error an operation gave, and the seed operation's
// two successes.
#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <variant>

#include "mimcm/result.hpp"

namespace mimcm_test {

/// The error when the result failed with `kind`, else nullptr.
template <class T>
const mimcm::Error* failed_with(const mimcm::Result<T>& result, mimcm::ErrorKind kind) {
    return !result.ok() && result.error().kind == kind ? &result.error() : nullptr;
}

template <class T>
bool fails_with(const mimcm::Result<T>& result, mimcm::ErrorKind kind) {
    return failed_with(result, kind) != nullptr;
}

/// The error when the call got no HTTP answer (it carries the TransportError), else nullptr.
template <class T>
const mimcm::Error* transport_failure(const mimcm::Result<T>& result) {
    return !result.ok() && result.error().transport ? &result.error() : nullptr;
}

/// A success with no object (204 on an object operation).
template <class T>
bool empty_success(const mimcm::Result<std::optional<T>>& result) {
    return result.ok() && !result->has_value();
}

/// The object of a successful object operation, else nullptr.
template <class T>
const T* object_of(const mimcm::Result<std::optional<T>>& result) {
    return result.ok() && result->has_value() ? &**result : nullptr;
}

inline const mimcm::PinProposed* proposed_pin(const mimcm::Result<mimcm::PinProposal>& result) {
    return result.ok() ? std::get_if<mimcm::PinProposed>(&*result) : nullptr;
}
inline bool pin_proposed(const mimcm::Result<mimcm::PinProposal>& result) {
    return proposed_pin(result) != nullptr;
}
inline bool no_pin_proposed(const mimcm::Result<mimcm::PinProposal>& result) {
    return result.ok() && std::holds_alternative<mimcm::NoPinProposed>(*result);
}

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

/// The error's stable name; for a success "ok", "no_content" (204 on an object operation),
/// "pin_proposed" or "no_pin_proposed".
template <class T>
std::string name_of(const mimcm::Result<T>& result) {
    if (!result.ok())
        return std::string(result.error().name());
    if constexpr (is_optional<T>::value) {
        return result->has_value() ? "ok" : "no_content";
    } else if constexpr (std::is_same_v<T, mimcm::PinProposal>) {
        return std::holds_alternative<mimcm::PinProposed>(*result) ? "pin_proposed"
                                                                   : "no_pin_proposed";
    } else {
        return "ok";
    }
}

/// "success", or the error's description.
template <class T>
std::string description(const mimcm::Result<T>& result) {
    return result.ok() ? "success" : result.error().describe();
}

}  // namespace mimcm_test
