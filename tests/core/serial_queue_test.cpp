// SerialQueue: one drain scheduled at a time, batches swapped out whole, fairness turns, refusal
// after close, removal under the lock, the lock-free pending hint, and order under contention.
#include "nioxx/core/serial_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "nioxx/core/thread_pool.h"

namespace nioxx {
namespace {

using Queue = SerialQueue<std::vector<int>>;
using Added = Queue::Added;

auto append(int v) {
  return [v](std::vector<int>& batch) { batch.push_back(v); };
}

TEST(SerialQueueTest, OnlyTheAddThatFindsItIdleSchedules) {
  Queue q;
  EXPECT_EQ(q.add(append(1)), Added::scheduled);
  EXPECT_EQ(q.add(append(2)), Added::queued);
  EXPECT_EQ(q.add(append(3)), Added::queued);
}

TEST(SerialQueueTest, TakeSwapsTheWholeBatchOutAndGoesIdleWhenEmpty) {
  Queue q;
  q.add(append(1));
  q.add(append(2));
  std::vector<int> out;
  ASSERT_TRUE(q.take(out));
  EXPECT_EQ(out, (std::vector<int>{1, 2}));
  out.clear();
  EXPECT_FALSE(q.take(out));                      // nothing left: idle
  EXPECT_EQ(q.add(append(3)), Added::scheduled);  // so the next add schedules again
}

TEST(SerialQueueTest, WorkAddedDuringATurnStaysScheduled) {
  Queue q;
  q.add(append(1));
  std::vector<int> out;
  ASSERT_TRUE(q.take(out));
  EXPECT_EQ(q.add(append(2)), Added::queued);  // the running drain will see it
  EXPECT_TRUE(q.finishTurn());                 // more pending: reschedule, still scheduled
  EXPECT_EQ(q.add(append(3)), Added::queued);
  out.clear();
  ASSERT_TRUE(q.take(out));
  EXPECT_EQ(out, (std::vector<int>{2, 3}));
  EXPECT_FALSE(q.finishTurn());  // idle
  EXPECT_EQ(q.add(append(4)), Added::scheduled);
}

TEST(SerialQueueTest, TakeAndFinishLeavesTheQueueIdle) {
  Queue q;
  q.add(append(1));
  std::vector<int> out;
  ASSERT_TRUE(q.takeAndFinish(out));
  EXPECT_EQ(out, (std::vector<int>{1}));
  EXPECT_EQ(q.add(append(2)), Added::scheduled);  // a second drain, while the first batch runs
  out.clear();
  ASSERT_TRUE(q.takeAndFinish(out));
  EXPECT_EQ(out, (std::vector<int>{2}));
  out.clear();
  EXPECT_FALSE(q.takeAndFinish(out));
  EXPECT_EQ(q.add(append(3)), Added::scheduled);
}

TEST(SerialQueueTest, AnAddThatAddsNothingDoesNotSchedule) {
  Queue q;
  EXPECT_EQ(q.add([](std::vector<int>&) {}), Added::queued);
  EXPECT_EQ(q.add(append(1)), Added::scheduled);
}

TEST(SerialQueueTest, UnscheduleKeepsTheWorkForTheNextAdd) {
  Queue q;
  ASSERT_EQ(q.add(append(1)), Added::scheduled);
  q.unschedule();  // e.g. the pool refused the drain
  EXPECT_EQ(q.add([](std::vector<int>&) {}), Added::scheduled);
  std::vector<int> out;
  ASSERT_TRUE(q.take(out));
  EXPECT_EQ(out, (std::vector<int>{1}));
}

TEST(SerialQueueTest, TakeWithAFunctionMovesOutPartOfTheBatch) {
  Queue q;
  q.add(append(1));
  q.add(append(2));
  int got = 0;
  auto popFront = [&got](std::vector<int>& batch) {
    got = batch.front();
    batch.erase(batch.begin());
  };
  ASSERT_TRUE(q.take(popFront));
  EXPECT_EQ(got, 1);
  ASSERT_TRUE(q.take(popFront));
  EXPECT_EQ(got, 2);
  EXPECT_FALSE(q.take(popFront));
}

TEST(SerialQueueTest, TakeOrCloseClosesOnlyOnceNothingIsPending) {
  Queue q;
  q.add(append(1));
  std::vector<int> out;
  ASSERT_TRUE(q.takeOrClose(out));
  EXPECT_EQ(out, (std::vector<int>{1}));
  EXPECT_EQ(q.add(append(2)), Added::queued);  // still open: the drain is scheduled
  out.clear();
  ASSERT_TRUE(q.takeOrClose(out));
  EXPECT_EQ(out, (std::vector<int>{2}));
  out.clear();
  EXPECT_FALSE(q.takeOrClose(out));  // empty: closed
  bool ran = false;
  EXPECT_EQ(q.add([&ran](std::vector<int>&) { ran = true; }), Added::refused);
  EXPECT_FALSE(ran);
}

TEST(SerialQueueTest, WithLockRemovesPendingWork) {
  Queue q;
  q.add(append(1));
  q.add(append(2));
  const bool removed = q.withLock([](std::vector<int>& batch) {
    std::erase(batch, 1);
    return true;
  });
  EXPECT_TRUE(removed);
  std::vector<int> out;
  ASSERT_TRUE(q.take(out));
  EXPECT_EQ(out, (std::vector<int>{2}));
}

TEST(SerialQueueTest, HasPendingFollowsAddAndTake) {
  SerialQueue<std::vector<int>, true> q;
  EXPECT_FALSE(q.hasPending());
  q.add(append(1));
  EXPECT_TRUE(q.hasPending());
  std::vector<int> out;
  ASSERT_TRUE(q.take(out));
  EXPECT_FALSE(q.hasPending());
}

// Producers on several threads, drains on a pool: never two drains at once, every item run once,
// each producer's items in the order it added them.
TEST(SerialQueueTest, ConcurrentAddsRunSeriallyAndInOrder) {
  constexpr int kProducers = 4;
  constexpr int kItems = 20000;
  Queue q;
  ThreadPool pool(ThreadPool::Options{3, 1 << 16, "serial-test"});
  pool.start();
  std::atomic<int> active{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> drains{0};
  std::vector<int> last(kProducers, -1);  // touched only by the drain
  std::atomic<int> outOfOrder{0};
  std::atomic<int> ran{0};
  auto drain = [&] {
    if (active.fetch_add(1) != 0) overlaps.fetch_add(1);
    drains.fetch_add(1);
    std::vector<int> batch;
    while (q.take(batch)) {
      for (int v : batch) {
        const int producer = v / kItems;
        if (v % kItems <= last[producer]) outOfOrder.fetch_add(1);
        last[producer] = v % kItems;
        ran.fetch_add(1);
      }
      batch.clear();
    }
    active.fetch_sub(1);
  };
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kItems; ++i) {
        if (q.add(append(p * kItems + i)) == Added::scheduled) {
          while (!pool.submit(drain))
            std::this_thread::yield();
        }
      }
    });
  }
  for (auto& t : producers)
    t.join();
  pool.stop();
  EXPECT_EQ(ran.load(), kProducers * kItems);
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(outOfOrder.load(), 0);
  EXPECT_GT(drains.load(), 0);
}

}  // namespace
}  // namespace nioxx
