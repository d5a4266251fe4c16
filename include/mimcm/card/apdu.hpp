// ISO/IEC 7816-4 APDUs: command encoding (short form, cases 1-4), responses with status words,
// the ApduChannel seam (a PC/SC card or a scripted fake), and transmit() that does the 61xx / 6Cxx
// dance neither pcsc-lite nor WinSCard does for you. No PC/SC header is needed here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "mimcm/encoding.hpp"
#include "mimcm/error.hpp"
#include "mimcm/secret.hpp"

namespace mimcm::card {

/// Why a card-level operation failed.
enum class CardErrorCode {
    no_profile,          ///< the card answers none of the card profiles tried (no known applet)
    status,              ///< the card answered an unexpected status word (see CardError::sw())
    malformed,           ///< a response, TLV structure or table is malformed or too short
    missing_card_id,     ///< the card has no card id (no cardid entry, no CHUID GUID, or all zero)
    protocol,            ///< the card broke the APDU protocol (e.g. endless 61xx chain)
    not_supported,       ///< the card profile does not offer this operation (e.g. PIV user PIN)
    admin_auth_failed,   ///< the card refused the admin challenge response (wrong key/response)
    challenge_expired,   ///< the card has no pending challenge any more (reset, power-off, used):
                         ///< read the card again for a fresh challenge and a new response
    admin_auth_refused,  ///< the card refused the response without saying why (PIV 6A80): a
                         ///< wrong response, or a challenge that expired (e.g. re-SELECT)
    not_authenticated,   ///< an admin command without the admin authentication of this card
                         ///< session (card answered 6982, or no authentication was done)
    puk_refused,         ///< the card refused the PUK (wrong PUK, or the PUK is blocked)
};

/// The name of a CardErrorCode ("no_profile", "status", ...).
inline std::string_view to_string(CardErrorCode code) noexcept {
    switch (code) {
        case CardErrorCode::no_profile:
            return "no_profile";
        case CardErrorCode::status:
            return "status";
        case CardErrorCode::malformed:
            return "malformed";
        case CardErrorCode::missing_card_id:
            return "missing_card_id";
        case CardErrorCode::protocol:
            return "protocol";
        case CardErrorCode::not_supported:
            return "not_supported";
        case CardErrorCode::admin_auth_failed:
            return "admin_auth_failed";
        case CardErrorCode::challenge_expired:
            return "challenge_expired";
        case CardErrorCode::admin_auth_refused:
            return "admin_auth_refused";
        case CardErrorCode::not_authenticated:
            return "not_authenticated";
        case CardErrorCode::puk_refused:
            return "puk_refused";
    }
    return "unknown";
}

/// A status word as four uppercase hex digits ("6A82"), the way card specs write them.
inline std::string sw_to_string(std::uint16_t sw) {
    std::string out;
    mimcm::detail::append_hex(out, sw, 4, mimcm::detail::HexCase::upper);
    return out;
}

/// A failure of the card or of its reader: CardError (the card's answer) or mimcm::pcsc::Error
/// (the reader, PC/SC). Catch this to tell card trouble from server, input and program errors.
/// An ApduChannel of its own (another reader stack) throws it directly for a reader failure:
/// kind() is ExceptionKind::card.
/// Threads: immutable once thrown; safe to read from any thread.
class DeviceError : public Exception {
  public:
    /// `where` names the function that threw (a string literal).
    DeviceError(const char* where, const std::string& message)
        : Exception(ExceptionKind::card, where, message) {}

  protected:
    DeviceError(ExceptionKind kind, const char* where, const std::string& message)
        : Exception(kind, where, message) {}
};

/// A failure at card level: the card answered, but not what was expected. (Reader and PC/SC
/// failures are mimcm::pcsc::Error.) Messages say what failed and what was expected; they never
/// contain secret data.
/// Threads: immutable once thrown; safe to read from any thread.
class CardError : public DeviceError {
  public:
    /// `where` names the SDK function that threw (a string literal).
    CardError(const char* where, CardErrorCode code, const std::string& message,
              std::optional<std::uint16_t> sw = std::nullopt)
        : DeviceError(ExceptionKind::card, where, message), code_(code), sw_(sw) {}

    [[nodiscard]] CardErrorCode code() const noexcept { return code_; }
    /// The status word the card answered, when the failure is about one.
    [[nodiscard]] std::optional<std::uint16_t> sw() const noexcept { return sw_; }

  private:
    CardErrorCode code_;
    std::optional<std::uint16_t> sw_;
};

/// The Le of a command: how many response bytes are expected, 1 to 256 (256 is written as 00).
/// A type of its own so that a command's data and its Le cannot be mistaken for one another:
/// `CommandApdu(cla, ins, p1, p2, {})` is "no data, no Le" (case 1), never "Le 256".
/// Threads: an immutable value; safe from any thread.
class Le {
  public:
    /// 1..256; anything else is mimcm::InvalidArgument (write Le::max() for "Le 00").
    constexpr explicit Le(std::size_t value) : value_(checked(value)) {}
    /// 256, encoded 00: "as many bytes as the card has" in a short APDU.
    static constexpr Le max() noexcept { return Le(Trusted{}, 256); }
    /// The Le a status word's SW2 asks for (61xx, 6Cxx): xx, with 00 meaning 256.
    static constexpr Le from_sw2(std::uint8_t sw2) noexcept {
        return Le(Trusted{}, sw2 == 0 ? 256 : sw2);
    }
    [[nodiscard]] constexpr std::size_t value() const noexcept { return value_; }

  private:
    // No default constructor: an empty braced list never converts to an Le.
    struct Trusted {};
    constexpr Le(Trusted, std::size_t value) noexcept : value_(value) {}
    static constexpr std::size_t checked(std::size_t value) {
        return (value >= 1 && value <= 256)
                   ? value
                   : throw InvalidArgument("card::Le::checked",
                                           "APDU Le must be 1..256 (short APDU; 256 is "
                                           "written as 00)");
    }
    std::size_t value_;
};

/// A command APDU in short form: CLA INS P1 P2 [Lc data] [Le].
///   case 1: no data, no Le          CommandApdu(cla, ins, p1, p2)
///   case 2: no data, Le             CommandApdu(cla, ins, p1, p2, Le(n))
///   case 3: data, no Le             CommandApdu(cla, ins, p1, p2, data)
///   case 4: data and Le             CommandApdu(cla, ins, p1, p2, data, Le(n))
/// Le is 1..256 (256, Le::max(), is written as 00). Data is at most 255 bytes (no extended
/// length); empty data means no Lc and no data field.
/// Threads: a plain value; concurrent reads are safe, a write needs the only reference.
struct CommandApdu {
    std::uint8_t cla = 0;
    std::uint8_t ins = 0;
    std::uint8_t p1 = 0;
    std::uint8_t p2 = 0;
    Bytes data;
    std::optional<Le> le;

    CommandApdu() = default;
    /// Case 1.
    CommandApdu(std::uint8_t cla_, std::uint8_t ins_, std::uint8_t p1_, std::uint8_t p2_)
        : cla(cla_), ins(ins_), p1(p1_), p2(p2_) {}
    /// Case 2.
    CommandApdu(std::uint8_t cla_, std::uint8_t ins_, std::uint8_t p1_, std::uint8_t p2_, Le le_)
        : cla(cla_), ins(ins_), p1(p1_), p2(p2_), le(le_) {}
    /// Case 3 (case 1 when data is empty).
    CommandApdu(std::uint8_t cla_, std::uint8_t ins_, std::uint8_t p1_, std::uint8_t p2_,
                Bytes data_)
        : cla(cla_), ins(ins_), p1(p1_), p2(p2_), data(std::move(data_)) {
        check_data();
    }
    /// Case 4 (case 2 when data is empty).
    CommandApdu(std::uint8_t cla_, std::uint8_t ins_, std::uint8_t p1_, std::uint8_t p2_,
                Bytes data_, Le le_)
        : cla(cla_), ins(ins_), p1(p1_), p2(p2_), data(std::move(data_)), le(le_) {
        check_data();
    }

    /// SELECT by AID (00 A4 04 00 Lc AID 00).
    static CommandApdu select_aid(Bytes aid) {
        return {0x00, 0xA4, 0x04, 0x00, std::move(aid), Le::max()};
    }
    /// GET RESPONSE (00 C0 00 00 Le).
    static CommandApdu get_response(Le le) { return {0x00, 0xC0, 0x00, 0x00, le}; }

    /// The ISO case (1-4) of this command.
    [[nodiscard]] int iso_case() const noexcept {
        if (data.empty())
            return le ? 2 : 1;
        return le ? 4 : 3;
    }

    /// The bytes to send. Throws mimcm::InvalidArgument when the fields do not fit a short APDU
    /// (fields are public, so they are checked again here).
    [[nodiscard]] Bytes encode() const {
        check_data();
        Bytes out;
        out.reserve(4 + 1 + data.size() + 1);
        out.push_back(cla);
        out.push_back(ins);
        out.push_back(p1);
        out.push_back(p2);
        if (!data.empty()) {
            out.push_back(static_cast<std::uint8_t>(data.size()));
            out.insert(out.end(), data.begin(), data.end());
        }
        if (le)
            out.push_back(static_cast<std::uint8_t>(le->value() == 256 ? 0 : le->value()));
        return out;
    }

  private:
    void check_data() const {
        if (data.size() > 255) {
            throw InvalidArgument("card::CommandApdu::check_data",
                                  "APDU data must be at most 255 bytes (short APDU), got " +
                                      std::to_string(data.size()));
        }
    }
};

/// A response APDU: data followed by the status word SW1 SW2.
/// Threads: a plain value; concurrent reads are safe, a write needs the only reference.
struct ResponseApdu {
    Bytes data;
    std::uint8_t sw1 = 0;
    std::uint8_t sw2 = 0;

    ResponseApdu() = default;
    ResponseApdu(Bytes data_, std::uint8_t sw1_, std::uint8_t sw2_)
        : data(std::move(data_)), sw1(sw1_), sw2(sw2_) {}
    /// Splits raw response bytes. Throws CardError{malformed} when fewer than 2 bytes.
    explicit ResponseApdu(const Bytes& raw) {
        if (raw.size() < 2) {
            throw CardError("card::ResponseApdu::ResponseApdu", CardErrorCode::malformed,
                            "card response has " + std::to_string(raw.size()) +
                                " byte(s); expected at least the 2 status bytes");
        }
        data.assign(raw.begin(), raw.end() - 2);
        sw1 = raw[raw.size() - 2];
        sw2 = raw[raw.size() - 1];
    }

    [[nodiscard]] std::uint16_t sw() const noexcept {
        return static_cast<std::uint16_t>((sw1 << 8) | sw2);
    }
    /// True for 9000.
    [[nodiscard]] bool ok() const noexcept { return sw1 == 0x90 && sw2 == 0x00; }
};

/// Where APDUs go: a card connected over PC/SC (mimcm::pcsc::Card) or a fake in tests.
/// transmit_raw sends one command as is and returns the raw response (data + SW1 SW2); it does
/// no GET RESPONSE handling (transmit() does that) and reports transport failures by throwing.
/// Threads: one thread at a time per channel (one card); an implementation may allow more.
class ApduChannel {
  public:
    ApduChannel() = default;
    virtual ~ApduChannel() = default;
    virtual Bytes transmit_raw(const Bytes& command) = 0;

  protected:
    ApduChannel(const ApduChannel&) = default;
    ApduChannel(ApduChannel&&) = default;
    ApduChannel& operator=(const ApduChannel&) = default;
    ApduChannel& operator=(ApduChannel&&) = default;
};

/// Limits of transmit(); the defaults fit any card of this SDK. A card that breaks them gets
/// CardError{protocol}, so a faulty card ends in a typed error quickly, never in an endless
/// loop or an unbounded allocation.
/// Threads: a plain value; concurrent reads are safe.
struct TransmitLimits {
    /// GET RESPONSE rounds after one command (64 x 256 bytes = 16 KiB).
    int max_get_response_rounds = 64;
    /// Bytes of one raw answer, status word included (an extended-length answer: 65536 + 2).
    std::size_t max_answer_size = 65536 + 2;
    /// Data bytes of the whole response, GET RESPONSE rounds included (64 KiB).
    std::size_t max_response_data = 64 * 1024;
};

namespace detail {
inline ResponseApdu send_once(ApduChannel& channel, const CommandApdu& command,
                              const TransmitLimits& limits) {
    Bytes encoded = command.encode();
    Bytes raw = channel.transmit_raw(encoded);
    secure_wipe(encoded);  // commands may carry PINs or keys in other uses of this layer
    if (raw.size() > limits.max_answer_size) {
        const std::size_t size = raw.size();
        secure_wipe(raw);
        throw CardError("card::send_once", CardErrorCode::protocol,
                        "card answer has " + std::to_string(size) + " bytes; expected at most " +
                            std::to_string(limits.max_answer_size));
    }
    ResponseApdu response(raw);
    secure_wipe(raw);
    return response;
}
}  // namespace detail

/// Sends a command and returns the complete response:
///  - 6Cxx (wrong Le): resends the same command once with Le = xx (00 = 256);
///  - 61xx (more data): sends GET RESPONSE 00 C0 00 00 xx (00 = 256), appends the data, and
///    repeats while the card answers 61xx, at most limits.max_get_response_rounds times
///    (then CardError{protocol}). A 6Cxx answer to GET RESPONSE is resent once with Le = xx.
///  - an answer over limits.max_answer_size bytes, or more than limits.max_response_data data
///    bytes in all: CardError{protocol}; fewer than 2 bytes: CardError{malformed}.
/// The returned status word is the final one; data is everything accumulated.
/// Threads: uses the channel alone, so it is as thread-safe as the channel.
inline ResponseApdu transmit(ApduChannel& channel, const CommandApdu& command,
                             const TransmitLimits& limits = {}) {
    ResponseApdu response = detail::send_once(channel, command, limits);
    if (response.sw1 == 0x6C) {
        CommandApdu again = command;
        again.le = Le::from_sw2(response.sw2);
        try {
            response = detail::send_once(channel, again, limits);
        } catch (...) {
            secure_wipe(again.data);  // the copy may carry a key or PIN
            throw;
        }
        secure_wipe(again.data);
    }
    auto check_total = [&](std::size_t total) {
        if (total > limits.max_response_data) {
            secure_wipe(response.data);
            throw CardError("card::transmit", CardErrorCode::protocol,
                            "card response has more than " +
                                std::to_string(limits.max_response_data) + " data bytes",
                            response.sw());
        }
    };
    check_total(response.data.size());
    if (response.sw1 != 0x61)
        return response;

    Bytes collected = std::move(response.data);
    for (int round = 0; response.sw1 == 0x61; ++round) {
        if (round >= limits.max_get_response_rounds) {
            secure_wipe(collected);
            throw CardError("card::transmit", CardErrorCode::protocol,
                            "card still answered 61" + sw_to_string(response.sw()).substr(2) +
                                " (more data) after " + std::to_string(round) +
                                " GET RESPONSE rounds; expected 9000 by then",
                            response.sw());
        }
        const auto get_response = CommandApdu::get_response(Le::from_sw2(response.sw2));
        response = detail::send_once(channel, get_response, limits);
        if (response.sw1 == 0x6C) {
            response = detail::send_once(
                channel, CommandApdu::get_response(Le::from_sw2(response.sw2)), limits);
        }
        const std::size_t total = collected.size() + response.data.size();
        if (total > limits.max_response_data)
            secure_wipe(collected);
        check_total(total);
        collected.insert(collected.end(), response.data.begin(), response.data.end());
        secure_wipe(response.data);
    }
    return ResponseApdu(std::move(collected), response.sw1, response.sw2);
}

}  // namespace mimcm::card
