// Reactor: dispatch, posted tasks, timers, thread rules.
#include "nioxx/reactor/reactor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nioxx/core/loop_time.h"
#include "nioxx/reactor/pipe.h"
#include "nioxx_test/reactor_helpers.h"

namespace nioxx {
namespace {

using namespace std::chrono_literals;

struct FnHandler : EventHandler {
  std::function<void(SelectionKey&)> fn;
  explicit FnHandler(std::function<void(SelectionKey&)> f) : fn(std::move(f)) {}
  void handleEvent(SelectionKey& key) override { fn(key); }
};

using test::writeByte;

TEST(ReactorTest, DispatchesReadyKeyToItsHandler) {
  Reactor reactor;
  Pipe pipe = Pipe::open();
  int calls = 0;
  FnHandler handler([&](SelectionKey& key) {
    ++calls;
    EXPECT_TRUE(key.isReadable());
    EXPECT_TRUE(reactor.isInLoopThread());
    EXPECT_EQ(Reactor::current(), &reactor);
    char c;
    EXPECT_EQ(pipe.source().readSome(&c, 1), 1);
  });
  reactor.registerHandler(pipe.source(), SelectionKey::OP_READ, handler);
  writeByte(pipe);
  EXPECT_EQ(reactor.runOnce(10s), 1);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Reactor::current(), nullptr);
}

TEST(ReactorTest, PostRunsTasksInFifoOrderOnTheLoopThread) {
  Reactor reactor;
  std::vector<int> order;
  std::thread::id loopThread;
  std::thread loop([&] {
    loopThread = std::this_thread::get_id();
    reactor.run();
  });
  std::thread poster([&] {
    for (int i = 0; i < 100; ++i) {
      reactor.post([&, i] {
        EXPECT_EQ(std::this_thread::get_id(), loopThread);
        order.push_back(i);
      });
    }
    reactor.post([&] { reactor.stop(); });
  });
  poster.join();
  loop.join();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
}

TEST(ReactorTest, PostNeverRunsInlineAndRunInLoopDoes) {
  Reactor reactor;
  std::vector<std::string> log;
  reactor.post([&] {
    reactor.post([&] { log.push_back("posted"); });
    reactor.runInLoop([&] { log.push_back("inline"); });
    log.push_back("after");
  });
  EXPECT_TRUE(reactor.hasPendingTasks());
  reactor.runOnce(0ms);
  reactor.runOnce(0ms);
  EXPECT_FALSE(reactor.hasPendingTasks());
  EXPECT_EQ(log, (std::vector<std::string>{"inline", "after", "posted"}));
}

TEST(ReactorTest, PendingTaskMakesSelectNotBlock) {
  Reactor reactor;
  bool ran = false;
  reactor.post([&] { ran = true; });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(reactor.runOnce(30s), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_TRUE(ran);
}

TEST(ReactorTest, StopFromAnotherThreadEndsRun) {
  Reactor reactor;
  std::thread loop([&] { reactor.run(); });
  std::this_thread::sleep_for(10ms);
  reactor.stop();
  loop.join();
  EXPECT_TRUE(reactor.isStopped());
  reactor.run();  // sticky: returns at once
}

TEST(ReactorTest, TimerRunsNoEarlierThanItsDelay) {
  Reactor reactor;
  reactor.runOnce(0ms);  // main becomes the loop thread: schedule() inserts at once
  const auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point fired{};
  reactor.schedule(30ms, [&] { fired = std::chrono::steady_clock::now(); });
  EXPECT_EQ(reactor.pendingTimers(), 1u);
  ASSERT_TRUE(test::waitUntil([&] {
    reactor.runOnce(1s);
    return fired != std::chrono::steady_clock::time_point{};
  }));
  EXPECT_GE(fired - start, 30ms);
  EXPECT_EQ(reactor.pendingTimers(), 0u);
}

// Reactor::now() is the loop's time: read once the wait ends, so a handler, a timer and a task see
// a time no earlier than the event that woke them (and, for a timer, no earlier than its deadline).
TEST(ReactorTest, NowIsReadAfterTheWaitForHandlersTimersAndTasks) {
  using Clock = std::chrono::steady_clock;
  Reactor reactor;
  Pipe pipe = Pipe::open();
  Clock::time_point seenByHandler{};
  FnHandler handler([&](SelectionKey&) {
    seenByHandler = reactor.now();
    char c;
    EXPECT_EQ(pipe.source().readSome(&c, 1), 1);
  });
  reactor.registerHandler(pipe.source(), SelectionKey::OP_READ, handler);
  reactor.runOnce(0ms);
  // Read before the writer starts its sleep, so the byte arrives at least 20 ms after it.
  const auto beforeWait = Clock::now();
  std::thread writer([&] {
    std::this_thread::sleep_for(20ms);
    writeByte(pipe);
  });
  EXPECT_EQ(reactor.runOnce(10s), 1);
  writer.join();
  EXPECT_GE(seenByHandler - beforeWait, 20ms);  // not the time the wait began
  EXPECT_LE(seenByHandler, Clock::now());

  Clock::time_point seenByTimer{}, seenByTask{};
  const auto scheduled = Clock::now();
  reactor.schedule(30ms, [&] {
    seenByTimer = reactor.now();
    reactor.post([&] { seenByTask = reactor.now(); });
  });
  ASSERT_TRUE(test::waitUntil([&] {
    reactor.runOnce(1s);
    return seenByTask != Clock::time_point{};
  }));
  EXPECT_GE(seenByTimer - scheduled, 30ms);
  EXPECT_GE(seenByTask, seenByTimer);
}

// What the reactor dispatches (handlers, timers) reads the loop's time through sys::LoopTime
// without a clock read of its own; once the turn is over, LoopTime reads the clock again.
TEST(ReactorTest, PublishesItsTimeAsLoopTimeDuringATurn) {
  using Clock = std::chrono::steady_clock;
  Reactor reactor;
  Pipe pipe = Pipe::open();
  Clock::time_point loopTime{}, reactorTime{};
  FnHandler handler([&](SelectionKey&) {
    loopTime = sys::LoopTime::now();
    reactorTime = reactor.now();
    char c;
    EXPECT_EQ(pipe.source().readSome(&c, 1), 1);
  });
  reactor.registerHandler(pipe.source(), SelectionKey::OP_READ, handler);
  writeByte(pipe);
  ASSERT_EQ(reactor.runOnce(10s), 1);
  EXPECT_NE(loopTime, Clock::time_point{});
  EXPECT_EQ(loopTime, reactorTime);
  std::this_thread::sleep_for(2ms);
  EXPECT_GT(sys::LoopTime::now(), loopTime);  // the turn's value did not outlive the turn

  Clock::time_point timerLoopTime{}, timerReactorTime{};
  reactor.schedule(1ms, [&] {
    timerLoopTime = sys::LoopTime::now();
    timerReactorTime = reactor.now();
  });
  ASSERT_TRUE(test::waitUntil([&] {
    reactor.runOnce(1s);
    return timerLoopTime != Clock::time_point{};
  }));
  EXPECT_EQ(timerLoopTime, timerReactorTime);
}

TEST(ReactorTest, TimersRunInDeadlineOrder) {
  Reactor reactor;
  std::vector<int> order;
  reactor.schedule(20ms, [&] { order.push_back(2); });
  reactor.schedule(10ms, [&] { order.push_back(1); });
  reactor.schedule(30ms, [&] { order.push_back(3); });
  ASSERT_TRUE(test::waitUntil([&] {
    reactor.runOnce(1s);
    return order.size() == 3;
  }));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(ReactorTest, CancelledTimerDoesNotRun) {
  Reactor reactor;
  reactor.runOnce(0ms);  // main becomes the loop thread: cancelTimer() knows the answer
  bool cancelledRan = false;
  bool otherRan = false;
  TimerId id = reactor.schedule(5ms, [&] { cancelledRan = true; });
  reactor.schedule(20ms, [&] { otherRan = true; });
  EXPECT_TRUE(reactor.cancelTimer(id));
  EXPECT_FALSE(reactor.cancelTimer(id));  // no longer pending
  ASSERT_TRUE(test::waitUntil([&] {
    reactor.runOnce(1s);
    return otherRan;
  }));
  EXPECT_FALSE(cancelledRan);
}

TEST(ReactorTest, ManyCancelledTimersAreCompacted) {
  Reactor reactor;
  reactor.runOnce(0ms);  // main becomes the loop thread: timers are inserted and erased at once
  for (int i = 0; i < 1000; ++i)
    reactor.cancelTimer(reactor.schedule(1h, [] {}));
  EXPECT_EQ(reactor.pendingTimers(), 0u);
  EXPECT_EQ(reactor.runOnce(0ms), 0);
}

TEST(ReactorTest, ScheduleAndCancelFromAnotherThreadHopToTheLoop) {
  Reactor reactor;
  std::atomic<bool> fired{false};
  std::atomic<bool> cancelledFired{false};
  std::thread loop([&] { reactor.run(); });
  ASSERT_TRUE(test::waitUntil([&] {
    std::atomic<bool> ran{false};
    reactor.post([&] { ran = true; });
    return test::waitUntil([&] { return ran.load(); });
  }));
  TimerId doomed = reactor.schedule(20ms, [&] { cancelledFired = true; });
  reactor.cancelTimer(doomed);
  reactor.schedule(10ms, [&] { fired = true; });
  EXPECT_TRUE(test::waitUntil([&] { return fired.load(); }));
  std::this_thread::sleep_for(30ms);
  reactor.stop();
  loop.join();
  EXPECT_FALSE(cancelledFired.load());
}

// Calls made from outside while the loop thread is still starting are queued for it, never
// applied by the caller: until run() binds, the caller cannot know it is not the loop thread.
TEST(ReactorTest, CallsWhileTheLoopThreadStartsAreQueued) {
  constexpr int kRounds = 20;
  constexpr int kTimers = 50;
  for (int round = 0; round < kRounds; ++round) {
    Reactor reactor;
    Pipe pipe = Pipe::open();
    std::atomic<int> fired{0};
    std::atomic<int> handled{0};
    FnHandler handler([&](SelectionKey& key) {
      char c;
      EXPECT_EQ(pipe.source().readSome(&c, 1), 1);
      key.interestOps(0);
      ++handled;
    });
    std::thread loop([&] { reactor.run(); });
    SelectionKey& key = pipe.source().registerWith<EventHandler>(reactor.selector(), 0, &handler);
    key.interestOps(SelectionKey::OP_READ);
    writeByte(pipe);
    for (int i = 0; i < kTimers; ++i)
      reactor.schedule(0ns, [&] { ++fired; });
    EXPECT_TRUE(test::waitUntil([&] { return fired.load() == kTimers && handled.load() == 1; }));
    reactor.stop();
    loop.join();
  }
}

// Between two leader/followers turns no thread is bound: a timer scheduled then, and a channel
// registered then, must wait for the next turn instead of touching the loop's state directly.
TEST(ReactorTest, CallsBetweenLeaderFollowersTurnsAreQueuedForTheNextTurn) {
  constexpr int kRounds = 100;
  Reactor reactor;
  std::mutex turn;
  std::atomic<bool> done{false};
  std::thread leader([&] {
    while (!done.load()) {
      {
        std::lock_guard own(turn);
        reactor.bindLoopThread();
        reactor.runOnce(0ms);
        reactor.unbindLoopThread();
      }
      std::this_thread::sleep_for(200us);  // a follower's work between turns: nobody is bound
    }
  });
  std::atomic<int> fired{0};
  std::atomic<int> handled{0};
  std::vector<Pipe> pipes;
  pipes.reserve(kRounds);
  FnHandler handler([&](SelectionKey& key) {
    char c;
    EXPECT_EQ(static_cast<Pipe::SourceChannel*>(key.channel())->readSome(&c, 1), 1);
    key.channel()->close();  // on the loop thread: freed at the next turn's select
    ++handled;
  });
  for (int i = 0; i < kRounds; ++i) {
    reactor.schedule(0ns, [&] { ++fired; });
    pipes.push_back(Pipe::open());
    pipes.back()
        .source()
        .registerWith<EventHandler>(reactor.selector(), 0, &handler)
        .interestOps(SelectionKey::OP_READ);
    writeByte(pipes.back());
    ASSERT_TRUE(test::waitUntil([&] { return handled.load() == i + 1; }));
  }
  EXPECT_TRUE(test::waitUntil([&] { return fired.load() == kRounds; }));
  done = true;
  reactor.wakeup();
  leader.join();
}

// The single-threaded use: what main queues before run() is applied at the loop's first
// iteration, in order, and a timer can be cancelled before the loop ever ran.
TEST(ReactorTest, TasksAndTimersQueuedBeforeRunApplyInOrder) {
  Reactor reactor;
  Pipe pipe = Pipe::open();
  std::vector<std::string> log;
  FnHandler handler([&](SelectionKey&) {
    char c;
    EXPECT_EQ(pipe.source().readSome(&c, 1), 1);
    log.push_back("event");
  });
  reactor.registerHandler(pipe.source(), SelectionKey::OP_READ, handler);
  writeByte(pipe);
  reactor.post([&] { log.push_back("task1"); });
  const TimerId doomed = reactor.schedule(0ns, [&] { log.push_back("cancelled"); });
  reactor.schedule(0ns, [&] { log.push_back("timer"); });
  reactor.post([&] { log.push_back("task2"); });
  EXPECT_TRUE(reactor.cancelTimer(doomed));
  reactor.post([&] { reactor.post([&] { reactor.stop(); }); });
  reactor.run();
  const auto at = [&](const char* entry) { return std::find(log.begin(), log.end(), entry); };
  EXPECT_NE(at("event"), log.end());
  EXPECT_LT(at("task1"), at("task2"));
  EXPECT_NE(at("timer"), log.end());
  EXPECT_EQ(at("cancelled"), log.end());
  EXPECT_EQ(log.size(), 4u);
  EXPECT_EQ(reactor.pendingTimers(), 0u);
  EXPECT_EQ(reactor.selector().keyCount(), 1u);
}

TEST(ReactorTest, HandlerClosingItsOwnChannelIsNotCalledAgain) {
  Reactor reactor;
  Pipe pipe = Pipe::open();
  int calls = 0;
  FnHandler handler([&](SelectionKey& key) {
    ++calls;
    pipe.source().close();  // inside its own handler
    EXPECT_FALSE(key.isValid());
  });
  reactor.registerHandler(pipe.source(), SelectionKey::OP_READ, handler);
  writeByte(pipe);
  reactor.runOnce(10s);
  reactor.runOnce(20ms);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(reactor.selector().keyCount(), 0u);
}

TEST(ReactorTest, HandlerMayDestroyItself) {
  Reactor reactor;
  Pipe pipe = Pipe::open();
  int calls = 0;
  struct SelfDeleting : EventHandler {
    Pipe& pipe;
    int& calls;
    SelfDeleting(Pipe& p, int& c) : pipe(p), calls(c) {}
    void handleEvent(SelectionKey&) override {
      ++calls;
      pipe.source().close();
      delete this;
    }
  };
  reactor.registerHandler(pipe.source(), SelectionKey::OP_READ, *new SelfDeleting(pipe, calls));
  writeByte(pipe);
  reactor.runOnce(10s);
  reactor.runOnce(20ms);
  EXPECT_EQ(calls, 1);
}

TEST(ReactorTest, StaleEventOfChannelClosedEarlierInTheBatchIsNotDispatched) {
  Reactor reactor;
  Pipe a = Pipe::open();
  Pipe b = Pipe::open();
  int calls = 0;
  // Whichever runs first closes both channels; the other's event is already in the batch.
  FnHandler ha([&](SelectionKey&) {
    ++calls;
    b.source().close();
    a.source().close();
  });
  FnHandler hb([&](SelectionKey&) {
    ++calls;
    a.source().close();
    b.source().close();
  });
  reactor.registerHandler(a.source(), SelectionKey::OP_READ, ha);
  reactor.registerHandler(b.source(), SelectionKey::OP_READ, hb);
  writeByte(a);
  writeByte(b);
  reactor.runOnce(10s);
  reactor.runOnce(20ms);
  EXPECT_EQ(calls, 1);
}

TEST(ReactorTest, RegisterHandlerOnWrongThreadAborts) {
#if NIOXX_ASSERT_THREADS && !defined(__SANITIZE_THREAD__)
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Reactor reactor;
        Pipe pipe = Pipe::open();
        FnHandler handler([](SelectionKey&) {});
        std::thread loop([&] { reactor.run(); });
        test::waitUntil([&] { return false; }, 50ms);
        reactor.registerHandler(pipe.source(), SelectionKey::OP_READ, handler);
      },
      "loop thread");
#else
  GTEST_SKIP() << "thread assertions are compiled in for Debug/ASan builds only";
#endif
}

}  // namespace
}  // namespace nioxx
