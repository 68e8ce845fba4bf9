// Coroutine tests run on every engine of the conformance suite (tests/conformance/engine.cpp),
// with its fixture: a Proactor per test, its run() threads, and the leak check at the end (no
// operation or channel outlives the test). Coroutine frames hold a FrameCounter, so a test can
// also check that every frame was destroyed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "conformance_fixture.h"
#include "nioxx/coro/coro.h"

namespace nioxx::conformance {

// Counts live coroutine frames: a local of type FrameCounter in a coroutine lives as long as its
// frame (destroyed when the body ends, or with the frame).
class FrameCounter {
 public:
  explicit FrameCounter(std::shared_ptr<std::atomic<int>> live) : live_(std::move(live)) {
    live_->fetch_add(1);
  }
  ~FrameCounter() { live_->fetch_sub(1); }
  FrameCounter(const FrameCounter&) = delete;
  FrameCounter& operator=(const FrameCounter&) = delete;

 private:
  std::shared_ptr<std::atomic<int>> live_;
};

// Iterations of the long loops: the full count in Release, fewer under sanitizers (each await is
// a handler there too, ten times slower); NIOXX_CORO_ITERATIONS overrides (scripts/soak.sh).
inline long coroIterations(long release, long sanitized) {
  if (const char* env = std::getenv("NIOXX_CORO_ITERATIONS")) return std::atol(env);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  (void)release;
  return sanitized;
#else
  (void)sanitized;
  return release;
#endif
}

class CoroTest : public ConformanceTest {
 protected:
  // Spawns task on the Proactor and waits for its result (rethrows what it threw). A coroutine
  // that does not finish within kWait fails the test.
  template <class T>
  T run(coro::Task<T> task, std::stop_token stop = {}) {
    auto done = std::make_shared<std::promise<T>>();
    auto future = done->get_future();
    api([&] {
      coro::spawn(
          proactor(), std::move(task),
          [done](std::exception_ptr e, auto&&... value) noexcept {
            if (e) {
              done->set_exception(e);
            } else {
              done->set_value(std::forward<decltype(value)>(value)...);
            }
          },
          std::move(stop));
    });
    if (future.wait_for(kWait) != std::future_status::ready) {
      throw std::runtime_error("coroutine did not finish within 10 s");
    }
    return future.get();
  }
};

}  // namespace nioxx::conformance
