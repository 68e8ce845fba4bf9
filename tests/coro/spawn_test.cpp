// spawn and Scope: exceptions to the spawner, stop and join, shutdown with suspended coroutines
// (every frame destroyed, nothing leaked), spawning after shutdown.
#include <atomic>
#include <stdexcept>

#include "coro_fixture.h"

namespace nioxx::conformance {
namespace {

coro::Task<int> throwsAfterAnAwait(Proactor& p) {
  co_await coro::post(p);
  throw std::runtime_error("from the coroutine");
}

TEST_P(CoroTest, ExceptionReachesTheSpawnCallback) {
  try {
    run(throwsAfterAnAwait(proactor()));
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "from the coroutine");
  }
}

TEST_P(CoroTest, ScopeJoinRethrowsTheFirstException) {
  coro::Scope scope(proactor());
  api([&] {
    scope.spawn(
        [](Proactor& p) -> coro::Task<void> { co_await throwsAfterAnAwait(p); }(proactor()));
  });
  EXPECT_THROW(scope.join(), std::runtime_error);
  EXPECT_NO_THROW(scope.join());  // once
}

coro::Task<void> waitsForData(AsyncSocket s, std::shared_ptr<std::atomic<int>> live,
                              std::shared_ptr<std::atomic<int>> aborted) {
  FrameCounter frame(live);
  IoResult r = co_await coro::read(s, ByteBuffer::allocate(16));
  if (r.aborted()) aborted->fetch_add(1);
}

TEST_P(CoroTest, ScopeRequestStopCancelsEveryCoroutineAndJoins) {
  constexpr int kCoroutines = 8;
  auto live = std::make_shared<std::atomic<int>>(0);
  auto aborted = std::make_shared<std::atomic<int>>(0);
  std::vector<std::pair<AsyncSocket, UniqueFd>> sockets;
  coro::Scope scope(proactor());
  for (int i = 0; i < kCoroutines; ++i) {
    sockets.push_back(socketAndPeer());
    api([&] { scope.spawn(waitsForData(sockets.back().first, live, aborted)); });
  }
  ASSERT_TRUE(eventually([&] { return live->load() == kCoroutines; }));
  EXPECT_EQ(scope.size(), std::size_t{kCoroutines});
  EXPECT_FALSE(scope.joinFor(5ms));  // nothing ends by itself
  scope.requestStop();
  scope.join();
  EXPECT_EQ(live->load(), 0);
  EXPECT_EQ(aborted->load(), kCoroutines);
  EXPECT_EQ(scope.size(), 0u);
}

// Shutdown with coroutines suspended on reads, accepts and timers: each operation completes
// operation_aborted, the coroutine resumes, and what it initiates next throws ShutdownError into
// it; the frames end normally (their locals' destructors run) and the Scope joins. The fixture's
// leak check and ASan's leak detector see nothing left.
TEST_P(CoroTest, ShutdownWithSuspendedCoroutinesDestroysEveryFrame) {
  auto live = std::make_shared<std::atomic<int>>(0);
  auto shutdownErrors = std::make_shared<std::atomic<int>>(0);
  auto retries = [](AsyncSocket s, std::shared_ptr<std::atomic<int>> live,
                    std::shared_ptr<std::atomic<int>> errors) -> coro::Task<void> {
    FrameCounter frame(live);
    try {
      for (;;)
        co_await coro::read(s, ByteBuffer::allocate(16));  // retries after every abort
    } catch (const ShutdownError&) {
      errors->fetch_add(1);
      throw;  // a ShutdownError escaping a coroutine just ends it
    }
  };
  auto sleeps = [](Proactor& p, std::shared_ptr<std::atomic<int>> live) -> coro::Task<void> {
    FrameCounter frame(live);
    co_await coro::sleep(p, 1h);
  };
  auto accepts = [](AsyncServerSocket s,
                    std::shared_ptr<std::atomic<int>> live) -> coro::Task<void> {
    FrameCounter frame(live);
    co_await coro::accept(s);
  };
  auto [a, peer] = socketAndPeer();
  AsyncServerSocket server = AsyncServerSocket::open(proactor());
  ASSERT_FALSE(server.bind(InetSocketAddress::loopback(0)));
  {
    coro::Scope scope(proactor());
    api([&, &a = a] {
      scope.spawn(retries(a, live, shutdownErrors));
      scope.spawn(sleeps(proactor(), live));
      scope.spawn(accepts(server, live));
    });
    ASSERT_TRUE(eventually([&] { return live->load() == 3; }));
    std::this_thread::sleep_for(5ms);
    shutdownProactor();
    EXPECT_TRUE(scope.joinFor(kWait));
  }
  EXPECT_EQ(live->load(), 0);
  EXPECT_EQ(shutdownErrors->load(), 1);
}

TEST_P(CoroTest, SpawnAfterShutdownThrowsAndRunsNothing) {
  shutdownProactor();
  auto live = std::make_shared<std::atomic<int>>(0);
  auto body = [](std::shared_ptr<std::atomic<int>> live) -> coro::Task<void> {
    FrameCounter frame(live);
    co_return;
  };
  coro::Scope scope(proactor());
  EXPECT_THROW(scope.spawn(body(live)), ShutdownError);
  EXPECT_EQ(scope.size(), 0u);
  EXPECT_EQ(live->load(), 0);
}

// A coroutine joins a nested scope with co_await (no blocking on a handler thread).
TEST_P(CoroTest, CoroutineAwaitsAScopesJoin) {
  auto body = [](Proactor& p) -> coro::Task<int> {
    auto count = std::make_shared<std::atomic<int>>(0);
    coro::Scope inner(p);
    for (int i = 0; i < 4; ++i) {
      inner.spawn([](Proactor& p, std::shared_ptr<std::atomic<int>> c) -> coro::Task<void> {
        co_await coro::sleep(p, 1ms);
        c->fetch_add(1);
      }(p, count));
    }
    co_await inner.joined();
    co_return count->load();
  };
  EXPECT_EQ(run(body(proactor())), 4);
}

}  // namespace
}  // namespace nioxx::conformance
