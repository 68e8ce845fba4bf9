// IoMode::worker_pool, the paper's literal emulation kept for teaching and measurement: the loop
// thread only sees readiness and hands the socket to an I/O worker, which performs the queued
// operations and hands the socket back (rearm) through the loop's inbox. While a worker has it
// (SocketState::busy) the loop leaves the socket's interest alone; the queues are shared under
// SocketState::mutex.
#include "detail/perform.h"
#include "detail/processor_impl.h"

namespace nioxx::bridge_detail {

void ProcessorImpl::handToWorker(SocketState& s) noexcept {
  s.busy = true;
  s.key->interestOps(0);
  s.interest = 0;
  if (!ioPool_->submit([this, st = &s] { workerPerform(*st); })) rearm(s);
}

void ProcessorImpl::workerPerform(SocketState& s) noexcept {
  OpQueue done;
  {
    std::lock_guard lock(s.mutex);
    for (OpQueue* q : {&s.readQ, &s.writeQ}) {
      while (Operation* op = q->front()) {
        if (!op->error) {  // rejections are not performed, just completed in order
          sink_->notify(*op, OpPhase::performing);
          if (performSocketOp(s.fdch.fd(), *op) == Perform::again) break;
        }
        done.push(q->pop());
      }
    }
  }
  if (!post(s.loop, {InboxItem::rearm, &s, 0})) {
    s.busy = false;
  }
  while (Operation* op = done.pop()) {
    if (op->tryTransition(OpState::pending, OpState::completed)) sink_->complete(op);
  }
}

// Loop thread: the worker is done with the socket.
void ProcessorImpl::rearm(SocketState& s) noexcept {
  s.busy = false;
  if (s.dead) {
    s.loop.graveyard.push_back(&s);
    return;
  }
  completeLeadingRejections(s);
  updateInterest(s);
}

}  // namespace nioxx::bridge_detail
