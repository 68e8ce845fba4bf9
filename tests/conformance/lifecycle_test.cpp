// stop()/restart() and shutdown(): run() returns when told to, shutdown() aborts what is in flight
// and runs every handler exactly once before it returns, and nothing can be started afterwards,
// also when initiations race the shutdown.
#include <sys/socket.h>

#include <atomic>
#include <functional>
#include <stdexcept>
#include <vector>

#include "conformance_fixture.h"

namespace nioxx::conformance {
namespace {

TEST_P(ConformanceTest, ShutdownAbortsPendingOperationsAndRunsEachHandlerOnceBeforeReturning) {
  auto [a, b] = socketPair();
  auto [writer, silentPeer] = socketAndPeer();
  struct State {
    std::atomic<bool> shutdownReturned{false};
    std::atomic<int> late{0};
    std::atomic<int> insideApi{0};
    std::vector<std::atomic<int>> calls = std::vector<std::atomic<int>>(4);
    std::vector<std::error_code> errors = std::vector<std::error_code>(4);
  };
  auto s = std::make_shared<State>();
  auto handler = [s](auto& result, int& index) {
    if (s->shutdownReturned.load()) s->late.fetch_add(1);
    if (insideApiCall()) s->insideApi.fetch_add(1);
    s->errors[static_cast<std::size_t>(index)] = result.error();
    s->calls[static_cast<std::size_t>(index)].fetch_add(1);
  };
  api([&, &a = a] { a.read(ByteBuffer::allocate(8), 0, handler); });
  api([&, &b = b] { b.read(ByteBuffer::allocate(8), 1, handler); });
  // Stuck: far more than the socket buffer, and the peer never reads.
  api([&, &w = writer] { w.writeAll(ByteBuffer::allocate(8 << 20), 2, handler); });
  api([&] { proactor().scheduleTimer(10s, 3, handler); });
  shutdownProactor();
  s->shutdownReturned = true;
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(s->calls[i].load(), 1) << "operation " << i;
    EXPECT_EQ(s->errors[i], Error::operation_aborted)
        << "operation " << i << ": " << s->errors[i].message();
  }
  EXPECT_EQ(s->insideApi.load(), 0);
  EXPECT_EQ(s->late.load(), 0) << "a handler ran after shutdown() returned";
}

TEST_P(ConformanceTest, InitiatingAfterShutdownThrowsLogicErrorAndRunsNoHandler) {
  auto [a, b] = socketPair();
  AsyncServerSocket server = AsyncServerSocket::open(proactor());
  ASSERT_FALSE(server.bind(InetSocketAddress::loopback(0)));
  shutdownProactor();
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto count = [calls](auto&...) { calls->fetch_add(1); };
  EXPECT_THROW(a.read(ByteBuffer::allocate(8), count), std::logic_error);
  EXPECT_THROW(a.readExactly(ByteBuffer::allocate(8), count), std::logic_error);
  EXPECT_THROW(a.write(bufferOf("x"), count), std::logic_error);
  EXPECT_THROW(a.writeAll(bufferOf("x"), count), std::logic_error);
  std::vector<ByteBuffer> parts;
  parts.push_back(bufferOf("x"));
  EXPECT_THROW(a.writev(std::move(parts), NoAct{}, count), std::logic_error);
  EXPECT_THROW(a.connect(InetSocketAddress::loopback(1), count), std::logic_error);
  EXPECT_THROW(server.accept(count), std::logic_error);
  EXPECT_THROW(proactor().post(count), std::logic_error);
  EXPECT_THROW(proactor().scheduleTimer(1ms, count), std::logic_error);
  EXPECT_EQ(calls->load(), 0);
  a.close();
  b.close();
  server.close();
}

// stop() makes run() return "as soon as its current handler finishes", however much work is
// queued: a handler that keeps re-posting itself (a busy application) must not keep run() going.
TEST_P(ConformanceTest, StopMakesRunReturnWhileAHandlerKeepsRepostingItself) {
  if (GetParam().runners == 0) GTEST_SKIP() << "this engine has no run() threads";
  struct State {
    Proactor* proactor;
    std::atomic<bool> keepGoing{true};
    std::atomic<long> runs{0};
    void repost(const std::shared_ptr<State>& self) {
      try {
        api([&] {
          proactor->post([self] {
            self->runs.fetch_add(1);
            if (self->keepGoing.load()) self->repost(self);
          });
        });
      } catch (const std::logic_error&) {
        // shut down meanwhile: the chain ends
      }
    }
  };
  auto s = std::make_shared<State>();
  s->proactor = &proactor();
  struct EndChain {  // whatever happens below, the chain ends before TearDown shuts down
    std::shared_ptr<State> s;
    ~EndChain() { s->keepGoing = false; }
  } endChain{s};
  s->repost(s);
  ASSERT_TRUE(eventually([&] { return s->runs.load() >= 100; }));
  EXPECT_TRUE(stopRunThreads())
      << "run() did not return within 10 s of stop() while a handler kept re-posting itself";
  s->keepGoing = false;
}

TEST_P(ConformanceTest, RunRunsHandlersAgainAfterStopAndRestart) {
  ASSERT_TRUE(stopRunThreads());
  api([&] { proactor().restart(); });
  runThreads().resume();
  auto ran = std::make_shared<std::atomic<int>>(0);
  api([&] { proactor().post([ran] { ran->fetch_add(1); }); });
  EXPECT_TRUE(eventually([&] { return ran->load() == 1; }));
  auto [a, b] = socketPair();
  auto got = api([&, &b = b] { return b.read(ByteBuffer::allocate(4), use_future); });
  auto sent = api([&, &a = a] { return a.writeAll(bufferOf("up"), use_future); });
  awaitResult(sent, "writeAll after restart");
  EXPECT_EQ(filledPart(awaitResult(got, "read after restart").buffer()), "up");
}

// Initiations racing shutdown(): each either throws std::logic_error (not initiated) or gets its
// handler run exactly once before shutdown() returns; and shutdown() ends while the initiators
// keep going (they stop only when an initiation throws, or after a budget so that a shutdown()
// that waits for them cannot hang the suite). Repeated on fresh Proactors: the window is narrow.
TEST_P(ConformanceTest, InitiationsRacingShutdownEachCompleteOnceOrThrow) {
  constexpr int kRounds = 40;
  constexpr long kBudget = 100'000;  // initiations per thread: far more than a shutdown takes
  for (int round = 0; round < kRounds && !HasFailure(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    struct State {
      std::atomic<long> initiated{0};
      std::atomic<long> handled{0};
      std::atomic<long> late{0};
      std::atomic<bool> shutdownReturned{false};
      std::atomic<int> ranOutOfBudget{0};
    };
    auto s = std::make_shared<State>();
    std::unique_ptr<Proactor> p = GetParam().make();
    auto threads = std::make_unique<RunThreads>(*p, GetParam().runners);
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    AsyncSocket a = AsyncSocket::adopt(*p, fds[0]);
    AsyncSocket b = AsyncSocket::adopt(*p, fds[1]);
    auto handler = [s](auto&...) {
      if (s->shutdownReturned.load()) s->late.fetch_add(1);
      s->handled.fetch_add(1);
    };
    std::vector<std::thread> initiators;
    for (int t = 0; t < 2; ++t) {
      initiators.emplace_back([&, t] {
        for (long i = 0;; ++i) {
          if (i == kBudget) {
            s->ranOutOfBudget.fetch_add(1);
            return;
          }
          try {
            api([&] {
              switch ((i + t) % 4) {
                case 0:
                  p->post(handler);
                  break;
                case 1:
                  (t == 0 ? a : b).read(ByteBuffer::allocate(4), handler);
                  break;
                case 2:
                  (t == 0 ? a : b).write(bufferOf("r"), handler);
                  break;
                default:
                  p->scheduleTimer(std::chrono::microseconds(i % 50), handler);
                  break;
              }
            });
            s->initiated.fetch_add(1);
          } catch (const std::logic_error&) {
            return;  // shut down: from now on every initiation throws
          }
        }
      });
    }
    // No ASSERT before the joins below: leaving with the initiators running would terminate.
    const bool busy = eventually([&] { return s->initiated.load() >= 200; });
    EXPECT_TRUE(busy) << "the initiating threads made no progress";
    threads->requestFinish();
    p->shutdown();
    s->shutdownReturned = true;
    for (auto& t : initiators)
      t.join();
    threads->finish();
    const long initiated = s->initiated.load();
    const long handledAtReturn = s->handled.load();
    // A shortfall now is either a lost completion or one that runs late; tell them apart.
    eventually([&] { return s->handled.load() >= initiated; }, 200ms);
    EXPECT_EQ(s->ranOutOfBudget.load(), 0)
        << "shutdown() did not return (nor make initiations throw) until the initiating threads "
           "stopped by themselves after "
        << kBudget << " initiations each";
    EXPECT_EQ(s->late.load(), 0) << "handlers ran after shutdown() returned";
    ASSERT_EQ(s->handled.load(), initiated)
        << initiated - s->handled.load() << " of " << initiated
        << " initiations that did not throw never completed (" << handledAtReturn
        << " had completed when the initiating threads were joined)";
    a = AsyncSocket();
    b = AsyncSocket();
    threads.reset();
    p.reset();
  }
}

}  // namespace
}  // namespace nioxx::conformance
