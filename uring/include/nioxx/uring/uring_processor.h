// UringProcessor: the Asynchronous Operation Processor of the Proactor paper performed by the
// operating system itself, through io_uring. The application initiates (submit() fills a
// submission queue entry), the kernel performs the I/O, and the completion queue entry carries
// the ACT back (user data -> the operation). Same SPI as bridge/EmulatedProcessor, so user code
// does not change; see docs/parts/proactor.md, "The io_uring engine".
//
// Arrangement:
// - one ring per engine thread, created on that thread (SINGLE_ISSUER | DEFER_TASKRUN, stepping
//   down on EINVAL); each thread enters the kernel once per loop turn
//   (io_uring_submit_and_wait_timeout with the next deadline) and reaps completions in bulk;
// - a channel lives on one thread (placement); other threads never touch its ring: they post to
//   the thread's inbox and wake it through an eventfd read kept armed on the ring;
// - per socket and direction one request is in the kernel at a time (the head of its queue);
//   later writes wait behind it, so bytes never interleave and completions keep their order;
// - reads with a provided-buffer group receive into a buffer ring (one per thread and group,
//   registered lazily on that thread); ENOBUFS parks the read until a buffer comes back;
// - handlers: call_through runs them on the ring thread, post_reactive in Proactor::run(),
//   pool on the Proactor's pool threads.
//
// Thread rule: as AsyncOperationProcessor. Construct (start() throws std::system_error if a ring
// cannot be created), then give it to a Proactor, or use makeUringProactor().
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <system_error>

#include "nioxx/proactor/proactor.h"
#include "nioxx/proactor/spi/async_operation_processor.h"

namespace nioxx {

namespace uring_detail {
class Engine;
}  // namespace uring_detail

class UringProcessor final : public AsyncOperationProcessor {
 public:
  struct Options {
    std::size_t threads = 1;        // rings (one thread each); channels placed round-robin
    unsigned entries = 256;         // submission queue entries per ring
    unsigned completionFactor = 4;  // completion queue = entries * completionFactor
  };

  // What the kernel offers this process: {} when the engine can run here (io_uring enabled, the
  // opcodes it uses present, buffer rings registrable), else why not. Probed once and cached.
  // NIOXX_URING_DISABLE=1 in the environment makes it report "unavailable" (to test fallbacks).
  struct Availability {
    bool available = false;
    std::string reason;    // empty when available
    std::string features;  // e.g. "setup=single_issuer|defer_taskrun kernel=6.8"
  };
  static const Availability& probe();
  // The same check, not cached (tests of the fallback).
  static Availability probeNow();

  explicit UringProcessor(Options options);
  UringProcessor() : UringProcessor(Options{}) {}
  ~UringProcessor() override;

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
  bool executeOnChannel(AsyncChannel& channel, detail::DispatchNode* node) noexcept override;
  bool channelAffinity() const noexcept override { return true; }
  std::size_t threads() const noexcept override;

  const Options& options() const noexcept;

 private:
  std::unique_ptr<uring_detail::Engine> impl_;
};

struct UringProactorOptions {
  UringProcessor::Options processor;
  ProactorOptions proactor;
};

// A Proactor over a UringProcessor, started. Throws std::system_error when io_uring cannot be
// used here (check UringProcessor::probe() first to fall back).
Proactor makeUringProactor(const UringProactorOptions& options = {});
Proactor makeUringProactor(DispatchStrategy strategy, std::size_t threads = 1);

}  // namespace nioxx
