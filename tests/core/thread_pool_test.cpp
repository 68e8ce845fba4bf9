// ThreadPool: every task runs, stop() drains and joins, refusals after stop and when full.
#include "nioxx/core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>

namespace nioxx {
namespace {

using namespace std::chrono_literals;

ThreadPool::Options options(std::size_t threads, std::size_t capacity = 65536) {
  ThreadPool::Options o;
  o.threads = threads;
  o.queueCapacity = capacity;
  o.name = "test-pool";
  return o;
}

TEST(ThreadPoolTest, InvalidOptionsAreRejected) {
  EXPECT_THROW(ThreadPool(options(0)), std::invalid_argument);
  EXPECT_THROW(ThreadPool(options(1, 0)), std::invalid_argument);
}

TEST(ThreadPoolTest, AllSubmittedTasksRun) {
  ThreadPool pool(options(3));
  EXPECT_EQ(pool.threads(), 3u);
  pool.start();
  std::atomic<int> ran{0};
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(pool.submit([&] { ++ran; }));
  pool.stop();
  EXPECT_EQ(ran, 1000);
}

TEST(ThreadPoolTest, StopDrainsQueuedTasksAndJoins) {
  ThreadPool pool(options(1));
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> ran{0};
  pool.start();
  ASSERT_TRUE(pool.submit([gate] { gate.wait(); }));
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(pool.submit([&] { ++ran; }));
  std::thread stopper([&] { pool.stop(); });  // blocks until drained
  release.set_value();
  stopper.join();
  EXPECT_EQ(ran, 10);  // queued before stop(): all ran
  EXPECT_EQ(pool.queued(), 0u);
}

TEST(ThreadPoolTest, SubmitAfterStopFails) {
  ThreadPool pool(options(1));
  pool.start();
  pool.stop();
  bool ran = false;
  EXPECT_FALSE(pool.submit([&] { ran = true; }));
  pool.stop();  // idempotent
  EXPECT_FALSE(ran);
}

TEST(ThreadPoolTest, FullQueueRefusesTasks) {
  ThreadPool pool(options(1, 2));
  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  pool.start();
  ASSERT_TRUE(pool.submit([&started, gate] {
    started.set_value();
    gate.wait();
  }));
  started.get_future().wait();  // the worker is busy and the queue is empty
  EXPECT_TRUE(pool.submit([] {}));
  EXPECT_TRUE(pool.submit([] {}));
  EXPECT_FALSE(pool.submit([] {}));
  release.set_value();
  pool.stop();
}

TEST(ThreadPoolTest, TasksSubmittedBeforeStartRunAfterStart) {
  ThreadPool pool(options(2));
  std::atomic<int> ran{0};
  ASSERT_TRUE(pool.submit([&] { ++ran; }));
  pool.start();
  pool.stop();
  EXPECT_EQ(ran, 1);
}

TEST(ThreadPoolTest, StopWithoutStartRunsQueuedTasksOnCaller) {
  ThreadPool pool(options(2));
  std::thread::id where;
  ASSERT_TRUE(pool.submit([&] { where = std::this_thread::get_id(); }));
  pool.stop();
  EXPECT_EQ(where, std::this_thread::get_id());
}

TEST(ThreadPoolTest, StartTwiceOrAfterStopThrows) {
  ThreadPool pool(options(1));
  pool.start();
  EXPECT_THROW(pool.start(), std::logic_error);
  pool.stop();
  EXPECT_THROW(pool.start(), std::logic_error);
}

TEST(ThreadPoolTest, IsPoolThreadOnlyOnWorkers) {
  ThreadPool pool(options(2));
  ThreadPool other(options(1));
  pool.start();
  EXPECT_FALSE(pool.isPoolThread());
  std::promise<std::pair<bool, bool>> answer;
  ASSERT_TRUE(pool.submit([&] { answer.set_value({pool.isPoolThread(), other.isPoolThread()}); }));
  const auto [mine, theirs] = answer.get_future().get();
  EXPECT_TRUE(mine);
  EXPECT_FALSE(theirs);
  pool.stop();
}

TEST(ThreadPoolTest, StopFromPoolThreadThrows) {
  ThreadPool pool(options(1));
  pool.start();
  std::promise<bool> threw;
  ASSERT_TRUE(pool.submit([&] {
    try {
      pool.stop();
      threw.set_value(false);
    } catch (const std::logic_error&) {
      threw.set_value(true);
    }
  }));
  EXPECT_TRUE(threw.get_future().get());
  pool.stop();
}

TEST(ThreadPoolTest, ThrowingTaskDoesNotKillTheWorker) {
  ThreadPool pool(options(1));
  pool.start();
  std::atomic<int> ran{0};
  ASSERT_TRUE(pool.submit([] { throw std::runtime_error("expected by the test"); }));
  ASSERT_TRUE(pool.submit([&] { ++ran; }));
  pool.stop();
  EXPECT_EQ(ran, 1);
}

TEST(ThreadPoolTest, ConcurrentSubmittersAndStopLoseNothingAccepted) {
  ThreadPool pool(options(2, 1024));
  pool.start();
  std::atomic<int> accepted{0};
  std::atomic<int> ran{0};
  std::vector<std::thread> submitters;
  for (int t = 0; t < 4; ++t) {
    submitters.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (pool.submit([&] { ++ran; })) ++accepted;
      }
    });
  }
  std::this_thread::sleep_for(1ms);  // let some submissions race with stop(); not required
  pool.stop();
  for (auto& t : submitters)
    t.join();
  EXPECT_EQ(ran.load(), accepted.load());  // every accepted task ran, refused ones did not
}

TEST(ThreadPoolTest, DestructorStopsAndDrains) {
  std::atomic<int> ran{0};
  {
    ThreadPool pool(options(2));
    pool.start();
    for (int i = 0; i < 100; ++i)
      ASSERT_TRUE(pool.submit([&] { ++ran; }));
  }
  EXPECT_EQ(ran, 100);
}

}  // namespace
}  // namespace nioxx
