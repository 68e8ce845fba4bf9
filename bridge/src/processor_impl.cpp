// The SPI calls (attach, detach, submit, cancel, cancelOperation) and a socket's operations on
// its loop thread: the speculative attempt, the per-direction queues performed on readiness,
// cancellation, and the socket's lazy timeout timer. Loops and inboxes are in processor_loop.cpp.
#include "detail/processor_impl.h"

#include <unistd.h>

#include <utility>

#include "detail/perform.h"
#include "nioxx/core/error.h"
#include "nioxx/core/pre_close.h"
#include "nioxx/core/sys.h"
#include "nioxx/proactor/placement.h"

namespace nioxx::bridge_detail {
namespace {

bool isReadKind(OpKind k) noexcept {
  return k == OpKind::read || k == OpKind::readv || k == OpKind::accept;
}

}  // namespace

void SocketState::handleEvent(SelectionKey& k) {
  proc.onReady(*this, k.readyOps());
}

// ------------------------------------------------------------------ SPI calls

void ProcessorImpl::attach(AsyncChannel& channel) {
  if (channel.kind() == ChannelKind::file) {
    channel.processorState = new FileState(channel);
    return;
  }
  const std::uint32_t wanted = channel.placement();
  const std::size_t index = wanted == Placement::kAny
                                ? nextLoop_.fetch_add(1, std::memory_order_relaxed) % loops_.size()
                                : wanted % loops_.size();
  channel.processorState = new SocketState(*this, *loops_[index], channel.fd());
  channel.setPlacement(static_cast<std::uint32_t>(index));
}

void ProcessorImpl::detach(AsyncChannel& channel) noexcept {
  if (channel.kind() == ChannelKind::file) {
    auto* fs = static_cast<FileState*>(channel.processorState);
    sys::close(channel.fd());
    delete fs;
    return;
  }
  auto* s = static_cast<SocketState*>(channel.processorState);
  channel.processorState = nullptr;
  Loop& l = s->loop;
  if (onLoop(l, {InboxItem::detach, s, 0}, [&] { destroySocket(*s); }) == Route::refused) {
    l.inbox.withLock([&](std::vector<InboxItem>&) { l.orphans.push_back(s); });
  }
}

void ProcessorImpl::submit(Operation* op) noexcept {
  if (shuttingDown_.load(std::memory_order_acquire)) return abortNow(op);
  if (op->kind() == OpKind::timer) {
    Loop& l = *loops_[op->id() % loops_.size()];
    if (onLoop(l, {InboxItem::submit, op, 0}, [&] { startTimer(l, op); }) == Route::refused) {
      abortNow(op);
    }
    return;
  }
  AsyncChannel& ch = *op->channel();
  if (ch.kind() == ChannelKind::file) return submitFile(op);
  auto* s = static_cast<SocketState*>(ch.processorState);
  // Driven mode: the initiator performs the speculative attempt itself when the loop is free
  // (Asio's arrangement), instead of an inbox hop and a wake-up of the driver.
  if (onLoop(s->loop, {InboxItem::submit, op, 0}, [&] { startSocketOp(*s, op); }) ==
      Route::refused) {
    abortNow(op);
  }
}

void ProcessorImpl::cancel(AsyncChannel& channel, bool close) noexcept {
  if (channel.kind() == ChannelKind::file) return;  // file ops are short; they just complete
  auto* s = static_cast<SocketState*>(channel.processorState);
  // A posted item keeps the channel (hence the state) alive until the loop has handled it.
  channel.addRef();
  const InboxItem item{close ? InboxItem::close : InboxItem::cancel, &channel, 0};
  const Route route = onLoop(s->loop, item, [&] { cancelSocket(*s, close); });
  if (route == Route::posted) return;
  // Refused: the loop has finished (shutdown) and its queues are empty; only the release of the
  // connection is left to do.
  if (route == Route::refused && close) descriptor::preClose(s->fdch.fd());
  channel.release();
}

void ProcessorImpl::cancelOperation(AsyncChannel& channel, std::uint64_t id) noexcept {
  if (channel.kind() == ChannelKind::file) {
    return cancelFileOp(*static_cast<FileState*>(channel.processorState), id);
  }
  auto* s = static_cast<SocketState*>(channel.processorState);
  channel.addRef();
  const Route route =
      onLoop(s->loop, {InboxItem::cancel_op, &channel, id}, [&] { cancelSocketOp(*s, id); });
  if (route != Route::posted) channel.release();
}

// A refused or aborted operation completes through the Proactor like any other.
void ProcessorImpl::abortNow(Operation* op, Error error) noexcept {
  if (op->error) return finish(op);  // a rejection keeps its own error
  if (op->tryAbort(OpState::cancelled)) {
    if (error != Error::operation_aborted) op->error = error;
    sink_->complete(op);
  }
}

// ------------------------------------------------------------------ a socket's operations

void ProcessorImpl::startSocketOp(SocketState& s, Operation* op) noexcept {
  if (s.dead) return abortNow(op, Error::closed);
  if (s.closed) {
    // Refused like any rejection: behind what close() resolved in place (a worker had the
    // socket), else at once.
    if (!op->error) op->error = Error::closed;
    return refuseInOrder(s, op);
  }
  Loop& l = s.loop;
  if (s.key == nullptr) {
    try {
      s.key = &l.reactor.registerHandler(s.fdch, 0, s);
    } catch (const std::exception&) {
      op->tryTransition(OpState::pending, OpState::completed);
      op->error = lastError();
      if (!op->error) op->error = Error::invalid_argument;
      sink_->complete(op);
      return;
    }
    s.nextLive = l.live;
    if (l.live != nullptr) l.live->prevLive = &s;
    l.live = &s;
  }
  const bool reads = isReadKind(op->kind());
  if (op->error) {
    // A rejection is never performed. It completes after the operations queued before it in
    // its direction (a write refused with queue_full, anything refused because close() has
    // begun), except read_pending: that one does not wait for the read holding the slot, which
    // may wait for ever; it tells the caller about a bug, as Java's exception does.
    if (reads && op->error == Error::read_pending) return finish(op);
    return refuseInOrder(s, op);
  }
  {
    auto lock = lockQueues(s);
    OpQueue& q = reads ? s.readQ : s.writeQ;
    const bool first = q.empty();
    q.push(op);
    const bool speculate = options_.speculative && !(reads && s.readDrained);
    if (first && !s.busy && (speculate || op->kind() == OpKind::connect)) {
      if (lock.owns_lock()) lock.unlock();  // performQueue completes outside the lock
      performQueue(s, reads);
    } else {
      if (first && !s.busy) armDeadline(s, op);
      sink_->notify(*op, OpPhase::waiting);
    }
  }
  if (!s.inReady) updateInterest(s);
}

// A rejection completes after what its direction's queue holds (or what a worker is doing), in
// its place; with nothing before it, at once.
void ProcessorImpl::refuseInOrder(SocketState& s, Operation* op) noexcept {
  {
    auto lock = lockQueues(s);
    OpQueue& q = isReadKind(op->kind()) ? s.readQ : s.writeQ;
    if (!q.empty() || s.busy) {
      q.push(op);
      return;
    }
  }
  finish(op);
}

void ProcessorImpl::performQueue(SocketState& s, bool reads) noexcept {
  OpQueue& q = reads ? s.readQ : s.writeQ;
  bool stopAtNext = false;
  std::size_t results = 0;  // of a multishot operation, this turn
  for (;;) {
    Operation* op;
    {
      auto lock = lockQueues(s);
      op = q.front();
      if (op == nullptr || s.dead) return;
      if (!op->error && !op->isFinal()) {
        if (stopAtNext || results == kMultishotResultsPerTurn) {
          armDeadline(s, op);  // it waits at the head (a multishot operation: again)
          return;
        }
        sink_->notify(*op, OpPhase::performing);
        const std::uint64_t epoch = s.loop.bufferReturns.load(std::memory_order_acquire);
        const Perform p = performSocketOp(s.fdch.fd(), *op);
        if (p == Perform::again || p == Perform::nobuffer) {
          if (p == Perform::nobuffer) {
            s.starvedOn = op->group;
            s.starvedEpoch = epoch;
          }
          armDeadline(s, op);  // it waits at the head: its timeout runs from now
          sink_->notify(*op, OpPhase::waiting);
          if (p == Perform::nobuffer) {
            lock = {};
            park(s);
          }
          return;
        }
        if (reads) s.readDrained = p == Perform::drained;
        // A read its handler initiates (call_through) will head the queue: after a short read
        // it waits for readiness like any other, rather than costing an EAGAIN here. Only the
        // rejections queued behind this one still complete now.
        stopAtNext = reads && s.readDrained;
        if (op->multishot && isMoreResult(*op)) {
          // One result of a multishot operation: it stays at the head; its idle timeout
          // starts again. completeMore() never runs the handler here, so the queue is ours.
          op->scratchTag = 0;
          sink_->completeMore(op);
          ++results;
          continue;
        }
      }
      q.pop();
    }
    finish(op);  // the next head's deadline is armed above if it has to wait
  }
}

// A multishot operation goes on after a success, and after an accept that found the descriptor
// table full (the waiting connection was shed; later ones may find room).
bool ProcessorImpl::isMoreResult(const Operation& op) noexcept {
  if (!op.error) return true;
  return op.kind() == OpKind::accept && (op.error == std::errc::too_many_files_open ||
                                         op.error == std::errc::too_many_files_open_in_system);
}

// An operation's timeout runs while it waits at the head of its queue (a write behind others
// has not started yet: timing it out there would complete it before the writes before it).
void ProcessorImpl::armHeads(SocketState& s) noexcept {
  if (s.dead || s.closed || s.busy) return;
  for (OpQueue* q : {&s.readQ, &s.writeQ}) {
    Operation* head;
    {
      auto lock = lockQueues(s);
      head = q->front();
    }
    if (head != nullptr && !head->error && head->scratchTag == 0) armDeadline(s, head);
  }
}

// Completes an operation that left its queue: performed, a rejection, or resolved in place
// (cancelled or timed out) earlier. Whoever pops an operation completes it, exactly once.
void ProcessorImpl::finish(Operation* op) noexcept {
  op->scratchTag = 0;  // its deadline no longer matters; the socket timer is lazy
  if (op->isFinal() || op->tryTransition(OpState::pending, OpState::completed)) {
    sink_->complete(op);
  }
}

void ProcessorImpl::updateInterest(SocketState& s) noexcept {
  if (s.dead || s.closed || s.key == nullptr || s.busy) return;
  int want = 0;
  {
    auto lock = lockQueues(s);
    // A read waiting for a provided buffer must not be woken by the bytes it cannot take yet.
    Operation* head = s.readQ.front();
    if (head != nullptr && (s.starvedOn == nullptr || head->group != s.starvedOn)) {
      want |= SelectionKey::OP_READ;
    }
    if (!s.writeQ.empty()) want |= SelectionKey::OP_WRITE;
  }
  if (want != s.interest && s.key->isValid()) {
    s.key->interestOps(want);  // lazy: costs an epoll_ctl only if it survives to the next wait
    s.interest = want;
  }
}

void ProcessorImpl::onReady(SocketState& s, int readyOps) noexcept {
  if (options_.ioMode == IoMode::worker_pool) return handToWorker(s);
  s.inReady = true;
  if ((readyOps & SelectionKey::OP_READ) != 0) performQueue(s, true);
  if ((readyOps & SelectionKey::OP_WRITE) != 0 && !s.dead) performQueue(s, false);
  s.inReady = false;
  updateInterest(s);
  // Completions deferred by this event (call_through: what its handlers initiated) run now, not
  // after the whole batch: otherwise every later read of the batch would be deferred behind
  // them, each holding its (pooled) buffer until the end of the batch.
  if (sink_->hasDeferred()) sink_->runDeferred();
}

// ------------------------------------------------------------------ deadlines

// Timeouts cost one clock read per operation: each socket has at most one reactor timer, armed
// for the earliest deadline it knows; a later deadline never re-arms it (lazy), and completed
// operations leave it alone. When it fires, expired operations time out and it re-arms for the
// earliest remaining deadline.
std::uint64_t ProcessorImpl::nowNs() noexcept {
  return static_cast<std::uint64_t>(sys::now().time_since_epoch() / std::chrono::nanoseconds(1));
}

void ProcessorImpl::armDeadline(SocketState& s, Operation* op) noexcept {
  if (op->timeout.count() <= 0 || op->scratchTag != 0) return;  // none, or already running
  const std::uint64_t deadline =
      nowNs() + static_cast<std::uint64_t>(op->timeout / std::chrono::nanoseconds(1));
  op->scratchTag = deadline;
  if (s.timer && s.timerAt <= deadline) return;
  if (s.timer) s.loop.reactor.cancelTimer(s.timer);
  s.timerAt = deadline;
  s.timer = s.loop.reactor.schedule(op->timeout, [st = &s] { st->proc.onSocketTimer(*st); });
}

void ProcessorImpl::onSocketTimer(SocketState& s) noexcept {
  s.timer = TimerId{};
  if (s.dead) return;
  const std::uint64_t now = nowNs();
  std::uint64_t earliest = UINT64_MAX;
  OpQueue expired;
  {
    auto lock = lockQueues(s);
    // Only operations waiting at the head of their queue have a deadline (armHeads).
    const auto hasExpired = [&](Operation& op) {
      if (op.scratchTag == 0) return false;
      if (op.scratchTag <= now) return true;
      if (op.scratchTag < earliest) earliest = op.scratchTag;
      return false;
    };
    for (OpQueue* q : {&s.readQ, &s.writeQ}) {
      if (!s.busy) {
        q->moveIf(hasExpired, expired);
        continue;
      }
      // A worker has the socket: resolve in place; it completes them in queue order.
      for (Operation* op = q->front(); op != nullptr; op = op->next) {
        if (!hasExpired(*op)) continue;
        op->scratchTag = 0;
        op->tryAbort(OpState::timed_out);
      }
    }
  }
  if (earliest != UINT64_MAX) {
    s.timerAt = earliest;
    s.timer = s.loop.reactor.schedule(std::chrono::nanoseconds(earliest - now),
                                      [st = &s] { st->proc.onSocketTimer(*st); });
  }
  while (Operation* op = expired.pop()) {
    op->scratchTag = 0;
    if (op->tryAbort(OpState::timed_out)) sink_->complete(op);
  }
  completeLeadingDone(s);
  armHeads(s);
  if (!s.dead) updateInterest(s);
}

// ------------------------------------------------------------------ cancellation and detach

// One operation: at the head of its queue (and no worker has the socket) it leaves and completes
// now; behind others it is resolved in place and completes when it reaches the head, so the
// channel's completions keep their order.
void ProcessorImpl::cancelSocketOp(SocketState& s, std::uint64_t id) noexcept {
  if (s.dead) return;
  Operation* removed = nullptr;
  {
    auto lock = lockQueues(s);
    for (OpQueue* q : {&s.readQ, &s.writeQ}) {
      for (Operation* op = q->front(); op != nullptr; op = op->next) {
        if (op->id() != id) continue;
        if (!op->error) op->tryAbort(OpState::cancelled);  // a rejection keeps its own error
        op->scratchTag = 0;
        if (op == q->front() && !s.busy) removed = q->pop();
        break;
      }
      if (removed != nullptr) break;
    }
  }
  if (removed != nullptr) finish(removed);
  completeLeadingDone(s);
  armHeads(s);
  if (!s.dead) updateInterest(s);
}

void ProcessorImpl::completeLeadingDone(SocketState& s) noexcept {
  for (OpQueue* q : {&s.readQ, &s.writeQ}) {
    for (;;) {
      Operation* op;
      {
        auto lock = lockQueues(s);
        if (s.dead || s.busy || q->empty()) break;
        Operation* head = q->front();
        if (!head->error && !head->isFinal()) break;
        op = q->pop();
      }
      finish(op);
    }
  }
}

void ProcessorImpl::cancelSocket(SocketState& s, bool close) noexcept {
  if (s.dead) return;
  // Only the operations queued now are cancelled: the queues are detached before any handler
  // runs, because a call_through handler may run inside complete() and start the next
  // operation on this socket, which must wait normally rather than be aborted in turn
  // ("a cancel does not poison the next operation"). Completing outside the lock also lets
  // such a handler submit in worker_pool mode without re-locking the socket's mutex.
  OpQueue reads;
  OpQueue writes;
  {
    auto lock = lockQueues(s);
    if (s.busy) {
      // A worker has the socket and may be completing earlier operations: resolve these in
      // place; the worker (or rearm) completes them in queue order.
      for (OpQueue* q : {&s.readQ, &s.writeQ}) {
        for (Operation* op = q->front(); op != nullptr; op = op->next) {
          op->scratchTag = 0;
          if (!op->error) op->tryAbort(OpState::cancelled);
        }
      }
    } else {
      std::swap(reads, s.readQ);
      std::swap(writes, s.writeQ);
    }
    if (close && !s.closed) {
      // The connection is released now, as close(2) would (the key first, so no stale event
      // reaches anything); the number stays ours until detach(), so fd(), options and
      // addresses never act on a connection that reused it.
      s.closed = true;
      if (s.key != nullptr) s.key->cancel();
      s.key = nullptr;
      descriptor::preClose(s.fdch.fd());
    }
  }
  abortQueue(reads);
  abortQueue(writes);
  if (!s.dead) updateInterest(s);
}

// q must already be detached from the socket: completions may start new operations on it.
void ProcessorImpl::abortQueue(OpQueue& q) noexcept {
  while (Operation* op = q.pop()) {
    // Rejections keep their own error; ops resolved in place earlier keep their outcome.
    if (!op->error && !op->isFinal()) op->tryAbort(OpState::cancelled);
    finish(op);
  }
}

// Loop thread: the state is freed between iterations, once (destroySocket and a late rearm()
// may both find it dead, e.g. at shutdown).
void ProcessorImpl::bury(SocketState& s) noexcept {
  if (s.buried) return;
  s.buried = true;
  s.loop.graveyard.push_back(&s);
}

// Loop thread: the handle is gone (detach). The state is freed between iterations.
void ProcessorImpl::destroySocket(SocketState& s) noexcept {
  if (s.dead) return;
  s.dead = true;
  if (s.prevLive != nullptr) s.prevLive->nextLive = s.nextLive;
  if (s.nextLive != nullptr) s.nextLive->prevLive = s.prevLive;
  if (s.loop.live == &s) s.loop.live = s.nextLive;
  if (s.listedStarved) unpark(s);  // the loop's list must not outlive the state
  s.fdch.close();  // cancels the key first: no stale event can reach a reused descriptor
  if (s.timer) s.loop.reactor.cancelTimer(s.timer);  // loop thread: the timer cannot fire now
  s.timer = TimerId{};
  if (!s.busy) bury(s);  // else rearm() does
}

}  // namespace nioxx::bridge_detail
