#include "nioxx/server/server_proactor.h"

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "nioxx/bridge/emulated_processor.h"
#include "nioxx/core/log.h"
#include "nioxx/uring/uring_processor.h"

namespace nioxx::server {
namespace {

DispatchStrategy parseDispatch(std::string_view dispatch) {
  if (dispatch == "post-reactive") return DispatchStrategy::post_reactive;
  if (dispatch == "call-through") return DispatchStrategy::call_through;
  if (dispatch == "pool") return DispatchStrategy::pool;
  throw std::invalid_argument("unknown dispatch strategy '" + std::string(dispatch) +
                              "': use post-reactive, call-through or pool");
}

IoMode parseIoMode(std::string_view ioMode) {
  if (ioMode == "inline") return IoMode::inline_io;
  if (ioMode == "worker-pool") return IoMode::worker_pool;
  throw std::invalid_argument("unknown I/O mode '" + std::string(ioMode) +
                              "': use inline or worker-pool");
}

EmulatedProactorOptions optionsFor(std::size_t threads, DispatchStrategy strategy,
                                   const ProcessorTuning& tuning) {
  EmulatedProactorOptions options;
  options.processor.reactorThreads = threads;  // I/O (readiness + non-blocking I/O) threads
  options.processor.ioMode = parseIoMode(tuning.ioMode);
  options.processor.ioWorkers = threads;  // worker_pool only
  options.processor.speculative = tuning.speculative;
  options.proactor.strategy = strategy;
  options.proactor.poolThreads = threads;  // pool strategy: handler threads
  options.proactor.observer = tuning.observer;
  return options;
}

// Either engine: the Proactor plus, for post_reactive, the threads that run its handlers.
class EngineServerProactor final : public ServerProactor {
 public:
  EngineServerProactor(Proactor proactor, std::size_t threads, DispatchStrategy strategy,
                       const char* engine)
      : proactor_(std::move(proactor)), engine_(engine) {
    // post_reactive: handlers run only inside Proactor::run(), so somebody has to call it.
    if (strategy == DispatchStrategy::post_reactive) {
      for (std::size_t i = 0; i < threads; ++i)
        runners_.emplace_back([this] { proactor_.run(); });
    }
  }
  ~EngineServerProactor() override { shutdown(); }

  Proactor& proactor() noexcept override { return proactor_; }
  const char* engine() const noexcept override { return engine_; }

  void shutdown() override {
    if (shutDown_) return;
    shutDown_ = true;
    proactor_.shutdown();  // run() returns in every runner once this is done
    proactor_.stop();
    for (auto& t : runners_)
      t.join();
    runners_.clear();
  }

 private:
  Proactor proactor_;
  const char* engine_;
  std::vector<std::thread> runners_;
  bool shutDown_ = false;
};

// ServerConfig::proactor: the owner runs and shuts down the Proactor.
class BorrowedServerProactor final : public ServerProactor {
 public:
  explicit BorrowedServerProactor(Proactor& proactor) noexcept : proactor_(proactor) {}
  Proactor& proactor() noexcept override { return proactor_; }
  const char* engine() const noexcept override { return "emulated"; }
  void shutdown() override {}

 private:
  Proactor& proactor_;
};

}  // namespace

std::unique_ptr<ServerProactor> borrowServerProactor(Proactor& proactor) {
  return std::make_unique<BorrowedServerProactor>(proactor);
}

void validate(const ProcessorTuning& tuning) {
  parseIoMode(tuning.ioMode);
  if (tuning.engine != "emulated" && tuning.engine != "uring" && tuning.engine != "auto") {
    throw std::invalid_argument("unknown engine '" + tuning.engine +
                                "': use emulated, uring or auto");
  }
}

std::unique_ptr<ServerProactor> makeServerProactor(std::size_t threads, std::string_view dispatch,
                                                   const ProcessorTuning& tuning) {
  validate(tuning);
  const DispatchStrategy strategy = parseDispatch(dispatch);
  if (tuning.engine != "emulated") {
    const auto& here = UringProcessor::probe();
    if (here.available) {
      UringProactorOptions o;
      o.processor.threads = threads;  // rings, one thread each
      o.proactor.strategy = strategy;
      o.proactor.poolThreads = threads;
      o.proactor.observer = tuning.observer;
      return std::make_unique<EngineServerProactor>(makeUringProactor(o), threads, strategy,
                                                    "uring");
    }
    if (tuning.engine == "uring") {
      throw std::runtime_error("--engine uring: io_uring is unavailable here: " + here.reason);
    }
    log::get("proactor")->warn("io_uring unavailable ({}): using the emulated engine", here.reason);
  }
  return std::make_unique<EngineServerProactor>(
      makeEmulatedProactor(optionsFor(threads, strategy, tuning)), threads, strategy, "emulated");
}

std::unique_ptr<ServerProactor> makeServerProactor(std::size_t threads, std::string_view dispatch) {
  return makeServerProactor(threads, dispatch, ProcessorTuning{});
}

BufferGroup makeReadGroup(ServerProactor& proactor, std::optional<bool> wanted) {
  if (!wanted.value_or(std::string_view(proactor.engine()) == "uring")) return {};
  return proactor.proactor().provideBuffers(
      {.bufferSize = kReadBufferSize, .buffersPerThread = kReadBuffersPerThread});
}

}  // namespace nioxx::server
