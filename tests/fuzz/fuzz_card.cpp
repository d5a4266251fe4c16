// The card profiles (GIDS, PIV and the resolver) over a scripted card whose answers are the
// input. The first byte picks the resolver (auto, gids, piv); then every answer is a field (see
// fuzz_input.hpp), given to the commands in the order the profiles send them; when the answers
// run out the card is pulled (DeviceError). A card session is opened and every card operation
// run on it (challenge, admin response, mutual authentication, admin key, PIN, PUK). Whatever the
// card answers, each operation ends or throws CardError with a code; nothing else escapes, no
// loop runs unbounded.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz_input.hpp"
#include "mimcm/card/apdu.hpp"
#include "mimcm/card/gids.hpp"
#include "mimcm/card/piv.hpp"
#include "mimcm/card/profile.hpp"
#include "mimcm/card/resolver.hpp"
#include "mimcm/card/session.hpp"

namespace {

using mimcm::Bytes;
using mimcm::card::CardError;

/// The card is gone: the answers ran out.
class CardPulled : public mimcm::card::DeviceError {
  public:
    CardPulled() : DeviceError("fuzz channel", "the card was removed") {}
};

class ScriptedCard : public mimcm::card::ApduChannel {
  public:
    explicit ScriptedCard(mimcm_fuzz::Input& input) : input_(input) {}
    Bytes transmit_raw(const Bytes& command) override {
        MIMCM_FUZZ_CHECK(command.size() >= 4 && command.size() <= 4 + 1 + 255 + 1);
        // Each command consumes input or pulls the card, so the session ends with the input.
        MIMCM_FUZZ_CHECK(++commands_ <= 4096);
        if (input_.empty())
            throw CardPulled();
        return input_.bytes_field();
    }

  private:
    mimcm_fuzz::Input& input_;
    int commands_ = 0;
};

/// Runs one card operation: it ends, or the card says no (CardError); a pulled card ends the
/// session (false).
template <class F>
bool step(F f) {
    try {
        f();
    } catch (const CardPulled&) {
        return false;
    } catch (const CardError& e) {
        MIMCM_FUZZ_CHECK(!mimcm::card::to_string(e.code()).empty() &&
                         mimcm::card::to_string(e.code()) != "unknown");
        MIMCM_FUZZ_CHECK(e.what()[0] != '\0');
    }
    return true;
}

mimcm::SecretBytes secret(std::size_t size, std::uint8_t fill) {
    return mimcm::SecretBytes(Bytes(size, fill));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::array<const char*, 3> names{"auto", "gids", "piv"};
    mimcm_fuzz::Input input(data, size);
    const auto resolver = mimcm::card::ProfileResolver::by_name(names[input.byte() % 3]);
    ScriptedCard card(input);

    std::unique_ptr<mimcm::card::Session> session;
    if (!step([&] { session = std::make_unique<mimcm::card::Session>(card, resolver); }) ||
        !session)
        return 0;
    MIMCM_FUZZ_CHECK(session->profile_name() == "gids" || session->profile_name() == "piv");

    const mimcm::SecretBytes response = secret(mimcm::card::admin_response_size, 0x5a);
    const mimcm::SecretBytes key = secret(mimcm::card::admin_key_size, 0x01);
    const mimcm::SecretString pin("12345678");
    const mimcm::SecretString puk("87654321");
    auto& s = *session;
    const bool completed =
        step([&] {
            const auto challenge = s.challenge();
            MIMCM_FUZZ_CHECK(challenge.bytes().size() == 8);
            MIMCM_FUZZ_CHECK(s.challenge_pending());
        }) &&
        step([&] {
            s.authenticate_admin(response);
            MIMCM_FUZZ_CHECK(s.admin_authenticated());
        }) &&
        step([&] { s.set_admin_key(key); }) && step([&] { s.set_user_pin(pin); }) &&
        step([&] { s.reset_pin_with_puk(puk, pin); }) && step([&] {
            s.authenticate_admin_with_key(key);
            MIMCM_FUZZ_CHECK(s.admin_authenticated());
        }) &&
        step([&] { s.set_admin_key(key); }) && step([&] { (void)s.read_card_id(); });
    (void)completed;

    // A one-off reading by each profile, on what is left.
    mimcm::card::GidsProfile gids;
    mimcm::card::PivProfile piv;
    if (step([&] {
            if (const auto identity = gids.read(card))
                MIMCM_FUZZ_CHECK(identity->challenge.size() == 8 && identity->profile == "gids");
        })) {
        step([&] {
            if (const auto identity = piv.read(card))
                MIMCM_FUZZ_CHECK(identity->challenge.size() == 8 && identity->profile == "piv");
        });
    }
    return 0;
}
