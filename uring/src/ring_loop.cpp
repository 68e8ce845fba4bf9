// A ring's thread: the ring is created here (SINGLE_ISSUER binds it to this thread), then each
// loop turn drains the inbox, reclaims returned buffers, fires deadlines, runs deferred
// completions and enters the kernel once (submit + wait up to the next deadline), then reaps the
// completion queue in bulk. At shutdown the thread cancels everything it has in the kernel and
// waits for every request to come back before the ring goes away (the kernel may still write
// into the operations' buffers until then).
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <future>

#include "detail/engine.h"
#include "nioxx/core/log.h"
#include "nioxx/core/loop_time.h"

namespace nioxx::uring_detail {

void setCurrentRing(const Ring* r) noexcept;

namespace {
constexpr std::uint64_t kWakeData = ~std::uint64_t{0};
constexpr unsigned kReapBatch = 256;
}  // namespace

std::error_code Engine::setup(Ring& r) noexcept {
  // The best arrangement first (completions run only when this thread enters the kernel, no
  // inter-processor interrupts), stepping down on kernels that refuse a flag.
  const unsigned base = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
  const unsigned tries[] = {
      base | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
      base | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
      IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP,
      0,
  };
  int rc = -EINVAL;
  for (unsigned flags : tries) {
    io_uring_params p{};
    p.flags = flags;
    p.cq_entries = options_.entries * options_.completionFactor;
    rc = io_uring_queue_init_params(options_.entries, &r.ring, &p);
    if (rc == 0) {
      r.setupFlags = flags;
      break;
    }
    if (rc != -EINVAL) break;
  }
  if (rc != 0) return {-rc, std::system_category()};
  r.ready = true;
  (void)io_uring_register_ring_fd(&r.ring);  // an optimisation only; older kernels refuse it
  if (r.eventFd < 0) return {EMFILE, std::system_category()};
  return {};
}

void Engine::threadMain(Ring& r, std::promise<std::error_code>* started) noexcept {
  const std::error_code ec = setup(r);
  started->set_value(ec);  // `started` is gone after this
  if (ec) {
    std::lock_guard lock(r.mutex);
    r.inboxClosed = true;
    return;
  }
  setCurrentRing(&r);
  sink_->enterProcessorThread();
  armWake(r);
  while (!r.stop.load(std::memory_order_acquire))
    turn(r);
  finish(r);
  sink_->leaveProcessorThread();
  setCurrentRing(nullptr);
  teardown(r);
}

// An eventfd read kept armed on the ring: other threads write the eventfd after posting to the
// inbox, so the ring thread wakes from its one wait (never an epoll on the ring descriptor).
void Engine::armWake(Ring& r) noexcept {
  io_uring_sqe* e = sqe(r);
  if (e == nullptr) return;
  io_uring_prep_read(e, r.eventFd, &r.eventValue, sizeof(r.eventValue), 0);
  io_uring_sqe_set_data64(e, kWakeData);
  r.wakeArmed = true;
}

void Engine::freeGraveyard(Ring& r) noexcept {
  for (SocketState* s : r.graveyard)
    delete s;
  r.graveyard.clear();
}

void Engine::turn(Ring& r) noexcept {
  if (!r.graveyard.empty()) freeGraveyard(r);
  drainInbox(r);
  if (!r.bufRings.empty()) reclaimAll(r);
  fireDue(r);
  sink_->runDeferred();
  io_uring_cqe* cqe = nullptr;
  __kernel_timespec ts{};
  __kernel_timespec* wait = nullptr;
  if (sink_->hasDeferred() || r.hasInbox.load(std::memory_order_acquire) ||
      r.stop.load(std::memory_order_acquire)) {
    wait = &ts;  // poll: work is waiting in user space
  } else if (const std::int64_t due = nextDueNs(r); due >= 0) {
    ts.tv_sec = due / 1'000'000'000;
    ts.tv_nsec = due % 1'000'000'000;
    wait = &ts;
  }
  (void)io_uring_submit_and_wait_timeout(&r.ring, &cqe, 1, wait, nullptr);
  // One clock read for the handlers of this batch (sys::LoopTime), not one per handler.
  sys::LoopTime::Scope loopTime;
  loopTime.set(sys::now());
  reap(r);
}

void Engine::reap(Ring& r) noexcept {
  struct Done {
    std::uint64_t data;
    int res;
    unsigned flags;
  };
  Done done[kReapBatch];
  for (;;) {
    io_uring_cqe* cqes[kReapBatch];
    const unsigned n = io_uring_peek_batch_cqe(&r.ring, cqes, kReapBatch);
    if (n == 0) return;
    // Copied out first: handlers run inside onCqe (call_through) and may submit.
    for (unsigned i = 0; i < n; ++i)
      done[i] = {cqes[i]->user_data, cqes[i]->res, cqes[i]->flags};
    io_uring_cq_advance(&r.ring, n);
    // With many connections an entry's socket state and operation are usually out of the cache:
    // fetch them ahead, while the entries before run their handlers (the state two ahead, then,
    // once it has arrived, the operation at the head of its queue one ahead).
    for (unsigned i = 0; i < n && i < 2; ++i)
      prefetchFor(r, done[i].data, false);
    for (unsigned i = 0; i < n; ++i) {
      if (i + 2 < n) prefetchFor(r, done[i + 2].data, false);
      if (i + 1 < n) prefetchFor(r, done[i + 1].data, true);
      if (done[i].data == kWakeData) {
        r.wakeArmed = false;
        if (!r.stopping) armWake(r);
        continue;
      }
      if (done[i].data != 0) onCqe(r, done[i].data, done[i].res, done[i].flags);
    }
    // Completions deferred by this batch (call_through: what its handlers initiated) run now.
    if (sink_->hasDeferred()) sink_->runDeferred();
    if (n < kReapBatch) return;
  }
}

void Engine::prefetchFor(Ring& r, std::uint64_t userData, bool operation) noexcept {
  const Slot* slot = liveSlot(r, userData);  // the wake entry's index is past every slot
  if (slot == nullptr) return;
  if (!operation) return __builtin_prefetch(slot->socket);
  if (const Operation* op = slot->socket->dirs[slot->dir].q.front()) {
    __builtin_prefetch(op);
    __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(op) + 64));
  }
}

void Engine::drainInbox(Ring& r) noexcept {
  if (!r.hasInbox.load(std::memory_order_acquire)) return;
  {
    std::lock_guard lock(r.mutex);
    r.draining.swap(r.inbox);
    r.hasInbox.store(false, std::memory_order_release);
  }
  r.drainingNow = true;  // API calls of handlers run meanwhile queue behind the batch
  for (std::size_t i = 0; i < r.draining.size(); ++i)
    handle(r, r.draining[i]);
  r.draining.clear();
  r.drainingNow = false;
}

void Engine::handle(Ring& r, const InboxItem& item) noexcept {
  switch (item.kind) {
    case InboxItem::submit: {
      auto* op = static_cast<Operation*>(item.ptr);
      if (op->kind() == OpKind::timer) {
        if (r.stopping) {
          abortNow(op);
        } else {
          startTimer(r, op);
        }
      } else {
        startOp(*static_cast<SocketState*>(op->channel()->processorState), op);
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
    case InboxItem::cancel_op: {
      auto* channel = static_cast<AsyncChannel*>(item.ptr);
      cancelSocketOp(*static_cast<SocketState*>(channel->processorState), item.id);
      channel->release();
      break;
    }
    case InboxItem::detach:
      destroySocket(*static_cast<SocketState*>(item.ptr));
      break;
    case InboxItem::cancel_timer:
      cancelTimerOnRing(r, item.id);
      break;
    case InboxItem::execute:
      sink_->dispatch(static_cast<detail::DispatchNode*>(item.ptr));
      break;
    case InboxItem::buffers_returned:
      if (!r.bufRings.empty()) reclaimAll(r);
      break;
  }
}

// Shutdown on the ring thread: abort what each socket holds (requests in the kernel are
// cancelled; their operations complete when the kernel gives them back), then what the inbox
// holds, then wait until nothing is in the kernel.
void Engine::finish(Ring& r) noexcept {
  r.stopping = true;
  drainInbox(r);  // submits now queue behind what the sockets hold, already aborted
  std::vector<SocketState*> live;
  for (SocketState* s = r.live; s != nullptr; s = s->nextLive)
    live.push_back(s);
  for (SocketState* s : live)
    cancelSocket(*s, false);
  auto timers = std::move(r.timerQ);
  r.timers.clear();
  for (auto& [due, op] : timers) {
    if (op->tryAbort(OpState::cancelled)) sink_->complete(op);
  }
  if (r.wakeArmed) {
    io_uring_sqe* e = sqe(r);
    if (e != nullptr) {
      io_uring_prep_cancel64(e, kWakeData, 0);
      io_uring_sqe_set_data64(e, 0);
    }
  }
  // Bounded: a request the kernel cannot cancel (none is known for sockets) must not hang
  // shutdown for ever.
  for (int i = 0; i < 10'000 && (r.inflight > 0 || r.wakeArmed); ++i) {
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec ts{0, 1'000'000};
    (void)io_uring_submit_and_wait_timeout(&r.ring, &cqe, 1, &ts, nullptr);
    reap(r);
    drainInbox(r);
    sink_->runDeferred();
  }
  if (r.inflight > 0) log::get("uring")->error("shutdown: {} requests never came back", r.inflight);
  // Later posts are refused: their callers handle them (nothing is left to order against).
  for (;;) {
    {
      std::lock_guard lock(r.mutex);
      if (r.inbox.empty()) {
        r.inboxClosed = true;
        break;
      }
    }
    drainInbox(r);
  }
  while (sink_->runDeferred() != 0) {
  }
}

void Engine::teardown(Ring& r) noexcept {
  freeGraveyard(r);
  // Sockets still attached (their handles outlive the engine) are freed by ~Engine via orphans
  // when detached; free what was detached already.
  for (auto& [group, b] : r.bufRings) {
    (void)io_uring_unregister_buf_ring(&r.ring, b.group->groupId());
    ::munmap(b.br, b.bytes);
  }
  r.bufRings.clear();
  if (r.ready) io_uring_queue_exit(&r.ring);
  r.ready = false;
}

}  // namespace nioxx::uring_detail
