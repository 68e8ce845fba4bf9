// Proactor hot paths: completion post + dispatch hand-off per strategy, and timer insert/cancel.
//
// PostDispatch: Proactor::post() from a handler chain, so each iteration is one operation
// created, completed, handed to the dispatcher and run (call_through: on the reactor thread, via
// its continuation queue; post_reactive: via the shared queue to the thread in run(); pool: to a
// pool thread). TimerInsertCancel: scheduleTimer + cancelTimer + the aborted completion.
#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "nioxx/bridge/emulated_processor.h"
#include "nioxx/proactor/proactor.h"

namespace {

using nioxx::DispatchStrategy;

struct Fixture {
  explicit Fixture(DispatchStrategy s) : proactor(nioxx::makeEmulatedProactor(s, 1)) {
    if (s == DispatchStrategy::post_reactive) runner = std::thread([this] { proactor.run(); });
  }
  ~Fixture() {
    proactor.stop();
    if (runner.joinable()) runner.join();
    proactor.shutdown();
  }
  nioxx::Proactor proactor;
  std::thread runner;
};

// Waits until `remaining` reaches zero.
struct Latch {
  std::mutex m;
  std::condition_variable cv;
  std::int64_t remaining = 0;
  void countDown() {
    std::lock_guard lock(m);
    if (--remaining == 0) cv.notify_all();
  }
  void wait() {
    std::unique_lock lock(m);
    cv.wait(lock, [this] { return remaining == 0; });
  }
};

void chain(nioxx::Proactor& p, std::int64_t left, Latch& done) {
  if (left == 0) return done.countDown();
  p.post([&p, left, &done] { chain(p, left - 1, done); });
}

void BM_PostDispatch(benchmark::State& state) {
  const auto strategy = static_cast<DispatchStrategy>(state.range(0));
  Fixture f(strategy);
  constexpr std::int64_t kBatch = 10000;
  for (auto _ : state) {
    Latch done;
    done.remaining = 1;
    chain(f.proactor, kBatch, done);
    done.wait();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel(nioxx::toString(strategy));
}
BENCHMARK(BM_PostDispatch)
    ->Arg(static_cast<int>(DispatchStrategy::call_through))
    ->Arg(static_cast<int>(DispatchStrategy::post_reactive))
    ->Arg(static_cast<int>(DispatchStrategy::pool))
    ->UseRealTime();

void BM_TimerInsertCancel(benchmark::State& state) {
  Fixture f(DispatchStrategy::call_through);
  constexpr std::int64_t kBatch = 1000;
  for (auto _ : state) {
    Latch done;
    done.remaining = kBatch;
    for (std::int64_t i = 0; i < kBatch; ++i) {
      const auto id = f.proactor.scheduleTimer(std::chrono::seconds(60),
                                               [&done](nioxx::TimerResult&) { done.countDown(); });
      f.proactor.cancelTimer(id);
    }
    done.wait();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_TimerInsertCancel)->UseRealTime();

}  // namespace
