// The Asynchronous Operation Processor (Proactor paper, 6.2), as an engine author implements it:
// it performs operations and reports their completion to the Completion Dispatcher (the Proactor,
// through CompletionSink). Users never include this header; engine authors do (spi/).
//
// proactor/ only defines the interface. bridge/EmulatedProcessor implements it over the Reactor
// (readiness + non-blocking I/O performed by the framework); a native engine (io_uring, where the
// kernel performs the I/O) implements the same calls, so user code does not change.
//
// The contract (docs/ARCHITECTURE.md, "Engine interface"; tests/conformance checks it):
// - submit(op): any thread, never blocks. The op ends in exactly one final state
//   (Operation::tryTransition / tryAbort), its result filled, and is then handed to
//   sink.complete(op) exactly once. The engine may complete it on the submitting thread: the
//   sink, not the engine, guarantees that no handler runs inside the initiating call.
// - An op submitted with `error` already set is a rejection (read_pending, queue_full, closed):
//   never perform it; complete it with that error on the channel's own path. A rejected write
//   completes after the writes queued before it; a rejected read does not wait.
// - Operations of one channel and one direction complete in submission order.
// - Cancellation (cancel, cancelOperation, close, cancelTimer, timeouts) is a request. The op
//   reaches its final state only when the engine says so; that report may still carry the
//   bytes transferred or the data that arrived first, and the buffers stay the op's until then
//   (a kernel may still be writing into them). An op already final is left alone.
// - A read with op->group (a provided-buffer group, added with addBufferGroup() before any op
//   uses it) takes a buffer of the slab of its channel's placement only when data arrives and
//   reports it with group->lend(thread, id, bytes). When the slab has none free, the read waits
//   (the bytes stay in the socket; its timeout, cancel and close work as for any waiting read)
//   and goes on once the group's return hook says a buffer came back: never an error, never
//   lost data, never a retry on a timer.
// - Report phases with sink.notify(op, OpPhase::waiting / performing) (cheap when no observer).
// - Engines with channelAffinity() implement executeOnChannel(): the dispatcher uses it for the
//   one event that starts off a channel's completion path, a write buffer that turned unwritable
//   at initiation (AsyncSocket::onWritabilityChanged). Without it that notification is reported
//   late, together with the channel's next writability transition.
// - shutdown(): no submit() call is in progress or will come (the Proactor's gate). Abort
//   everything in flight (complete it through the sink), join the engine's threads. After it
//   returns, cancel()/close() may still be called (no op is left to abort) and detach() still
//   releases descriptors.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include <memory>

#include "nioxx/proactor/dispatch_strategy.h"
#include "nioxx/proactor/spi/operation.h"
#include "nioxx/proactor/spi/provided_buffers.h"

namespace nioxx {

// What the Proactor tells its processor once, before any other call.
struct ProcessorConfig {
  DispatchStrategy strategy = DispatchStrategy::call_through;
};

// The Completion Dispatcher as seen by a processor (implemented by the Proactor).
class CompletionSink {
 public:
  // Hands over an operation that reached its final state. Any thread, never blocks for long.
  virtual void complete(Operation* op) noexcept = 0;
  // A multishot operation (op->multishot) produced one result and goes on: the engine filled the
  // result fields (transferred, error, buffer, acceptedFd) and the sink moves them out (they are
  // reset) into a result dispatched in order with the operation's other completions. The
  // operation must not be final; its final complete() comes later, from the engine, as usual.
  // Never runs a handler on the calling thread (the engine may hold its queue's lock).
  virtual void completeMore(Operation* op) noexcept = 0;
  // Processor threads that perform I/O bracket their life with enterProcessorThread() /
  // leaveProcessorThread(): completions that must not run inline (inside an initiating call, or
  // beyond the call-through depth) are then kept in a thread-private queue, which the thread
  // empties by calling runDeferred() before it blocks (and before leaving).
  virtual void enterProcessorThread() noexcept = 0;
  virtual void leaveProcessorThread() noexcept = 0;
  // Runs the calling thread's deferred completions; returns how many ran.
  virtual std::size_t runDeferred() noexcept = 0;
  virtual bool hasDeferred() const noexcept = 0;
  // Runs a node the processor took through execute() (the observer sees it dispatched).
  virtual void dispatch(detail::DispatchNode* node) noexcept = 0;

  // Observer hook: one predictable branch when no observer is installed, or when the installed one
  // does not want this phase (OperationObserver::wanted()).
  void notify(const Operation& op, OpPhase phase) const noexcept {
    if (OperationObserver* o = observers_[static_cast<unsigned>(phase)]; o != nullptr) [[unlikely]]
      o->onPhase(op, phase);
  }

 protected:
  ~CompletionSink() = default;
  // Installs observer for the phases it wants (null: none).
  void setObserver(OperationObserver* observer) noexcept {
    const unsigned wanted = observer != nullptr ? observer->wanted() : 0;
    for (unsigned p = 0; p < kPhases; ++p)
      observers_[p] = (wanted & (1u << p)) != 0 ? observer : nullptr;
    handlerEndObserver_ = (wanted & OperationObserver::kHandlerEnd) != 0 ? observer : nullptr;
  }
  static constexpr unsigned kPhases = static_cast<unsigned>(OpPhase::dispatched) + 1;
  OperationObserver* observers_[kPhases] = {};  // per phase: the observer, or null
  OperationObserver* handlerEndObserver_ = nullptr;
};

class AsyncOperationProcessor {
 public:
  virtual ~AsyncOperationProcessor() = default;

  // Called once by the Proactor constructor. The processor may start its threads here.
  virtual void start(CompletionSink& sink, const ProcessorConfig& config) = 0;

  // A new channel (its descriptor open and non-blocking) joins the processor. Any thread. Honour
  // channel.placement() (a thread index, taken modulo threads(); kAny: choose) and record the
  // thread chosen with channel.setPlacement().
  virtual void attach(AsyncChannel& channel) = 0;
  // How many engine threads channels can be placed on (1 for an engine with one loop).
  virtual std::size_t threads() const noexcept { return 1; }
  // The channel's last reference is gone (no operation outstanding): release the processor's
  // state and close the descriptor. Any thread, also after shutdown().
  virtual void detach(AsyncChannel& channel) noexcept = 0;

  // A provided-buffer group (Proactor::provideBuffers) joins the engine: keep it alive, install
  // its return hook (clear it in shutdown()), and for a native engine give each thread's buffers
  // to the kernel (on that thread, before the first read that uses the group). Any thread.
  virtual void addBufferGroup(const std::shared_ptr<ProvidedBuffers>& group) = 0;

  // Starts an operation (see the contract above). Any thread.
  virtual void submit(Operation* op) noexcept = 0;
  // Completes every outstanding operation of the channel with operation_aborted; later operations
  // are unaffected. Any thread; asynchronous (the completions arrive through the sink).
  virtual void cancel(AsyncChannel& channel) noexcept = 0;
  // Requests cancellation of the channel's operation with this id; ignored if it is not
  // outstanding any more. Asynchronous, like cancel().
  virtual void cancelOperation(AsyncChannel& channel, std::uint64_t opId) noexcept = 0;
  // cancel() + shut the descriptor down so the peer sees the close; the descriptor itself is
  // closed in detach(). Any thread.
  virtual void close(AsyncChannel& channel) noexcept = 0;
  // Cancels the timer operation with this id if it has not fired (operation_aborted).
  virtual void cancelTimer(std::uint64_t timerId) noexcept = 0;

  // Aborts everything in flight, joins the processor's threads. Not from a processor thread.
  virtual void shutdown() noexcept = 0;

  // Runs node->run(node) soon on one of the processor's threads (used by call_through for
  // completions that must not run on the current thread). False if the processor has no
  // threads of its own or is shut down: the Proactor then queues the node for run().
  virtual bool execute(detail::DispatchNode* node) noexcept = 0;

  // Leader/followers hook: lets a thread inside Proactor::run() perform the processor's
  // demultiplexing and I/O itself for up to `timeout` when no completion is queued. Returns false
  // if the processor cannot be driven by this thread now (it has its own threads, or another
  // thread is driving); the caller then waits on the completion queue instead.
  virtual bool drive(std::chrono::nanoseconds /*timeout*/) noexcept { return false; }
  // Interrupts a drive() in progress (a completion was queued by another thread, or stop()).
  virtual void wakeup() noexcept {}
  // True when every completion of one channel is reported by one thread, in order (channel
  // affinity): the call_through dispatcher then needs no per-channel strand.
  virtual bool channelAffinity() const noexcept { return false; }
  // Channel affinity only: runs node through sink.dispatch() on the thread that reports the
  // channel's completions, after the completions already reported and never inside this call
  // (post it, even from that thread). The channel outlives the node. False if it cannot (shut
  // down, or not implemented): the dispatcher then drops the node.
  virtual bool executeOnChannel(AsyncChannel& /*channel*/,
                                detail::DispatchNode* /*node*/) noexcept {
    return false;
  }
};

}  // namespace nioxx
