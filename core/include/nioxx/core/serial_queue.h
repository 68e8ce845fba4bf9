// SerialQueue<Batch>: the state of a serial executor. Work is added from any thread and run by one
// drain at a time, on whatever the owner schedules the drain with (a dispatcher queue, a thread
// pool, a Reactor task). The queue never runs anything itself and holds its lock only to move
// work in or out, never while work runs.
//
// The protocol: one "scheduled" flag, so exactly one drain is scheduled or running at a time.
//   add(fn)        fn(pending) appends under the lock. Added::scheduled: the queue was idle and
//                  the caller must now schedule the drain; queued: a drain will see the work (or
//                  fn added nothing); refused: the queue is closed and fn did not run.
//   take(out)      by the drain: swaps the pending batch into out (which must be empty), or
//                  finds nothing, goes idle and returns false. take(fn): fn moves out a part.
//   finishTurn()   by a drain that stops after a batch (fairness): true if more is pending (it
//                  stays scheduled: the caller schedules the drain again), false if now idle.
//   takeAndFinish(out)  take() and going idle in one step, for a drain that always runs on one
//                  thread: the next add() schedules another drain, which runs after this one.
//   unschedule()   by the caller told to schedule, if scheduling failed (a full pool): idle, the
//                  pending work kept for the next add() to schedule.
//   takeOrClose(out)  at shutdown: takes what is pending or, once nothing is, closes the queue.
//
// Batch is the pending work: an IntrusiveFifo (no allocation per add), a std::vector of items, or
// a struct of flags; it must be default-constructible, swappable and have empty(). With
// kTrackPending, hasPending() is a lock-free "is anything waiting" check (one more atomic store
// per add and take, so only for queues that need it).
//
// Thread rule: add(), withLock() and hasPending() from any thread; the others as said above.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <type_traits>
#include <utility>

namespace nioxx {

template <class Batch, bool kTrackPending = false>
class SerialQueue {
 public:
  enum class Added : std::uint8_t { scheduled, queued, refused };

  SerialQueue() = default;
  SerialQueue(const SerialQueue&) = delete;
  SerialQueue& operator=(const SerialQueue&) = delete;

  template <class Fn>
  Added add(Fn&& fn) noexcept(std::is_nothrow_invocable_v<Fn&, Batch&>) {
    std::lock_guard lock(mutex_);
    if (closed_) return Added::refused;
    fn(pending_);
    if (pending_.empty()) return Added::queued;
    if constexpr (kTrackPending) hasPending_.store(true, std::memory_order_release);
    if (scheduled_) return Added::queued;
    scheduled_ = true;
    return Added::scheduled;
  }

  // fn(pending) moves some or all of the pending work out; false (and idle) if there was none.
  template <class Fn>
  bool take(Fn&& fn) noexcept(std::is_nothrow_invocable_v<Fn&, Batch&>) {
    std::lock_guard lock(mutex_);
    if (pending_.empty()) {
      scheduled_ = false;
      return false;
    }
    fn(pending_);
    if constexpr (kTrackPending) {
      hasPending_.store(!pending_.empty(), std::memory_order_relaxed);
    }
    return true;
  }
  bool take(Batch& out) noexcept {
    return take([&out](Batch& pending) noexcept {
      using std::swap;
      swap(out, pending);
    });
  }

  // take() and finishTurn() in one step: the queue is idle on return, so the next add()
  // schedules a new drain even while this batch runs. Only for a drain whose batches all run on
  // one thread (a loop's inbox), where two scheduled drains cannot overlap.
  bool takeAndFinish(Batch& out) noexcept {
    std::lock_guard lock(mutex_);
    scheduled_ = false;
    if (pending_.empty()) return false;
    using std::swap;
    swap(out, pending_);
    if constexpr (kTrackPending) hasPending_.store(false, std::memory_order_relaxed);
    return true;
  }

  bool finishTurn() noexcept {
    std::lock_guard lock(mutex_);
    if (!pending_.empty()) return true;
    scheduled_ = false;
    return false;
  }

  void unschedule() noexcept {
    std::lock_guard lock(mutex_);
    scheduled_ = false;
  }

  // Takes the pending batch into out (empty); if there was none, closes: add() refuses from now.
  bool takeOrClose(Batch& out) noexcept {
    std::lock_guard lock(mutex_);
    if (pending_.empty()) {
      closed_ = true;
      return false;
    }
    using std::swap;
    swap(out, pending_);
    if constexpr (kTrackPending) hasPending_.store(false, std::memory_order_relaxed);
    return true;
  }

  // Runs fn(pending) under the lock (e.g. to remove an item by id); returns what fn returns.
  // fn must leave the queue's invariant alone: it may remove work, not add it.
  // hasPending() is not updated: it may stay true until the next take().
  template <class Fn>
  decltype(auto) withLock(Fn&& fn) noexcept(std::is_nothrow_invocable_v<Fn&, Batch&>) {
    std::lock_guard lock(mutex_);
    return fn(pending_);
  }

  // Lock-free hint: true once an add() made work pending, until a take() left none.
  bool hasPending() const noexcept requires kTrackPending {
    return hasPending_.load(std::memory_order_acquire);
  }

 private:
  std::mutex mutex_;
  Batch pending_{};
  bool scheduled_ = false;
  bool closed_ = false;
  std::atomic<bool> hasPending_{false};  // kTrackPending only
};

}  // namespace nioxx
