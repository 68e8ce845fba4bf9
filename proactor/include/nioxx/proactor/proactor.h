// Proactor: the Completion Dispatcher of the Proactor pattern (paper 6.2). It owns an
// Asynchronous Operation Processor (e.g. bridge/EmulatedProcessor, see makeEmulatedProactor())
// and runs completion handlers with the chosen DispatchStrategy.
//
// Guarantees (docs/parts/proactor.md; each one is tested):
// - every initiated operation completes exactly once: success, error, operation_aborted
//   (cancel/close/shutdown) or timed_out;
// - no handler runs inside the call that initiated its operation;
// - per channel and direction, completions are delivered in initiation order;
// - handlers of one channel never run concurrently, whatever the strategy;
// - no handler runs after shutdown() returns; shutdown() completes operations in flight with
//   operation_aborted and joins every thread the Proactor and its processor started.
//
// Thread rule: every member is safe from any thread, except shutdown() and the destructor, which
// must not be called from a handler (they wait for handlers to finish).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <utility>

#include "nioxx/proactor/async_result.h"
#include "nioxx/proactor/buffer_group.h"
#include "nioxx/proactor/completion_handler.h"
#include "nioxx/proactor/detail/typed_operation.h"
#include "nioxx/proactor/dispatch_strategy.h"
#include "nioxx/proactor/observer.h"

namespace nioxx {

class AsyncOperationProcessor;  // nioxx/proactor/spi/async_operation_processor.h (engine authors)

// Timer ids are operation ids (plain std::uint64_t: reactor/ has its own TimerId type).

struct ProactorOptions {
  DispatchStrategy strategy = DispatchStrategy::call_through;
  std::size_t poolThreads = 2;  // pool strategy: handler threads owned by the Proactor
  // pool strategy, deterministic simulation (sim/): start no pool threads; the owner runs the
  // pool's handlers one at a time with Proactor::stepPool(), as logical pool workers.
  bool steppedPool = false;
  std::size_t callThroughDepth = 16;  // call_through: nested handler calls before queueing
  // Per socket: writes accepted but not completed; one more completes with queue_full.
  std::size_t writeQueueLimit = 65536;
  // Per socket write buffer, in bytes of writes accepted but not completed (pendingWriteBytes()):
  // the socket turns unwritable above the high water mark and writable again at or below the low
  // one (Netty's defaults); a write that would take it beyond the limit completes with
  // queue_full, after the writes before it (a write alone in the queue is always accepted).
  // AsyncSocket::setWriteBufferWatermarks() / setWriteBufferLimit() change them per socket.
  std::size_t writeBufferLowWatermark = 32 * 1024;
  std::size_t writeBufferHighWatermark = 64 * 1024;
  std::size_t writeBufferLimit = 4 * 1024 * 1024;
  OperationObserver* observer = nullptr;  // lifecycle hook; must outlive the Proactor
};

class Proactor {
 public:
  // Takes ownership of the processor and starts it (and the pool, for the pool strategy).
  explicit Proactor(std::unique_ptr<AsyncOperationProcessor> processor,
                    ProactorOptions options = {});
  ~Proactor();  // shutdown()
  Proactor(Proactor&&) noexcept;
  Proactor& operator=(Proactor&&) = delete;
  Proactor(const Proactor&) = delete;
  Proactor& operator=(const Proactor&) = delete;

  // Runs queued completions (and, if the processor allows, drives it) until stop() or shutdown().
  // post_reactive: this is where handlers run. Other strategies: runs posted work only when the
  // processor has no threads of its own; otherwise it just waits for stop(). Any thread, any
  // number of threads at once.
  void run();
  // Waits up to `timeout` for completions, runs what is queued, returns how many ran.
  std::size_t runOnce(std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max());
  // Makes run() return (in every thread calling it) as soon as its current handler finishes;
  // later run()/runOnce() calls return at once until restart(). Any thread, also a handler.
  void stop();
  void restart();
  bool stopped() const noexcept;
  // Completes everything in flight with operation_aborted, runs those handlers, joins every
  // thread. Idempotent. Initiating after shutdown throws std::logic_error. A run()/runOnce()
  // that starts while shutdown() is finishing returns at once: shutdown() runs what is left.
  void shutdown();
  // ProactorOptions::steppedPool: runs one queued handler (or strand batch) on the calling thread
  // as a pool thread would; false if nothing is queued. Never waits. Callable from a handler
  // (a simulated pool worker that runs while another one is inside its handler).
  bool stepPool();

  // Runs fn() later (with the strategy: call_through/pool on a processor or pool thread,
  // post_reactive in run()). Never inside this call.
  template <class Fn>
  void post(Fn&& fn) {
    detail::initiate(*core_, detail::makeOperation<TimerResult>(OpKind::post, nullptr, NoAct{},
                                                                std::forward<Fn>(fn)));
  }

  // Calls handler(TimerResult&, Act&) once `delay` has elapsed (success) or after
  // cancelTimer() (operation_aborted). Never inside this call. Returns the timer's id.
  template <class Act, class Handler>
  requires(!std::is_same_v<std::remove_cvref_t<Act>, UseFuture>) std::uint64_t
      scheduleTimer(std::chrono::nanoseconds delay, Act act, Handler&& handler) {
    Operation* op = detail::makeOperation<TimerResult>(OpKind::timer, nullptr, std::move(act),
                                                       std::forward<Handler>(handler));
    return startTimer(op, delay);
  }
  template <class Handler>
  requires(!std::is_same_v<std::remove_cvref_t<Handler>, UseFuture>) std::uint64_t
      scheduleTimer(std::chrono::nanoseconds delay, Handler&& handler) {
    return scheduleTimer(delay, NoAct{}, std::forward<Handler>(handler));
  }
  std::pair<std::uint64_t, std::future<TimerResult>> scheduleTimer(std::chrono::nanoseconds delay,
                                                                   UseFuture) {
    auto [op, future] = detail::makeFutureOperation<TimerResult>(OpKind::timer, nullptr);
    return {startTimer(op, delay), std::move(future)};
  }
  // The timer completes with operation_aborted unless it already fired. Asynchronous; any
  // thread; unknown or fired ids are ignored.
  void cancelTimer(std::uint64_t id);

  // A fixed group of engine-owned read buffers (per engine thread), for AsyncSocket::read(group,
  // ...) and readEach(group, ...): see buffer_group.h. Throws std::invalid_argument for sizes
  // outside the limits, std::length_error after 65,535 groups, ShutdownError after shutdown().
  BufferGroup provideBuffers(BufferGroup::Options options);
  BufferGroup provideBuffers() { return provideBuffers(BufferGroup::Options{}); }

  DispatchStrategy strategy() const noexcept;
  // Engine threads channels can be placed on (Placement::onThread(0 .. engineThreads() - 1)).
  std::size_t engineThreads() const noexcept;
  AsyncOperationProcessor& processor() noexcept;
  const ProactorOptions& options() const noexcept;
  // For AsyncSocket & co: the shared state channels keep alive.
  const std::shared_ptr<detail::ProactorCore>& core() const noexcept { return core_; }

 private:
  std::uint64_t startTimer(Operation* op, std::chrono::nanoseconds delay);

  std::shared_ptr<detail::ProactorCore> core_;
};

}  // namespace nioxx
