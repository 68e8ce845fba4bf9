// Deadlines on a ring thread: a queue head's timeout (only the head has one: an operation behind
// others has not started) in a heap, and Proactor timers in an ordered map; the loop waits in the
// kernel up to the earliest one. An expired head is cancelled in the kernel and completes with
// timed_out when the kernel gives it back.
#include <chrono>

#include "detail/engine.h"

namespace nioxx::uring_detail {

std::uint64_t Engine::nowNs() noexcept {
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch() /
                                    std::chrono::nanoseconds(1));
}

static_assert(alignof(SocketState) >= 2, "the heap keeps the direction in the low bit");
static_assert(sizeof(SocketState) <= 104, "an idle connection's engine state (issue 12)");

void DeadlineHeap::place(std::size_t i, const Entry& e) noexcept {
  heap_[i] = e;
  socketOf(e)->dirs[dirOf(e)].heapSlot = static_cast<std::uint32_t>(i + 1);
}

void DeadlineHeap::siftUp(std::size_t i) noexcept {
  const Entry e = heap_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (heap_[parent].due <= e.due) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, e);
}

void DeadlineHeap::siftDown(std::size_t i) noexcept {
  const Entry e = heap_[i];
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1].due < heap_[child].due) ++child;
    if (e.due <= heap_[child].due) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, e);
}

void DeadlineHeap::postponeEarliest(std::uint64_t due) noexcept {
  heap_.front().due = due;
  siftDown(0);
}

void DeadlineHeap::push(std::uint64_t due, SocketState& s, int dir) {
  heap_.push_back({due, reinterpret_cast<std::uintptr_t>(&s) | static_cast<std::uintptr_t>(dir)});
  siftUp(heap_.size() - 1);
}

void DeadlineHeap::erase(SocketState& s, int dir) noexcept {
  std::uint32_t& slot = s.dirs[dir].heapSlot;
  if (slot == 0) return;
  const std::size_t i = slot - 1;
  slot = 0;
  const Entry last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;  // it was the last entry
  place(i, last);
  if (i > 0 && heap_[(i - 1) / 2].due > last.due) {
    siftUp(i);
  } else {
    siftDown(i);
  }
}

void Engine::armDeadline(SocketState& s, int dir, Operation* op) noexcept {
  if (op->timeout.count() <= 0 || s.dirs[dir].heapSlot != 0) return;
  if (op->multishot) op->scratchTag = 0;  // the heap entry is the deadline
  s.ring.deadlines.push(
      nowNs() + static_cast<std::uint64_t>(op->timeout / std::chrono::nanoseconds(1)), s, dir);
}

// A multishot head's idle timeout restarts at each result. Moving its heap entry every time cost
// a sift through the heap per arrival (~3% of the server's CPU at 1,000 connections): the new
// deadline is noted in the operation instead (scratchTag), and fireDue() moves the entry, which
// is never later than it, only when the entry comes due.
void Engine::restartDeadline(SocketState& s, int dir, Operation* op) noexcept {
  if (op->timeout.count() <= 0) return;
  if (s.dirs[dir].heapSlot == 0) return armDeadline(s, dir, op);
  op->scratchTag = nowNs() + static_cast<std::uint64_t>(op->timeout / std::chrono::nanoseconds(1));
}

void Engine::disarmDeadline(SocketState& s, int dir) noexcept {
  s.ring.deadlines.erase(s, dir);
}

void Engine::fireDue(Ring& r) noexcept {
  if (r.deadlines.empty() && r.timerQ.empty()) return;
  const std::uint64_t now = nowNs();
  while (!r.deadlines.empty() && r.deadlines.earliest() <= now) {
    SocketState& s = r.deadlines.earliestSocket();
    const int dir = r.deadlines.earliestDir();
    if (Operation* head = s.dirs[dir].q.front();
        head != nullptr && head->multishot && head->scratchTag > now) {
      r.deadlines.postponeEarliest(head->scratchTag);  // restarted since: see restartDeadline()
      head->scratchTag = 0;
      continue;
    }
    r.deadlines.erase(s, dir);
    requestAbort(s, dir, OpState::timed_out);
  }
  while (!r.timerQ.empty() && r.timerQ.begin()->first <= now) {
    Operation* op = r.timerQ.begin()->second;
    r.timerQ.erase(r.timerQ.begin());
    r.timers.erase(op->id());
    if (op->tryTransition(OpState::pending, OpState::completed)) sink_->complete(op);
  }
}

std::int64_t Engine::nextDueNs(Ring& r) noexcept {
  std::uint64_t due = UINT64_MAX;
  if (!r.deadlines.empty()) due = r.deadlines.earliest();
  if (!r.timerQ.empty() && r.timerQ.begin()->first < due) due = r.timerQ.begin()->first;
  if (due == UINT64_MAX) return -1;
  const std::uint64_t now = nowNs();
  return due <= now ? 0 : static_cast<std::int64_t>(due - now);
}

void Engine::startTimer(Ring& r, Operation* op) noexcept {
  const std::uint64_t due =
      nowNs() + static_cast<std::uint64_t>(std::max(op->timeout, std::chrono::nanoseconds(0)) /
                                           std::chrono::nanoseconds(1));
  try {
    r.timers.emplace(op->id(), r.timerQ.emplace(due, op));
  } catch (const std::bad_alloc&) {
    op->error = std::make_error_code(std::errc::not_enough_memory);
    if (op->tryTransition(OpState::pending, OpState::completed)) sink_->complete(op);
    return;
  }
  sink_->notify(*op, OpPhase::waiting);
}

void Engine::cancelTimerOnRing(Ring& r, std::uint64_t id) noexcept {
  auto it = r.timers.find(id);
  if (it == r.timers.end()) return;
  Operation* op = it->second->second;
  r.timerQ.erase(it->second);
  r.timers.erase(it);
  if (op->tryAbort(OpState::cancelled)) sink_->complete(op);
}

}  // namespace nioxx::uring_detail
