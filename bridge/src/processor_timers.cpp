// Proactor timers (Proactor::scheduleTimer): each lives on the loop chosen by its id, as a
// Reactor timer, until it fires or is cancelled; shutdown aborts the rest (abortLoop).
#include "detail/processor_impl.h"

namespace nioxx::bridge_detail {

void ProcessorImpl::startTimer(Loop& l, Operation* op) noexcept {
  const std::uint64_t id = op->id();
  const TimerId t = l.reactor.schedule(op->timeout, [this, op] {
    Loop& loop = *loops_[op->id() % loops_.size()];
    loop.timers.erase(op->id());
    if (op->tryTransition(OpState::pending, OpState::completed)) sink_->complete(op);
  });
  l.timers.emplace(id, Loop::Timer{op, t});
  sink_->notify(*op, OpPhase::waiting);
}

void ProcessorImpl::cancelTimer(std::uint64_t timerId) noexcept {
  Loop& l = *loops_[timerId % loops_.size()];
  onLoop(l, {InboxItem::cancel_timer, nullptr, timerId}, [&] { cancelTimerOnLoop(l, timerId); });
}

void ProcessorImpl::cancelTimerOnLoop(Loop& l, std::uint64_t id) noexcept {
  auto it = l.timers.find(id);
  if (it == l.timers.end()) return;
  Loop::Timer t = it->second;
  l.timers.erase(it);
  l.reactor.cancelTimer(t.reactorTimer);
  if (t.op->tryAbort(OpState::cancelled)) sink_->complete(t.op);
}

}  // namespace nioxx::bridge_detail
