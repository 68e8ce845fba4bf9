// The EmulatedProcessor's internals: per-reactor loops with an inbox, per-socket operation
// queues, per-file FIFOs. See emulated_processor.h for the arrangement and docs/parts/proactor.md
// for the life of one read. ProcessorImpl's members are defined by concern: processor_loop.cpp
// (loops, inboxes, start and shutdown), processor_impl.cpp (the SPI calls and a socket's
// operations), processor_driven.cpp (leader/followers turns), processor_worker_pool.cpp,
// processor_timers.cpp, processor_files.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "nioxx/bridge/emulated_processor.h"
#include "nioxx/core/intrusive_fifo.h"
#include "nioxx/core/serial_queue.h"
#include "nioxx/core/thread_pool.h"
#include "nioxx/proactor/spi/async_channel.h"
#include "nioxx/proactor/spi/provided_buffers.h"
#include "nioxx/reactor/reactor.h"
#include "nioxx/reactor/selectable_channel.h"

namespace nioxx::bridge_detail {

// A registrable view of the channel's descriptor; owns (and finally closes) it.
class FdChannel final : public SelectableChannel {
 public:
  explicit FdChannel(int fd) noexcept : SelectableChannel(fd) {}
  int validOps() const noexcept override { return SelectionKey::OP_READ | SelectionKey::OP_WRITE; }
};

// A socket's or file's queue of operations, linked through Operation::next (no allocation).
using OpQueue = IntrusiveFifo<Operation, &Operation::next>;

class ProcessorImpl;
struct Loop;

struct SocketState final : EventHandler {
  SocketState(ProcessorImpl& p, Loop& l, int fd) noexcept : proc(p), loop(l), fdch(fd) {}
  void handleEvent(SelectionKey& key) override;

  ProcessorImpl& proc;
  Loop& loop;
  FdChannel fdch;
  SelectionKey* key = nullptr;
  OpQueue readQ;   // read, readv, accept
  OpQueue writeQ;  // connect, write, writev (FIFO: the write queue)
  int interest = 0;
  TimerId timer;              // the socket's one lazy timeout timer (loop thread)
  std::uint64_t timerAt = 0;  // when it fires (steady clock, ns)
  bool closed = false;        // close() processed: queues aborted, descriptor shut down
  bool dead = false;          // detached: waiting in the graveyard
  bool buried = false;        // in the graveyard (loop thread)
  bool busy = false;          // worker_pool mode: a worker is performing I/O
  // The last read was short (the socket was drained): the next read waits for readiness instead
  // of trying at once, which would almost always cost an EAGAIN system call (loop thread).
  bool readDrained = false;
  // onReady() is performing this socket's queues: what its handlers initiate (call_through) need
  // not update the interest set one operation at a time; onReady() does it once at the end.
  bool inReady = false;
  // The read at the head found no free buffer of this group: no read interest until a buffer
  // comes back (the loop's `starved` list). starvedEpoch: the loop's bufferReturns before the
  // failed take (worker_pool: a return in between means try again at once).
  ProvidedBuffers* starvedOn = nullptr;
  std::uint64_t starvedEpoch = 0;
  bool listedStarved = false;  // in loop.starved (loop thread)
  std::mutex mutex;            // worker_pool mode only: queues shared with the workers
  SocketState* prevLive = nullptr;
  SocketState* nextLive = nullptr;
};

// A file's operations run one at a time, in order, on the file pool (files are always "ready").
struct FileState {
  explicit FileState(AsyncChannel& c) noexcept : channel(&c) {}
  AsyncChannel* channel;
  SerialQueue<OpQueue> ops;  // runFile takes them one by one, so a queued one can be cancelled
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
    rearm,
    buffers_returned
  };
  Kind kind;
  void* ptr;
  std::uint64_t id;
};

struct Loop {
  Reactor reactor;
  std::thread thread;  // own-threads mode only
  std::atomic<bool> stop{false};
  // Driven mode: held by the thread whose turn it is to be the loop thread (a driver inside
  // drive(), or an initiator that found the loop free). Every use of loop state happens under it.
  std::mutex owner;
  // Work from other threads, run by the loop thread in order. hasPending() is the cheap "drain
  // first" check of a new driven turn; closed by abortLoop, after which posters do it themselves.
  SerialQueue<std::vector<InboxItem>, true> inbox;
  std::vector<InboxItem> draining;      // loop thread: the batch being run
  bool drainingNow = false;             // loop thread: a batch is being run
  std::vector<SocketState*> graveyard;  // loop thread: detached states, freed between iterations
  // Detached after the loop closed: the loop thread may still be aborting their queues at
  // shutdown, so they are freed only by ~ProcessorImpl, after every thread has joined.
  std::vector<SocketState*> orphans;  // guarded by the inbox's lock (inbox.withLock)
  SocketState* live = nullptr;        // loop thread: registered states (for shutdown)
  struct Timer {
    Operation* op;
    TimerId reactorTimer;
  };
  std::unordered_map<std::uint64_t, Timer> timers;  // loop thread: Proactor timers by op id
  std::vector<SocketState*> starved;  // loop thread: sockets whose read waits for a buffer
  std::atomic<std::uint64_t> bufferReturns{0};  // return hook calls for this loop's slabs
};

class ProcessorImpl {
 public:
  explicit ProcessorImpl(EmulatedProcessor::Options options);
  ~ProcessorImpl();

  void start(CompletionSink& sink, const ProcessorConfig& config);
  void attach(AsyncChannel& channel);
  void detach(AsyncChannel& channel) noexcept;
  void addBufferGroup(const std::shared_ptr<ProvidedBuffers>& group);
  void submit(Operation* op) noexcept;
  void cancel(AsyncChannel& channel, bool close) noexcept;
  void cancelOperation(AsyncChannel& channel, std::uint64_t id) noexcept;
  void cancelTimer(std::uint64_t timerId) noexcept;
  void shutdown() noexcept;
  bool execute(detail::DispatchNode* node) noexcept;
  bool executeOnChannel(AsyncChannel& channel, detail::DispatchNode* node) noexcept;
  bool drive(std::chrono::nanoseconds timeout) noexcept;
  void wakeup() noexcept;
  bool step(std::size_t index, std::chrono::nanoseconds timeout) noexcept;
  bool channelAffinity() const noexcept { return options_.ioMode == IoMode::inline_io; }
  std::size_t threads() const noexcept { return loops_.size(); }
  const EmulatedProcessor::Options& options() const noexcept { return options_; }

  void onReady(SocketState& s, int readyOps) noexcept;

 private:
  // processor_loop.cpp: the loops and their inboxes.
  enum class Route : std::uint8_t { ran, posted, refused };
  // The one way to reach a loop: run fn now if the caller is its loop thread or can take a turn
  // (driven mode), else post item to its inbox; refused once the loop has finished (shutdown).
  template <class Fn>
  Route onLoop(Loop& l, const InboxItem& item, Fn&& fn) noexcept;
  bool post(Loop& l, InboxItem item) noexcept;
  void drainInbox(Loop& l) noexcept;
  void handle(Loop& l, const InboxItem& item) noexcept;
  void loopMain(Loop& l) noexcept;
  void abortLoop(Loop& l) noexcept;
  void freeGraveyard(Loop& l) noexcept;

  // processor_driven.cpp. Driven mode: makes the caller the loop thread if nobody is
  // (try-lock), after draining what was posted before, so per-channel order holds. False: post
  // instead.
  bool tryBeginTurn(Loop& l) noexcept;
  void endTurn(Loop& l) noexcept;

  // processor_impl.cpp: a socket's operations, on its loop thread.
  void startSocketOp(SocketState& s, Operation* op) noexcept;
  void refuseInOrder(SocketState& s, Operation* op) noexcept;
  void performQueue(SocketState& s, bool reads) noexcept;
  static bool isMoreResult(const Operation& op) noexcept;
  void armHeads(SocketState& s) noexcept;
  // Results one multishot operation delivers per turn before the loop serves other sockets.
  static constexpr std::size_t kMultishotResultsPerTurn = 16;
  void updateInterest(SocketState& s) noexcept;
  // Provided buffers (processor_buffers.cpp): parks a socket whose read found none free, and
  // wakes the loop's parked sockets when one comes back.
  void park(SocketState& s) noexcept;
  void unpark(SocketState& s) noexcept;
  void onBuffersReturned(Loop& l) noexcept;
  void finish(Operation* op) noexcept;  // resolve (the socket timer is lazy) and complete
  void abortQueue(OpQueue& q) noexcept;
  void cancelSocket(SocketState& s, bool close) noexcept;
  void cancelSocketOp(SocketState& s, std::uint64_t id) noexcept;
  // Pops and completes the operations at the head of each queue that need no I/O: rejections,
  // and operations already resolved in place (cancelled or timed out while a worker had the
  // socket, or cancelled by id behind others), so completions keep their queue order.
  void completeLeadingDone(SocketState& s) noexcept;
  void destroySocket(SocketState& s) noexcept;
  void bury(SocketState& s) noexcept;
  static std::uint64_t nowNs() noexcept;
  void armDeadline(SocketState& s, Operation* op) noexcept;  // op->scratchTag = deadline (ns)
  void onSocketTimer(SocketState& s) noexcept;
  void abortNow(Operation* op, Error error = Error::operation_aborted) noexcept;
  // Locks the socket's queues only in worker_pool mode, where workers share them.
  std::unique_lock<std::mutex> lockQueues(SocketState& s) const noexcept {
    return options_.ioMode == IoMode::worker_pool ? std::unique_lock<std::mutex>(s.mutex)
                                                  : std::unique_lock<std::mutex>();
  }

  // processor_worker_pool.cpp: IoMode::worker_pool.
  void handToWorker(SocketState& s) noexcept;
  void workerPerform(SocketState& s) noexcept;
  void rearm(SocketState& s) noexcept;

  // processor_timers.cpp: Proactor timers.
  void startTimer(Loop& l, Operation* op) noexcept;
  void cancelTimerOnLoop(Loop& l, std::uint64_t id) noexcept;

  // processor_files.cpp: AsyncFile operations.
  void submitFile(Operation* op) noexcept;
  void runFile(FileState& fs) noexcept;
  void cancelFileOp(FileState& fs, std::uint64_t id) noexcept;

  EmulatedProcessor::Options options_;
  CompletionSink* sink_ = nullptr;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<std::size_t> nextLoop_{0};
  std::atomic<bool> shuttingDown_{false};
  bool started_ = false;
  bool driven_ = false;         // leader/followers: run() threads drive loops_[0]; no loop threads
  bool stepped_ = false;        // no loop threads: the owner steps the loops (simulation)
  std::once_flag fileStarted_;  // the file pool starts with the first AsyncFile operation
  std::unique_ptr<ThreadPool> ioPool_;
  std::unique_ptr<ThreadPool> filePool_;
  std::mutex groupsMutex_;
  std::vector<std::shared_ptr<ProvidedBuffers>> groups_;  // their return hooks point here
};

template <class Fn>
ProcessorImpl::Route ProcessorImpl::onLoop(Loop& l, const InboxItem& item, Fn&& fn) noexcept {
  if (l.reactor.isInLoopThread()) {
    // Work other threads posted earlier (or the rest of the batch being drained) goes first:
    // a write a handler starts must not overtake one another thread started before it.
    if (!l.drainingNow && !l.inbox.hasPending()) {
      fn();
      return Route::ran;
    }
    return post(l, item) ? Route::posted : Route::refused;
  }
  if (tryBeginTurn(l)) {
    fn();
    endTurn(l);
    return Route::ran;
  }
  return post(l, item) ? Route::posted : Route::refused;
}

}  // namespace nioxx::bridge_detail
