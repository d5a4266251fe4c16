// The sample enrollment of the CM REST API documentation (its walkthrough) as one object: template,
// enroll policy, request, card binding, smart card policy, admin key diversification through the
// card's challenge-response, the PIN (chosen by the user or proposed by the server), certificate
// requests, completion. Progress goes to a callback; a failure says which step failed and what
// was already done on the server and the card.
//
// Deadlines and cancellation: run() takes a CallContext (mimcm/call.hpp). Every CM call gets it,
// and so does the card's read() when it takes one (a wait for the card then ends on cancel).
// When the flow is cancelled or fails after it created the CM request, it sets that request to
// Canceled itself, with a fresh context bounded by EnrollmentOptions::cleanup_timeout (not the
// cancelled one), and says in EnrollmentReport::request_cleanup whether that worked.
//
// Threads: an Enrollment runs on one thread at a time and uses its client and card exclusively
// while run() runs (neither may serve another thread meanwhile). To stop it from elsewhere, cancel
// the CancellationSource whose token is in run()'s CallContext: that is safe from any thread.
// EnrollmentOptions, EnrollmentReport and the step enums are plain values; the options' callbacks
// are called on the thread that runs run().
//
// The card side is a template parameter, so this header needs no PC/SC. A Card provides:
//
//   mimcm::CardData read();   // ATR, card id and a FRESH challenge (same card session); or
//                             // read(const mimcm::CallContext&), which then gets run()'s context
//   bool supports(mimcm::card::CardOperation) const;  // asked before anything is written
//   void set_admin_key(const mimcm::SecretBytes& response, const mimcm::SecretBytes& new_key);
//   void set_user_pin(const mimcm::SecretBytes& response, const mimcm::SecretString& pin);
//   void reset_pin_with_puk(const mimcm::SecretString& puk, const mimcm::SecretString& pin);
//   void finish() noexcept;   // the card is not needed any more
//
// where `response` is the server's answer to the challenge of the last read(), sent to the card
// to authenticate as admin right before the change. mimcm::pcsc::EnrollmentCard implements it on
// a real card (mimcm/pcsc/enrollment.hpp).
//
// Before the first write to the card the flow checks that the card can do every card step the
// policy needs (check_card); a card that could not finish is refused with nothing changed.
// The PIN: GIDS cards take it with the admin key; PIV cards only with the PUK, which the
// application supplies through EnrollmentOptions::puk (then the PIN is set BEFORE the admin
// key, so a refused PUK leaves the card unchanged); without a PUK the PIN step is left to the
// user (EnrollmentReport::pin == PinOutcome::left_to_user) and the enrollment goes on.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "mimcm/call.hpp"
#include "mimcm/card/profile.hpp"
#include "mimcm/client.hpp"

namespace mimcm {

enum class EnrollmentStep {
    list_templates,
    enroll_policy,
    create_request,
    get_request,
    read_card,
    assign_smartcard,
    get_smartcard,
    smartcard_policy,
    check_card,
    diversified_key,
    set_admin_key,
    proposed_pin,
    set_pin,
    generation_options,
    certificate_data,
    complete_request,
};

[[nodiscard]] inline std::string_view to_string(EnrollmentStep step) noexcept {
    switch (step) {
        case EnrollmentStep::list_templates:
            return "list profile templates";
        case EnrollmentStep::enroll_policy:
            return "get the enroll policy";
        case EnrollmentStep::create_request:
            return "create the request";
        case EnrollmentStep::get_request:
            return "get the request";
        case EnrollmentStep::read_card:
            return "read the card";
        case EnrollmentStep::assign_smartcard:
            return "assign the card to the request";
        case EnrollmentStep::get_smartcard:
            return "get the smart card";
        case EnrollmentStep::smartcard_policy:
            return "get the smart card policy";
        case EnrollmentStep::check_card:
            return "check what the card can do";
        case EnrollmentStep::diversified_key:
            return "get the diversified admin key";
        case EnrollmentStep::set_admin_key:
            return "set the admin key on the card";
        case EnrollmentStep::proposed_pin:
            return "get the server-proposed PIN";
        case EnrollmentStep::set_pin:
            return "set the PIN on the card";
        case EnrollmentStep::generation_options:
            return "get the certificate request options";
        case EnrollmentStep::certificate_data:
            return "submit the certificate requests";
        case EnrollmentStep::complete_request:
            return "complete the request";
    }
    return "enrollment";
}

/// What the progress callback reports about a step.
enum class StepEvent { started, succeeded };

struct EnrollmentOptions {
    /// The profile template, by display name or GUID.
    std::string profile_template;
    /// Answers to the enroll policy's data collection items (name, value).
    std::vector<std::pair<std::string, std::string>> data_collection;
    std::string comment;
    /// Asked for the PIN when the policy lets the user choose it (or the server proposes none).
    std::function<SecretString()> user_pin;
    /// Asked (before anything is written) for the PUK of a card whose PIN can be set only with
    /// it (PIV). No callback, or std::nullopt: the PIN step is left to the user.
    std::function<std::optional<SecretString>()> puk;
    /// Builds one base64 DER PKCS#10 request per options entry (keys are made on the card by
    /// the application's key storage provider).
    std::function<std::vector<std::string>(const std::vector<CertificateRequestGenerationOptions>&)>
        make_certificate_requests;
    /// Called as each step starts (StepEvent::started) and ends well (StepEvent::succeeded).
    std::function<void(EnrollmentStep, StepEvent)> progress;
    /// The deadline of the call that sets the request to Canceled after a cancel or a failure.
    std::chrono::milliseconds cleanup_timeout{5000};
};

/// What the flow did with the CM request it created, after a cancel or a failure.
enum class RequestCleanup {
    none,           ///< nothing to do: no request was created, or the enrollment succeeded
    canceled,       ///< the request was set to Canceled on the server
    cancel_failed,  ///< setting it to Canceled failed (see cleanup_error): cancel it later
};

[[nodiscard]] inline std::string_view to_string(RequestCleanup cleanup) noexcept {
    switch (cleanup) {
        case RequestCleanup::none:
            return "none";
        case RequestCleanup::canceled:
            return "canceled";
        case RequestCleanup::cancel_failed:
            return "cancel_failed";
    }
    return "unknown";
}

/// What became of the card's PIN.
enum class PinOutcome {
    not_reached,   ///< the flow failed before the PIN step
    set,           ///< the PIN is set on the card
    left_to_user,  ///< the card takes a new PIN only with its PUK and none was given: the user
                   ///< sets the PIN (e.g. with the card vendor's tool)
};

[[nodiscard]] inline std::string_view to_string(PinOutcome outcome) noexcept {
    switch (outcome) {
        case PinOutcome::not_reached:
            return "not_reached";
        case PinOutcome::set:
            return "set";
        case PinOutcome::left_to_user:
            return "left_to_user";
    }
    return "unknown";
}

/// Where a failed enrollment's failure came from.
enum class FailureSource {
    none,      ///< nothing failed
    server,    ///< the CM server: an error answer, no answer (transport), or data that does not
               ///< fit (e.g. a diversified admin key of the wrong size): failure_outcome says
               ///< which, server_error holds the operation's Error when it failed as such
    card,      ///< the card or its reader (mimcm::card::CardError, mimcm::pcsc::Error)
    caller,    ///< the options or what the callbacks gave (e.g. a PIN the card does not take), or
               ///< a cancel of run()'s context (failure_outcome "cancelled")
    internal,  ///< a program error (mimcm::UsageError and anything else unexpected)
};

[[nodiscard]] inline std::string_view to_string(FailureSource source) noexcept {
    switch (source) {
        case FailureSource::none:
            return "none";
        case FailureSource::server:
            return "server";
        case FailureSource::card:
            return "card";
        case FailureSource::caller:
            return "caller";
        case FailureSource::internal:
            return "internal";
    }
    return "unknown";
}

/// What happened. On failure, `failed_step` and `error` say where and why (no secrets), and the
/// other fields say what already exists on the server and the card.
/// Move-only: the issued certificates may hold a PFX (a secret).
struct EnrollmentReport {
    EnrollmentReport() = default;
    EnrollmentReport(EnrollmentReport&&) = default;
    EnrollmentReport& operator=(EnrollmentReport&&) = default;
    EnrollmentReport(const EnrollmentReport&) = delete;
    EnrollmentReport& operator=(const EnrollmentReport&) = delete;
    ~EnrollmentReport() = default;

    bool succeeded = false;
    std::optional<EnrollmentStep> failed_step;
    std::string error;
    /// The failure's name: a client operation's Error::name() ("forbidden", "server_error",
    /// "transport", "protocol", "timeout", ...), or the flow's own "no_content", "card_error",
    /// "invalid_input", "invalid_state", "internal_error"; "cancelled" when run()'s
    /// cancellation token was cancelled.
    std::string failure_outcome;
    /// The Error of the client operation that failed, when one did (typed access: switch over
    /// server_error->kind).
    std::optional<Error> server_error;
    /// Where the failure came from.
    FailureSource failure_source = FailureSource::none;
    std::optional<RequestId> request;  ///< created on the server (see request_cleanup)
    /// After a cancel or a failure: whether the flow set `request` to Canceled.
    RequestCleanup request_cleanup = RequestCleanup::none;
    std::string cleanup_error;             ///< why that failed (RequestCleanup::cancel_failed)
    std::optional<SmartcardId> smartcard;  ///< the card bound to the request
    bool admin_key_changed = false;        ///< the card now holds the diversified admin key
    bool pin_set = false;                  ///< pin == PinOutcome::set
    PinOutcome pin = PinOutcome::not_reached;
    bool pin_proposed_by_server = false;
    /// The card failed in the middle of a write without answering it (removed, a reader failure,
    /// a garbled answer): it may hold the new admin key or PIN although admin_key_changed and pin
    /// say it does not. Check the card before it is used again.
    bool card_state_unknown = false;
    std::vector<Certificate> certificates;  ///< issued certificates (install them on the card)
};

namespace detail {
/// True when Card has read(const CallContext&).
template <class Card, class = void>
struct reads_with_context : std::false_type {};
template <class Card>
struct reads_with_context<
    Card, std::void_t<decltype(std::declval<Card&>().read(std::declval<const CallContext&>()))>>
    : std::true_type {};

struct StepFailed {
    EnrollmentStep step;
    std::string error;
    std::string outcome = "invalid_state";
    FailureSource source = FailureSource::caller;
    std::optional<Error> server_error = std::nullopt;
};
}  // namespace detail

template <class Transport, class Card>
class Enrollment {
  public:
    Enrollment(BasicClient<Transport>& client, Card& card, EnrollmentOptions options)
        : client_(client), card_(card), options_(std::move(options)) {}

    /// Runs the whole flow, bounded by `context` (every CM call and the card's read get it).
    /// Never throws for server, card or input failures, nor for a cancel: they end in the report.
    /// A request created before a cancel or a failure is set to Canceled (request_cleanup).
    [[nodiscard]] EnrollmentReport run(const CallContext& context = {}) {
        report_ = EnrollmentReport{};
        context_ = context;
        try {
            flow();
            report_.succeeded = true;
        } catch (const detail::StepFailed& failed) {
            card_.finish();
            report_.failed_step = failed.step;
            report_.error = failed.error;
            report_.failure_outcome = failed.outcome;
            report_.failure_source = failed.source;
            report_.server_error = failed.server_error;
            if (context_.cancelled()) {
                report_.error = "the enrollment was cancelled (" + failed.error + ")";
                report_.failure_outcome = "cancelled";
                report_.failure_source = FailureSource::caller;
            }
            cancel_request();
        }
        context_ = CallContext{};
        return std::move(report_);
    }

  private:
    void flow() {
        const ProfileTemplateId profile_template =
            step(EnrollmentStep::list_templates, [&] { return find_template(); });
        const WorkflowPolicy policy = step(EnrollmentStep::enroll_policy, [&] {
            return present(
                client_.get_workflow_policy(profile_template, WorkflowType::enroll, context_)
                    .value());
        });
        for (const auto& item : policy.data_collection) {
            bool given = false;
            for (const auto& [name, value] : options_.data_collection)
                given = given || name == item.name;
            if (item.required && !given) {
                fail(EnrollmentStep::enroll_policy,
                     "the policy requires the data item \"" + item.name + "\"");
            }
        }
        report_.request = step(EnrollmentStep::create_request, [&] {
            NewRequest request;
            request.profile_template = profile_template;
            request.data_collection = options_.data_collection;
            request.comment = options_.comment;
            return present(client_.create_request(request, context_).value()).id;
        });
        const RequestId request_id = *report_.request;
        step(EnrollmentStep::get_request, [&] {
            const Request request = present(client_.get_request(request_id, context_).value());
            // Walkthrough step 8: execution may start once the request is approved.
            if (request.status != request_status::approved) {
                throw detail::StepFailed{EnrollmentStep::get_request,
                                         "the request is not approved (status " +
                                             std::to_string(request.status) + ", approved is " +
                                             std::to_string(request_status::approved) + ")",
                                         "invalid_state", FailureSource::server};
            }
            return true;
        });
        CardData card =
            step(EnrollmentStep::read_card, [&] { return card_data([&] { return read_card(); }); });
        const SmartcardId smartcard = step(EnrollmentStep::assign_smartcard, [&] {
            return present(client_.assign_smartcard(request_id, card.card_id, card.atr, context_)
                               .value())
                .id;
        });
        report_.smartcard = smartcard;
        step(EnrollmentStep::get_smartcard, [&] {
            const Smartcard bound = present(client_.get_smartcard(smartcard, context_).value());
            const auto serial = bound.card_id();
            if (!serial || serial->bytes() != card.card_id.bytes()) {
                throw detail::StepFailed{EnrollmentStep::get_smartcard,
                                         "the server bound another card id", "protocol",
                                         FailureSource::server};
            }
            return true;
        });
        const SmartcardPolicy card_policy = step(EnrollmentStep::smartcard_policy, [&] {
            return present(client_.get_smartcard_policy(profile_template, context_).value());
        });

        enum class PinPath { admin_key, puk, user };
        SecretString puk;
        const PinPath pin_path = step(EnrollmentStep::check_card, [&] {
            using card::CardOperation;
            auto require = [&](CardOperation operation, std::string_view why) {
                if (!card_.supports(operation)) {
                    throw detail::StepFailed{EnrollmentStep::check_card,
                                             "the card cannot " + std::string(why) + " (no " +
                                                 std::string(to_string(operation)) +
                                                 "); nothing was written to it",
                                             "card_error", FailureSource::card};
                }
            };
            if (card_policy.diversify_admin_key) {
                require(CardOperation::admin_authentication,
                        "answer the admin challenge, which the diversified admin key needs");
                require(CardOperation::set_admin_key, "take the diversified admin key");
            }
            if (card_.supports(CardOperation::set_pin_with_admin_key)) {
                require(CardOperation::admin_authentication,
                        "answer the admin challenge, which setting the PIN needs");
                return PinPath::admin_key;
            }
            if (card_.supports(CardOperation::set_pin_with_puk) && options_.puk) {
                if (auto given = options_.puk()) {
                    puk = std::move(*given);
                    return PinPath::puk;
                }
            }
            return PinPath::user;
        });

        // A card whose PIN needs the PUK gets its PIN first: a refused PUK then leaves the card
        // unchanged, where it would otherwise leave a changed admin key behind.
        const bool pin_first = pin_path == PinPath::puk;
        AdminKey admin_key = AdminKey::default_key;
        SecretString pin;
        const auto admin_key_steps = [&] {
            if (!card_policy.diversify_admin_key)
                return;
            const SecretBlob key = step(EnrollmentStep::diversified_key, [&] {
                SecretBlob key =
                    present(client_
                                .get_diversified_admin_key(request_id, smartcard, card.card_id,
                                                           card.atr, context_)
                                .value());
                check_server_blob(key, card::admin_key_size, "diversified admin key");
                return key;
            });
            step(EnrollmentStep::set_admin_key, [&] {
                if (pin_first)
                    card = card_data(
                        [&] { return read_card(); });  // a fresh challenge after the PIN step
                const SecretBlob response =
                    present(client_
                                .get_authentication_response(request_id, smartcard, card.card_id,
                                                             card.challenge, AdminKey::default_key,
                                                             card.atr, context_)
                                .value());
                check_server_blob(response, card::admin_response_size, "admin challenge response");
                card_write([&] { card_.set_admin_key(response.bytes, key.bytes); });
                return true;
            });
            report_.admin_key_changed = true;
            admin_key = AdminKey::diversified;
        };

        const auto pin_steps = [&] {
            if (card_policy.user_pin_option == UserPinOption::server_proposed) {
                step(EnrollmentStep::proposed_pin, [&] {
                    card = card_data([&] { return read_card(); });
                    PinProposal proposal =
                        client_.server_proposed_pin(smartcard, card, context_).value();
                    if (auto* p = std::get_if<PinProposed>(&proposal)) {
                        pin = std::move(p->pin);
                        report_.pin_proposed_by_server = true;
                    }
                    return true;
                });
            }
            step(EnrollmentStep::set_pin, [&] {
                if (pin_path == PinPath::user) {
                    report_.pin = PinOutcome::left_to_user;
                    return true;
                }
                if (pin.empty()) {
                    if (!options_.user_pin) {
                        throw detail::StepFailed{
                            EnrollmentStep::set_pin,
                            "the user must choose the PIN: no user_pin callback"};
                    }
                    pin = options_.user_pin();
                }
                if (pin_path == PinPath::puk) {
                    caller_data([&] { card_write([&] { card_.reset_pin_with_puk(puk, pin); }); });
                } else {
                    card = card_data([&] { return read_card(); });
                    const SecretBlob response =
                        present(client_
                                    .get_authentication_response(request_id, smartcard,
                                                                 card.card_id, card.challenge,
                                                                 admin_key, card.atr, context_)
                                    .value());
                    check_server_blob(response, card::admin_response_size,
                                      "admin challenge response");
                    caller_data(
                        [&] { card_write([&] { card_.set_user_pin(response.bytes, pin); }); });
                }
                report_.pin = PinOutcome::set;
                report_.pin_set = true;
                return true;
            });
        };
        if (pin_first) {
            pin_steps();
            admin_key_steps();
        } else {
            admin_key_steps();
            pin_steps();
        }
        card_.finish();

        const auto generation = step(EnrollmentStep::generation_options, [&] {
            return client_.get_certificate_request_generation_options(request_id, context_).value();
        });
        report_.certificates = step(EnrollmentStep::certificate_data, [&] {
            if (!options_.make_certificate_requests) {
                throw detail::StepFailed{EnrollmentStep::certificate_data,
                                         "no make_certificate_requests callback"};
            }
            CertificateData data;
            data.certificate_requests = options_.make_certificate_requests(generation);
            return client_.submit_certificate_requests(request_id, data, context_).value();
        });
        step(EnrollmentStep::complete_request, [&] {
            return present(
                client_.set_request_status(request_id, RequestStatus::completed, context_).value());
        });
    }

    ProfileTemplateId find_template() {
        const auto templates = client_.list_profile_templates({}, context_).value();
        const auto wanted = ProfileTemplateId::try_parse(options_.profile_template);
        for (const auto& t : templates) {
            if (t.uuid && ((wanted && *t.uuid == *wanted) || t.name == options_.profile_template))
                return *t.uuid;
        }
        throw detail::StepFailed{
            EnrollmentStep::list_templates,
            "no enrollable profile template \"" + options_.profile_template + "\""};
    }

    /// Runs one step: progress before and after, and every failure turned into StepFailed naming
    /// the step and where the failure came from: a failed client operation (ResultError, from
    /// Result::value()) is the server's, with its Error; card and reader errors
    /// (card::DeviceError) are the card's; mimcm::InvalidArgument is data from the server that
    /// does not fit (the flow checks what the card and the caller give where it takes it, see
    /// card_data() and caller_data()); anything else is a program error.
    template <class Body>
    auto step(EnrollmentStep which, Body body) -> decltype(body()) {
        current_ = which;
        if (context_.cancelled()) {
            throw detail::StepFailed{which, "cancelled before the step started", "cancelled",
                                     FailureSource::caller};
        }
        if (options_.progress)
            options_.progress(which, StepEvent::started);
        try {
            auto result = body();
            if (options_.progress)
                options_.progress(which, StepEvent::succeeded);
            return result;
        } catch (const detail::StepFailed&) {
            throw;
        } catch (const ResultError& e) {
            throw detail::StepFailed{which, e.what(), std::string(e.error().name()),
                                     FailureSource::server, e.error()};
        } catch (const card::DeviceError& e) {
            throw detail::StepFailed{which, e.what(), "card_error", FailureSource::card};
        } catch (const InvalidArgument& e) {
            throw detail::StepFailed{which,
                                     "the server's answer does not fit: " + std::string(e.what()),
                                     "protocol", FailureSource::server};
        } catch (const std::exception& e) {
            throw detail::StepFailed{which, "internal error: " + std::string(e.what()),
                                     "internal_error", FailureSource::internal};
        } catch (...) {
            throw detail::StepFailed{which, "internal error: an unknown exception",
                                     "internal_error", FailureSource::internal};
        }
    }

    /// Runs a card call: invalid data read off the card (mimcm::InvalidArgument, e.g. an ATR of
    /// 40 bytes) is the card's failure, not the server's.
    template <class Body>
    auto card_data(Body body) -> decltype(body()) {
        try {
            return body();
        } catch (const InvalidArgument& e) {
            throw detail::StepFailed{current_, e.what(), "card_error", FailureSource::card};
        }
    }

    /// Runs a card call given what the caller chose (the PIN, the PUK): the card layer refuses
    /// an argument it cannot take with mimcm::InvalidArgument before anything is sent.
    template <class Body>
    auto caller_data(Body body) -> decltype(body()) {
        try {
            return body();
        } catch (const InvalidArgument& e) {
            throw detail::StepFailed{current_, e.what(), "invalid_input", FailureSource::caller};
        }
    }

    /// Runs a card call that writes to the card. A card that refused with a status word changed
    /// nothing; one that failed without a status word (removed, reader failure, garbled answer)
    /// may have carried the write out: report_.card_state_unknown.
    template <class Body>
    void card_write(Body body) {
        try {
            body();
        } catch (const card::CardError& e) {
            if (!e.sw())
                report_.card_state_unknown = true;
            throw;
        } catch (const card::DeviceError&) {
            report_.card_state_unknown = true;
            throw;
        }
    }

    /// A key or challenge response from the server has the size the card takes (3DES), checked
    /// before it goes to the card.
    void check_server_blob(const SecretBlob& blob, std::size_t size, std::string_view what) {
        if (blob.bytes.size() != size) {
            throw detail::StepFailed{current_,
                                     "the server's " + std::string(what) + " has " +
                                         std::to_string(blob.bytes.size()) + " bytes; expected " +
                                         std::to_string(size),
                                     "protocol", FailureSource::server};
        }
    }

    /// The card's read(), given run()'s context when the card takes one.
    CardData read_card() {
        if constexpr (detail::reads_with_context<Card>::value) {
            return card_.read(context_);
        } else {
            return card_.read();
        }
    }

    /// After a cancel or a failure: sets the request the flow created to Canceled, with a fresh
    /// context (the run's may be cancelled or expired), and records how that went.
    void cancel_request() noexcept {
        if (!report_.request)
            return;
        try {
            const auto cleanup = CallContext::timeout(options_.cleanup_timeout);
            const auto result =
                client_.set_request_status(*report_.request, RequestStatus::canceled, cleanup);
            if (result.ok()) {  // the request, or 204
                report_.request_cleanup = RequestCleanup::canceled;
            } else {
                report_.request_cleanup = RequestCleanup::cancel_failed;
                report_.cleanup_error = result.error().describe();
            }
        } catch (const std::exception& e) {
            report_.request_cleanup = RequestCleanup::cancel_failed;
            report_.cleanup_error = e.what();
        } catch (...) {
            report_.request_cleanup = RequestCleanup::cancel_failed;
            report_.cleanup_error = "an unknown exception";
        }
    }

    [[noreturn]] static void fail(EnrollmentStep which, std::string error) {
        throw detail::StepFailed{which, std::move(error)};
    }

    /// The object of an operation that answered one, or StepFailed when it answered 204.
    template <class T>
    T present(std::optional<T> object) {
        if (!object) {
            throw detail::StepFailed{current_, "the server answered 204 (no content)", "no_content",
                                     FailureSource::server};
        }
        return std::move(*object);
    }

    BasicClient<Transport>& client_;
    Card& card_;
    EnrollmentOptions options_;
    EnrollmentReport report_;
    CallContext context_;  ///< run()'s context, for the length of run()
    EnrollmentStep current_ = EnrollmentStep::list_templates;
};

}  // namespace mimcm
