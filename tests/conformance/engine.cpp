#include "engine.h"

#include "nioxx/bridge/emulated_processor.h"

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

}  // namespace

std::vector<EngineParam> allEngines() {
  using enum DispatchStrategy;
  // call_through and pool do not need run(); one run() thread each still checks that run() and
  // stop() behave on them too.
  return {
      {"call_through_inline_r1", emulated({call_through, IoMode::inline_io, 1}), 1},
      {"call_through_inline_r2", emulated({call_through, IoMode::inline_io, 2}), 1},
      {"call_through_worker_pool", emulated({call_through, IoMode::worker_pool, 1}), 1},
      {"post_reactive_driven_1runner", emulated({post_reactive, IoMode::inline_io, 1, true}), 1},
      {"post_reactive_driven_3runners", emulated({post_reactive, IoMode::inline_io, 1, true}), 3},
      {"post_reactive_own_threads", emulated({post_reactive, IoMode::inline_io, 2, false}), 1},
      {"post_reactive_worker_pool", emulated({post_reactive, IoMode::worker_pool, 1}), 1},
      {"pool", emulated({pool, IoMode::inline_io, 2}), 1},
  };
}

}  // namespace nioxx::conformance
