#include "nioxx/proactor/operation_metrics.h"

#include "nioxx/core/error.h"
#include "nioxx/proactor/live_counts.h"

namespace nioxx {
namespace {
// The operation whose completion this thread reported last: if its handler starts right after on
// the same thread, the completion was run inline (call-through), else it waited in a queue.
thread_local const Operation* tJustCompleted = nullptr;
}  // namespace

OperationMetrics::OperationMetrics(std::string strategy, OperationObserver* next)
    : strategy_(std::move(strategy)), next_(next) {}

void OperationMetrics::onPhase(const Operation& op, OpPhase phase) noexcept {
  const auto kind = static_cast<std::size_t>(op.kind());
  switch (phase) {
    case OpPhase::initiated:
      initiated_[kind].add();
      break;
    case OpPhase::completed:
      tJustCompleted = &op;
      break;
    case OpPhase::dispatched: {
      dispatched_[kind].add();
      (tJustCompleted == &op ? inline_ : queued_).add();
      tJustCompleted = nullptr;
      const OpState state = op.state();
      if (!op.error && state == OpState::completed) break;  // the common case: one test
      if (state == OpState::cancelled || op.error == make_error_code(Error::operation_aborted)) {
        cancelled_.add();
      } else if (state == OpState::timed_out) {
        timedOut_.add();
      } else if (op.error) {
        failed_.add();
      }
      break;
    }
    case OpPhase::waiting:
    case OpPhase::performing:
      break;
  }
  if (next_ != nullptr) next_->onPhase(op, phase);
}

unsigned OperationMetrics::wanted() const noexcept {
  if (next_ != nullptr)
    return next_->wanted() | phaseBit(OpPhase::initiated) | phaseBit(OpPhase::completed) |
           phaseBit(OpPhase::dispatched);
  return phaseBit(OpPhase::initiated) | phaseBit(OpPhase::completed) |
         phaseBit(OpPhase::dispatched);
}

void OperationMetrics::onHandlerEnd(OperationId id, OpKind kind) noexcept {
  if (next_ != nullptr) next_->onHandlerEnd(id, kind);
}

void OperationMetrics::collect(metrics::Exposition& out) const {
  using metrics::Type;
  const auto labels = [this](const char* kind) {
    return metrics::Labels{{"dispatch", strategy_}, {"kind", kind}};
  };
  out.family("nioxx_proactor_operations_initiated_total", "Asynchronous operations initiated.",
             Type::counter);
  for (std::size_t k = 0; k < kKinds; ++k)
    out.sample(labels(toString(static_cast<OpKind>(k))), double(initiated_[k].value()));
  out.family("nioxx_proactor_completions_total",
             "Operations completed (their handler started), by kind and dispatch strategy.",
             Type::counter);
  for (std::size_t k = 0; k < kKinds; ++k)
    out.sample(labels(toString(static_cast<OpKind>(k))), double(dispatched_[k].value()));
  out.family("nioxx_proactor_operations_in_flight",
             "Operations initiated whose handler has not started yet.", Type::gauge);
  for (std::size_t k = 0; k < kKinds; ++k) {
    out.sample(labels(toString(static_cast<OpKind>(k))),
               double(initiated_[k].value() - dispatched_[k].value()));
  }
  const metrics::Labels engine{{"dispatch", strategy_}};
  out.family("nioxx_proactor_handoffs_total",
             "Completions queued for a later turn or another thread (not run inline where they "
             "completed).",
             Type::counter)
      .sample(engine, double(queued_.value()));
  out.family("nioxx_proactor_inline_dispatches_total",
             "Completions whose handler ran at once on the thread that completed them.",
             Type::counter)
      .sample(engine, double(inline_.value()));
  out.family("nioxx_proactor_cancellations_total",
             "Operations completed with operation_aborted (cancel, close, shutdown).",
             Type::counter)
      .sample(engine, double(cancelled_.value()));
  out.family("nioxx_proactor_timeouts_total", "Operations completed with timed_out.", Type::counter)
      .sample(engine, double(timedOut_.value()));
  out.family("nioxx_proactor_failures_total",
             "Operations completed with another error (end of stream included).", Type::counter)
      .sample(engine, double(failed_.value()));
  out.family("nioxx_proactor_live_operations",
             "Operation objects alive in the process (initiated, not yet freed).", Type::gauge)
      .sample(double(liveOperationCount()));
  out.family("nioxx_proactor_live_channels", "Asynchronous channels alive in the process.",
             Type::gauge)
      .sample(double(liveChannelCount()));
}

}  // namespace nioxx
