// ProactorCore: the Completion Dispatcher's machinery, shared (by shared_ptr) between the
// Proactor facade and every channel, so a channel outliving the Proactor object stays safe.
//
// Dispatch paths (see docs/parts/proactor.md):
// - call_through: the completing thread runs the handler at once, unless it is inside an
//   initiating call, deeper than callThroughDepth, or has older deferred work; then the node goes
//   to the thread's private deferred queue (processor threads), to processor->execute(), or to
//   the shared queue.
// - post_reactive / pool: the node goes to the shared queue, served by run() / the pool.
// Channel operations pass through the channel's strand (serialisation + order) unless the
// processor has channel affinity and the strategy is call_through (then the thread is the strand).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "nioxx/proactor/proactor.h"
#include "nioxx/proactor/spi/async_operation_processor.h"

namespace nioxx {
class AsyncSocket;
}

namespace nioxx::detail {

struct WritabilityNode;

class ProactorCore final : public CompletionSink,
                           public std::enable_shared_from_this<ProactorCore> {
 public:
  ProactorCore(std::unique_ptr<AsyncOperationProcessor> processor, ProactorOptions options);
  ~ProactorCore();
  void start();  // after construction, once shared_from_this works

  // ---- API calls: none of them runs a handler on the calling thread ----
  void initiate(Operation* op);             // channel operation
  void initiateChannelless(Operation* op);  // timer / post
  ChannelRef newChannel(int fd, ChannelKind kind, std::uint32_t placement = UINT32_MAX);
  void cancel(AsyncChannel& channel);
  void cancelOperation(AsyncChannel& channel, std::uint64_t id);
  void close(AsyncChannel& channel);
  void cancelTimer(std::uint64_t id);
  // Write buffer bounds and writability (writability.cpp); throws std::invalid_argument if
  // low > high, std::logic_error for a second handler.
  void setWriteBuffer(AsyncChannel& channel, std::size_t low, std::size_t high, std::size_t limit);
  void watchWritability(AsyncChannel& channel, std::function<void(AsyncSocket&, bool)> handler);
  void detach(AsyncChannel& channel) noexcept { processor_->detach(channel); }

  // ---- CompletionSink ----
  void complete(Operation* op) noexcept override;
  void completeMore(Operation* op) noexcept override;
  void enterProcessorThread() noexcept override;
  void leaveProcessorThread() noexcept override;
  std::size_t runDeferred() noexcept override;
  bool hasDeferred() const noexcept override;
  void dispatch(DispatchNode* node) noexcept override { runNode(node); }

  // ---- dispatcher ----
  void run();
  std::size_t runOnce(std::chrono::nanoseconds timeout);
  void stop();
  void restart();
  bool stopped() const noexcept;
  void shutdown();
  bool stepPool();  // ProactorOptions::steppedPool: one pool step on the calling thread
  bool isShutDown() const noexcept { return shutdownDone_.load(std::memory_order_acquire); }
  // True from the moment shutdown() begins: initiations throw ShutdownError from then on.
  bool isShuttingDown() const noexcept { return shutdownBegun_.load(std::memory_order_seq_cst); }

  void runStrand(AsyncChannel& channel) noexcept;

  AsyncOperationProcessor& processor() noexcept { return *processor_; }
  // Proactor::provideBuffers: the next group id (io_uring's are 16 bits; the caller checks).
  std::uint32_t nextBufferGroupId() noexcept {
    return nextBufferGroup_.fetch_add(1, std::memory_order_relaxed);
  }
  const ProactorOptions& options() const noexcept { return options_; }

 private:
  void reject(Operation* op, std::error_code error) noexcept;
  [[noreturn]] void refuse(Operation* op, const char* what);
  std::uint64_t releaseSlot(Operation* op) noexcept;  // a writability transition, or 0
  static bool reserveWriteBytes(AsyncChannel& ch, std::size_t bytes) noexcept;
  static std::uint64_t updateWritability(AsyncChannel& ch) noexcept;
  static WritabilityNode* writabilityNode(AsyncChannel& ch, std::uint64_t flip) noexcept;
  void notifyOffPath(AsyncChannel& ch, std::uint64_t flip) noexcept;
  void schedule(DispatchNode* node) noexcept;
  void requeue(DispatchNode* node) noexcept;  // to the back of the line, never inline
  void runNode(DispatchNode* node) noexcept;
  void pushShared(DispatchNode* node) noexcept;
  // Pops one node, waiting until `deadline` (lock held by caller); null on timeout/stop.
  DispatchNode* popShared(std::unique_lock<std::mutex>& lock,
                          std::chrono::steady_clock::time_point deadline, bool poolThread);
  bool driveWithLockReleased(std::unique_lock<std::mutex>& lock, std::chrono::nanoseconds slice);
  void poolLoop();
  bool lateForShutdown() const noexcept;  // mutex_ held

  std::unique_ptr<AsyncOperationProcessor> processor_;
  ProactorOptions options_;
  // call_through + processor channel affinity (or spi::SkipStrandsFault): no strands.
  const bool inlineAffinity_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  DispatchNode* head_ = nullptr;
  DispatchNode* tail_ = nullptr;
  std::size_t waiters_ = 0;
  std::size_t runners_ = 0;              // threads inside run()/runOnce()
  std::size_t drivers_ = 0;              // threads inside processor_->drive()
  DispatchNode* driveMarker_ = nullptr;  // the last node queued when a drive ended
  bool driveDue_ = false;                // that node was taken: drive before taking more
  bool stopped_ = false;
  bool shuttingDown_ = false;
  bool shutdownStarted_ = false;
  std::atomic<bool> shutdownBegun_{false};  // the gate: checked by every initiation
  std::atomic<bool> shutdownDone_{false};
  std::atomic<std::uint32_t> nextBufferGroup_{0};
  std::vector<std::thread> pool_;
};

}  // namespace nioxx::detail
