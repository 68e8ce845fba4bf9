// ReactorGroup: N reactors on N threads, round-robin choice.
#include "nioxx/reactor/reactor_group.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "nioxx_test/reactor_helpers.h"

namespace nioxx {
namespace {

TEST(ReactorGroupTest, EachReactorRunsOnItsOwnThread) {
  ReactorGroup group(3, "test-group");
  group.start();
  std::set<std::thread::id> threads;
  for (std::size_t i = 0; i < group.size(); ++i) {
    std::promise<std::thread::id> id;
    Reactor& reactor = group.at(i);
    reactor.post([&] {
      EXPECT_EQ(Reactor::current(), &reactor);
      id.set_value(std::this_thread::get_id());
    });
    threads.insert(id.get_future().get());
  }
  EXPECT_EQ(threads.size(), 3u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
  group.stop();
  EXPECT_FALSE(group.isRunning());
}

// start() returns once every loop thread is bound, so calls made right after it from outside
// take the thread-safe paths (the timer hops to the loop) instead of racing the binding.
TEST(ReactorGroupTest, ScheduleRightAfterStartHopsToTheLoop) {
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> fired{0};
    ReactorGroup group(2);
    group.start();
    for (std::size_t i = 0; i < group.size(); ++i) {
      for (int t = 0; t < 25; ++t)
        group.at(i).schedule(std::chrono::nanoseconds(0), [&] { ++fired; });
    }
    EXPECT_TRUE(test::waitUntil([&] { return fired.load() == 50; }));
    group.stop();
  }
}

TEST(ReactorGroupTest, NextIsRoundRobin) {
  ReactorGroup group(2);
  Reactor* first = &group.next();
  Reactor* second = &group.next();
  EXPECT_NE(first, second);
  EXPECT_EQ(&group.next(), first);
  EXPECT_EQ(&group.next(), second);
}

TEST(ReactorGroupTest, RejectsZeroReactors) {
  EXPECT_THROW(ReactorGroup(0), std::invalid_argument);
}

TEST(ReactorGroupTest, StopIsIdempotentAndDestructorJoins) {
  std::atomic<int> ran{0};
  {
    ReactorGroup group(2);
    group.start();
    group.start();  // idempotent
    group.next().post([&] { ++ran; });
    EXPECT_TRUE(test::waitUntil([&] { return ran.load() == 1; }));
    group.stop();
    group.stop();
  }
  EXPECT_EQ(ran.load(), 1);
}

// Reactor tasks are move-only: a task may own a unique_ptr (or a SocketChannel) outright.
TEST(ReactorGroupTest, PostTakesMoveOnlyTasks) {
  ReactorGroup group(1, "test-move");
  group.start();
  std::promise<int> got;
  auto value = std::make_unique<int>(7);
  group.at(0).post([v = std::move(value), &got] { got.set_value(*v); });
  EXPECT_EQ(got.get_future().get(), 7);
}

// handOff: the Acceptor's loop accepts, each channel moves to the next group reactor, and the
// user's callback runs on that reactor's loop thread, where it registers the channel.
TEST(ReactorGroupTest, HandOffMovesAcceptedChannelsToTheGroupsLoops) {
  ReactorGroup group(2, "test-handoff");
  group.start();
  std::mutex mutex;
  std::set<Reactor*> loops;
  std::vector<SocketChannel> kept;  // the server sides, alive until the end of the test
  std::atomic<int> onRightThread{0};
  Reactor main;
  auto acceptor =
      std::make_unique<Acceptor>(main, InetSocketAddress::loopback(0),
                                 group.handOff([&](Reactor& reactor, SocketChannel&& channel) {
                                   if (Reactor::current() == &reactor) onRightThread.fetch_add(1);
                                   test::writeAll(channel, "hello\n");
                                   std::lock_guard lock(mutex);
                                   loops.insert(&reactor);
                                   kept.push_back(std::move(channel));
                                 }));
  const InetSocketAddress address = acceptor->localAddress();
  std::thread mainLoop([&] { main.run(); });
  for (int i = 0; i < 4; ++i) {
    SocketChannel client = SocketChannel::open(AF_INET);
    client.connect(address);
    ASSERT_TRUE(test::waitUntil([&] { return client.finishConnect(); }));
    EXPECT_EQ(test::readExactly(client, 6), "hello\n");
  }
  main.post([&] {
    acceptor.reset();
    main.stop();
  });
  mainLoop.join();
  group.stop();
  EXPECT_EQ(onRightThread.load(), 4);
  EXPECT_EQ(loops, (std::set<Reactor*>{&group.at(0), &group.at(1)}));
}

}  // namespace
}  // namespace nioxx
