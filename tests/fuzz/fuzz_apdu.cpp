// APDUs and BER-TLV: the input is, whole, a card's answer given to the parsers (BER-TLV, a
// response APDU, the GIDS master file table, the PIV CHUID, a GENERAL AUTHENTICATE template);
// and, read as fields, a command APDU to encode and the answers of a card to transmit() (the
// 61xx / 6Cxx dance). A malformed answer may only give CardError; transmit() must stay within
// its limits.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "mimcm/card/apdu.hpp"
#include "mimcm/card/detail/commands.hpp"
#include "mimcm/card/gids.hpp"
#include "mimcm/card/piv.hpp"
#include "mimcm/card/tlv.hpp"

namespace {

using mimcm::Bytes;
using mimcm::card::CardError;

/// A card whose answers are the input's fields, in order; the end of them is a pulled card.
class AnswerChannel : public mimcm::card::ApduChannel {
  public:
    explicit AnswerChannel(mimcm_fuzz::Input& input) : input_(input) {}
    Bytes transmit_raw(const Bytes& command) override {
        MIMCM_FUZZ_CHECK(command.size() >= 4 && command.size() <= 4 + 1 + 255 + 1);
        ++commands;
        if (input_.empty())
            throw mimcm::card::DeviceError("fuzz channel", "card removed");
        return input_.bytes_field();
    }
    int commands = 0;

  private:
    mimcm_fuzz::Input& input_;
};

void tlv(const Bytes& raw) {
    try {
        const auto items = mimcm::card::tlv::parse(raw, "fuzz");
        std::size_t total = 0;
        for (const auto& item : items) {
            total += item.value.size();
            const Bytes tag = mimcm::card::tlv::tag_bytes(item.tag);
            MIMCM_FUZZ_CHECK(!tag.empty() && tag.size() <= 4);
            MIMCM_FUZZ_CHECK(mimcm::card::tlv::find(items, item.tag) != nullptr);
        }
        MIMCM_FUZZ_CHECK(total + 2 * items.size() <= raw.size());
    } catch (const CardError& e) {
        MIMCM_FUZZ_CHECK(e.code() == mimcm::card::CardErrorCode::malformed);
    }
}

void response(const Bytes& raw) {
    try {
        const mimcm::card::ResponseApdu r(raw);
        MIMCM_FUZZ_CHECK(r.data.size() + 2 == raw.size());
        MIMCM_FUZZ_CHECK(r.sw() == ((raw[raw.size() - 2] << 8) | raw.back()));
    } catch (const CardError& e) {
        MIMCM_FUZZ_CHECK(raw.size() < 2);
    }
}

template <class F>
void card_error_only(F f) {
    try {
        f();
    } catch (const CardError&) {
    }
}

void parsers(const Bytes& raw) {
    using mimcm::card::GidsProfile;
    using mimcm::card::PivProfile;
    card_error_only([&] {
        const auto records = GidsProfile::parse_master_file(raw);
        MIMCM_FUZZ_CHECK(records.size() * GidsProfile::record_size < raw.size());
        for (const auto& r : records)
            MIMCM_FUZZ_CHECK(r.directory.size() <= 9 && r.file.size() <= 9);
    });
    card_error_only([&] { (void)PivProfile::card_id_from_chuid(raw); });
    card_error_only(
        [&] { MIMCM_FUZZ_CHECK(PivProfile::challenge_from_response(raw).size() == 8); });
    card_error_only([&] {
        MIMCM_FUZZ_CHECK(mimcm::card::detail::template_value(raw, 0x82, 40, "fuzz").size() == 40);
    });
}

void command(mimcm_fuzz::Input& input) {
    mimcm::card::CommandApdu c;
    c.cla = input.byte();
    c.ins = input.byte();
    c.p1 = input.byte();
    c.p2 = input.byte();
    c.data = input.bytes_field();
    const std::uint8_t le = input.byte();
    if (le != 0)
        c.le = mimcm::card::Le(le == 255 ? 256 : le);
    if (c.data.size() > 255) {
        try {
            (void)c.encode();
            MIMCM_FUZZ_CHECK(false);
        } catch (const mimcm::InvalidArgument&) {
        }
        c.data.resize(255);
    }
    const Bytes encoded = c.encode();
    MIMCM_FUZZ_CHECK(encoded.size() ==
                     4 + (c.data.empty() ? 0 : 1 + c.data.size()) + (c.le ? 1 : 0));
    const int iso_case = c.iso_case();
    MIMCM_FUZZ_CHECK(iso_case == (c.data.empty() ? 1 : 3) + (c.le ? 1 : 0));

    mimcm::card::TransmitLimits limits;
    limits.max_get_response_rounds = 8;
    limits.max_answer_size = 1024;
    limits.max_response_data = 4096;
    AnswerChannel channel(input);
    try {
        const auto r = mimcm::card::transmit(channel, c, limits);
        MIMCM_FUZZ_CHECK(r.sw1 != 0x61);
        MIMCM_FUZZ_CHECK(r.data.size() <= limits.max_response_data);
    } catch (const CardError& e) {
        MIMCM_FUZZ_CHECK(e.code() == mimcm::card::CardErrorCode::protocol ||
                         e.code() == mimcm::card::CardErrorCode::malformed);
    } catch (const mimcm::card::DeviceError&) {
    }
    // The first command, one 6Cxx repeat, then per round a GET RESPONSE and its 6Cxx repeat.
    MIMCM_FUZZ_CHECK(channel.commands <= 2 + 2 * limits.max_get_response_rounds);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const Bytes raw(data, data + size);
    tlv(raw);
    response(raw);
    parsers(raw);
    mimcm_fuzz::Input input(data, size);
    command(input);
    return 0;
}
