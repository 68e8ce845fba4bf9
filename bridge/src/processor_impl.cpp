#include "detail/processor_impl.h"

#include <sys/socket.h>

#include <utility>

#include "detail/perform.h"
#include "detail/pre_close.h"
#include "nioxx/core/error.h"
#include "nioxx/core/log.h"

namespace nioxx::bridge_detail {
namespace {

bool isReadKind(OpKind k) noexcept {
  return k == OpKind::read || k == OpKind::readv || k == OpKind::accept;
}

// Locks the socket's mutex only in worker_pool mode, where workers share its queues.
std::unique_lock<std::mutex> lockIf(bool workers, SocketState& s) {
  return workers ? std::unique_lock<std::mutex>(s.mutex) : std::unique_lock<std::mutex>();
}

}  // namespace

void SocketState::handleEvent(SelectionKey& k) {
  proc.onReady(*this, k.readyOps());
}

ProcessorImpl::ProcessorImpl(EmulatedProcessor::Options options) : options_(options) {
  if (options_.reactorThreads == 0) options_.reactorThreads = 1;
  if (options_.ioWorkers == 0) options_.ioWorkers = 1;
  if (options_.fileWorkers == 0) options_.fileWorkers = 1;
  for (std::size_t i = 0; i < options_.reactorThreads; ++i) {
    loops_.push_back(std::make_unique<Loop>());
    loops_.back()->index = i;
  }
}

ProcessorImpl::~ProcessorImpl() {
  shutdown();
  for (auto& l : loops_) {
    freeGraveyard(*l);
    for (SocketState* s : l->orphans)
      delete s;
  }
}

void ProcessorImpl::start(CompletionSink& sink, const ProcessorConfig& config) {
  sink_ = &sink;
  started_ = true;
  ensurePreCloseSocket();
  // Started lazily (submitFile): a socket-only program gets no file thread.
  filePool_ = std::make_unique<ThreadPool>(
      ThreadPool::Options{options_.fileWorkers, 1 << 20, "nioxx-file"});
  driven_ = options_.driven && config.strategy == DispatchStrategy::post_reactive &&
            options_.ioMode == IoMode::inline_io;
  if (driven_) {
    // Leader/followers: one Reactor, run by whichever run() thread drives; no thread of ours.
    loops_.resize(1);
    return;
  }
  if (options_.ioMode == IoMode::worker_pool) {
    ioPool_ =
        std::make_unique<ThreadPool>(ThreadPool::Options{options_.ioWorkers, 1 << 20, "nioxx-io"});
    ioPool_->start();
  }
  for (auto& l : loops_) {
    Loop* loop = l.get();
    loop->thread = std::thread([this, loop] { loopMain(*loop); });
  }
}

// ------------------------------------------------------------------ loops and inboxes

void ProcessorImpl::loopMain(Loop& l) noexcept {
  sink_->enterProcessorThread();
  while (!l.stop.load(std::memory_order_acquire)) {
    l.reactor.runOnce(sink_->hasDeferred() ? std::chrono::milliseconds(0)
                                           : std::chrono::milliseconds(-1));
    sink_->runDeferred();
    if (!l.graveyard.empty()) freeGraveyard(l);
  }
  abortLoop(l);
  sink_->leaveProcessorThread();
  freeGraveyard(l);
}

template <class Fn>
ProcessorImpl::Route ProcessorImpl::onLoop(Loop& l, const InboxItem& item, Fn&& fn) noexcept {
  if (l.reactor.isInLoopThread()) {
    fn();
    return Route::ran;
  }
  if (tryBeginTurn(l)) {
    fn();
    endTurn(l);
    return Route::ran;
  }
  return post(l, item) ? Route::posted : Route::refused;
}

bool ProcessorImpl::post(Loop& l, InboxItem item) noexcept {
  bool schedule = false;
  {
    std::lock_guard lock(l.inboxMutex);
    if (l.closed) return false;
    l.inbox.push_back(item);
    l.inboxHasItems.store(true, std::memory_order_release);
    schedule = !l.inboxScheduled;
    l.inboxScheduled = true;
  }
  // One drain task per batch: wake-ups are coalesced by the flag above and by the Selector.
  if (schedule) l.reactor.post([this, loop = &l] { drainInbox(*loop); });
  return true;
}

void ProcessorImpl::drainInbox(Loop& l) noexcept {
  {
    std::lock_guard lock(l.inboxMutex);
    l.draining.swap(l.inbox);
    l.inboxScheduled = false;
    l.inboxHasItems.store(false, std::memory_order_relaxed);
  }
  for (const InboxItem& item : l.draining)
    handle(l, item);
  l.draining.clear();
}

void ProcessorImpl::handle(Loop& l, const InboxItem& item) noexcept {
  switch (item.kind) {
    case InboxItem::submit: {
      auto* op = static_cast<Operation*>(item.ptr);
      if (op->kind() == OpKind::timer) {
        startTimer(l, op);
      } else {
        startSocketOp(*static_cast<SocketState*>(op->channel()->processorState), op);
      }
      break;
    }
    case InboxItem::cancel:
    case InboxItem::close: {
      auto* channel = static_cast<AsyncChannel*>(item.ptr);
      cancelSocket(*static_cast<SocketState*>(channel->processorState),
                   item.kind == InboxItem::close);
      channel->release();
      break;
    }
    case InboxItem::detach:
      destroySocket(*static_cast<SocketState*>(item.ptr));
      break;
    case InboxItem::cancel_timer:
      cancelTimerOnLoop(l, item.id);
      break;
    case InboxItem::execute:
      sink_->dispatch(static_cast<detail::DispatchNode*>(item.ptr));
      break;
    case InboxItem::cancel_op: {
      auto* channel = static_cast<AsyncChannel*>(item.ptr);
      cancelSocketOp(*static_cast<SocketState*>(channel->processorState), item.id);
      channel->release();
      break;
    }
    case InboxItem::rearm:
      rearm(*static_cast<SocketState*>(item.ptr));
      break;
  }
}

void ProcessorImpl::abortLoop(Loop& l) noexcept {
  // Whatever is still queued to the loop is aborted here; later posts fail and the poster
  // aborts the operation itself (submit() checks shuttingDown_ first anyway).
  for (;;) {
    {
      std::lock_guard lock(l.inboxMutex);
      l.draining.swap(l.inbox);
      l.closed = l.draining.empty();
    }
    if (l.draining.empty()) break;
    for (const InboxItem& item : l.draining) {
      if (item.kind == InboxItem::submit) {
        abortNow(static_cast<Operation*>(item.ptr));
      } else {
        handle(l, item);
      }
    }
    l.draining.clear();
  }
  std::vector<SocketState*> live;
  for (SocketState* s = l.live; s != nullptr; s = s->nextLive)
    live.push_back(s);
  for (SocketState* s : live) {
    if (s->busy) continue;  // cannot happen after the I/O pool stopped; belt and braces
    OpQueue reads;
    OpQueue writes;
    {
      auto lock = lockIf(options_.ioMode == IoMode::worker_pool, *s);
      std::swap(reads, s->readQ);
      std::swap(writes, s->writeQ);
    }
    abortQueue(*s, reads);  // outside the lock: a handler may submit (aborted: shutting down)
    abortQueue(*s, writes);
  }
  auto timers = std::move(l.timers);
  for (auto& [id, t] : timers) {
    if (t.op->tryAbort(OpState::cancelled)) sink_->complete(t.op);
  }
  sink_->runDeferred();
}

void ProcessorImpl::freeGraveyard(Loop& l) noexcept {
  auto graves = std::move(l.graveyard);
  l.graveyard.clear();
  for (SocketState* s : graves)
    delete s;
}

// ------------------------------------------------------------------ channels

void ProcessorImpl::attach(AsyncChannel& channel) {
  if (channel.kind() == ChannelKind::file) {
    channel.processorState = new FileState(channel);
    return;
  }
  Loop& l = *loops_[nextLoop_.fetch_add(1, std::memory_order_relaxed) % loops_.size()];
  channel.processorState = new SocketState(*this, l, channel.fd());
}

void ProcessorImpl::detach(AsyncChannel& channel) noexcept {
  if (channel.kind() == ChannelKind::file) {
    auto* fs = static_cast<FileState*>(channel.processorState);
    ::close(channel.fd());
    delete fs;
    return;
  }
  auto* s = static_cast<SocketState*>(channel.processorState);
  channel.processorState = nullptr;
  Loop& l = s->loop;
  if (onLoop(l, {InboxItem::detach, s, 0}, [&] { destroySocket(*s); }) == Route::refused) {
    std::lock_guard lock(l.inboxMutex);
    l.orphans.push_back(s);
  }
}

void ProcessorImpl::destroySocket(SocketState& s) noexcept {
  if (s.dead) return;
  s.dead = true;
  if (s.prevLive != nullptr) s.prevLive->nextLive = s.nextLive;
  if (s.nextLive != nullptr) s.nextLive->prevLive = s.prevLive;
  if (s.loop.live == &s) s.loop.live = s.nextLive;
  s.fdch.close();  // cancels the key first: no stale event can reach a reused descriptor
  if (s.timer) s.loop.reactor.cancelTimer(s.timer);  // loop thread: the timer cannot fire now
  s.timer = TimerId{};
  if (!s.busy) s.loop.graveyard.push_back(&s);  // else rearm() frees it
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
  if (route == Route::refused && close) preClose(s->fdch.fd());
  channel.release();
}

void ProcessorImpl::cancelOperation(AsyncChannel& channel, std::uint64_t id) noexcept {
  if (channel.kind() == ChannelKind::file) {
    auto* fs = static_cast<FileState*>(channel.processorState);
    Operation* op;
    {
      std::lock_guard lock(fs->mutex);
      op = fs->queue.removeId(id);
    }
    if (op != nullptr) abortNow(op);
    return;
  }
  auto* s = static_cast<SocketState*>(channel.processorState);
  channel.addRef();
  const Route route =
      onLoop(s->loop, {InboxItem::cancel_op, &channel, id}, [&] { cancelSocketOp(*s, id); });
  if (route != Route::posted) channel.release();
}

void ProcessorImpl::cancelSocketOp(SocketState& s, std::uint64_t id) noexcept {
  if (s.dead) return;
  Operation* op;
  {
    auto lock = lockIf(options_.ioMode == IoMode::worker_pool, s);
    op = s.readQ.removeId(id);
    if (op == nullptr) op = s.writeQ.removeId(id);
  }
  if (op == nullptr) return;  // already completed (or being performed by a worker)
  op->scratchTag = 0;
  if (!op->error) {
    if (op->tryAbort(OpState::cancelled)) sink_->complete(op);
  } else {
    finish(s.loop, op);  // a rejection keeps its own error
  }
  completeLeadingRejections(s);
  if (!s.dead) updateInterest(s);
}

// Rejections behind an operation that just left the queue (cancelled, timed out, performed by a
// worker) complete now rather than wait for readiness that may never come.
void ProcessorImpl::completeLeadingRejections(SocketState& s) noexcept {
  for (OpQueue* q : {&s.readQ, &s.writeQ}) {
    for (;;) {
      Operation* op;
      {
        auto lock = lockIf(options_.ioMode == IoMode::worker_pool, s);
        if (s.dead || s.busy || q->head == nullptr || !q->head->error) break;
        op = q->pop();
      }
      finish(s.loop, op);
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
    auto lock = lockIf(options_.ioMode == IoMode::worker_pool, s);
    std::swap(reads, s.readQ);
    std::swap(writes, s.writeQ);
    if (close && !s.closed) {
      // The connection is released now, as close(2) would (the key first, so no stale event
      // reaches anything); the number stays ours until detach(), so fd(), options and
      // addresses never act on a connection that reused it.
      s.closed = true;
      if (s.key != nullptr) s.key->cancel();
      s.key = nullptr;
      preClose(s.fdch.fd());
    }
  }
  abortQueue(s, reads);
  abortQueue(s, writes);
  if (!s.dead) updateInterest(s);
}

// q must already be detached from the socket: completions may start new operations on it.
void ProcessorImpl::abortQueue(SocketState& /*s*/, OpQueue& q) noexcept {
  while (Operation* op = q.pop()) {
    op->scratchTag = 0;
    if (op->error) {
      if (op->tryTransition(OpState::pending, OpState::completed)) sink_->complete(op);
    } else if (op->tryAbort(OpState::cancelled)) {
      sink_->complete(op);
    }
  }
}

// ------------------------------------------------------------------ operations

void ProcessorImpl::abortNow(Operation* op, Error error) noexcept {
  if (op->error) {  // a rejection keeps its own error
    if (op->tryTransition(OpState::pending, OpState::completed)) sink_->complete(op);
    return;
  }
  if (op->tryAbort(OpState::cancelled)) {
    if (error != Error::operation_aborted) op->error = error;
    sink_->complete(op);
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

void ProcessorImpl::startSocketOp(SocketState& s, Operation* op) noexcept {
  const bool workers = options_.ioMode == IoMode::worker_pool;
  if (s.closed || s.dead) return abortNow(op, Error::closed);
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
    // A rejection is never performed. A refused write (queue_full) completes after the writes
    // queued before it; a refused read (read_pending) does not wait for the read holding the
    // slot, which may wait for ever: it tells the caller about a bug, as Java's exception does.
    if (!reads) {
      auto lock = lockIf(workers, s);
      if (!s.writeQ.empty() || s.busy) {
        s.writeQ.push(op);
        return;
      }
    }
    return finish(l, op);
  }
  if (op->timeout.count() > 0) armDeadline(s, op);
  {
    auto lock = lockIf(workers, s);
    OpQueue& q = reads ? s.readQ : s.writeQ;
    const bool first = q.empty();
    q.push(op);
    const bool speculate = options_.speculative && !(reads && s.readDrained);
    if (first && !s.busy && (speculate || op->kind() == OpKind::connect)) {
      if (lock.owns_lock()) lock.unlock();  // performQueue completes outside the lock
      performQueue(s, reads);
    } else {
      sink_->notify(*op, OpPhase::waiting);
    }
  }
  updateInterest(s);
}

void ProcessorImpl::performQueue(SocketState& s, bool reads) noexcept {
  const bool workers = options_.ioMode == IoMode::worker_pool;
  OpQueue& q = reads ? s.readQ : s.writeQ;
  bool stopAtNext = false;
  for (;;) {
    Operation* op;
    {
      auto lock = lockIf(workers, s);
      op = q.head;
      if (op == nullptr || s.dead) return;
      if (!op->error) {
        if (stopAtNext) return;
        sink_->notify(*op, OpPhase::performing);
        const Perform p = performSocketOp(s.fdch.fd(), *op);
        if (p == Perform::again) {
          sink_->notify(*op, OpPhase::waiting);
          return;
        }
        if (reads) s.readDrained = p == Perform::drained;
        // A read its handler initiates (call_through) will head the queue: after a short read
        // it waits for readiness like any other, rather than costing an EAGAIN here. Only the
        // rejections queued behind this one still complete now.
        stopAtNext = reads && s.readDrained;
      }
      q.pop();
    }
    finish(s.loop, op);
  }
}

void ProcessorImpl::finish(Loop& l, Operation* op) noexcept {
  (void)l;
  op->scratchTag = 0;  // its deadline no longer matters; the socket timer is lazy
  if (op->tryTransition(OpState::pending, OpState::completed)) sink_->complete(op);
}

void ProcessorImpl::updateInterest(SocketState& s) noexcept {
  if (s.dead || s.closed || s.key == nullptr || s.busy) return;
  int want = 0;
  {
    auto lock = lockIf(options_.ioMode == IoMode::worker_pool, s);
    if (!s.readQ.empty()) want |= SelectionKey::OP_READ;
    if (!s.writeQ.empty()) want |= SelectionKey::OP_WRITE;
  }
  if (want != s.interest && s.key->isValid()) {
    s.key->interestOps(want);  // lazy: costs an epoll_ctl only if it survives to the next wait
    s.interest = want;
  }
}

void ProcessorImpl::onReady(SocketState& s, int readyOps) noexcept {
  if (options_.ioMode == IoMode::worker_pool) {
    // The paper's literal emulation: hand the ready socket to an I/O worker.
    s.busy = true;
    s.key->interestOps(0);
    s.interest = 0;
    if (!ioPool_->submit([this, st = &s] { workerPerform(*st); })) rearm(s);
    return;
  }
  if ((readyOps & SelectionKey::OP_READ) != 0) performQueue(s, true);
  if ((readyOps & SelectionKey::OP_WRITE) != 0 && !s.dead) performQueue(s, false);
  updateInterest(s);
  // Completions deferred by this event (call_through: what its handlers initiated) run now, not
  // after the whole batch: otherwise every later read of the batch would be deferred behind
  // them, each holding its (pooled) buffer until the end of the batch.
  if (sink_->hasDeferred()) sink_->runDeferred();
}

// Timeouts cost one clock read per operation: each socket has at most one reactor timer, armed
// for the earliest deadline it knows; a later deadline never re-arms it (lazy), and completed
// operations leave it alone. When it fires, expired operations time out and it re-arms for the
// earliest remaining deadline.
std::uint64_t ProcessorImpl::nowNs() noexcept {
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch() /
                                    std::chrono::nanoseconds(1));
}

void ProcessorImpl::armDeadline(SocketState& s, Operation* op) noexcept {
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
  std::vector<Operation*> expired;
  {
    auto lock = lockIf(options_.ioMode == IoMode::worker_pool, s);
    for (OpQueue* q : {&s.readQ, &s.writeQ}) {
      // One pass, unlinking as it goes: a long write queue with timeouts stays O(n).
      Operation* prev = nullptr;
      for (Operation* op = q->head; op != nullptr;) {
        Operation* next = op->next;
        if (op->scratchTag != 0 && op->scratchTag <= now) {
          (prev == nullptr ? q->head : prev->next) = next;
          if (q->tail == op) q->tail = prev;
          op->next = nullptr;
          expired.push_back(op);
        } else {
          if (op->scratchTag != 0 && op->scratchTag < earliest) earliest = op->scratchTag;
          prev = op;
        }
        op = next;
      }
    }
  }
  if (earliest != UINT64_MAX) {
    s.timerAt = earliest;
    s.timer = s.loop.reactor.schedule(std::chrono::nanoseconds(earliest - now),
                                      [st = &s] { st->proc.onSocketTimer(*st); });
  }
  for (Operation* op : expired) {
    op->scratchTag = 0;
    if (op->tryAbort(OpState::timed_out)) sink_->complete(op);
  }
  completeLeadingRejections(s);
  if (!s.dead) updateInterest(s);
}

// ------------------------------------------------------------------ worker_pool mode

void ProcessorImpl::workerPerform(SocketState& s) noexcept {
  std::vector<Operation*> done;
  {
    std::lock_guard lock(s.mutex);
    for (OpQueue* q : {&s.readQ, &s.writeQ}) {
      while (Operation* op = q->head) {
        if (!op->error) {  // rejections are not performed, just completed in order
          sink_->notify(*op, OpPhase::performing);
          if (performSocketOp(s.fdch.fd(), *op) == Perform::again) break;
        }
        q->pop();
        done.push_back(op);
      }
    }
  }
  if (!post(s.loop, {InboxItem::rearm, &s, 0})) {
    s.busy = false;
  }
  for (Operation* op : done) {
    if (op->tryTransition(OpState::pending, OpState::completed)) sink_->complete(op);
  }
}

void ProcessorImpl::rearm(SocketState& s) noexcept {
  s.busy = false;
  if (s.dead) {
    s.loop.graveyard.push_back(&s);
    return;
  }
  completeLeadingRejections(s);
  updateInterest(s);
}

// ------------------------------------------------------------------ timers

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

// ------------------------------------------------------------------ files

void ProcessorImpl::submitFile(Operation* op) noexcept {
  auto* fs = static_cast<FileState*>(op->channel()->processorState);
  bool schedule = false;
  {
    std::lock_guard lock(fs->mutex);
    fs->queue.push(op);
    schedule = !fs->scheduled;
    fs->scheduled = true;
  }
  sink_->notify(*op, OpPhase::waiting);
  if (!schedule) return;
  std::call_once(fileStarted_, [this] {
    try {
      filePool_->start();
    } catch (const std::exception&) {
      // Stopped by a racing shutdown(): submit() below fails and runFile aborts inline.
    }
  });
  fs->channel->addRef();  // keeps the FileState alive while a worker drains it
  if (!filePool_->submit([this, fs] { runFile(*fs); })) runFile(*fs);
}

void ProcessorImpl::runFile(FileState& fs) noexcept {
  AsyncChannel* channel = fs.channel;
  for (;;) {
    Operation* op;
    {
      std::lock_guard lock(fs.mutex);
      op = fs.queue.pop();
      if (op == nullptr) {
        fs.scheduled = false;
        break;
      }
    }
    if (shuttingDown_.load(std::memory_order_acquire)) {
      abortNow(op);
      continue;
    }
    if (!op->error) {  // rejections are not performed
      sink_->notify(*op, OpPhase::performing);
      performFileOp(channel->fd(), *op);
    }
    if (op->tryTransition(OpState::pending, OpState::completed)) sink_->complete(op);
  }
  channel->release();
}

// ------------------------------------------------------------------ misc

bool ProcessorImpl::execute(detail::DispatchNode* node) noexcept {
  if (driven_ || shuttingDown_.load(std::memory_order_acquire)) return false;
  Loop& l = *loops_[nextLoop_.fetch_add(1, std::memory_order_relaxed) % loops_.size()];
  return post(l, {InboxItem::execute, node, 0});
}

void ProcessorImpl::shutdown() noexcept {
  if (shuttingDown_.exchange(true, std::memory_order_acq_rel)) return;
  if (!started_) return;
  if (driven_) {
    // Interrupt a driver, then take the loop for good: it aborts what is in flight. The loop
    // stays bound to this thread, so later close()/detach() calls take the Selector's
    // thread-safe paths; no thread drives it again (drive() and tryBeginTurn() see the flag).
    Loop& l = *loops_.front();
    l.reactor.wakeup();
    {
      std::lock_guard own(l.owner);
      l.reactor.bindLoopThread();
      abortLoop(l);
      freeGraveyard(l);
    }
    filePool_->stop();
    return;
  }
  // I/O workers first: they hand sockets back to the loops, which are still running.
  if (ioPool_) ioPool_->stop();
  for (auto& l : loops_) {
    l->stop.store(true, std::memory_order_release);
    l->reactor.wakeup();
  }
  for (auto& l : loops_) {
    if (l->thread.joinable()) l->thread.join();
  }
  if (filePool_) filePool_->stop();
}

}  // namespace nioxx::bridge_detail
