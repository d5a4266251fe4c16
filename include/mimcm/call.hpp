// The per-call context: a deadline and a cancellation token that another thread can trigger.
//
//     mimcm::CancellationSource stop;               // e.g. wired to a Cancel button or SIGINT
//     mimcm::CallContext context = mimcm::CallContext::timeout(std::chrono::seconds(30));
//     context.cancellation = stop.token();
//     auto templates = client.list_profile_templates({}, context);
//     // another thread: stop.cancel();  -> the call ends with ErrorKind::cancelled
//
// The pair mirrors C++20's std::stop_source / std::stop_token: the source owns the state and
// cancels; tokens are cheap copies that observe it. A default token is never cancelled and costs
// nothing, so a call without a context allocates nothing for it.
//
// Thread safety: every member of CancellationSource and CancellationToken may be called from any
// thread at the same time. A CallContext is a value: share it read-only, or copy it.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace mimcm {

namespace detail {
/// The state a CancellationSource shares with its tokens.
struct CancellationState {
    std::atomic<bool> cancelled{false};
    std::mutex mutex;
    std::condition_variable changed;
    std::uint64_t next_id = 0;
    std::vector<std::pair<std::uint64_t, std::function<void()>>> callbacks;
};
}  // namespace detail

class CancellationToken;

/// Runs a callback when its token is cancelled, until this object dies (RAII). The callback runs
/// on the thread that calls cancel(), or at once if the token was already cancelled; it must not
/// block. Destroying the registration waits for nothing: a callback that is running may finish.
class CancellationRegistration {
  public:
    CancellationRegistration() = default;
    CancellationRegistration(const CancellationRegistration&) = delete;
    CancellationRegistration& operator=(const CancellationRegistration&) = delete;
    CancellationRegistration(CancellationRegistration&& other) noexcept
        : state_(std::move(other.state_)), id_(other.id_) {}
    CancellationRegistration& operator=(CancellationRegistration&& other) noexcept {
        if (this != &other) {
            reset();
            state_ = std::move(other.state_);
            id_ = other.id_;
        }
        return *this;
    }
    ~CancellationRegistration() { reset(); }

  private:
    friend class CancellationToken;
    CancellationRegistration(std::shared_ptr<detail::CancellationState> state, std::uint64_t id)
        : state_(std::move(state)), id_(id) {}

    void reset() noexcept {
        if (!state_)
            return;
        const std::lock_guard<std::mutex> lock(state_->mutex);
        auto& callbacks = state_->callbacks;
        callbacks.erase(std::remove_if(callbacks.begin(), callbacks.end(),
                                       [this](const auto& entry) { return entry.first == id_; }),
                        callbacks.end());
        state_.reset();
    }

    std::shared_ptr<detail::CancellationState> state_;
    std::uint64_t id_ = 0;
};

/// Observes a CancellationSource. Default-constructed: never cancelled.
class CancellationToken {
  public:
    CancellationToken() noexcept = default;

    /// True once the source has cancelled.
    [[nodiscard]] bool cancelled() const noexcept {
        return state_ && state_->cancelled.load(std::memory_order_acquire);
    }
    /// False for a default token, which can never be cancelled.
    [[nodiscard]] bool can_be_cancelled() const noexcept { return state_ != nullptr; }

    /// Sleeps for `duration`, or less if the token is cancelled meanwhile. True when cancelled.
    template <class Rep, class Period>
    bool wait_for(std::chrono::duration<Rep, Period> duration) const {
        if (!state_) {
            std::this_thread::sleep_for(duration);
            return false;
        }
        std::unique_lock<std::mutex> lock(state_->mutex);
        return state_->changed.wait_for(
            lock, duration, [this] { return state_->cancelled.load(std::memory_order_acquire); });
    }

    /// Registers `callback` to run on cancellation (see CancellationRegistration). A default token
    /// never runs it.
    [[nodiscard]] CancellationRegistration on_cancel(std::function<void()> callback) const {
        if (!state_)
            return {};
        std::unique_lock<std::mutex> lock(state_->mutex);
        if (state_->cancelled.load(std::memory_order_acquire)) {
            lock.unlock();
            callback();
            return {};
        }
        const std::uint64_t id = ++state_->next_id;
        state_->callbacks.emplace_back(id, std::move(callback));
        return CancellationRegistration(state_, id);
    }

  private:
    friend class CancellationSource;
    explicit CancellationToken(std::shared_ptr<detail::CancellationState> state) noexcept
        : state_(std::move(state)) {}

    std::shared_ptr<detail::CancellationState> state_;
};

/// Owns a cancellation state; cancel() ends every call whose context holds one of its tokens.
class CancellationSource {
  public:
    CancellationSource() : state_(std::make_shared<detail::CancellationState>()) {}

    [[nodiscard]] CancellationToken token() const noexcept { return CancellationToken(state_); }
    [[nodiscard]] bool cancelled() const noexcept {
        return state_->cancelled.load(std::memory_order_acquire);
    }

    /// Cancels (once; later calls do nothing) and runs the registered callbacks on this thread.
    void cancel() {
        std::vector<std::pair<std::uint64_t, std::function<void()>>> callbacks;
        {
            const std::lock_guard<std::mutex> lock(state_->mutex);
            if (state_->cancelled.exchange(true, std::memory_order_acq_rel))
                return;
            callbacks.swap(state_->callbacks);
        }
        state_->changed.notify_all();
        for (auto& entry : callbacks)
            entry.second();
    }

  private:
    std::shared_ptr<detail::CancellationState> state_;
};

/// What bounds one call (or one enrollment): an optional deadline and a cancellation token.
/// The default context has neither: only the transport's own timeouts bound the call.
struct CallContext {
    using Clock = std::chrono::steady_clock;

    std::optional<Clock::time_point> deadline;
    CancellationToken cancellation;

    /// A context whose deadline is `duration` from now.
    template <class Rep, class Period>
    [[nodiscard]] static CallContext timeout(std::chrono::duration<Rep, Period> duration) {
        CallContext context;
        context.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(duration);
        return context;
    }

    [[nodiscard]] bool cancelled() const noexcept { return cancellation.cancelled(); }
    [[nodiscard]] bool expired() const noexcept { return deadline && Clock::now() >= *deadline; }
    /// Time left before the deadline (zero once past it); empty without a deadline.
    [[nodiscard]] std::optional<std::chrono::milliseconds> remaining() const {
        if (!deadline)
            return std::nullopt;
        const auto left = *deadline - Clock::now();
        if (left <= Clock::duration::zero())
            return std::chrono::milliseconds::zero();
        return std::chrono::ceil<std::chrono::milliseconds>(left);
    }
};

}  // namespace mimcm
