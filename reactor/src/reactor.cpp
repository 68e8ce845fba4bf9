#include "nioxx/reactor/reactor.h"

#include <stdexcept>

#include "nioxx/core/loop_time.h"
#include "nioxx/core/sys.h"

namespace nioxx {

namespace {
thread_local Reactor* tCurrent = nullptr;

// Sets Reactor::current() for the duration of a loop call, restoring the outer value (nested
// runOnce of another reactor on the same thread is allowed, e.g. in tests).
class CurrentScope {
 public:
  explicit CurrentScope(Reactor* r) noexcept : previous_(tCurrent) { tCurrent = r; }
  ~CurrentScope() { tCurrent = previous_; }
  CurrentScope(const CurrentScope&) = delete;
  CurrentScope& operator=(const CurrentScope&) = delete;

 private:
  Reactor* previous_;
};
}  // namespace

Reactor::Reactor() = default;
Reactor::Reactor(std::unique_ptr<SelectorBackend> backend) : selector_(std::move(backend)) {}
Reactor::~Reactor() = default;

Reactor* Reactor::current() noexcept {
  return tCurrent;
}

SelectionKey& Reactor::registerHandler(SelectableChannel& channel, int ops, EventHandler& handler) {
  assertInLoopThread("Reactor::registerHandler");
  return channel.registerWith<EventHandler>(selector_, ops, &handler);
}

void Reactor::run() {
  runLoop({});
}

void Reactor::runLoop(const std::function<void()>& onBound) {
  if (running_.exchange(true, std::memory_order_acq_rel)) {
    throw std::logic_error("Reactor::run: the loop is already running on another thread");
  }
  bindLoopThread();
  if (onBound) onBound();
  {
    CurrentScope scope(this);
    while (!stopped_.load(std::memory_order_acquire))
      iterate(std::chrono::milliseconds(-1));
  }
  // Unbound, so calls made after run() returns queue their changes for whoever runs the loop
  // next; left bound, a later thread that happens to get this thread's id would act directly.
  unbindLoopThread();
  running_.store(false, std::memory_order_release);
}

int Reactor::runOnce(std::chrono::milliseconds timeout) {
  affinity_.bindToCurrentThread();
  CurrentScope scope(this);
  return iterate(timeout);
}

void Reactor::bindLoopThread() noexcept {
  now_ = sys::now();
  affinity_.bindToCurrentThread();
  selector_.affinity_.bindToCurrentThread();
}

void Reactor::unbindLoopThread() noexcept {
  affinity_.unbind();
  selector_.affinity_.unbind();
}

int Reactor::iterate(std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  Clock::time_point busySince{};  // the first dispatch after select's wait
  // The handlers this turn runs (the emulated processor's completions among them) read now_
  // through sys::LoopTime too.
  sys::LoopTime::Scope loopTime;
  const int ready = selector_.select(
      [this, &busySince, &loopTime](SelectionKey& key) {
        if (busySince == Clock::time_point{}) [[unlikely]] {
          busySince = now_ = sys::now();
          loopTime.set(now_);
        }
        if (auto* handler = key.attachment<EventHandler>()) handler->handleEvent(key);
      },
      computeTimeout(timeout));
  // One more read: the timers' due time, and the end of the events' busy time.
  Clock::time_point end = now_ = sys::now();
  loopTime.set(now_);
  if (busySince == Clock::time_point{}) busySince = end;
  int handled = ready;
  bool more = false;  // timers or tasks ran: the busy time ends later
  if (!timerHeap_.empty()) {
    const int fired = runTimers(end);
    LoopStats::bump(stats_.timersRun, static_cast<std::uint64_t>(fired));
    handled += fired;
    more = fired > 0;
  }
  if (pendingTasks_.load(std::memory_order_acquire)) {
    const int ran = runTasks();
    LoopStats::bump(stats_.tasksRun, static_cast<std::uint64_t>(ran));
    handled += ran;
    more = true;
  }
  if (more) end = sys::now();
  const auto busy = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(end - busySince).count());
  LoopStats::bump(stats_.iterations, 1);
  LoopStats::bump(stats_.readyEvents, static_cast<std::uint64_t>(ready));
  LoopStats::bump(stats_.busyNanos, busy);
  // Not a compare-exchange: a scrape resetting it at the same moment may lose one peak.
  if (busy > stats_.lagPeakNanos.load(std::memory_order_relaxed)) {
    stats_.lagPeakNanos.store(busy, std::memory_order_relaxed);
  }
  return handled;
}

void Reactor::stop() noexcept {
  stopped_.store(true, std::memory_order_release);
  selector_.wakeup();
}

std::chrono::milliseconds Reactor::computeTimeout(std::chrono::milliseconds requested) {
  using std::chrono::milliseconds;
  if (pendingTasks_.load(std::memory_order_acquire)) return milliseconds(0);
  if (timerHeap_.empty()) return requested;
  const auto now = sys::now();
  const auto deadline = timerHeap_.top().deadline;
  // Round up so a timer is never woken for before its deadline (no busy spin of 0 ms waits).
  const auto untilTimer =
      deadline <= now ? milliseconds(0) : std::chrono::ceil<milliseconds>(deadline - now);
  return requested.count() < 0 ? untilTimer : std::min(requested, untilTimer);
}

void Reactor::post(Task fn) {
  bool wasEmpty;
  {
    std::lock_guard lock(taskMutex_);
    wasEmpty = tasks_.empty();
    tasks_.push_back(std::move(fn));
    pendingTasks_.store(true, std::memory_order_release);
    stats_.queuedTasks.store(tasks_.size(), std::memory_order_relaxed);
  }
  // The loop thread sees pendingTasks_ before it next selects; other posters already woke it.
  if (wasEmpty && !isInLoopThread()) selector_.wakeup();
}

void Reactor::runInLoop(Task fn) {
  if (isInLoopThread()) {
    fn();
  } else {
    post(std::move(fn));
  }
}

int Reactor::runTasks() {
  {
    std::lock_guard lock(taskMutex_);
    runningTasks_.swap(tasks_);
    pendingTasks_.store(false, std::memory_order_release);
    stats_.queuedTasks.store(0, std::memory_order_relaxed);
  }
  const int count = static_cast<int>(runningTasks_.size());
  // Tasks posted by these tasks land in tasks_ and run in the next iteration (FIFO kept).
  for (Task& task : runningTasks_)
    task();
  runningTasks_.clear();
  return count;
}

TimerId Reactor::schedule(std::chrono::nanoseconds delay, Task fn) {
  const std::uint64_t id = nextTimerId_.fetch_add(1, std::memory_order_relaxed);
  const auto deadline = sys::now() + std::max(delay, std::chrono::nanoseconds(0));
  // Only the bound loop thread touches the heap: an unbound reactor may be bound by its loop
  // thread (or the next leader/followers turn) right after any check made here.
  if (affinity_.isCurrentThread()) {
    insertTimer(deadline, id, std::move(fn));
  } else {
    post([this, deadline, id, fn = std::move(fn)]() mutable {
      insertTimer(deadline, id, std::move(fn));
    });
  }
  return TimerId{id};
}

void Reactor::insertTimer(std::chrono::steady_clock::time_point deadline, std::uint64_t id,
                          Task fn) {
  timerTasks_.emplace(id, std::move(fn));
  timerHeap_.push({deadline, id});
}

bool Reactor::cancelTimer(TimerId id) {
  if (!affinity_.isCurrentThread()) {
    post([this, id] { cancelTimer(id); });
    return true;
  }
  if (timerTasks_.erase(id.value) == 0) return false;
  compactTimers();
  return true;
}

// Cancelled timers stay in the heap until their deadline; rebuild it when they dominate, so
// idle-timeout patterns (cancel + reschedule on every read) keep it O(live timers).
void Reactor::compactTimers() {
  if (timerHeap_.size() < 64 || timerHeap_.size() < 2 * timerTasks_.size()) return;
  std::vector<TimerEntry> live;
  live.reserve(timerTasks_.size());
  while (!timerHeap_.empty()) {
    if (timerTasks_.count(timerHeap_.top().id) != 0) live.push_back(timerHeap_.top());
    timerHeap_.pop();
  }
  timerHeap_ = decltype(timerHeap_)(std::greater<>(), std::move(live));
}

int Reactor::runTimers(std::chrono::steady_clock::time_point now) {
  // Timers scheduled by these callbacks (even with delay 0) wait for the next iteration.
  const std::uint64_t limit = nextTimerId_.load(std::memory_order_relaxed);
  int count = 0;
  while (!timerHeap_.empty() && timerHeap_.top().deadline <= now && timerHeap_.top().id < limit) {
    const std::uint64_t id = timerHeap_.top().id;
    timerHeap_.pop();
    auto it = timerTasks_.find(id);
    if (it == timerTasks_.end()) continue;  // cancelled
    Task fn = std::move(it->second);
    timerTasks_.erase(it);
    fn();
    ++count;
  }
  return count;
}

}  // namespace nioxx
