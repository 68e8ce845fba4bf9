// Reactor: Schmidt's Initiation Dispatcher / Doug Lea's Reactor. It owns a Selector, runs the
// event loop on one thread, dispatches each ready key to the EventHandler attached to it, runs
// posted tasks and timers.
//
// One loop iteration: select (timeout 0 if tasks are queued, else until the next timer) and
// dispatch the ready keys; run expired timers; run the posted tasks queued so far (FIFO).
//
// Thread rule (muduo's): the loop thread is the thread inside run()/runOnce() (or bound with
// bindLoopThread()). Loop-only calls (registerHandler and everything on registered channels)
// must happen on it, or before the loop starts; debug/sanitizer builds abort otherwise
// (assertInLoopThread). stop(), post(), runInLoop(), schedule(), cancelTimer(), wakeup() and
// isInLoopThread() are safe from any thread. Only the bound loop thread acts directly; every
// other thread, including all threads while no loop thread is bound (before run(), between
// leader/followers turns), queues its change for the loop's next iteration.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <unordered_map>
#include <vector>

#include "nioxx/core/thread_affinity.h"
#include "nioxx/core/unique_function.h"
#include "nioxx/reactor/loop_stats.h"
#include "nioxx/reactor/selectable_channel.h"
#include "nioxx/reactor/selection_key.h"
#include "nioxx/reactor/selector.h"

namespace nioxx {

// Schmidt's Event Handler. handleEvent() runs on the loop thread with key.readyOps() set. It is
// never called after its key was cancelled or its channel closed; it may close its own channel,
// cancel its key or destroy itself (delete this) inside handleEvent.
class EventHandler {
 public:
  virtual ~EventHandler() = default;
  virtual void handleEvent(SelectionKey& key) = 0;
};

// Identifies a scheduled timer; 0 is never a valid id.
struct TimerId {
  std::uint64_t value = 0;
  explicit operator bool() const noexcept { return value != 0; }
  friend bool operator==(TimerId, TimerId) = default;
};

class Reactor {
 public:
  // Move-only: a task may own what it hands over (a SocketChannel for another loop, a promise).
  using Task = UniqueFunction<void()>;

  Reactor();  // opens its Selector; throws std::system_error
  // Over a given selector backend (the simulator's, for instance).
  explicit Reactor(std::unique_ptr<SelectorBackend> backend);
  ~Reactor();  // not while run() executes; pending tasks and timers are dropped uncalled
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // Registers channel for ops with handler as the key's attachment (EventHandler*). Returns the
  // key (change its interestOps() later, cancel it, or close the channel to unregister).
  // Loop thread, or before run() (the registration is then adopted by the first select).
  SelectionKey& registerHandler(SelectableChannel& channel, int ops, EventHandler& handler);

  // Runs the loop on the calling thread until stop(); the thread is the loop thread (for the
  // Selector too) until run() returns. What was queued before, from any thread, is applied at
  // the first iteration, in order. stop() is sticky: run() returns at once if stop() was
  // already called. Throws std::logic_error if the loop is already running.
  void run();
  // One iteration waiting at most timeout (negative = until an event/task/timer). Returns the
  // number of handlers, timers and tasks run. Loop thread (the caller becomes it).
  int runOnce(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));
  // Makes run() return after the current iteration. Any thread.
  void stop() noexcept;
  bool isStopped() const noexcept { return stopped_.load(std::memory_order_acquire); }

  // Queues fn to run on the loop thread, after the current iteration's events, in FIFO order;
  // never runs it inline. The selector is woken (coalesced). Any thread.
  void post(Task fn);
  // Runs fn now if called on the loop thread, else post(fn). Any thread.
  void runInLoop(Task fn);
  // True if posted tasks are waiting (the loop then selects with timeout 0). Any thread.
  bool hasPendingTasks() const noexcept { return pendingTasks_.load(std::memory_order_acquire); }

  // One-shot timer: fn runs on the loop thread no earlier than delay from now. O(log n).
  // Any thread: off the loop thread (also before run()) the insertion hops to the loop via
  // post() (the id is returned at once and can be cancelled right away).
  TimerId schedule(std::chrono::nanoseconds delay, Task fn);
  // Cancels a timer that has not run yet. On the loop thread: true if it was pending. Off the
  // loop thread (also before run()) the cancellation is posted behind any insertion posted
  // before it, and the result is true.
  bool cancelTimer(TimerId id);
  // Live timers (a timer scheduled off the loop thread counts once the loop inserted it).
  // Loop thread.
  std::size_t pendingTimers() const noexcept { return timerTasks_.size(); }

  // The loop's time (sys::now(), so the simulation's virtual clock): read once per iteration when
  // its first event is dispatched, and again before its timers and tasks run. What a handler
  // needs for idle and linger bookkeeping, without a clock read per event (libuv's uv_now()).
  // Loop thread.
  std::chrono::steady_clock::time_point now() const noexcept { return now_; }

  // Wakes a blocked select (e.g. after changing state the loop polls). Any thread.
  void wakeup() noexcept { selector_.wakeup(); }

  // Leader/followers: lets several threads take turns as the loop thread, one at a time, without
  // run(). bindLoopThread() makes the caller the loop thread (isInLoopThread(), loop-only calls,
  // and the Selector's same-thread fast paths) until unbindLoopThread(); runOnce() may be called
  // in between. The caller serialises the turns (e.g. a mutex held from bind to unbind) and
  // must not use the loop after unbinding. Not while run() executes.
  void bindLoopThread() noexcept;
  void unbindLoopThread() noexcept;

  bool isInLoopThread() const noexcept { return affinity_.isCurrentThread(); }
  // Aborts in debug/sanitizer builds if called off the loop thread once the loop has started.
  void assertInLoopThread(const char* what = "Reactor loop-only call") const noexcept {
    affinity_.assertCurrentThread(what);
  }
  // The reactor whose loop runs on the calling thread, or nullptr.
  static Reactor* current() noexcept;

  Selector& selector() noexcept { return selector_; }

  // What the loop did (metrics; collectLoopMetrics() reports every live loop). Any thread.
  const LoopStats& stats() const noexcept { return stats_; }

 private:
  friend class ReactorGroup;  // start() waits until each loop thread is bound

  // run(), calling onBound (if any) on the loop thread once it is bound, before iterating.
  void runLoop(const std::function<void()>& onBound);

  struct TimerEntry {
    std::chrono::steady_clock::time_point deadline;
    std::uint64_t id;
    bool operator>(const TimerEntry& o) const noexcept {
      return deadline != o.deadline ? deadline > o.deadline : id > o.id;
    }
  };

  std::chrono::milliseconds computeTimeout(std::chrono::milliseconds requested);
  int runTimers(std::chrono::steady_clock::time_point now);
  void insertTimer(std::chrono::steady_clock::time_point deadline, std::uint64_t id, Task fn);
  int iterate(std::chrono::milliseconds timeout);
  int runTasks();
  void compactTimers();

  Selector selector_;
  ThreadAffinity affinity_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> running_{false};

  std::mutex taskMutex_;
  std::vector<Task> tasks_;         // guarded by taskMutex_
  std::vector<Task> runningTasks_;  // loop thread: swapped with tasks_ to drain outside the lock
  std::atomic<bool> pendingTasks_{false};

  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timerHeap_;
  std::unordered_map<std::uint64_t, Task> timerTasks_;  // live timers; heap entries may be stale
  std::atomic<std::uint64_t> nextTimerId_{1};
  std::chrono::steady_clock::time_point now_{};  // loop thread: see now()
  LoopStats stats_;                              // last: leaves the live-loop list first
};

}  // namespace nioxx
