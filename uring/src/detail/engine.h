// The UringProcessor's internals. Engine: the SPI calls, routed to one Ring per engine thread.
// Ring: one io_uring, its thread, inbox, request slots, deadlines, timers and buffer rings; a
// Ring thread owns everything of its sockets. Members are defined by concern: engine.cpp (SPI
// calls, routing), ring_loop.cpp (ring setup, the loop, inbox, shutdown), ring_ops.cpp (a
// socket's queues: issuing and cancelling requests), ring_completions.cpp (their completions),
// ring_timers.cpp (deadlines, timers), buffer_rings.cpp (provided buffers).
#pragma once

#include <liburing.h>

#include <atomic>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "nioxx/core/intrusive_fifo.h"
#include "nioxx/proactor/spi/async_channel.h"
#include "nioxx/proactor/spi/provided_buffers.h"
#include "nioxx/uring/uring_processor.h"

namespace nioxx::uring_detail {

using OpQueue = IntrusiveFifo<Operation, &Operation::next>;

class Engine;
struct Ring;

// One direction of a channel: its operations in order; only the head is ever in the kernel.
struct Direction {
  OpQueue q;
  std::uint64_t inKernel = 0;  // user data of the head's request in flight (0: none)
  // Cancel/close/timeout asked for the head while the kernel has it: its final state once the
  // kernel gives it back (pending: nothing asked).
  OpState abortAs = OpState::pending;
  bool parked = false;  // the head waits for a provided buffer (ENOBUFS)
  // The head's timeout: its place in the ring's deadline heap, plus one (0: none). Kept here so
  // the heap needs no node per deadline (an idle connection's read always has one: issue 12).
  std::uint32_t heapSlot = 0;
};

enum Dir : int { kRead = 0, kWrite = 1 };

struct SocketState {
  SocketState(Ring& r, AsyncChannel& c) noexcept : ring(r), fd(c.fd()), kind(c.kind()) {}
  // The small fields first, without padding between them (104 bytes, not 112: one malloc size
  // class less per connection, issue 12).
  Ring& ring;
  const int fd;
  const ChannelKind kind;
  bool live = false;  // in ring.live (used at least once)
  bool closed = false;
  bool released = false;  // close(): the connection is gone (pre-closed), the number still ours
  int inflight = 0;       // requests of this socket in the kernel
  bool dead = false;      // detached: freed once nothing is in the kernel
  bool buried = false;    // in ring.graveyard
  Direction dirs[2];      // files: every operation in kWrite (one at a time, in order)
  SocketState* prevLive = nullptr;
  SocketState* nextLive = nullptr;
};

// The deadlines of queue heads on one ring: a binary min-heap in one vector (16 bytes per
// deadline, no allocation per arm once it has grown), each entry's place recorded in its
// Direction so disarming is O(log n) without a search.
class DeadlineHeap {
 public:
  bool empty() const noexcept { return heap_.empty(); }
  std::uint64_t earliest() const noexcept { return heap_.front().due; }
  SocketState& earliestSocket() const noexcept { return *socketOf(heap_.front()); }
  int earliestDir() const noexcept { return dirOf(heap_.front()); }
  // Adds the deadline of s.dirs[dir] (not in the heap yet). Throws std::bad_alloc.
  void push(std::uint64_t due, SocketState& s, int dir);
  // Removes the deadline of s.dirs[dir], if it is in the heap.
  void erase(SocketState& s, int dir) noexcept;
  // Moves the earliest entry to `due` (not earlier than it).
  void postponeEarliest(std::uint64_t due) noexcept;

 private:
  struct Entry {
    std::uint64_t due;
    std::uintptr_t socketAndDir;  // SocketState* | dir (states are 8-byte aligned)
  };
  static SocketState* socketOf(const Entry& e) noexcept {
    return reinterpret_cast<SocketState*>(e.socketAndDir & ~std::uintptr_t{1});
  }
  static int dirOf(const Entry& e) noexcept { return static_cast<int>(e.socketAndDir & 1); }
  void place(std::size_t i, const Entry& e) noexcept;  // heap_[i] = e, recording the slot
  void siftUp(std::size_t i) noexcept;
  void siftDown(std::size_t i) noexcept;
  std::vector<Entry> heap_;
};

struct InboxItem {
  enum Kind : std::uint8_t {
    submit,
    cancel,
    cancel_op,
    close,
    detach,
    cancel_timer,
    execute,
    buffers_returned
  };
  Kind kind;
  void* ptr;
  std::uint64_t id;
};

// A request in the kernel. user data = generation << 32 | index, so a completion that arrives
// for a slot since reused (or for a descriptor number since reused) never matches.
struct Slot {
  SocketState* socket = nullptr;
  std::uint32_t gen = 0;
  std::uint8_t dir = 0;
  bool used = false;
  bool poll = false;  // a readiness poll standing in for a request that met EAGAIN
};

// The scatter/gather vector of a readv/writev request, by slot index (Ring::slotVecs), kept for
// the slot's next use. Not in Slot: most requests never need one, and an idle connection's read
// holds a slot (16 bytes, not 24: issue 12).
struct SlotVec {
  iovec iov[64];
  msghdr msg;
};

struct BufRing {
  std::shared_ptr<ProvidedBuffers> group;
  io_uring_buf_ring* br = nullptr;
  std::size_t bytes = 0;
  unsigned mask = 0;
};

struct Ring {
  Ring(Engine& e, std::uint32_t i) noexcept : engine(e), index(i) {}
  Engine& engine;
  const std::uint32_t index;
  io_uring ring{};
  bool ready = false;
  unsigned setupFlags = 0;
  std::thread thread;
  std::atomic<bool> stop{false};
  bool stopping = false;  // ring thread: shutting down, everything is aborted
  int eventFd = -1;
  std::uint64_t eventValue = 0;  // the eventfd read's buffer
  bool wakeArmed = false;

  // Inbox: other threads' work, run by the ring thread in order.
  std::mutex mutex;
  std::vector<InboxItem> inbox;  // guarded by mutex
  bool inboxClosed = false;      // guarded by mutex
  std::atomic<bool> hasInbox{false};
  std::vector<InboxItem> draining;
  bool drainingNow = false;

  SocketState* live = nullptr;
  std::vector<Slot> slots;
  std::vector<std::unique_ptr<SlotVec>> slotVecs;  // grown on a vectored request's demand
  std::vector<std::uint32_t> freeSlots;
  std::size_t inflight = 0;  // slots in use

  // Deadlines of queue heads and Proactor timers (ring thread).
  DeadlineHeap deadlines;
  std::multimap<std::uint64_t, Operation*> timerQ;
  std::unordered_map<std::uint64_t, std::multimap<std::uint64_t, Operation*>::iterator> timers;

  std::unordered_map<ProvidedBuffers*, BufRing> bufRings;
  std::vector<SocketState*> graveyard;  // detached states, freed between loop turns
  std::vector<SocketState*> parked;     // sockets whose read waits for a provided buffer
  // Sockets detached after the ring thread finished, freed by ~Engine (guarded by mutex).
  std::vector<SocketState*> orphans;
};

class Engine {
 public:
  explicit Engine(UringProcessor::Options options);
  ~Engine();

  // engine.cpp: the SPI calls.
  void start(CompletionSink& sink, const ProcessorConfig& config);
  void attach(AsyncChannel& channel);
  void detach(AsyncChannel& channel) noexcept;
  void addBufferGroup(const std::shared_ptr<ProvidedBuffers>& group);
  void submit(Operation* op) noexcept;
  void cancel(AsyncChannel& channel, bool close) noexcept;
  void cancelOperation(AsyncChannel& channel, std::uint64_t id) noexcept;
  void cancelTimer(std::uint64_t id) noexcept;
  void shutdown() noexcept;
  bool execute(detail::DispatchNode* node) noexcept;
  bool executeOnChannel(AsyncChannel& channel, detail::DispatchNode* node) noexcept;
  std::size_t threads() const noexcept { return rings_.size(); }
  const UringProcessor::Options& options() const noexcept { return options_; }

 private:
  enum class Route : std::uint8_t { ran, posted, refused };
  template <class Fn>
  Route onRing(Ring& r, const InboxItem& item, Fn&& fn) noexcept;
  static bool onThread(const Ring& r) noexcept;
  bool post(Ring& r, const InboxItem& item) noexcept;
  void abortNow(Operation* op) noexcept;

  // ring_loop.cpp
  void threadMain(Ring& r, std::promise<std::error_code>* started) noexcept;
  std::error_code setup(Ring& r) noexcept;
  void turn(Ring& r) noexcept;
  void reap(Ring& r) noexcept;
  // Starts fetching what onCqe() will touch for this entry: its socket state, or (operation) the
  // operation at the head of that socket's queue.
  static void prefetchFor(Ring& r, std::uint64_t userData, bool operation) noexcept;
  // The slot a completion's user data names, if that request is still the slot's (in use, same
  // generation); null for a stale entry, whose socket may be gone.
  static Slot* liveSlot(Ring& r, std::uint64_t userData) noexcept {
    const auto index = static_cast<std::uint32_t>(userData);
    if (index >= r.slots.size()) return nullptr;
    Slot& slot = r.slots[index];
    return slot.used && slot.gen == static_cast<std::uint32_t>(userData >> 32) ? &slot : nullptr;
  }
  void drainInbox(Ring& r) noexcept;
  void handle(Ring& r, const InboxItem& item) noexcept;
  void armWake(Ring& r) noexcept;
  void finish(Ring& r) noexcept;  // shutdown, on the ring thread
  void teardown(Ring& r) noexcept;
  static void freeGraveyard(Ring& r) noexcept;

  // ring_ops.cpp
  io_uring_sqe* sqe(Ring& r) noexcept;
  std::uint64_t allocSlot(Ring& r, SocketState& s, int dir) noexcept;
  void startOp(SocketState& s, Operation* op) noexcept;
  void startHead(SocketState& s, int dir) noexcept;
  bool issue(SocketState& s, int dir, Operation* op) noexcept;  // false: completed at once
  void issuePoll(SocketState& s, int dir, Operation* op) noexcept;
  void requestAbort(SocketState& s, int dir, OpState as) noexcept;
  void cancelSocket(SocketState& s, bool close) noexcept;
  void cancelSocketOp(SocketState& s, std::uint64_t id) noexcept;
  void destroySocket(SocketState& s) noexcept;
  void maybeFree(SocketState& s) noexcept;  // after a request left the kernel

  // ring_completions.cpp
  void onCqe(Ring& r, std::uint64_t userData, int res, unsigned flags) noexcept;
  void onResult(SocketState& s, int dir, int res, unsigned flags) noexcept;
  void popAndFinish(SocketState& s, int dir) noexcept;
  void finishOp(Operation* op) noexcept;

  // ring_timers.cpp
  static std::uint64_t nowNs() noexcept;
  void armDeadline(SocketState& s, int dir, Operation* op) noexcept;
  void restartDeadline(SocketState& s, int dir, Operation* op) noexcept;  // multishot heads
  void disarmDeadline(SocketState& s, int dir) noexcept;
  void fireDue(Ring& r) noexcept;
  std::int64_t nextDueNs(Ring& r) noexcept;  // -1: none
  void startTimer(Ring& r, Operation* op) noexcept;
  void cancelTimerOnRing(Ring& r, std::uint64_t id) noexcept;

  // buffer_rings.cpp
  BufRing* bufRing(Ring& r, ProvidedBuffers* group) noexcept;  // registers it on first use
  std::size_t reclaim(Ring& r, BufRing& b) noexcept;
  void reclaimAll(Ring& r) noexcept;
  void park(SocketState& s) noexcept;
  void unparkAll(Ring& r) noexcept;
  void unlistParked(SocketState& s) noexcept;

  UringProcessor::Options options_;
  CompletionSink* sink_ = nullptr;
  std::vector<std::unique_ptr<Ring>> rings_;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> shuttingDown_{false};
  bool started_ = false;
  std::mutex groupsMutex_;
  std::vector<std::shared_ptr<ProvidedBuffers>> groups_;
};

template <class Fn>
Engine::Route Engine::onRing(Ring& r, const InboxItem& item, Fn&& fn) noexcept {
  // On the ring thread, work posted earlier goes first: a write a handler starts must not
  // overtake one another thread started before it.
  if (onThread(r) && !r.drainingNow && !r.hasInbox.load(std::memory_order_acquire) && !r.stopping) {
    fn();
    return Route::ran;
  }
  return post(r, item) ? Route::posted : Route::refused;
}

}  // namespace nioxx::uring_detail
