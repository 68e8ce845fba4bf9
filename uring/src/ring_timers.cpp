// Deadlines on a ring thread: a queue head's timeout (only the head has one: an operation behind
// others has not started) and Proactor timers, in ordered sets; the loop waits in the kernel up
// to the earliest one. An expired head is cancelled in the kernel and completes with timed_out
// when the kernel gives it back.
#include <chrono>

#include "detail/engine.h"

namespace nioxx::uring_detail {

std::uint64_t Engine::nowNs() noexcept {
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch() /
                                    std::chrono::nanoseconds(1));
}

void Engine::armDeadline(SocketState& s, int dir, Operation* op) noexcept {
  Direction& d = s.dirs[dir];
  if (op->timeout.count() <= 0 || d.deadline != 0) return;
  d.deadline = nowNs() + static_cast<std::uint64_t>(op->timeout / std::chrono::nanoseconds(1));
  s.ring.deadlines.emplace(d.deadline, &s, dir);
}

void Engine::disarmDeadline(SocketState& s, int dir) noexcept {
  Direction& d = s.dirs[dir];
  if (d.deadline == 0) return;
  s.ring.deadlines.erase({d.deadline, &s, dir});
  d.deadline = 0;
}

void Engine::fireDue(Ring& r) noexcept {
  if (r.deadlines.empty() && r.timerQ.empty()) return;
  const std::uint64_t now = nowNs();
  while (!r.deadlines.empty()) {
    auto [due, s, dir] = *r.deadlines.begin();
    if (due > now) break;
    r.deadlines.erase(r.deadlines.begin());
    s->dirs[dir].deadline = 0;
    requestAbort(*s, dir, OpState::timed_out);
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
  if (!r.deadlines.empty()) due = std::get<0>(*r.deadlines.begin());
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
