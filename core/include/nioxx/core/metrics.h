// Metrics in Prometheus' text exposition format (0.0.4), without a lock or a shared atomic
// read-modify-write on the path that counts.
//
// - ThreadCounter: a counter (or an up/down gauge) whose increments go to a cell owned by the
//   calling thread (one relaxed load and one relaxed store, no contention, no RMW); value() sums
//   the cells of every thread plus what exited threads left behind. Creating and destroying one
//   takes a process-wide mutex (not the counting path). At most kMaxThreadCounters live at once.
// - Exposition: the text a scrape returns, built family by family (HELP and TYPE once per
//   family, samples grouped under it, names and labels checked, label values escaped).
// - MetricsRegistry: collectors (functions that add families to an Exposition), called at scrape
//   time; register one with add() and keep the returned handle for as long as it may be called.
//
// Why not prometheus-cpp (Debian's prometheus-cpp-dev): its counters are one std::atomic<double>
// per series updated with a compare-exchange loop (a shared RMW on every increment, contended by
// every thread), and its exposer brings civetweb's own HTTP threads. docs/parts/operations.md.
//
// Thread rule: every member is safe from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nioxx::metrics {

inline constexpr std::size_t kMaxThreadCounters = 4096;

namespace detail {
using CounterCell = std::atomic<std::int64_t>;
inline constexpr std::size_t kCounterChunkCells = 64;
// The calling thread's table of cell chunks (kMaxThreadCounters / kCounterChunkCells entries,
// each null until that thread first counts into it); null before the thread's first add and
// after its exit. Trivial and constant-initialised, so reading it is a plain TLS load.
inline thread_local std::atomic<CounterCell*>* tCounterChunks = nullptr;
}  // namespace detail

class ThreadCounter {
 public:
  // Throws std::length_error when kMaxThreadCounters are live.
  ThreadCounter();
  ~ThreadCounter();
  ThreadCounter(const ThreadCounter&) = delete;
  ThreadCounter& operator=(const ThreadCounter&) = delete;

  // Adds to the calling thread's cell (negative deltas make it a gauge). Inline: a counted
  // operation pays a TLS load, two dependent loads and a store, not a call (issue 16).
  void add(std::int64_t delta = 1) noexcept {
    if (auto* chunks = detail::tCounterChunks) [[likely]] {
      if (detail::CounterCell* chunk = chunks[index_ / detail::kCounterChunkCells].load(
              std::memory_order_relaxed)) [[likely]] {
        detail::CounterCell& cell = chunk[index_ % detail::kCounterChunkCells];
        cell.store(cell.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
        return;
      }
    }
    addSlow(delta);
  }
  // The sum over all threads. Concurrent adds may or may not be included.
  std::int64_t value() const noexcept;

 private:
  // First add on this thread or into this chunk, or after the thread's slot was folded.
  void addSlow(std::int64_t delta) noexcept;
  std::uint32_t index_;
};

enum class Type { counter, gauge };
using Labels = std::vector<std::pair<std::string, std::string>>;

class Exposition {
 public:
  // Starts (or continues) the family `name`. Throws std::invalid_argument for a bad metric name,
  // or if the family was declared before with another type. A counter's name ends in "_total".
  Exposition& family(std::string_view name, std::string_view help, Type type);
  // A sample of the current family. Throws std::invalid_argument for a bad label name, a
  // duplicate label name, or no family.
  Exposition& sample(const Labels& labels, double value);
  Exposition& sample(double value) { return sample({}, value); }
  // The text (families in declaration order).
  std::string text() const;

 private:
  struct Family {
    std::string name, help;
    Type type;
    std::vector<std::string> samples;  // rendered lines
  };
  std::vector<Family> families_;
  std::size_t current_ = static_cast<std::size_t>(-1);
};

// "text/plain; version=0.0.4; charset=utf-8"
extern const char* const kContentType;

class MetricsRegistry {
 public:
  using Collector = std::function<void(Exposition&)>;
  class Handle;

  // The process-wide registry the servers' /metrics endpoint renders.
  static MetricsRegistry& global();

  // Registers a collector until the handle is destroyed (which waits for a scrape in progress).
  [[nodiscard]] Handle add(Collector collector);
  // Calls every collector, in registration order, and returns the text.
  std::string scrape();

  class Handle {
   public:
    Handle() = default;
    Handle(Handle&& o) noexcept : registry_(std::exchange(o.registry_, nullptr)), it_(o.it_) {}
    Handle& operator=(Handle&& o) noexcept;
    ~Handle() { reset(); }
    void reset() noexcept;

   private:
    friend class MetricsRegistry;
    Handle(MetricsRegistry* r, std::list<Collector>::iterator it) : registry_(r), it_(it) {}
    MetricsRegistry* registry_ = nullptr;
    std::list<Collector>::iterator it_;
  };

 private:
  std::mutex mutex_;
  std::list<Collector> collectors_;
};

}  // namespace nioxx::metrics
