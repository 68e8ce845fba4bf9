#include "engine.h"

#include <cstdio>

#include "nioxx/bridge/emulated_processor.h"
#include "nioxx/uring/uring_processor.h"

namespace nioxx::conformance {
namespace {

struct Emulated {
  DispatchStrategy strategy;
  IoMode ioMode = IoMode::inline_io;
  std::size_t reactorThreads = 1;
  bool driven = true;  // post_reactive + inline_io only: run() threads drive the Reactor
};

std::function<std::unique_ptr<Proactor>()> emulated(Emulated e) {
  return [e] {
    EmulatedProactorOptions o;
    o.proactor.strategy = e.strategy;
    o.processor.ioMode = e.ioMode;
    o.processor.reactorThreads = e.reactorThreads;
    o.processor.driven = e.driven;
    return std::make_unique<Proactor>(makeEmulatedProactor(o));
  };
}

std::function<std::unique_ptr<Proactor>()> uring(DispatchStrategy strategy, std::size_t threads) {
  return [strategy, threads] {
    return std::make_unique<Proactor>(makeUringProactor(strategy, threads));
  };
}

}  // namespace

std::vector<EngineParam> allEngines() {
  using enum DispatchStrategy;
  // call_through and pool do not need run(); one run() thread each still checks that run() and
  // stop() behave on them too.
  std::vector<EngineParam> engines = {
      {"call_through_inline_r1", emulated({call_through, IoMode::inline_io, 1}), 1},
      {"call_through_inline_r2", emulated({call_through, IoMode::inline_io, 2}), 1},
      {"call_through_worker_pool", emulated({call_through, IoMode::worker_pool, 1}), 1},
      {"post_reactive_driven_1runner", emulated({post_reactive, IoMode::inline_io, 1, true}), 1},
      {"post_reactive_driven_3runners", emulated({post_reactive, IoMode::inline_io, 1, true}), 3},
      {"post_reactive_own_threads", emulated({post_reactive, IoMode::inline_io, 2, false}), 1},
      {"post_reactive_worker_pool", emulated({post_reactive, IoMode::worker_pool, 1}), 1},
      {"pool", emulated({pool, IoMode::inline_io, 2}), 1},
  };
  // The native engine, where the kernel offers it (probed once; skipped with one line if not).
  const auto& uringHere = UringProcessor::probe();
  if (uringHere.available) {
    engines.push_back({"uring_call_through_t1", uring(call_through, 1), 1});
    engines.push_back({"uring_post_reactive_t1", uring(post_reactive, 1), 2});
    engines.push_back({"uring_pool_t2", uring(pool, 2), 1});
  } else {
    std::fprintf(stderr, "conformance: io_uring engine skipped: %s\n", uringHere.reason.c_str());
  }
  return engines;
}

}  // namespace nioxx::conformance
