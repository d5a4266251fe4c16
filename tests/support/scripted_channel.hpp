// A fake card for unit tests: an ordered script of (expected command, response), both in hex
// (spaces allowed, either case). An unexpected or surplus command fails the test; every command
// sent is recorded.
#pragma once

#include <catch2/catch.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mimcm/card/apdu.hpp"
#include "mimcm/encoding.hpp"
#include "mimcm/identifiers.hpp"

namespace mimcm_test {

class ScriptedChannel : public mimcm::card::ApduChannel {
  public:
    struct Step {
        std::string command;   // normalised hex
        std::string response;  // normalised hex
        std::string error;     // non-empty: throw std::runtime_error(error) instead of answering
    };

    ScriptedChannel() = default;
    ScriptedChannel(std::initializer_list<std::pair<std::string, std::string>> script) {
        for (const auto& [command, response] : script)
            expect(command, response);
    }

    /// Adds a step: when `command` arrives, answer `response`.
    ScriptedChannel& expect(const std::string& command, const std::string& response) {
        steps_.push_back(Step{normalise(command), normalise(response), {}});
        return *this;
    }
    /// Adds a step whose answer is a thrown std::runtime_error (a failing transport).
    ScriptedChannel& expect_failure(const std::string& command, const std::string& message) {
        steps_.push_back(Step{normalise(command), {}, message});
        return *this;
    }

    mimcm::Bytes transmit_raw(const mimcm::Bytes& command) override {
        const std::string hex = mimcm::to_hex(command);
        sent_.push_back(hex);
        if (next_ >= steps_.size()) {
            FAIL("unexpected command " << hex << " after the end of the script (" << steps_.size()
                                       << " steps)");
        }
        const Step& step = steps_[next_++];
        if (hex != step.command) {
            FAIL("command " << next_ << " of the script: sent " << hex << ", expected "
                            << step.command);
        }
        if (!step.error.empty())
            throw std::runtime_error(step.error);
        auto bytes = mimcm::from_hex(step.response);
        REQUIRE(bytes.has_value());
        return *bytes;
    }

    /// Every command sent so far, lowercase hex.
    [[nodiscard]] const std::vector<std::string>& sent() const noexcept { return sent_; }
    /// True when every scripted step was used.
    [[nodiscard]] bool done() const noexcept { return next_ == steps_.size(); }
    [[nodiscard]] std::size_t remaining() const noexcept { return steps_.size() - next_; }

    static std::string normalise(const std::string& hex) {
        std::string out;
        for (char c : hex) {
            if (c == ' ' || c == ':' || c == '\n' || c == '\t')
                continue;
            out.push_back(mimcm::detail::ascii_lower(c));
        }
        if (!mimcm::from_hex(out))
            throw std::invalid_argument("not hex: " + hex);
        return out;
    }

  private:
    std::vector<Step> steps_;
    std::vector<std::string> sent_;
    std::size_t next_ = 0;
};

/// Bytes from hex with spaces ("00 A4 04 00").
inline mimcm::Bytes hex(const std::string& text) {
    return *mimcm::from_hex(ScriptedChannel::normalise(text));
}

}  // namespace mimcm_test
