// The write buffer's bounds and writability transitions (ProactorCore members and the node that
// reports a transition). Engine-independent: every engine gets them through the dispatcher.
#include "detail/writability.h"

#include <algorithm>
#include <memory>
#include <new>
#include <stdexcept>

#include "detail/proactor_core.h"
#include "nioxx/proactor/async_socket.h"
#include "nioxx/proactor/shutdown_error.h"

namespace nioxx::detail {

WritabilityNode::WritabilityNode(AsyncChannel& c, std::uint64_t f) noexcept
    : DispatchNode(&WritabilityNode::run, false), flip(f) {
  c.addRef();
  channel = ChannelRef::adopt(&c);
}

void WritabilityNode::run(DispatchNode* node) noexcept {
  std::unique_ptr<WritabilityNode> self(static_cast<WritabilityNode*>(node));
  WritabilityWatch* watch = self->channel->watch_.load(std::memory_order_acquire);
  if (watch == nullptr) return;
  AsyncSocket socket(self->channel);
  while (watch->delivered < self->flip) {
    const std::uint64_t k = ++watch->delivered;
    try {
      watch->handler(socket, (k & 1U) == 0);
    } catch (const ShutdownError&) {
      // The handler initiated during shutdown and was refused: it ends here.
    }
  }
}

// Adds bytes of a new write unless that would take the buffer beyond its limit (a write alone in
// the queue is always accepted: its bytes exist anyway, and refusing would make it unsendable).
bool ProactorCore::reserveWriteBytes(AsyncChannel& ch, std::size_t bytes) noexcept {
  const std::size_t limit = ch.writeLimit_.load(std::memory_order_relaxed);
  std::size_t queued = ch.pendingWriteBytes_.load();
  do {
    if (queued > 0 && bytes > limit - std::min(queued, limit)) return false;
  } while (!ch.pendingWriteBytes_.compare_exchange_weak(queued, queued + bytes));
  return true;
}

// Called after every change of pendingWriteBytes_ or of the water marks. The byte counter and the
// transition counter are seq_cst: a thread that moves the bytes then reads the transitions, and a
// thread that makes a transition then reads the bytes again, cannot both miss each other, so no
// crossing is lost (a stale view at worst adds a transition and its reversal). Returns the last
// transition this call made, 0 if none.
std::uint64_t ProactorCore::updateWritability(AsyncChannel& ch) noexcept {
  std::uint64_t made = 0;
  for (;;) {
    std::uint64_t flips = ch.writabilityFlips_.load();
    const std::size_t bytes = ch.pendingWriteBytes_.load();
    const bool writable = (flips & 1U) == 0;
    const bool cross = writable ? bytes > ch.highWater_.load() : bytes <= ch.lowWater_.load();
    if (!cross) return made;
    if (ch.writabilityFlips_.compare_exchange_weak(flips, flips + 1)) made = flips + 1;
  }
}

WritabilityNode* ProactorCore::writabilityNode(AsyncChannel& ch, std::uint64_t flip) noexcept {
  if (flip == 0 || ch.watch_.load(std::memory_order_acquire) == nullptr) return nullptr;
  return new (std::nothrow) WritabilityNode(ch, flip);  // null: the next transition reports it
}

// A transition made by an API call (a write that crossed the high water mark, new water marks):
// not on the channel's completion path, so it is queued there.
void ProactorCore::notifyOffPath(AsyncChannel& ch, std::uint64_t flip) noexcept {
  WritabilityNode* node = writabilityNode(ch, flip);
  if (node == nullptr) return;
  if (!inlineAffinity_) {
    if (ch.strand().push(node)) requeue(&ch.strand());  // never inline: this is an API call
    return;
  }
  // The channel's one thread reports its completions: only the engine can get there in order.
  if (!processor_->executeOnChannel(ch, node)) delete node;
}

void ProactorCore::watchWritability(AsyncChannel& ch,
                                    std::function<void(AsyncSocket&, bool)> handler) {
  auto watch = std::make_unique<WritabilityWatch>(
      WritabilityWatch{std::move(handler), ch.writabilityFlips_.load()});
  WritabilityWatch* expected = nullptr;
  if (!ch.watch_.compare_exchange_strong(expected, watch.get())) {
    throw std::logic_error("nioxx: AsyncSocket::onWritabilityChanged called twice");
  }
  watch.release();
}

}  // namespace nioxx::detail
