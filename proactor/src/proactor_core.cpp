#include "detail/proactor_core.h"

#include "detail/thread_slots.h"
#include "detail/writability.h"

#include <unistd.h>

#include <new>
#include <stdexcept>
#include <utility>

#include "nioxx/core/error.h"
#include "nioxx/core/log.h"
#include "nioxx/core/sys.h"
#include "nioxx/proactor/shutdown_error.h"
#include "nioxx/proactor/spi/fault_injection.h"

namespace nioxx::spi {
namespace {
thread_local int tSkipStrands = 0;  // live SkipStrandsFault guards on this thread
}  // namespace
SkipStrandsFault::SkipStrandsFault() noexcept {
  ++tSkipStrands;
}
SkipStrandsFault::~SkipStrandsFault() {
  --tSkipStrands;
}
bool SkipStrandsFault::active() noexcept {
  return tSkipStrands > 0;
}
}  // namespace nioxx::spi

namespace nioxx::detail {
namespace {

// Per-thread dispatch state. A thread is a "processor thread" of at most one core at a time.
struct ThreadState {
  ProactorCore* processorCore = nullptr;  // set between enter/leaveProcessorThread
  ProactorCore* handlerCore = nullptr;    // set while the thread serves run()/pool of a core
  ProactorCore* drivingCore = nullptr;    // set while the thread is inside processor_->drive()
  DispatchNode* head = nullptr;           // deferred completions (processor threads only)
  DispatchNode* tail = nullptr;
  int initiating = 0;     // > 0 inside an initiating call
  std::size_t depth = 0;  // nested inline handler calls
};
thread_local ThreadState tls;
// A strand's turn ends once at least this many of its handlers ran (Netty reads 16 per turn).
constexpr std::size_t kStrandBatch = 16;

bool isReadKind(OpKind k) noexcept {
  return k == OpKind::read || k == OpKind::readv || k == OpKind::accept;
}
bool isWriteKind(OpKind k) noexcept {
  return k == OpKind::write || k == OpKind::writev || k == OpKind::transmit_file;
}

// What a write holds in memory until it completes. A transmission's file bytes are not in
// memory (the kernel moves them from the page cache): it takes a place in the write queue but
// adds nothing to pendingWriteBytes, so a large file neither turns the socket unwritable nor
// meets the write buffer limit.
std::size_t bytesOf(const Operation& op) noexcept {
  if (op.kind() == OpKind::transmit_file) return 0;
  if (op.kind() == OpKind::write) return op.buffer.remaining();
  std::size_t n = 0;
  for (const auto& b : op.buffers)
    n += b.remaining();
  return n;
}

}  // namespace

// Brackets every API call (initiate, cancel, close, cancelTimer, post, new channel): completions
// produced inside it are never run on the calling thread, and shutdown() waits for calls in
// progress before it aborts what is in flight (the gate: an initiation either sees the shutdown
// and throws, or is submitted before the processor shuts down, so it is aborted and completed).
class ApiCall {
 public:
  explicit ApiCall(ProactorCore& core) noexcept {
    if (tls.initiating++ != 0) return;
    marker_ = apiCallMarker();
    // seq_cst store, then seq_cst load of the flag (in initiate): with shutdown()'s store of the
    // flag and its scan of the markers, at least one side sees the other.
    if (marker_ != nullptr) marker_->store(&core, std::memory_order_seq_cst);
  }
  ~ApiCall() {
    if (--tls.initiating == 0 && marker_ != nullptr) {
      marker_->store(nullptr, std::memory_order_release);
    }
  }
  ApiCall(const ApiCall&) = delete;
  ApiCall& operator=(const ApiCall&) = delete;

 private:
  std::atomic<const void*>* marker_ = nullptr;
};

ProactorCore::ProactorCore(std::unique_ptr<AsyncOperationProcessor> processor,
                           ProactorOptions options)
    : processor_(std::move(processor)),
      options_(options),
      inlineAffinity_(
          (options.strategy == DispatchStrategy::call_through && processor_->channelAffinity()) ||
          spi::SkipStrandsFault::active()) {
  setObserver(options_.observer);
  if (options_.callThroughDepth == 0) options_.callThroughDepth = 1;
  if (options_.writeBufferLowWatermark > options_.writeBufferHighWatermark) {
    options_.writeBufferLowWatermark = options_.writeBufferHighWatermark;
  }
}

ProactorCore::~ProactorCore() = default;

void ProactorCore::start() {
  processor_->start(*this, ProcessorConfig{options_.strategy});
  if (options_.strategy == DispatchStrategy::pool && !options_.steppedPool) {
    const std::size_t n = options_.poolThreads == 0 ? 1 : options_.poolThreads;
    for (std::size_t i = 0; i < n; ++i)
      pool_.emplace_back([this] { poolLoop(); });
  }
}

// ---------------------------------------------------------------- initiation

void ProactorCore::refuse(Operation* op, const char* what) {
  op->destroyUnstarted();
  throw ShutdownError(std::string("nioxx: ") + what +
                      " on a Proactor that is shutting down or shut down; initiate before "
                      "Proactor::shutdown() or create a new Proactor");
}

void ProactorCore::initiate(Operation* op) {
  ApiCall call(*this);
  if (isShuttingDown()) refuse(op, "operation initiated");
  notify(*op, OpPhase::initiated);
  AsyncChannel& ch = *op->channel();
  if (ch.isClosed()) return reject(op, Error::closed);
  const OpKind kind = op->kind();
  if (isReadKind(kind)) {
    if (ch.readPending_.exchange(true, std::memory_order_acq_rel)) {
      return reject(op, Error::read_pending);
    }
    op->holdsSlot_ = true;
  } else if (isWriteKind(kind)) {
    if (ch.pendingWrites_.fetch_add(1, std::memory_order_relaxed) >= options_.writeQueueLimit) {
      ch.pendingWrites_.fetch_sub(1, std::memory_order_relaxed);
      return reject(op, Error::queue_full);
    }
    const std::size_t bytes = bytesOf(*op);
    if (!reserveWriteBytes(ch, bytes)) {
      ch.pendingWrites_.fetch_sub(1, std::memory_order_relaxed);
      return reject(op, Error::queue_full);
    }
    op->holdsSlot_ = true;
    op->accounted_ = bytes;
    // Queued on the channel's path before the write is submitted: before its completion.
    notifyOffPath(ch, updateWritability(ch));
  }
  processor_->submit(op);
}

void ProactorCore::initiateChannelless(Operation* op) {
  ApiCall call(*this);
  if (isShuttingDown()) refuse(op, "Proactor::post/scheduleTimer");
  notify(*op, OpPhase::initiated);
  if (op->kind() == OpKind::post) {
    op->tryTransition(OpState::pending, OpState::completed);
    complete(op);  // not run here: we are inside the API call
    return;
  }
  processor_->submit(op);
}

// A refused initiation still completes exactly once, through the processor, so it keeps the
// channel's thread and order (a queue_full write completes after the writes queued before it).
void ProactorCore::reject(Operation* op, std::error_code error) noexcept {
  op->error = error;
  processor_->submit(op);
}

ChannelRef ProactorCore::newChannel(int fd, ChannelKind kind, std::uint32_t placement) {
  ApiCall call(*this);
  if (isShuttingDown()) {
    throw ShutdownError(
        "nioxx: opening a channel on a Proactor that is shutting down or shut down");
  }
  auto* channel = AsyncChannel::create(shared_from_this(), fd, kind, !inlineAffinity_);
  channel->setPlacement(placement);
  try {
    processor_->attach(*channel);
  } catch (...) {
    channel->destroy();  // never attached: no detach, and the caller still owns the descriptor
    throw;
  }
  return ChannelRef::adopt(channel);
}

void ProactorCore::cancel(AsyncChannel& channel) {
  ApiCall call(*this);
  processor_->cancel(channel);
}

void ProactorCore::cancelOperation(AsyncChannel& channel, std::uint64_t id) {
  ApiCall call(*this);
  processor_->cancelOperation(channel, id);
}

void ProactorCore::close(AsyncChannel& channel) {
  if (channel.closed_.exchange(true, std::memory_order_acq_rel)) return;
  ApiCall call(*this);
  processor_->close(channel);
}

void ProactorCore::cancelTimer(std::uint64_t id) {
  ApiCall call(*this);
  processor_->cancelTimer(id);
}

void ProactorCore::setWriteBuffer(AsyncChannel& ch, std::size_t low, std::size_t high,
                                  std::size_t limit) {
  if (low > high) {
    throw std::invalid_argument("nioxx: write buffer low water mark above the high one");
  }
  ApiCall call(*this);
  ch.lowWater_.store(low);
  ch.highWater_.store(high);
  ch.writeLimit_.store(limit);
  const std::uint64_t flip = updateWritability(ch);
  if (!isShuttingDown()) notifyOffPath(ch, flip);  // nothing is queued once shutdown began
}

// ---------------------------------------------------------------- completion

std::uint64_t ProactorCore::releaseSlot(Operation* op) noexcept {
  if (!op->holdsSlot_) return 0;
  op->holdsSlot_ = false;
  AsyncChannel& ch = *op->channel();
  if (isReadKind(op->kind())) {
    ch.readPending_.store(false, std::memory_order_release);
    return 0;
  }
  ch.pendingWriteBytes_.fetch_sub(op->accounted_);  // seq_cst: see updateWritability()
  ch.pendingWrites_.fetch_sub(1, std::memory_order_relaxed);
  return updateWritability(ch);
}

void ProactorCore::complete(Operation* op) noexcept {
  notify(*op, OpPhase::completed);
  AsyncChannel* ch = op->channel();
  // A write that drained the buffer below its low water mark: "writable" follows its completion
  // on the same path (Netty's order). The node holds its own channel reference.
  const std::uint64_t flip = releaseSlot(op);
  WritabilityNode* after = flip != 0 ? writabilityNode(*ch, flip) : nullptr;
  if (ch != nullptr && !inlineAffinity_) {
    bool idle = ch->strand().push(op);
    if (after != nullptr) idle = ch->strand().push(after) || idle;
    if (idle) schedule(&ch->strand());  // else the thread draining the strand runs them
    return;
  }
  schedule(op);
  if (after != nullptr) schedule(after);
}

void ProactorCore::completeMore(Operation* op) noexcept {
  MoreResult* more;
  try {
    more = new MoreResult(*op);
  } catch (const std::bad_alloc&) {
    // Out of memory: this result is lost, but not the descriptor it may hold.
    if (op->acceptedFd >= 0) ::close(std::exchange(op->acceptedFd, -1));
    op->buffer = ByteBuffer();
    op->transferred = 0;
    op->error.clear();
    return;
  }
  // Never run here: the engine is in the middle of its operation (it may hold its queue).
  AsyncChannel* ch = op->channel();
  if (ch != nullptr && !inlineAffinity_) {
    if (ch->strand().push(more)) requeue(&ch->strand());
    return;
  }
  requeue(more);
}

void ProactorCore::schedule(DispatchNode* node) noexcept {
  ThreadState& t = tls;
  if (options_.strategy == DispatchStrategy::call_through && t.initiating == 0 &&
      t.depth < options_.callThroughDepth && t.head == nullptr &&
      (t.processorCore == this || t.processorCore == nullptr)) {
    ++t.depth;
    runNode(node);
    --t.depth;
    return;
  }
  requeue(node);
}

void ProactorCore::runNode(DispatchNode* node) noexcept {
  if (node->isOperation && (observers_[static_cast<unsigned>(OpPhase::dispatched)] != nullptr ||
                            handlerEndObserver_ != nullptr)) [[unlikely]] {
    const auto& op = *static_cast<Operation*>(node);
    const std::uint64_t id = op.id();
    const OpKind kind = op.kind();
    notify(op, OpPhase::dispatched);
    node->run(node);  // may free the operation
    if (handlerEndObserver_ != nullptr) handlerEndObserver_->onHandlerEnd(id, kind);
    return;
  }
  node->run(node);
}

// A strand runs batches until kStrandBatch handlers have run, then goes to the back of the line:
// a channel whose handlers keep completing at once (a read that always finds data) must not hold
// the thread for ever. Completions added while a batch runs are taken in the next one.
void ProactorCore::runStrand(AsyncChannel& channel) noexcept {
  channel.addRef();  // a handler may drop the last handle while we drain
  Strand& strand = channel.strand();
  Strand::Fifo batch;
  std::size_t ran = 0;
  while (strand.completions.take(batch)) {  // false: the strand is idle again
    while (DispatchNode* node = batch.pop()) {
      runNode(node);
      ++ran;
    }
    if (ran >= kStrandBatch) {
      if (strand.completions.finishTurn()) requeue(&strand);
      break;
    }
  }
  channel.release();
}

void ProactorCore::requeue(DispatchNode* node) noexcept {
  ThreadState& t = tls;
  if (options_.strategy == DispatchStrategy::call_through) {
    if (t.processorCore == this) {
      node->next = nullptr;
      if (t.tail == nullptr) {
        t.head = node;
      } else {
        t.tail->next = node;
      }
      t.tail = node;
      return;
    }
    if (processor_->execute(node)) return;
  }
  pushShared(node);
}

void ProactorCore::enterProcessorThread() noexcept {
  tls.processorCore = this;
}

void ProactorCore::leaveProcessorThread() noexcept {
  while (runDeferred() != 0) {
  }
  tls.processorCore = nullptr;
}

// Runs what was deferred when it was called, not what those handlers defer in turn: a handler
// that re-initiates and always finds data would otherwise hold the loop thread for ever. The
// rest runs at the thread's next turn, after the other sockets had theirs (the processor polls
// instead of blocking while hasDeferred()).
std::size_t ProactorCore::runDeferred() noexcept {
  ThreadState& t = tls;
  DispatchNode* const last = t.tail;
  std::size_t n = 0;
  while (t.head != nullptr) {
    DispatchNode* node = t.head;
    t.head = node->next;
    if (t.head == nullptr) t.tail = nullptr;
    ++t.depth;
    runNode(node);
    --t.depth;
    ++n;
    if (node == last) break;
  }
  return n;
}

bool ProactorCore::hasDeferred() const noexcept {
  return tls.head != nullptr;
}

// ---------------------------------------------------------------- shared queue

void ProactorCore::pushShared(DispatchNode* node) noexcept {
  node->next = nullptr;
  bool wakeDriver = false;
  {
    std::lock_guard lock(mutex_);
    if (tail_ == nullptr) {
      head_ = node;
    } else {
      tail_->next = node;
    }
    tail_ = node;
    if (waiters_ > 0) cv_.notify_one();
    // The driver itself looks at the queue as soon as drive() returns: waking it would only
    // cost an eventfd write and a spurious select.
    wakeDriver = drivers_ > 0 && tls.drivingCore != this;
  }
  if (wakeDriver) processor_->wakeup();
}

// One drive of the processor by this thread (leader/followers), with mutex_ released meanwhile.
// Afterwards the fairness marker points at the last node queued so far. False: the processor
// declined to be driven.
bool ProactorCore::driveWithLockReleased(std::unique_lock<std::mutex>& lock,
                                         std::chrono::nanoseconds slice) {
  ++drivers_;
  lock.unlock();
  tls.drivingCore = this;
  const bool drove = processor_->drive(slice);
  tls.drivingCore = nullptr;
  lock.lock();
  --drivers_;
  driveMarker_ = tail_;
  driveDue_ = false;
  return drove;
}

DispatchNode* ProactorCore::popShared(std::unique_lock<std::mutex>& lock,
                                      std::chrono::steady_clock::time_point deadline,
                                      bool poolThread) {
  bool mayDrive = !poolThread;
  bool poll = true;  // a runOnce() whose deadline has passed still drives once without waiting
  for (;;) {
    // stop() ends run() between handlers even while work is queued (a handler that re-posts
    // itself would otherwise keep run() alive for ever); the work waits for the next run().
    if (!poolThread && stopped_) return nullptr;
    // Leader/followers fairness, as Asio keeps its reactor task in the handler queue: once the
    // handlers queued before the last drive have been taken (driveMarker_), drive again before
    // taking more, even if handlers keep queuing (a read that always finds data). Driving only
    // then, not every n handlers, keeps interest changes of a batch from reaching epoll_ctl
    // half-way (2 per request at 64x1 when polled every 16 handlers).
    if (head_ != nullptr && driveDue_ && mayDrive && drivers_ == 0) {
      mayDrive = driveWithLockReleased(lock, std::chrono::nanoseconds(0));
      continue;
    }
    if (head_ != nullptr) {
      DispatchNode* node = head_;
      head_ = node->next;
      if (head_ == nullptr) tail_ = nullptr;
      if (node == driveMarker_) {
        driveMarker_ = nullptr;
        driveDue_ = !poolThread;
      }
      if (head_ != nullptr && waiters_ > 0) cv_.notify_one();
      return node;
    }
    if (shuttingDown_) return nullptr;
    const auto now = sys::now();
    const bool expired = now >= deadline;
    if (expired && !(poll && mayDrive && drivers_ == 0)) return nullptr;
    // Leader/followers: if the processor lets us, do its waiting and I/O ourselves.
    if (mayDrive && drivers_ == 0) {
      poll = false;
      const auto slice = expired ? std::chrono::nanoseconds(0)
                                 : std::min<std::chrono::nanoseconds>(
                                       deadline - now, std::chrono::milliseconds(100));
      const bool drove = driveWithLockReleased(lock, slice);
      // Re-check the queue even if drive() declined: the lock was released, and a node pushed
      // meanwhile saw waiters_ == 0 and notified nobody (processor_->wakeup() is a no-op for a
      // processor that cannot be driven). Sleeping now would lose that wakeup. Not driving
      // again until woken keeps a declining processor from turning this into a spin.
      mayDrive = drove;
      continue;
    }
    ++waiters_;
    if (deadline == std::chrono::steady_clock::time_point::max()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, deadline);
    }
    --waiters_;
    mayDrive = !poolThread;
  }
}

// A run() or runOnce() that starts once shutdown() has told the runners to leave (step 2) runs
// nothing: shutdown() has already waited for the runners it knows of and runs what is left itself,
// so a late runner taking a node would run its handler after shutdown() returned.
bool ProactorCore::lateForShutdown() const noexcept {
  return shuttingDown_;
}

void ProactorCore::run() {
  ProactorCore* const previous = tls.handlerCore;
  tls.handlerCore = this;
  std::unique_lock lock(mutex_);
  if (lateForShutdown()) {
    tls.handlerCore = previous;
    return;
  }
  ++runners_;
  while (DispatchNode* node =
             popShared(lock, std::chrono::steady_clock::time_point::max(), false)) {
    lock.unlock();
    runNode(node);
    lock.lock();
  }
  if (--runners_ == 0) cv_.notify_all();
  tls.handlerCore = previous;
}

std::size_t ProactorCore::runOnce(std::chrono::nanoseconds timeout) {
  ProactorCore* const previous = tls.handlerCore;
  tls.handlerCore = this;
  const auto now = sys::now();
  const auto deadline = timeout >= std::chrono::steady_clock::time_point::max() - now
                            ? std::chrono::steady_clock::time_point::max()
                            : now + timeout;
  std::size_t n = 0;
  std::unique_lock lock(mutex_);
  if (lateForShutdown()) {
    tls.handlerCore = previous;
    return 0;
  }
  ++runners_;
  if (DispatchNode* node = popShared(lock, deadline, false)) {
    // Run the first one, then whatever is already queued, without waiting again.
    do {
      lock.unlock();
      runNode(node);
      ++n;
      lock.lock();
      node = head_ != nullptr ? popShared(lock, {}, false) : nullptr;
    } while (node != nullptr);
  }
  if (--runners_ == 0) cv_.notify_all();
  tls.handlerCore = previous;
  return n;
}

void ProactorCore::poolLoop() {
  tls.handlerCore = this;
  std::unique_lock lock(mutex_);
  while (DispatchNode* node = popShared(lock, std::chrono::steady_clock::time_point::max(), true)) {
    lock.unlock();
    runNode(node);
    lock.lock();
  }
  tls.handlerCore = nullptr;
}

// One iteration of poolLoop() on the calling thread, without waiting. Nested calls (from a
// handler) are other logical pool workers: the strand keeps them off a busy channel as it keeps
// real pool threads off it.
bool ProactorCore::stepPool() {
  ProactorCore* const previous = tls.handlerCore;
  tls.handlerCore = this;
  std::unique_lock lock(mutex_);
  DispatchNode* node =
      head_ != nullptr && !shuttingDown_ ? popShared(lock, {}, /*poolThread=*/true) : nullptr;
  lock.unlock();
  if (node != nullptr) runNode(node);
  tls.handlerCore = previous;
  return node != nullptr;
}

void ProactorCore::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    cv_.notify_all();
  }
  processor_->wakeup();
}

void ProactorCore::restart() {
  std::lock_guard lock(mutex_);
  stopped_ = false;
}

bool ProactorCore::stopped() const noexcept {
  std::lock_guard lock(mutex_);
  return stopped_;
}

void ProactorCore::shutdown() {
  if (tls.handlerCore == this || tls.processorCore == this) {
    throw std::logic_error(
        "nioxx: Proactor::shutdown() called from a handler or processor thread of the same "
        "Proactor; it waits for those threads: call it from another thread (e.g. after run())");
  }
  {
    std::unique_lock lock(mutex_);
    if (shutdownStarted_) {
      cv_.wait(lock, [this] { return isShutDown(); });
      return;
    }
    shutdownStarted_ = true;
  }
  // 0. Close the gate: from now on every initiation throws. Calls already past the gate finish
  //    submitting (they never block), so the processor sees every operation that will exist.
  shutdownBegun_.store(true, std::memory_order_seq_cst);
  while (anyThreadInApiCall(this))
    std::this_thread::yield();
  // 1. The processor aborts everything in flight and joins its threads; the aborted handlers run
  //    on its threads (call_through) or are queued here.
  processor_->shutdown();
  // 2. Pool threads and run() callers drain the queue and leave.
  {
    std::lock_guard lock(mutex_);
    shuttingDown_ = true;
    cv_.notify_all();
  }
  processor_->wakeup();
  for (auto& t : pool_)
    t.join();
  pool_.clear();
  // 3. Whatever is left runs here; what those handlers initiate is refused (ShutdownError).
  tls.handlerCore = this;
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [this] { return runners_ == 0; });
  while (head_ != nullptr) {
    DispatchNode* node = popShared(lock, {}, true);
    lock.unlock();
    runNode(node);
    lock.lock();
  }
  tls.handlerCore = nullptr;
  shutdownDone_.store(true, std::memory_order_release);
  cv_.notify_all();
}

}  // namespace nioxx::detail
