// LoopStats: what a Reactor's loop did, for metrics (Prometheus, collectLoopMetrics()). Every
// Reactor owns one; it registers itself in a process-wide list of live loops for its lifetime.
//
// Thread rule: only the loop thread writes (a relaxed load and store per field: single writer,
// no read-modify-write; leader/followers turns are serialised by their own mutex); any thread
// reads. The queued-task gauge is written under the Reactor's task mutex.
#pragma once

#include <atomic>
#include <cstdint>

#include "nioxx/core/metrics.h"

namespace nioxx {

struct LoopStats {
  LoopStats();   // registers in the live-loop list (takes its mutex)
  ~LoopStats();  // unregisters
  LoopStats(const LoopStats&) = delete;
  LoopStats& operator=(const LoopStats&) = delete;

  LoopStats* prev = nullptr;  // live-loop list, guarded by its mutex (declared before `loop`,
  LoopStats* next = nullptr;  // whose initialiser links them)
  const std::uint64_t loop;   // process-wide sequence number (the "loop" label)
  std::atomic<std::uint64_t> iterations{0};   // select calls
  std::atomic<std::uint64_t> readyEvents{0};  // ready keys dispatched
  std::atomic<std::uint64_t> tasksRun{0};     // posted tasks run
  std::atomic<std::uint64_t> timersRun{0};    // timers fired
  std::atomic<std::uint64_t> busyNanos{0};    // time spent dispatching (not waiting in select)
  // Longest single dispatch stretch since the last scrape: how long an event arriving during it
  // waited before the loop could look (the scrape resets it, so a peak is seen once).
  std::atomic<std::uint64_t> lagPeakNanos{0};
  std::atomic<std::uint64_t> queuedTasks{0};  // posted and not yet taken by the loop

  static void bump(std::atomic<std::uint64_t>& field, std::uint64_t n) noexcept {
    field.store(field.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

// Adds the nioxx_loop_* families, one sample per live Reactor (label loop="N"). Any thread.
void collectLoopMetrics(metrics::Exposition& out);

}  // namespace nioxx
