// Leader/followers for the post_reactive strategy (EmulatedProcessor::Options::driven): the
// threads inside Proactor::run() take turns as the one Reactor's loop thread. A turn is the
// Loop::owner lock, held by a driver for one Reactor iteration (drive) or briefly by an
// initiator that found the loop free (tryBeginTurn/endTurn). See emulated_processor.h.
#include <chrono>

#include "detail/processor_impl.h"

namespace nioxx::bridge_detail {

bool ProcessorImpl::drive(std::chrono::nanoseconds timeout) noexcept {
  if (!driven_) return false;
  Loop& l = *loops_.front();
  // Blocks only while an initiator holds a short turn: drivers_ <= 1 (ProactorCore).
  std::unique_lock own(l.owner);
  if (shuttingDown_.load(std::memory_order_acquire)) return false;
  l.reactor.bindLoopThread();
  // Completions produced here go to the Proactor's queue; its run() loop runs them after we
  // return (a wake-up from another thread, or stop(), interrupts the wait).
  l.reactor.runOnce(timeout.count() <= 0 ? std::chrono::milliseconds(0)
                                         : std::chrono::ceil<std::chrono::milliseconds>(timeout));
  if (!l.graveyard.empty()) freeGraveyard(l);
  l.reactor.unbindLoopThread();
  return true;
}

void ProcessorImpl::wakeup() noexcept {
  if (driven_) loops_.front()->reactor.wakeup();
}

// Stepped mode: one turn of loop `index`'s thread (loopMain's body), then the loop is idle again.
// Its deferred completions run before the step ends: the calling thread may step another loop
// next, and a loop's deferred handlers must not run on another loop's turn.
bool ProcessorImpl::step(std::size_t index, std::chrono::nanoseconds timeout) noexcept {
  if (!stepped_ || shuttingDown_.load(std::memory_order_acquire)) return false;
  Loop& l = *loops_[index % loops_.size()];
  l.reactor.bindLoopThread();
  sink_->enterProcessorThread();
  l.reactor.runOnce(timeout.count() <= 0 ? std::chrono::milliseconds(0)
                                         : std::chrono::ceil<std::chrono::milliseconds>(timeout));
  sink_->leaveProcessorThread();
  if (!l.graveyard.empty()) freeGraveyard(l);
  l.reactor.unbindLoopThread();
  return true;
}

bool ProcessorImpl::tryBeginTurn(Loop& l) noexcept {
  if (!driven_ || !l.owner.try_lock()) return false;
  if (shuttingDown_.load(std::memory_order_acquire)) {
    l.owner.unlock();  // shutdown() takes the loop next and aborts what was posted
    return false;
  }
  l.reactor.bindLoopThread();
  // Items posted while the loop was busy come first: a write posted then, and one initiated
  // now by the same thread, must reach the socket's queue in that order.
  if (l.inbox.hasPending()) drainInbox(l);
  return true;
}

void ProcessorImpl::endTurn(Loop& l) noexcept {
  if (!l.graveyard.empty()) freeGraveyard(l);
  l.reactor.unbindLoopThread();
  l.owner.unlock();
}

}  // namespace nioxx::bridge_detail
