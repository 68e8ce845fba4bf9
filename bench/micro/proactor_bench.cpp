// Proactor hot paths: completion post + dispatch hand-off per strategy, and timer insert/cancel.
//
// PostDispatch: Proactor::post() from a handler chain, so each iteration is one operation
// created, completed, handed to the dispatcher and run (call_through: on the reactor thread, via
// its continuation queue; post_reactive: via the shared queue to the thread in run(); pool: to a
// pool thread). TimerInsertCancel: scheduleTimer + cancelTimer + the aborted completion.
// PingPong: one byte bounced between two connected loopback AsyncSockets by their handlers, so
// each item is a real read completion: call_through (the reactor thread runs it), post_reactive
// with the processor's own reactor thread (hand-off to the run() thread: one wake-up each) and
// post_reactive driven (leader/followers: the run() thread does the I/O and runs the handler).
#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "nioxx/bridge/emulated_processor.h"
#include "nioxx/proactor/async_server_socket.h"
#include "nioxx/proactor/async_socket.h"
#include "nioxx/proactor/proactor.h"

namespace {

using nioxx::DispatchStrategy;

struct Fixture {
  explicit Fixture(DispatchStrategy s, bool driven = true)
      : proactor(nioxx::makeEmulatedProactor(optionsFor(s, driven))) {
    if (s == DispatchStrategy::post_reactive) runner = std::thread([this] { proactor.run(); });
  }
  ~Fixture() {
    proactor.stop();
    if (runner.joinable()) runner.join();
    proactor.shutdown();
  }
  static nioxx::EmulatedProactorOptions optionsFor(DispatchStrategy s, bool driven) {
    nioxx::EmulatedProactorOptions o;
    o.proactor.strategy = s;
    o.processor.driven = driven;
    return o;
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

// Arg 0: strategy; arg 1: driven (post_reactive only).
void BM_PingPong(benchmark::State& state) {
  const auto strategy = static_cast<DispatchStrategy>(state.range(0));
  const bool driven = state.range(1) != 0;
  Fixture f(strategy, driven);
  auto server = nioxx::AsyncServerSocket::open(f.proactor);
  if (server.bind(nioxx::InetSocketAddress::loopback(0))) return state.SkipWithError("bind");
  auto accepted = server.accept(nioxx::use_future);
  auto a = nioxx::AsyncSocket::open(f.proactor);
  if (!a.connect(*server.localAddress(), nioxx::use_future).get().success()) {
    return state.SkipWithError("connect");
  }
  auto b = accepted.get().socket();
  a.setNoDelay(true);
  b.setNoDelay(true);
  constexpr std::int64_t kBatch = 2000;
  std::int64_t left = 0;  // touched by the (serialised) handlers and after done.wait()
  Latch done;
  // Each side reads one byte and writes it back until the batch is spent.
  std::function<void(nioxx::AsyncSocket&)> serve = [&](nioxx::AsyncSocket& s) {
    s.read(nioxx::ByteBuffer::allocate(1), [&, sp = &s](nioxx::IoResult& r) {
      if (!r.success()) return;
      serve(*sp);
      if (--left <= 0) return done.countDown();
      nioxx::ByteBuffer out = nioxx::ByteBuffer::allocate(1);
      out.put(std::uint8_t{1});
      out.flip();
      sp->write(std::move(out), [](nioxx::IoResult&) {});
    });
  };
  serve(a);
  serve(b);
  for (auto _ : state) {
    {
      std::lock_guard lock(done.m);
      done.remaining = 1;
    }
    left = kBatch;
    nioxx::ByteBuffer first = nioxx::ByteBuffer::allocate(1);
    first.put(std::uint8_t{1});
    first.flip();
    a.write(std::move(first), [](nioxx::IoResult&) {});
    done.wait();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel(
      std::string(nioxx::toString(strategy)) +
      (strategy == DispatchStrategy::post_reactive ? (driven ? " driven" : " ownthreads") : ""));
  a.close();
  b.close();
}
BENCHMARK(BM_PingPong)
    ->Args({static_cast<int>(DispatchStrategy::call_through), 0})
    ->Args({static_cast<int>(DispatchStrategy::post_reactive), 0})
    ->Args({static_cast<int>(DispatchStrategy::post_reactive), 1})
    ->UseRealTime();

}  // namespace
