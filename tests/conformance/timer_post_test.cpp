// Timers and post(): each completes exactly once, never inside the call that scheduled,
// cancelled or posted it, also when that call is made from a handler.
#include <atomic>
#include <vector>

#include "conformance_fixture.h"

namespace nioxx::conformance {
namespace {

TEST_P(ConformanceTest, TimersFireOnceAndNotBeforeTheirDelay) {
  struct State {
    std::atomic<int> fired{0};
    std::atomic<int> early{0};
    std::atomic<int> failed{0};
    std::atomic<int> insideApi{0};
  };
  auto s = std::make_shared<State>();
  const auto start = std::chrono::steady_clock::now();
  for (const auto delay : {30ms, 10ms, 20ms}) {
    api([&] {
      proactor().scheduleTimer(delay, delay,
                               [s, start](TimerResult& r, std::chrono::milliseconds& d) {
                                 if (insideApiCall()) s->insideApi.fetch_add(1);
                                 if (!r.success()) s->failed.fetch_add(1);
                                 if (std::chrono::steady_clock::now() - start < d)
                                   s->early.fetch_add(1);
                                 s->fired.fetch_add(1);
                               });
    });
  }
  ASSERT_TRUE(eventually([&] { return s->fired.load() == 3; }));
  shutdownProactor();  // nothing may run after this: a duplicate would show below
  EXPECT_EQ(s->fired.load(), 3);
  EXPECT_EQ(s->failed.load(), 0);
  EXPECT_EQ(s->early.load(), 0) << "a timer fired before its delay";
  EXPECT_EQ(s->insideApi.load(), 0);
}

TEST_P(ConformanceTest, CancelTimerCompletesWithOperationAbortedExactlyOnce) {
  struct State {
    std::atomic<int> calls{0};
    std::atomic<bool> insideApi{false};
    std::error_code error;
  };
  auto s = std::make_shared<State>();
  const std::uint64_t id = api([&] {
    return proactor().scheduleTimer(10s, [s](TimerResult& r) {
      s->insideApi = s->insideApi || insideApiCall();
      s->error = r.error();
      s->calls.fetch_add(1);
    });
  });
  api([&] { proactor().cancelTimer(id); });
  api([&] { proactor().cancelTimer(id); });  // a second cancel of the same timer is ignored
  ASSERT_TRUE(eventually([&] { return s->calls.load() >= 1; }));
  api([&] { proactor().cancelTimer(id); });  // and so is a cancel after it completed
  shutdownProactor();
  EXPECT_EQ(s->calls.load(), 1);
  EXPECT_EQ(s->error, Error::operation_aborted) << s->error.message();
  EXPECT_FALSE(s->insideApi.load()) << "the cancelled timer's handler ran inside cancelTimer()";
}

// A handler cancelling other timers (the idiom: a response arrived, cancel its timeout): the
// aborted timers' handlers must not run inside that cancelTimer() call.
TEST_P(ConformanceTest, CancelTimerFromAHandlerDoesNotRunTheAbortedHandlerInsideCancelTimer) {
  struct State {
    std::vector<std::uint64_t> victims;  // written before the canceller can fire
    std::atomic<int> aborted{0};
    std::atomic<int> insideApi{0};
    std::atomic<bool> cancellerDone{false};
  };
  auto s = std::make_shared<State>();
  // Two victims scheduled back to back, so an engine that spreads timers over several threads
  // by id has one of them where the canceller runs.
  for (int i = 0; i < 2; ++i) {
    s->victims.push_back(api([&] {
      return proactor().scheduleTimer(10s, [s](TimerResult& r) {
        if (insideApiCall()) s->insideApi.fetch_add(1);
        if (r.aborted()) s->aborted.fetch_add(1);
      });
    }));
  }
  api([&] {
    proactor().scheduleTimer(1ms, [s, p = &proactor()](TimerResult&) {
      for (std::uint64_t id : s->victims)
        api([&] { p->cancelTimer(id); });
      s->cancellerDone = true;
    });
  });
  ASSERT_TRUE(eventually([&] { return s->cancellerDone.load() && s->aborted.load() == 2; }));
  EXPECT_EQ(s->insideApi.load(), 0)
      << "a cancelled timer's handler ran inside cancelTimer() called from a handler";
}

TEST_P(ConformanceTest, PostRunsTheFunctionOnceAndNotInsidePost) {
  struct State {
    std::atomic<int> calls{0};
    std::atomic<bool> insideApi{false};
  };
  auto s = std::make_shared<State>();
  api([&] {
    proactor().post([s] {
      s->insideApi = s->insideApi || insideApiCall();
      s->calls.fetch_add(1);
    });
  });
  ASSERT_TRUE(eventually([&] { return s->calls.load() == 1; }));
  shutdownProactor();
  EXPECT_EQ(s->calls.load(), 1);
  EXPECT_FALSE(s->insideApi.load()) << "the posted function ran inside post()";
}

}  // namespace
}  // namespace nioxx::conformance
