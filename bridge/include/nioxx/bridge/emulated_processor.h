// EmulatedProcessor: the Asynchronous Operation Processor emulated over the Reactor (the design
// that worked in practice for ACE's TProactor and Asio on epoll): wait for readiness, perform the
// non-blocking I/O in the framework, report "completed" to the Proactor.
//
// Default arrangement (IoMode::inline_io), built for speed:
// - each socket is registered once, lazily, with one Reactor of the processor (round-robin
//   channel affinity), so one socket's I/O and, with call_through, its handlers stay on one
//   thread without locks;
// - an operation initiated on that loop thread is tried at once (speculative; Options::
//   speculative) and waits for readiness only if it would block; from another thread it hops to
//   the loop through a coalesced inbox;
// - when readiness fires, the loop thread performs the I/O itself and hands the completion to
//   the Proactor: call_through runs the handler right there (one thread, no hand-off).
// Leader/followers (DispatchStrategy::post_reactive with Options::driven, the default; inline_io):
// - the processor owns no I/O thread and exactly one Reactor (Options::reactorThreads is
//   ignored); the threads inside Proactor::run()/runOnce() take turns as its loop thread: one
//   that finds no completion queued calls drive(), which runs one Reactor iteration (select,
//   perform the I/O, fire timers and timeouts) and queues the completions; it then runs them
//   itself (with one run() thread: no hand-off, no wake-up at all), while another run() thread,
//   if any, may take the next turn;
// - a per-loop ownership lock makes "the loop thread" whoever holds it (Reactor::
//   bindLoopThread). An initiation (or cancel/close/timer) from a thread that is not driving
//   try-locks it: if free, the initiator tries the I/O at once and queues the op itself (as
//   Asio does); if a driver holds it, the op goes to the loop's inbox (coalesced wake-up);
// - the post_reactive contract: operations progress only while some thread runs the Proactor
//   (or initiates on it). Nothing is lost without one: ops wait in the Reactor, and shutdown()
//   takes the loop and aborts them as usual.
// Options::driven = false keeps the own-threads arrangement (reactor threads perform the I/O and
// hand every completion to the run() thread) for comparison.
// Stepped (Options::stepped, deterministic simulation): call_through and pool without loop
// threads: the owner steps each Reactor with step(), one iteration at a time, in the order it
// chooses (sim/'s scheduler: the seed chooses), on its own thread. A step is what one turn of a
// loop thread does (wait, perform the I/O, run call_through handlers and what they deferred).
// IoMode::worker_pool is the paper's literal emulation, kept for teaching and measurement:
// readiness is handed to a separate pool of I/O workers that perform the I/O.
// AsyncFile operations always run on a small file worker pool (files are always "ready").
//
// Thread rule: as AsyncOperationProcessor (every call from any thread; shutdown() not from a
// processor thread). Construct, then give to a Proactor (or use makeEmulatedProactor()).
#pragma once

#include <cstddef>
#include <memory>

#include "nioxx/proactor/proactor.h"
#include "nioxx/proactor/spi/async_operation_processor.h"

namespace nioxx {

enum class IoMode : std::uint8_t {
  inline_io,    // the reactor thread that sees readiness performs the I/O (fast)
  worker_pool,  // reactor thread -> I/O worker performs the I/O (the paper's literal emulation)
};

const char* toString(IoMode mode) noexcept;

namespace bridge_detail {
class ProcessorImpl;
}  // namespace bridge_detail

class EmulatedProcessor final : public AsyncOperationProcessor {
 public:
  struct Options {
    std::size_t reactorThreads = 1;  // reactors (one thread each); sockets pinned round-robin;
                                     // driven post_reactive: always one Reactor, no thread
    IoMode ioMode = IoMode::inline_io;
    std::size_t ioWorkers = 2;    // IoMode::worker_pool only
    std::size_t fileWorkers = 1;  // AsyncFile readAt/writeAt
    bool speculative = true;      // try I/O at initiation before waiting for readiness
    // post_reactive + inline_io: run() threads drive the one Reactor (leader/followers, no
    // processor thread). false: own reactor threads hand completions to run() (one wake-up each).
    bool driven = true;
    // call_through / pool + inline_io: start no loop threads; the owner calls step() instead
    // (deterministic simulation). Ignored where driven applies.
    bool stepped = false;
  };

  explicit EmulatedProcessor(Options options);
  EmulatedProcessor() : EmulatedProcessor(Options{}) {}
  ~EmulatedProcessor() override;

  void start(CompletionSink& sink, const ProcessorConfig& config) override;
  void attach(AsyncChannel& channel) override;
  void detach(AsyncChannel& channel) noexcept override;
  void addBufferGroup(const std::shared_ptr<ProvidedBuffers>& group) override;
  void submit(Operation* op) noexcept override;
  void cancel(AsyncChannel& channel) noexcept override;
  void cancelOperation(AsyncChannel& channel, std::uint64_t opId) noexcept override;
  void close(AsyncChannel& channel) noexcept override;
  void cancelTimer(std::uint64_t timerId) noexcept override;
  void shutdown() noexcept override;
  bool execute(detail::DispatchNode* node) noexcept override;
  // Posts node to the inbox of the channel's Reactor (inline_io: the thread of its completions).
  bool executeOnChannel(AsyncChannel& channel, detail::DispatchNode* node) noexcept override;
  // Leader/followers (see above): drive() runs one Reactor iteration on the calling run() thread
  // (false unless driven); wakeup() interrupts it. Any thread.
  bool drive(std::chrono::nanoseconds timeout) noexcept override;
  void wakeup() noexcept override;
  // Options::stepped: one iteration of Reactor `loop` (0 .. threads() - 1) on the calling thread,
  // as its loop thread would run it, waiting at most `timeout`; false if not stepped or shut
  // down. Never from a handler. Loops run only inside step(): between steps they are idle.
  bool step(std::size_t loop, std::chrono::nanoseconds timeout) noexcept;
  bool channelAffinity() const noexcept override;
  std::size_t threads() const noexcept override;  // Reactors channels can be placed on

  const Options& options() const noexcept;

 private:
  std::unique_ptr<bridge_detail::ProcessorImpl> impl_;
};

// Everything a user needs for an emulated Proactor in one place.
struct EmulatedProactorOptions {
  EmulatedProcessor::Options processor;
  ProactorOptions proactor;
};

// A Proactor over an EmulatedProcessor, started and ready for operations.
Proactor makeEmulatedProactor(const EmulatedProactorOptions& options = {});
// Shorthand: strategy and reactor threads only.
Proactor makeEmulatedProactor(DispatchStrategy strategy, std::size_t reactorThreads = 1);

}  // namespace nioxx
