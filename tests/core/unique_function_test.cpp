// UniqueFunction: move-only callables, inline and on the heap, empty calls, moves.
#include "nioxx/core/unique_function.h"

#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace nioxx {
namespace {

TEST(UniqueFunctionTest, HoldsAMoveOnlyCallable) {
  auto owned = std::make_unique<int>(41);
  UniqueFunction<int()> f = [p = std::move(owned)] { return *p + 1; };
  EXPECT_TRUE(f);
  EXPECT_EQ(f(), 42);
  UniqueFunction<int()> g = std::move(f);
  EXPECT_FALSE(f);  // NOLINT(bugprone-use-after-move): moved-from is empty, by contract
  EXPECT_EQ(g(), 42);
}

TEST(UniqueFunctionTest, LargeCallablesLiveOnTheHeapAndAreDestroyedOnce) {
  auto counter = std::make_shared<int>(0);
  std::array<char, 256> big{};
  big[0] = 'x';
  {
    UniqueFunction<char(int)> f = [counter, big](int i) { return static_cast<char>(big[0] + i); };
    EXPECT_EQ(counter.use_count(), 2);
    UniqueFunction<char(int)> g;
    g = std::move(f);
    EXPECT_EQ(g(1), 'y');
    EXPECT_EQ(counter.use_count(), 2);  // moved, not copied
  }
  EXPECT_EQ(counter.use_count(), 1);  // destroyed exactly once
}

TEST(UniqueFunctionTest, EmptyOnesThrowWhenCalled) {
  UniqueFunction<void()> none;
  EXPECT_FALSE(none);
  EXPECT_THROW(none(), std::bad_function_call);
  UniqueFunction<void()> fromEmpty = std::function<void()>();
  EXPECT_FALSE(fromEmpty);
  void (*nullFn)() = nullptr;
  UniqueFunction<void()> fromNull = nullFn;
  EXPECT_FALSE(fromNull);
}

TEST(UniqueFunctionTest, PassesArgumentsThrough) {
  UniqueFunction<std::string(std::string&&, const std::string&)> concat =
      [](std::string&& a, const std::string& b) { return std::move(a) + b; };
  EXPECT_EQ(concat("ab", "cd"), "abcd");
}

}  // namespace
}  // namespace nioxx
