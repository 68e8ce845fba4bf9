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
#include <type_traits>
#include <variant>

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
  // Spawns task on the Proactor and waits for its result. What it threw comes back as a new
  // std::runtime_error with the same message, made on this thread: the exception object itself
  // never crosses threads (libstdc++ counts its references in uninstrumented code, so TSan would
  // report its release on the coroutine's thread as a race with our reading it). A coroutine that
  // does not finish within kWait fails the test.
  template <class T>
  T run(coro::Task<T> task, std::stop_token stop = {}) {
    using Value = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
    using Outcome = std::variant<Value, std::string>;
    auto done = std::make_shared<std::promise<Outcome>>();
    auto future = done->get_future();
    api([&] {
      coro::spawn(
          proactor(), std::move(task),
          [done](std::exception_ptr e, auto&&... value) noexcept {
            if (e) {
              done->set_value(Outcome(std::in_place_index<1>, messageOf(e)));
            } else {
              done->set_value(
                  Outcome(std::in_place_index<0>, std::forward<decltype(value)>(value)...));
            }
          },
          std::move(stop));
    });
    if (future.wait_for(kWait) != std::future_status::ready) {
      throw std::runtime_error("coroutine did not finish within 10 s");
    }
    Outcome outcome = future.get();
    if (outcome.index() == 1) throw std::runtime_error(std::get<1>(outcome));
    if constexpr (!std::is_void_v<T>) return std::move(std::get<0>(outcome));
  }

 private:
  static std::string messageOf(const std::exception_ptr& e) noexcept {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      return x.what();
    } catch (...) {
      return "an exception not derived from std::exception";
    }
  }
};

}  // namespace nioxx::conformance
