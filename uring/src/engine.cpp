// The SPI calls: each reaches the channel's ring thread, directly when the caller is that thread
// (and nothing posted earlier waits), else through the ring's inbox.
#include "detail/engine.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <future>

#include "nioxx/core/error.h"
#include "nioxx/core/pre_close.h"
#include "nioxx/proactor/placement.h"

namespace nioxx::uring_detail {
namespace {
thread_local const Ring* tRing = nullptr;
}  // namespace

void setCurrentRing(const Ring* r) noexcept {
  tRing = r;
}

bool Engine::onThread(const Ring& r) noexcept {
  return tRing == &r;
}

Engine::Engine(UringProcessor::Options options) : options_(options) {
  if (options_.threads == 0) options_.threads = 1;
  if (options_.entries < 8) options_.entries = 8;
  if (options_.completionFactor == 0) options_.completionFactor = 1;
  for (std::size_t i = 0; i < options_.threads; ++i) {
    rings_.push_back(std::make_unique<Ring>(*this, static_cast<std::uint32_t>(i)));
    // Created here and closed by ~Engine: shutdown() may write to it while a ring finishes.
    // Blocking: io_uring would answer EAGAIN at once for a read of a non-blocking one.
    rings_.back()->eventFd = ::eventfd(0, EFD_CLOEXEC);
  }
}

Engine::~Engine() {
  shutdown();
  for (auto& r : rings_) {
    for (SocketState* s : r->orphans)
      delete s;
    if (r->eventFd >= 0) ::close(r->eventFd);
  }
}

void Engine::start(CompletionSink& sink, const ProcessorConfig&) {
  sink_ = &sink;
  descriptor::ensurePreCloseSocket();
  // Each ring is created on its own thread (SINGLE_ISSUER binds it there); start() waits for
  // every one, so a failure surfaces here rather than at the first operation.
  std::vector<std::promise<std::error_code>> started(rings_.size());
  for (std::size_t i = 0; i < rings_.size(); ++i) {
    Ring* r = rings_[i].get();
    r->thread = std::thread([this, r, p = &started[i]] { threadMain(*r, p); });
  }
  std::error_code failed;
  for (auto& p : started) {
    const std::error_code ec = p.get_future().get();
    if (ec && !failed) failed = ec;
  }
  started_ = true;
  if (failed) {
    shutdown();
    throw std::system_error(failed, "io_uring ring setup");
  }
}

void Engine::attach(AsyncChannel& channel) {
  const std::uint32_t wanted = channel.placement();
  const std::size_t index = wanted == Placement::kAny
                                ? next_.fetch_add(1, std::memory_order_relaxed) % rings_.size()
                                : wanted % rings_.size();
  channel.processorState = new SocketState(*rings_[index], channel);
  channel.setPlacement(static_cast<std::uint32_t>(index));
}

void Engine::detach(AsyncChannel& channel) noexcept {
  auto* s = static_cast<SocketState*>(channel.processorState);
  channel.processorState = nullptr;
  Ring& r = s->ring;
  if (onRing(r, {InboxItem::detach, s, 0}, [&] { destroySocket(*s); }) == Route::refused) {
    // The ring thread has finished: nothing of this socket is in the kernel any more.
    ::close(s->fd);
    std::lock_guard lock(r.mutex);
    r.orphans.push_back(s);
  }
}

void Engine::submit(Operation* op) noexcept {
  if (shuttingDown_.load(std::memory_order_acquire)) return abortNow(op);
  if (op->kind() == OpKind::timer) {
    Ring& r = *rings_[op->id() % rings_.size()];
    if (onRing(r, {InboxItem::submit, op, 0}, [&] { startTimer(r, op); }) == Route::refused)
      abortNow(op);
    return;
  }
  auto* s = static_cast<SocketState*>(op->channel()->processorState);
  if (onRing(s->ring, {InboxItem::submit, op, 0}, [&] { startOp(*s, op); }) == Route::refused)
    abortNow(op);
}

void Engine::cancel(AsyncChannel& channel, bool close) noexcept {
  auto* s = static_cast<SocketState*>(channel.processorState);
  channel.addRef();  // keeps the state alive until the ring has handled the item
  const InboxItem item{close ? InboxItem::close : InboxItem::cancel, &channel, 0};
  const Route route = onRing(s->ring, item, [&] { cancelSocket(*s, close); });
  if (route == Route::posted) return;
  if (route == Route::refused && close && !s->released) {
    s->released = true;
    descriptor::preClose(s->fd);
  }
  channel.release();
}

void Engine::cancelOperation(AsyncChannel& channel, std::uint64_t id) noexcept {
  auto* s = static_cast<SocketState*>(channel.processorState);
  channel.addRef();
  const Route route =
      onRing(s->ring, {InboxItem::cancel_op, &channel, id}, [&] { cancelSocketOp(*s, id); });
  if (route != Route::posted) channel.release();
}

void Engine::cancelTimer(std::uint64_t id) noexcept {
  Ring& r = *rings_[id % rings_.size()];
  onRing(r, {InboxItem::cancel_timer, nullptr, id}, [&] { cancelTimerOnRing(r, id); });
}

bool Engine::execute(detail::DispatchNode* node) noexcept {
  if (shuttingDown_.load(std::memory_order_acquire)) return false;
  Ring& r = *rings_[next_.fetch_add(1, std::memory_order_relaxed) % rings_.size()];
  return post(r, {InboxItem::execute, node, 0});
}

// Behind what the channel's ring thread has already reported (its inbox runs after the reaped
// completions it dispatched), never inside the caller's call.
bool Engine::executeOnChannel(AsyncChannel& channel, detail::DispatchNode* node) noexcept {
  if (channel.kind() == ChannelKind::file || shuttingDown_.load(std::memory_order_acquire)) {
    return false;
  }
  auto* s = static_cast<SocketState*>(channel.processorState);
  return s != nullptr && post(s->ring, {InboxItem::execute, node, 0});
}

void Engine::abortNow(Operation* op) noexcept {
  if (op->error) {
    if (op->isFinal() || op->tryTransition(OpState::pending, OpState::completed))
      sink_->complete(op);
    return;
  }
  if (op->tryAbort(OpState::cancelled)) sink_->complete(op);
}

bool Engine::post(Ring& r, const InboxItem& item) noexcept {
  bool wake;
  {
    std::lock_guard lock(r.mutex);
    if (r.inboxClosed) return false;
    wake = r.inbox.empty();
    r.inbox.push_back(item);
    r.hasInbox.store(true, std::memory_order_release);
  }
  // One wake-up per batch; the ring thread itself looks at its inbox before it waits.
  if (wake && !onThread(r)) {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(r.eventFd, &one, sizeof(one));
  }
  return true;
}

void Engine::shutdown() noexcept {
  if (shuttingDown_.exchange(true, std::memory_order_acq_rel)) return;
  {
    // Lent buffers may come back on any thread long after this engine is gone.
    std::lock_guard lock(groupsMutex_);
    for (auto& g : groups_)
      g->setReturnHook(nullptr);
  }
  for (auto& r : rings_) {
    r->stop.store(true, std::memory_order_release);
    if (r->eventFd >= 0) {
      const std::uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(r->eventFd, &one, sizeof(one));
    }
  }
  for (auto& r : rings_) {
    if (r->thread.joinable()) r->thread.join();
  }
}

}  // namespace nioxx::uring_detail
