// Finding the profile of a card: ProfileResolver tries the profiles in order (PIV, then GIDS, the
// order of the Windows minidriver discovery, or a list of your own) and leaves the applet of the
// first one the card answers selected.
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mimcm/card/apdu.hpp"
#include "mimcm/card/gids.hpp"
#include "mimcm/card/piv.hpp"
#include "mimcm/card/profile.hpp"
#include "mimcm/identifiers.hpp"

namespace mimcm::card {

/// Makes a fresh profile object (one per card session). Threads: called by resolve(), on the
/// thread that calls it.
using ProfileFactory = std::function<std::unique_ptr<CardProfile>()>;

/// Stateless: tries profiles in order and returns the first whose applet the card has, with
/// that applet left SELECTED. Default order: PIV, then GIDS (a card that answers the PIV
/// SELECT is treated as PIV, as Windows does). resolve() creates fresh profiles.
/// Threads: resolve() is const and may run on several threads at once (with their own
/// channels) if the factories may; copyable, and a move copies (the moved-from resolver works).
class ProfileResolver {
  public:
    ProfileResolver()
        : factories_{[] { return std::unique_ptr<CardProfile>(std::make_unique<PivProfile>()); },
                     [] { return std::unique_ptr<CardProfile>(std::make_unique<GidsProfile>()); }} {
    }
    /// Your own list (e.g. with a custom profile). mimcm::InvalidArgument when it is empty or
    /// holds an empty factory.
    explicit ProfileResolver(std::vector<ProfileFactory> factories)
        : factories_(std::move(factories)) {
        if (factories_.empty())
            throw InvalidArgument("card::ProfileResolver::ProfileResolver",
                                  "ProfileResolver: no profiles given");
        for (const auto& f : factories_) {
            if (!f)
                throw InvalidArgument("card::ProfileResolver::ProfileResolver",
                                      "ProfileResolver: empty profile factory in the list");
        }
    }
    // No move operations: a move copies the list of factories, so that a moved-from resolver
    // still resolves (a resolver is a few std::function objects).
    ProfileResolver(const ProfileResolver&) = default;
    ProfileResolver& operator=(const ProfileResolver&) = default;
    ~ProfileResolver() = default;

    /// "auto" (PIV, then GIDS), "gids" or "piv" (ASCII case-insensitive).
    /// mimcm::InvalidArgument for other names, listing the valid ones.
    static ProfileResolver by_name(std::string_view name) {
        std::string lower(name);
        for (auto& c : lower)
            c = mimcm::detail::ascii_lower(c);
        if (lower == "auto")
            return ProfileResolver();
        if (lower == "gids")
            return ProfileResolver(
                {[] { return std::unique_ptr<CardProfile>(std::make_unique<GidsProfile>()); }});
        if (lower == "piv")
            return ProfileResolver(
                {[] { return std::unique_ptr<CardProfile>(std::make_unique<PivProfile>()); }});
        throw InvalidArgument(
            "card::ProfileResolver::by_name",
            "unknown card profile \"" + std::string(name) + "\"; valid names: auto, gids, piv");
    }

    /// SELECTs each profile's applet in turn; returns the first profile the card answers, its
    /// applet now selected. CardError{no_profile} naming the profiles tried when none answers.
    /// A profile's other errors are not caught (a card with the applet but a broken answer is
    /// an error, not a reason to try the next profile).
    [[nodiscard]] std::unique_ptr<CardProfile> resolve(ApduChannel& channel) const {
        std::string tried;
        for (const auto& make : factories_) {
            std::unique_ptr<CardProfile> profile = make();
            if (!profile)
                throw InvalidArgument("card::ProfileResolver::resolve",
                                      "ProfileResolver: a profile factory returned null");
            if (profile->select(channel))
                return profile;
            if (!tried.empty())
                tried += ", ";
            tried += profile->name();
        }
        throw CardError("card::ProfileResolver::resolve", CardErrorCode::no_profile,
                        "the card answers none of the card profiles tried (" + tried + ")");
    }

  private:
    std::vector<ProfileFactory> factories_;
};

}  // namespace mimcm::card
