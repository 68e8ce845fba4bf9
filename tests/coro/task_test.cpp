// Task<T> on its own: lazy start, values and exceptions to the awaiter, symmetric transfer.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>

#include "nioxx/coro/task.h"

namespace nioxx::coro {
namespace {

// Drives a Task that never suspends on anything outside itself, on this thread.
struct Sync {
  struct promise_type {
    Sync get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() { std::terminate(); }
  };
};

template <class T, class F>
Sync drive(Task<T> t, F f) {
  f(co_await t);
}

Task<int> answer(bool& started) {
  started = true;
  co_return 42;
}

Task<int> fails() {
  throw std::runtime_error("boom");
  co_return 0;
}

Task<void> rethrows() {
  co_await fails();
}

TEST(TaskTest, BodyStartsOnlyWhenAwaited) {
  bool started = false;
  int got = 0;
  Task<int> t = answer(started);
  EXPECT_FALSE(started);  // lazy
  drive(std::move(t), [&](int v) { got = v; });
  EXPECT_TRUE(started);
  EXPECT_EQ(got, 42);
}

TEST(TaskTest, ExceptionReachesTheAwaiter) {
  auto body = []() -> Task<std::string> {
    try {
      co_await rethrows();
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "no exception";
  };
  std::string got;
  drive(body(), [&](std::string v) { got = v; });
  EXPECT_EQ(got, "boom");
}

TEST(TaskTest, DestroyingAnUnstartedTaskDestroysItsFrame) {
  auto live = std::make_shared<int>(0);
  {
    auto body = [](std::shared_ptr<int> p) -> Task<void> {
      ++*p;
      co_return;
    };
    Task<void> t = body(live);
    EXPECT_EQ(live.use_count(), 2);  // the frame holds the parameter
  }
  EXPECT_EQ(live.use_count(), 1);
  EXPECT_EQ(*live, 0);  // never ran
}

TEST(TaskTest, AwaitingAnEmptyTaskThrows) {
  auto body = []() -> Task<bool> {
    Task<int> empty;
    try {
      co_await empty;
    } catch (const std::logic_error&) {
      co_return true;
    }
    co_return false;
  };
  bool threw = false;
  drive(body(), [&](bool v) { threw = v; });
  EXPECT_TRUE(threw);
}

TEST(TaskTest, AwaitingATaskTwiceThrows) {
  auto body = []() -> Task<bool> {
    bool started = false;
    Task<int> t = answer(started);
    co_await t;
    try {
      co_await t;
    } catch (const std::logic_error&) {
      co_return true;
    }
    co_return false;
  };
  bool threw = false;
  drive(body(), [&](bool v) { threw = v; });
  EXPECT_TRUE(threw);
}

[[gnu::noinline]] std::uintptr_t stackPointer() {
  volatile char here = 0;
  return reinterpret_cast<std::uintptr_t>(&here);
}

Task<int> immediate(int i) {
  co_return i;
}

// A million awaits of Tasks that finish at once: symmetric transfer keeps the stack flat (without
// it, each finished Task would resume its awaiter one frame deeper, and this overflows the stack).
TEST(TaskTest, MillionImmediateAwaitsDoNotGrowTheStack) {
  auto loop = []() -> Task<std::uintptr_t> {
    std::uintptr_t lo = UINTPTR_MAX, hi = 0;
    long sum = 0;
    for (int i = 0; i < 1'000'000; ++i) {
      sum += co_await immediate(1);
      const auto sp = stackPointer();
      lo = std::min(lo, sp);
      hi = std::max(hi, sp);
    }
    if (sum != 1'000'000) throw std::logic_error("lost an await");
    co_return hi - lo;
  };
  std::uintptr_t spread = UINTPTR_MAX;
  drive(loop(), [&](std::uintptr_t v) { spread = v; });
  EXPECT_LT(spread, 4096u) << "the stack grew by " << spread << " bytes over the loop";
}

}  // namespace
}  // namespace nioxx::coro
