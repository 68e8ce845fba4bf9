// AsyncChannel: the shared state behind one AsyncSocket / AsyncServerSocket / AsyncFile handle,
// as seen by the Asynchronous Operation Processor (descriptor, processor-private state) and by the
// Completion Dispatcher (the channel's strand: its completions, in order, one handler at a time).
//
// Lifetime: reference counted. Every handle and every outstanding operation holds a reference.
// close() releases the connection at once, but the descriptor number stays the channel's until
// the last handle *and* the last operation are gone; then the processor is told to detach() it
// and closes the descriptor. Part of the engine SPI: users hold AsyncSocket & co, not this.
//
// Thread rule: fd()/id()/kind() from any thread; processorState belongs to the processor.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

#include "nioxx/core/intrusive_fifo.h"
#include "nioxx/core/serial_queue.h"
#include "nioxx/proactor/spi/operation.h"

namespace nioxx {

namespace detail {
class ProactorCore;
struct WritabilityWatch;  // the user's writability handler (proactor/src/writability.h)
struct WritabilityNode;

// Serial executor for one channel's completions (paper 6.1: handlers written as single-threaded
// code). A completion is added under a short lock; if the strand was idle it is scheduled (as
// one DispatchNode) on a dispatcher queue, and whichever thread runs it drains batches of the
// FIFO, then schedules it again if more wait (fairness between channels).
class Strand : public DispatchNode {
 public:
  // Linked through DispatchNode::next: a completion waits either here or on a dispatcher queue.
  using Fifo = IntrusiveFifo<DispatchNode, &DispatchNode::next>;
  Strand(RunFn fn, void* owner) noexcept : DispatchNode(fn, false), owner(owner) {}
  void* const owner;  // the channel
  // Adds a completion (an operation or a multishot result); true if the strand was idle and
  // must now be scheduled by the caller.
  bool push(DispatchNode* node) noexcept {
    return completions.add([node](Fifo& q) noexcept { q.push(node); }) ==
           SerialQueue<Fifo>::Added::scheduled;
  }
  SerialQueue<Fifo> completions;  // runStrand takes batches out
};
}  // namespace detail

enum class ChannelKind : std::uint8_t { socket, server_socket, file };

class AsyncChannel {
 public:
  AsyncChannel(const AsyncChannel&) = delete;
  AsyncChannel& operator=(const AsyncChannel&) = delete;

  int fd() const noexcept { return fd_; }
  std::uint64_t id() const noexcept { return id_; }
  ChannelKind kind() const noexcept { return kind_; }
  // True once close() was called on any handle of the channel.
  bool isClosed() const noexcept { return closed_.load(std::memory_order_acquire); }

  // Bytes accepted by write/writev/writeAll but not yet completed (backpressure signal).
  std::size_t pendingWriteBytes() const noexcept {
    return pendingWriteBytes_.load(std::memory_order_relaxed);
  }
  std::size_t pendingWrites() const noexcept {
    return pendingWrites_.load(std::memory_order_relaxed);
  }
  // False once pendingWriteBytes() rose above the high water mark, true again once it fell below
  // the low one (each change is one transition; an odd count means unwritable).
  bool isWritable() const noexcept {
    return (writabilityFlips_.load(std::memory_order_acquire) & 1U) == 0;
  }

  // Processor-private state, set in attach() and released in detach().
  void* processorState = nullptr;

  // Placement: what the user asked for (Placement::kAny: the engine chooses) until attach(),
  // where the engine records the thread it chose. acceptedPlacement: for a listening socket, where
  // the connections it accepts go.
  std::uint32_t placement() const noexcept { return placement_.load(std::memory_order_acquire); }
  void setPlacement(std::uint32_t thread) noexcept {
    placement_.store(thread, std::memory_order_release);
  }
  std::uint32_t acceptedPlacement() const noexcept {
    return acceptedPlacement_.load(std::memory_order_acquire);
  }
  void setAcceptedPlacement(std::uint32_t thread) noexcept {
    acceptedPlacement_.store(thread, std::memory_order_release);
  }

  detail::ProactorCore& core() const noexcept { return *core_; }

  void addRef() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept;

 private:
  friend class detail::ProactorCore;
  friend struct detail::WritabilityNode;
  friend class AsyncSocket;
  friend class AsyncServerSocket;
  friend class AsyncFile;
  AsyncChannel(std::shared_ptr<detail::ProactorCore> core, int fd, ChannelKind kind) noexcept;
  ~AsyncChannel();
  // A new channel with one reference. Its strand is allocated right after it, in the same block,
  // only when the dispatcher uses strands (withStrand): call_through on an engine with channel
  // affinity never does, and an idle connection then does not pay for one (issue 12). Throws
  // std::bad_alloc.
  static AsyncChannel* create(std::shared_ptr<detail::ProactorCore> core, int fd, ChannelKind kind,
                              bool withStrand);
  void destroy() noexcept;  // the counterpart of create(), instead of delete
  detail::Strand& strand() noexcept {
    return *std::launder(reinterpret_cast<detail::Strand*>(this + 1));
  }
  static void runStrand(detail::DispatchNode* node) noexcept;

  // The small fields together, without padding between them: a channel is part of what every
  // idle connection costs (issue 12).
  std::atomic<std::uint32_t> refs_{1};
  int fd_;
  std::atomic<std::uint32_t> placement_{UINT32_MAX};
  std::atomic<std::uint32_t> acceptedPlacement_{UINT32_MAX};
  // Writes queued; 32 bits: each holds an operation (256 bytes and more), so memory runs out long
  // before the count could wrap.
  std::atomic<std::uint32_t> pendingWrites_{0};
  ChannelKind kind_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> readPending_{false};
  bool hasStrand_ = false;  // create(withStrand = true): strand() follows the channel
  std::atomic<std::size_t> pendingWriteBytes_{0};
  // Write buffer bounds (ProactorOptions defaults; AsyncSocket::setWriteBuffer*).
  std::atomic<std::size_t> lowWater_;
  std::atomic<std::size_t> highWater_;
  std::atomic<std::size_t> writeLimit_;
  std::atomic<std::uint64_t> writabilityFlips_{0};         // transitions so far; odd: unwritable
  std::atomic<detail::WritabilityWatch*> watch_{nullptr};  // owned; set once
  std::uint64_t id_;
  std::shared_ptr<detail::ProactorCore> core_;
};

// A counted reference to a channel (what handles and results hold).
class ChannelRef {
 public:
  ChannelRef() = default;
  // Adopts a reference the caller already owns.
  static ChannelRef adopt(AsyncChannel* c) noexcept {
    ChannelRef r;
    r.c_ = c;
    return r;
  }
  ChannelRef(const ChannelRef& o) noexcept : c_(o.c_) {
    if (c_ != nullptr) c_->addRef();
  }
  ChannelRef(ChannelRef&& o) noexcept : c_(o.c_) { o.c_ = nullptr; }
  ChannelRef& operator=(ChannelRef o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~ChannelRef() {
    if (c_ != nullptr) c_->release();
  }
  AsyncChannel* get() const noexcept { return c_; }
  AsyncChannel* operator->() const noexcept { return c_; }
  explicit operator bool() const noexcept { return c_ != nullptr; }

 private:
  AsyncChannel* c_ = nullptr;
};

}  // namespace nioxx
