// IoMode::worker_pool, the paper's literal emulation kept for teaching and measurement: the loop
// thread only sees readiness and hands the socket to an I/O worker, which performs the queued
// operations and hands the socket back (rearm) through the loop's inbox. While a worker has it
// (SocketState::busy) the loop leaves the socket's interest alone; the queues are shared under
// SocketState::mutex.
#include "detail/perform.h"
#include "detail/processor_impl.h"

namespace nioxx::bridge_detail {

void ProcessorImpl::handToWorker(SocketState& s) noexcept {
  // epoll reports hang-ups and errors even with no interest: a worker has the socket already,
  // and it is handed out again (if still ready) only after rearm().
  if (s.busy) return;
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
      std::size_t results = 0;
      while (Operation* op = q->front()) {
        // Rejections and operations the loop resolved in place (cancelled, timed out) are not
        // performed, just completed in their place in the queue.
        if (!op->error && !op->isFinal()) {
          if (results == kMultishotResultsPerTurn) break;
          sink_->notify(*op, OpPhase::performing);
          const std::uint64_t epoch = s.loop.bufferReturns.load(std::memory_order_acquire);
          const Perform p = performSocketOp(s.fdch.fd(), *op);
          if (p == Perform::nobuffer) {
            s.starvedOn = op->group;  // rearm() parks the socket
            s.starvedEpoch = epoch;
          }
          if (p == Perform::again || p == Perform::nobuffer) break;
          if (op->multishot && isMoreResult(*op)) {
            // Under the lock, so the loop cannot resolve the operation meanwhile;
            // completeMore() never runs the handler here.
            op->scratchTag = 0;
            sink_->completeMore(op);
            ++results;
            continue;
          }
        }
        done.push(q->pop());
      }
    }
  }
  // Complete before handing the socket back: once the loop has it, another worker may perform
  // and complete this socket's later operations, which must not overtake these.
  while (Operation* op = done.pop())
    finish(op);
  if (!post(s.loop, {InboxItem::rearm, &s, 0})) {
    s.busy = false;
  }
}

// Loop thread: the worker is done with the socket.
void ProcessorImpl::rearm(SocketState& s) noexcept {
  s.busy = false;
  if (s.dead) {
    bury(s);
    return;
  }
  completeLeadingDone(s);
  armHeads(s);
  if (s.starvedOn != nullptr) park(s);  // the worker found no buffer (no worker has it now)
  updateInterest(s);
}

}  // namespace nioxx::bridge_detail
