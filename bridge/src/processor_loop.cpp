// The processor's Reactor loops: their threads (own-threads mode), the inbox through which other
// threads reach a loop, and the shutdown that aborts what is left on each. A loop thread owns
// everything of its sockets and timers; another thread either takes a turn (driven mode,
// processor_driven.cpp) or posts an InboxItem, which the loop runs in order.
#include <utility>

#include "detail/processor_impl.h"
#include "nioxx/core/pre_close.h"

namespace nioxx::bridge_detail {

ProcessorImpl::ProcessorImpl(EmulatedProcessor::Options options) : options_(options) {
  if (options_.reactorThreads == 0) options_.reactorThreads = 1;
  if (options_.ioWorkers == 0) options_.ioWorkers = 1;
  if (options_.fileWorkers == 0) options_.fileWorkers = 1;
  for (std::size_t i = 0; i < options_.reactorThreads; ++i)
    loops_.push_back(std::make_unique<Loop>());
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
  descriptor::ensurePreCloseSocket();
  // Its threads start with the first file operation (submitFile): a socket-only program has none.
  filePool_ = std::make_unique<ThreadPool>(
      ThreadPool::Options{options_.fileWorkers, 1 << 20, "nioxx-file"});
  driven_ = options_.driven && config.strategy == DispatchStrategy::post_reactive &&
            options_.ioMode == IoMode::inline_io;
  if (driven_) {
    // Leader/followers: one Reactor, run by whichever run() thread drives; no thread of ours.
    loops_.resize(1);
    return;
  }
  // Stepped: the loops exist, their threads do not; step() runs their iterations.
  stepped_ = options_.stepped && options_.ioMode == IoMode::inline_io;
  if (stepped_) return;
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

bool ProcessorImpl::post(Loop& l, InboxItem item) noexcept {
  using Added = decltype(l.inbox)::Added;
  const Added added =
      l.inbox.add([&item](std::vector<InboxItem>& items) { items.push_back(item); });
  // One drain task per batch: wake-ups are coalesced by the inbox and by the Selector.
  if (added == Added::scheduled) l.reactor.post([this, loop = &l] { drainInbox(*loop); });
  return added != Added::refused;
}

// Runs what was posted so far. The inbox is idle again from the moment the batch is taken:
// what is posted meanwhile schedules its own drain task (the loop thread runs them one by one).
void ProcessorImpl::drainInbox(Loop& l) noexcept {
  if (!l.inbox.takeAndFinish(l.draining)) return;
  l.drainingNow = true;  // API calls of handlers run meanwhile queue behind the batch
  for (const InboxItem& item : l.draining)
    handle(l, item);
  l.draining.clear();
  l.drainingNow = false;
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
    case InboxItem::buffers_returned:
      onBuffersReturned(l);
      break;
  }
}

void ProcessorImpl::abortLoop(Loop& l) noexcept {
  // What the sockets hold was initiated before what still waits in the inbox: abort it first, so
  // each channel's completions keep their order. Handlers that run meanwhile cannot initiate
  // (the Proactor's shutdown gate is closed).
  std::vector<SocketState*> live;
  for (SocketState* s = l.live; s != nullptr; s = s->nextLive)
    live.push_back(s);
  for (SocketState* s : live) {
    // The I/O pool has stopped (shutdown() stops it first): no worker has the socket any more,
    // even if its rearm item still waits in the inbox.
    s->busy = false;
    OpQueue reads;
    OpQueue writes;
    {
      auto lock = lockQueues(*s);
      std::swap(reads, s->readQ);
      std::swap(writes, s->writeQ);
    }
    abortQueue(reads);
    abortQueue(writes);
  }
  // Then the inbox; once it is empty it closes, so later posts are refused and the poster
  // handles its item itself.
  while (l.inbox.takeOrClose(l.draining)) {
    for (const InboxItem& item : l.draining) {
      if (item.kind == InboxItem::submit) {
        abortNow(static_cast<Operation*>(item.ptr));
      } else {
        handle(l, item);
      }
    }
    l.draining.clear();
  }
  auto timers = std::move(l.timers);
  for (auto& [id, t] : timers) {
    if (t.op->tryAbort(OpState::cancelled)) sink_->complete(t.op);
  }
  while (sink_->runDeferred() != 0) {
  }
}

void ProcessorImpl::freeGraveyard(Loop& l) noexcept {
  auto graves = std::move(l.graveyard);
  l.graveyard.clear();
  for (SocketState* s : graves)
    delete s;
}

// Runs a dispatcher's node on a loop thread (call_through: a completion produced off the loop).
bool ProcessorImpl::execute(detail::DispatchNode* node) noexcept {
  if (driven_ || shuttingDown_.load(std::memory_order_acquire)) return false;
  Loop& l = *loops_[nextLoop_.fetch_add(1, std::memory_order_relaxed) % loops_.size()];
  return post(l, {InboxItem::execute, node, 0});
}

// Behind everything posted to the socket's loop so far; a socket's completions come from there.
bool ProcessorImpl::executeOnChannel(AsyncChannel& channel, detail::DispatchNode* node) noexcept {
  if (channel.kind() == ChannelKind::file || shuttingDown_.load(std::memory_order_acquire)) {
    return false;
  }
  return post(static_cast<SocketState*>(channel.processorState)->loop,
              {InboxItem::execute, node, 0});
}

void ProcessorImpl::shutdown() noexcept {
  if (shuttingDown_.exchange(true, std::memory_order_acq_rel)) return;
  {
    // Lent buffers may come back on any thread long after this engine is gone.
    std::lock_guard lock(groupsMutex_);
    for (auto& g : groups_)
      g->setReturnHook(nullptr);
  }
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
  if (stepped_) {
    // No loop thread to stop: each loop aborts what is in flight here, as its thread would at
    // its end (and stays bound to this thread, like the driven loop above).
    for (auto& l : loops_) {
      l->reactor.bindLoopThread();
      sink_->enterProcessorThread();
      abortLoop(*l);
      sink_->leaveProcessorThread();
      freeGraveyard(*l);
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
