// BoundedQueue: hard capacity, FIFO order, close semantics, timeouts, and MPMC contention.
#include "nioxx/core/bounded_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace nioxx {
namespace {

using namespace std::chrono_literals;

TEST(BoundedQueueTest, ZeroCapacityIsRejected) {
  EXPECT_THROW(BoundedQueue<int>(0), std::invalid_argument);
}

TEST(BoundedQueueTest, CapacityIsHonoured) {
  BoundedQueue<int> q(3);
  EXPECT_EQ(q.capacity(), 3u);
  EXPECT_TRUE(q.tryPush(1));
  EXPECT_TRUE(q.tryPush(2));
  EXPECT_TRUE(q.tryPush(3));
  EXPECT_FALSE(q.tryPush(4));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.tryPop(), 1);
  EXPECT_TRUE(q.tryPush(4));
  EXPECT_FALSE(q.tryPush(5));
}

TEST(BoundedQueueTest, PopsInFifoOrder) {
  BoundedQueue<int> q(8);
  for (int i = 0; i < 5; ++i)
    q.push(int{i});
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(q.pop(), i);
  EXPECT_EQ(q.tryPop(), std::nullopt);
}

TEST(BoundedQueueTest, RefusedMoveOnlyValueStaysWithCaller) {
  BoundedQueue<std::unique_ptr<int>> q(1);
  ASSERT_TRUE(q.tryPush(std::make_unique<int>(1)));
  auto second = std::make_unique<int>(2);
  EXPECT_FALSE(q.tryPush(std::move(second)));
  ASSERT_NE(second, nullptr);  // NOLINT(bugprone-use-after-move): documented behaviour
  EXPECT_EQ(*second, 2);
}

TEST(BoundedQueueTest, CloseRefusesPushesAndDrainsThenReturnsNullopt) {
  BoundedQueue<int> q(4);
  q.push(1);
  q.push(2);
  q.close();
  EXPECT_TRUE(q.closed());
  EXPECT_FALSE(q.push(3));
  EXPECT_FALSE(q.tryPush(3));
  EXPECT_EQ(q.pop(), 1);
  EXPECT_EQ(q.popFor(1h), 2);
  EXPECT_EQ(q.pop(), std::nullopt);  // does not block once closed and empty
  EXPECT_EQ(q.popFor(1h), std::nullopt);
}

TEST(BoundedQueueTest, CloseWakesBlockedConsumers) {
  BoundedQueue<int> q(1);
  std::atomic<int> woken{0};
  std::vector<std::thread> consumers;
  for (int i = 0; i < 3; ++i) {
    consumers.emplace_back([&] {
      EXPECT_EQ(q.pop(), std::nullopt);
      ++woken;
    });
  }
  q.close();
  for (auto& t : consumers)
    t.join();
  EXPECT_EQ(woken, 3);
}

TEST(BoundedQueueTest, CloseWakesBlockedProducer) {
  BoundedQueue<int> q(1);
  q.push(1);
  std::thread producer([&] { EXPECT_FALSE(q.push(2)); });
  q.close();
  producer.join();
  EXPECT_EQ(q.size(), 1u);
}

TEST(BoundedQueueTest, BlockingPushWaitsForRoom) {
  BoundedQueue<int> q(1);
  q.push(1);
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    EXPECT_TRUE(q.push(2));
    pushed = true;
  });
  EXPECT_EQ(q.pop(), 1);  // makes room; the producer can now finish
  producer.join();
  EXPECT_TRUE(pushed);
  EXPECT_EQ(q.pop(), 2);
}

TEST(BoundedQueueTest, PopForTimesOutOnEmptyOpenQueue) {
  BoundedQueue<int> q(1);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(q.popFor(20ms), std::nullopt);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  EXPECT_FALSE(q.closed());
}

TEST(BoundedQueueTest, PopForReturnsItemPushedWhileWaiting) {
  BoundedQueue<int> q(1);
  std::thread producer([&] { q.push(42); });
  EXPECT_EQ(q.popFor(60s), 42);  // generous: only bounds a failure
  producer.join();
}

TEST(BoundedQueueTest, FourProducersFourConsumersDeliverEveryItemExactlyOnce) {
  constexpr int kProducers = 4;
  constexpr int kConsumers = 4;
  constexpr int kPerProducer = 10000;
  BoundedQueue<int> q(64);  // small, so producers really block on a full queue
  std::vector<std::atomic<int>> seen(kProducers * kPerProducer);
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i)
        ASSERT_TRUE(q.push(p * kPerProducer + i));
    });
  }
  std::vector<std::vector<int>> received(kConsumers);
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      while (auto v = q.pop()) {
        seen[static_cast<std::size_t>(*v)].fetch_add(1, std::memory_order_relaxed);
        received[static_cast<std::size_t>(c)].push_back(*v);
      }
    });
  }
  for (int p = 0; p < kProducers; ++p)
    threads[static_cast<std::size_t>(p)].join();
  q.close();  // consumers drain, then stop
  for (std::size_t t = kProducers; t < threads.size(); ++t)
    threads[t].join();
  for (std::size_t i = 0; i < seen.size(); ++i)
    ASSERT_EQ(seen[i].load(), 1) << "item " << i;
  // FIFO per producer: each consumer sees one producer's items in increasing order.
  for (const auto& got : received) {
    std::vector<int> last(kProducers, -1);
    for (int v : got) {
      auto& prev = last[static_cast<std::size_t>(v / kPerProducer)];
      EXPECT_GT(v, prev);
      prev = v;
    }
  }
}

}  // namespace
}  // namespace nioxx
