#include "nioxx/reactor/loop_stats.h"

#include <mutex>

namespace nioxx {
namespace {

struct LiveLoops {
  std::mutex mutex;
  LoopStats* head = nullptr;
  std::uint64_t nextId = 0;
};

LiveLoops& liveLoops() noexcept {
  static LiveLoops* l = new LiveLoops;  // never destroyed: reactors may outlive main()
  return *l;
}

std::uint64_t register_(LoopStats* s) {
  LiveLoops& l = liveLoops();
  std::lock_guard lock(l.mutex);
  s->next = l.head;
  if (l.head != nullptr) l.head->prev = s;
  l.head = s;
  return l.nextId++;
}

}  // namespace

LoopStats::LoopStats() : loop(register_(this)) {}

LoopStats::~LoopStats() {
  LiveLoops& l = liveLoops();
  std::lock_guard lock(l.mutex);
  if (prev != nullptr) prev->next = next;
  if (next != nullptr) next->prev = prev;
  if (l.head == this) l.head = next;
}

void collectLoopMetrics(metrics::Exposition& out) {
  using metrics::Type;
  struct Field {
    const char* name;
    const char* help;
    Type type;
    double (*get)(LoopStats&);
  };
  static constexpr double kNano = 1e-9;
  static const Field fields[] = {
      {"nioxx_loop_iterations_total", "Reactor loop iterations (select calls).", Type::counter,
       [](LoopStats& s) { return double(s.iterations.load(std::memory_order_relaxed)); }},
      {"nioxx_loop_ready_events_total",
       "Ready keys dispatched (divided by iterations: ready events per wait).", Type::counter,
       [](LoopStats& s) { return double(s.readyEvents.load(std::memory_order_relaxed)); }},
      {"nioxx_loop_tasks_run_total", "Posted tasks run on the loop.", Type::counter,
       [](LoopStats& s) { return double(s.tasksRun.load(std::memory_order_relaxed)); }},
      {"nioxx_loop_timers_run_total", "Timers fired on the loop.", Type::counter,
       [](LoopStats& s) { return double(s.timersRun.load(std::memory_order_relaxed)); }},
      {"nioxx_loop_busy_seconds_total", "Time the loop spent dispatching, not waiting.",
       Type::counter,
       [](LoopStats& s) { return double(s.busyNanos.load(std::memory_order_relaxed)) * kNano; }},
      {"nioxx_loop_lag_seconds",
       "Longest single dispatch stretch since the previous scrape (how long a new event could "
       "wait for the loop).",
       Type::gauge,
       [](LoopStats& s) {
         return double(s.lagPeakNanos.exchange(0, std::memory_order_relaxed)) * kNano;
       }},
      {"nioxx_loop_queued_tasks", "Tasks posted to the loop and not yet taken.", Type::gauge,
       [](LoopStats& s) { return double(s.queuedTasks.load(std::memory_order_relaxed)); }},
  };
  LiveLoops& l = liveLoops();
  std::lock_guard lock(l.mutex);
  for (const Field& f : fields) {
    out.family(f.name, f.help, f.type);
    for (LoopStats* s = l.head; s != nullptr; s = s->next)
      out.sample({{"loop", std::to_string(s->loop)}}, f.get(*s));
  }
}

}  // namespace nioxx
