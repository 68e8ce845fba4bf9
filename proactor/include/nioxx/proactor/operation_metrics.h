// OperationMetrics: an OperationObserver that counts the Proactor's operations per kind for
// Prometheus (collect()): initiated, handlers started, in flight (the difference), outcomes
// (cancelled, timed out) and completions handed to a queue instead of being run where they
// completed. Install it with ProactorOptions::observer; with none installed nothing is counted
// and each phase costs one predictable branch.
//
// Counting is per thread (metrics::ThreadCounter): no lock and no shared read-modify-write per
// operation. `next` (optional) receives every phase too, so a tracer can be chained behind it.
//
// Thread rule: onPhase from any thread (the Proactor's contract); collect() from any thread.
#pragma once

#include <array>
#include <string>

#include "nioxx/core/metrics.h"
#include "nioxx/proactor/observer.h"

namespace nioxx {

class OperationMetrics final : public OperationObserver {
 public:
  // strategy: the "dispatch" label of every sample ("call-through", ...).
  explicit OperationMetrics(std::string strategy, OperationObserver* next = nullptr);

  void onPhase(const Operation& op, OpPhase phase) noexcept override;
  void onHandlerEnd(OperationId id, OpKind kind) noexcept override;
  // initiated, completed and dispatched only (plus what `next` wants).
  unsigned wanted() const noexcept override;

  // Adds the nioxx_proactor_* families (and the live operation/channel gauges).
  void collect(metrics::Exposition& out) const;

  static constexpr std::size_t kKinds = static_cast<std::size_t>(OpKind::transmit_file) + 1;

 private:
  std::string strategy_;
  OperationObserver* next_;
  std::array<metrics::ThreadCounter, kKinds> initiated_;
  std::array<metrics::ThreadCounter, kKinds> dispatched_;  // handler started: the op is done
  metrics::ThreadCounter cancelled_, timedOut_, failed_, queued_, inline_;
};

}  // namespace nioxx
