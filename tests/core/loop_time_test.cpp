// sys::LoopTime: a loop turn's published time, the clock outside one, nesting restores.
#include "nioxx/core/loop_time.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace nioxx {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

TEST(LoopTimeTest, OutsideALoopTurnItIsTheClock) {
  const auto before = Clock::now();
  const auto t = sys::LoopTime::now();
  EXPECT_GE(t, before);
  EXPECT_LE(t, Clock::now());
}

TEST(LoopTimeTest, AScopePublishesItsTimeAndNestedScopesRestoreTheOuterOne) {
  const auto outer = Clock::now() - 1h;  // far from the clock, so a fallback would show
  {
    sys::LoopTime::Scope turn;
    EXPECT_GE(sys::LoopTime::now(), Clock::now() - 1s);  // nothing published yet: the clock
    turn.set(outer);
    EXPECT_EQ(sys::LoopTime::now(), outer);
    {
      sys::LoopTime::Scope inner;  // a loop run from a handler of the outer one
      inner.set(outer + 1min);
      EXPECT_EQ(sys::LoopTime::now(), outer + 1min);
    }
    EXPECT_EQ(sys::LoopTime::now(), outer);
  }
  EXPECT_GE(sys::LoopTime::now(), Clock::now() - 1s);
}

TEST(LoopTimeTest, IsPerThread) {
  sys::LoopTime::Scope turn;
  const auto published = Clock::now() - 1h;
  turn.set(published);
  Clock::time_point seenElsewhere{};
  std::thread other([&] { seenElsewhere = sys::LoopTime::now(); });
  other.join();
  EXPECT_NE(seenElsewhere, published);
  EXPECT_GE(seenElsewhere, Clock::now() - 1min);
  EXPECT_EQ(sys::LoopTime::now(), published);
}

}  // namespace
}  // namespace nioxx
