// The PC/SC context: SCardEstablishContext (user scope) as an RAII handle.
//
// Threads: not thread-safe; use a Context (and the Cards made from it) from one thread at a
// time. Context::cancel() may be called from any thread to end another thread's wait.
#pragma once

#include <memory>
#include <stdexcept>
#include <utility>

#include "mimcm/pcsc/error.hpp"
#include "mimcm/pcsc/platform.hpp"

namespace mimcm::pcsc {

namespace detail {
/// The native context, released when the Context and every Card made from it are gone.
class ContextHandle {
  public:
    ContextHandle() {
        check("pcsc::Context::Context",
              SCardEstablishContext(SCARD_SCOPE_USER, nullptr, nullptr, &handle_),
              "SCardEstablishContext");
    }
    ~ContextHandle() { SCardReleaseContext(handle_); }
    ContextHandle(const ContextHandle&) = delete;
    ContextHandle& operator=(const ContextHandle&) = delete;
    [[nodiscard]] SCARDCONTEXT native() const noexcept { return handle_; }

  private:
    SCARDCONTEXT handle_{};
};
}  // namespace detail

/// A PC/SC context (SCardEstablishContext, user scope). Non-copyable, movable; the Cards made
/// from it share its native context, which is released when the last of them is gone.
/// Threads: not thread-safe, one thread at a time; cancel() may be called from any thread.
class Context {
  public:
    Context() : state_(std::make_shared<const detail::ContextHandle>()) {}
    ~Context() = default;

    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;
    Context(Context&& other) noexcept = default;
    Context& operator=(Context&& other) noexcept = default;

    /// The native handle. Throws mimcm::UsageError on a moved-from or released Context.
    [[nodiscard]] SCARDCONTEXT native() const {
        if (!state_)
            throw UsageError("pcsc::Context::native",
                             "mimcm::pcsc::Context used after move or release");
        return state_->native();
    }
    /// True while this object owns a context (not a liveness check of the service).
    [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }

    /// The shared native context: a Card keeps it alive for as long as it needs it.
    [[nodiscard]] std::shared_ptr<const detail::ContextHandle> share() const {
        if (!state_)
            throw UsageError("pcsc::Context::share",
                             "mimcm::pcsc::Context used after move or release");
        return state_;
    }

    /// Ends a blocking SCardGetStatusChange of this context (callable from another thread);
    /// the waiting call then throws Error{cancelled}.
    void cancel() const { check("pcsc::Context::cancel", SCardCancel(native()), "SCardCancel"); }

    /// Gives up this object's context (SCardReleaseContext once no Card made from it is left
    /// either); never throws.
    void release() noexcept { state_.reset(); }

  private:
    friend class EnrollmentCard;
    /// Another owner of an existing native context (from share()): both Contexts use, and keep
    /// alive, the same SCARDCONTEXT, so cancel() on either ends a wait of the other.
    explicit Context(std::shared_ptr<const detail::ContextHandle> shared)
        : state_(std::move(shared)) {
        if (!state_)
            throw UsageError("pcsc::Context::Context",
                             "mimcm::pcsc::Context: no native context to share");
    }

    std::shared_ptr<const detail::ContextHandle> state_;
};
}  // namespace mimcm::pcsc
