// The io_uring engine's own edges, beyond the conformance suite: a provided-buffer ring of one
// buffer (ENOBUFS, then resumption without loss), close and cancel while requests are in the
// kernel, a descriptor number reused while a completion for its old owner is still pending, and
// the forced "unavailable" probe that makes callers fall back.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nioxx/core/error.h"
#include "nioxx/proactor/async_socket.h"
#include "nioxx/proactor/buffer_group.h"
#include "nioxx/proactor/live_counts.h"
#include "nioxx/uring/uring_processor.h"

namespace nioxx {
namespace {

using namespace std::chrono_literals;

template <class Cond>
bool eventually(Cond cond, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

std::pair<int, int> socketPair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return {-1, -1};
  return {fds[0], fds[1]};
}

bool writeAll(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

class UringEdges : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!UringProcessor::probe().available) {
      GTEST_SKIP() << "io_uring unavailable: " << UringProcessor::probe().reason;
    }
    proactor_ = std::make_unique<Proactor>(makeUringProactor(DispatchStrategy::call_through, 1));
  }
  void TearDown() override {
    if (!proactor_) return;
    proactor_->shutdown();
    proactor_.reset();
    EXPECT_TRUE(eventually([] { return liveOperationCount() == 0 && liveChannelCount() == 0; }))
        << "operations or channels outlived the Proactor";
  }
  std::unique_ptr<Proactor> proactor_;
};

// One buffer per thread: every arrival after the first finds the ring empty (ENOBUFS) while the
// test holds the buffer; dropping it re-arms the receive, and every byte arrives once, in order.
TEST_F(UringEdges, TinyBufferRingRunsDryAndResumesWithoutLoss) {
  auto [a, b] = socketPair();
  ASSERT_GE(a, 0);
  AsyncSocket socket = AsyncSocket::adopt(*proactor_, a);
  BufferGroup group = proactor_->provideBuffers({.bufferSize = 16, .buffersPerThread = 1});
  struct Log {
    std::mutex m;
    std::string bytes;
    std::vector<ByteBuffer> held;
    std::vector<std::error_code> finals;
  };
  auto log = std::make_shared<Log>();
  socket.readEach(group, [log](IoResult& r) {
    std::lock_guard lock(log->m);
    if (r.more()) {
      log->bytes.append(reinterpret_cast<const char*>(r.buffer().array()), r.buffer().position());
      log->held.push_back(std::move(r.buffer()));
    } else {
      log->finals.push_back(r.error());
    }
  });
  std::string expected;
  for (int i = 0; i < 2000; ++i)
    expected.push_back(static_cast<char>('a' + i % 26));
  ASSERT_TRUE(writeAll(b, expected));
  int stalls = 0;
  for (;;) {
    ASSERT_TRUE(eventually([&] {
      std::lock_guard lock(log->m);
      return !log->held.empty() || log->bytes.size() == expected.size();
    }));
    std::vector<ByteBuffer> drop;
    {
      std::lock_guard lock(log->m);
      if (log->bytes.size() == expected.size()) break;
      drop.swap(log->held);
    }
    EXPECT_EQ(group.outstanding(), 1u);  // the only buffer is ours: the kernel has none
    ++stalls;
    drop.clear();  // returned on this thread: the engine's hook re-arms the receive
  }
  {
    std::lock_guard lock(log->m);
    EXPECT_EQ(log->bytes, expected);
    EXPECT_TRUE(log->finals.empty());
    log->held.clear();
  }
  EXPECT_GT(stalls, 10);
  ::close(b);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(log->m);
    return log->finals.size() == 1;
  }));
  EXPECT_EQ(log->finals[0], Error::end_of_stream);
}

// A read and a write that the kernel holds (no data; the peer's buffer full) both end with
// operation_aborted, exactly once, when the socket is closed; the peer sees the close.
TEST_F(UringEdges, CloseWhileReadAndWriteAreInTheKernel) {
  auto [a, b] = socketPair();
  ASSERT_GE(a, 0);
  AsyncSocket socket = AsyncSocket::adopt(*proactor_, a);
  std::atomic<int> reads{0};
  std::atomic<int> writes{0};
  std::error_code readError;
  std::error_code writeError;
  socket.read(ByteBuffer::allocate(64), [&](IoResult& r) {
    readError = r.error();
    reads.fetch_add(1);
  });
  ByteBuffer big = ByteBuffer::allocate(8 << 20);
  big.limit(big.capacity());
  socket.writeAll(std::move(big), [&](IoResult& r) {
    writeError = r.error();
    writes.fetch_add(1);
  });
  std::this_thread::sleep_for(50ms);  // both are in the kernel now, waiting
  EXPECT_EQ(reads.load() + writes.load(), 0);
  socket.close();
  ASSERT_TRUE(eventually([&] { return reads.load() == 1 && writes.load() == 1; }));
  EXPECT_EQ(readError, Error::operation_aborted);
  EXPECT_EQ(writeError, Error::operation_aborted);
  // The peer sees the close once the kernel gave the requests back (drain what was written).
  char buf[65536];
  bool eof = false;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!eof && std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = ::read(b, buf, sizeof(buf));
    if (n == 0) eof = true;
    if (n < 0) break;
  }
  EXPECT_TRUE(eof);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(reads.load(), 1);
  EXPECT_EQ(writes.load(), 1);
  ::close(b);
}

// cancel(id) of a read the kernel holds ends it with operation_aborted; the next read works.
TEST_F(UringEdges, CancelWhileInTheKernelThenReadAgain) {
  auto [a, b] = socketPair();
  ASSERT_GE(a, 0);
  AsyncSocket socket = AsyncSocket::adopt(*proactor_, a);
  std::promise<std::error_code> first;
  const OperationId id =
      socket.read(ByteBuffer::allocate(16), [&](IoResult& r) { first.set_value(r.error()); });
  std::this_thread::sleep_for(20ms);
  socket.cancel(id);
  auto f = first.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get(), Error::operation_aborted);
  auto second = socket.read(ByteBuffer::allocate(16), UseFuture{});
  ASSERT_TRUE(writeAll(b, "hello"));
  ASSERT_EQ(second.wait_for(10s), std::future_status::ready);
  IoResult r = second.get();
  EXPECT_FALSE(r.error());
  EXPECT_EQ(r.bytesTransferred(), 5u);
  ::close(b);
}

// A socket closed while its read is in the kernel: its descriptor number is free once the last
// handle and operation are gone, a new socket may get it at once, and the new socket's read
// is never answered by the old request (user data carries a generation; the old request is
// reaped before the number is closed).
TEST_F(UringEdges, ReusedDescriptorNumberNeverSeesAStaleCompletion) {
  for (int round = 0; round < 50; ++round) {
    auto [a, b] = socketPair();
    ASSERT_GE(a, 0);
    std::promise<std::error_code> old;
    {
      AsyncSocket socket = AsyncSocket::adopt(*proactor_, a);
      socket.read(ByteBuffer::allocate(16), [&](IoResult& r) { old.set_value(r.error()); });
      socket.close();
    }
    auto oldDone = old.get_future();
    ASSERT_EQ(oldDone.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(oldDone.get(), Error::operation_aborted);
    ::close(b);
    // Likely the same number as `a` (lowest free), once detach closed it.
    auto [c, d] = socketPair();
    ASSERT_GE(c, 0);
    AsyncSocket reused = AsyncSocket::adopt(*proactor_, c);
    auto next = reused.read(ByteBuffer::allocate(16), UseFuture{});
    ASSERT_TRUE(writeAll(d, "x"));
    ASSERT_EQ(next.wait_for(10s), std::future_status::ready);
    IoResult r = next.get();
    EXPECT_FALSE(r.error()) << "round " << round << ": " << r.error().message();
    EXPECT_EQ(r.bytesTransferred(), 1u);
    reused.close();
    ::close(d);
  }
}

// post_reactive on io_uring: the engine owns its ring threads, which always reap and hand
// completions to the dispatcher's queue; handlers run only in Proactor::run(). Here the test's
// thread is the only one calling run() (no pool, no other runner): a ping-pong of 200 round trips
// between two sockets on different rings, with a timer and a read timeout on the way, must
// finish with every handler on that thread, none on a ring thread. A watchdog stops run() after
// 30 s so a lost completion fails the test instead of hanging it.
TEST(UringPostReactive, RunThreadsAloneDispatchWhileTheRingThreadsReap) {
  if (!UringProcessor::probe().available) {
    GTEST_SKIP() << "io_uring unavailable: " << UringProcessor::probe().reason;
  }
  Proactor proactor = makeUringProactor(DispatchStrategy::post_reactive, 2);
  auto [a, b] = socketPair();
  ASSERT_GE(a, 0);
  AsyncSocket left = AsyncSocket::adopt(proactor, a);
  AsyncSocket right = AsyncSocket::adopt(proactor, b);
  const auto runner = std::this_thread::get_id();
  struct Game {
    int rounds = 0;
    int offThread = 0;
    bool timerFired = false;
    bool readTimedOut = false;
    std::atomic<bool> done{false};
  } game;
  constexpr int kRounds = 200;
  // right echoes what it reads; left counts round trips.
  std::function<void()> leftPing;
  std::function<void()> rightEcho = [&] {
    right.read(ByteBuffer::allocate(8), [&](IoResult& r) {
      if (std::this_thread::get_id() != runner) ++game.offThread;
      if (!r.success()) return;
      ByteBuffer reply = std::move(r.buffer());
      reply.flip();
      right.writeAll(std::move(reply), [&](IoResult&) {});
      rightEcho();
    });
  };
  leftPing = [&] {
    left.writeAll(ByteBuffer::copyOf("ping"), [&](IoResult&) {});
    left.readExactly(ByteBuffer::allocate(4), [&](IoResult& r) {
      if (std::this_thread::get_id() != runner) ++game.offThread;
      if (!r.success()) return proactor.stop();
      if (++game.rounds < kRounds) return leftPing();
      // Then a timer, and a read that nobody answers (its timeout).
      proactor.scheduleTimer(5ms, [&](TimerResult&) {
        if (std::this_thread::get_id() != runner) ++game.offThread;
        game.timerFired = true;
        left.read(
            ByteBuffer::allocate(4), NoAct{},
            [&](IoResult& t) {
              if (std::this_thread::get_id() != runner) ++game.offThread;
              game.readTimedOut = t.timedOut();
              game.done = true;
              proactor.stop();
            },
            20ms);
      });
    });
  };
  rightEcho();
  leftPing();
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!finished.load() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    if (!finished.load()) proactor.stop();
  });
  proactor.run();  // the only thread that runs handlers
  finished = true;
  watchdog.join();
  EXPECT_TRUE(game.done.load()) << "run() returned after " << game.rounds << " round trips";
  EXPECT_EQ(game.rounds, kRounds);
  EXPECT_TRUE(game.timerFired);
  EXPECT_TRUE(game.readTimedOut);
  EXPECT_EQ(game.offThread, 0) << "a handler ran outside run()";
  left.close();
  right.close();
  proactor.shutdown();
  rightEcho = nullptr;
  leftPing = nullptr;
}

// NIOXX_URING_DISABLE makes the probe say "unavailable" with a reason (what callers print before
// falling back, or stopping when io_uring was forced).
TEST(UringProbe, ForcedUnavailableGivesAReason) {
  ::setenv("NIOXX_URING_DISABLE", "1", 1);
  const auto a = UringProcessor::probeNow();
  ::unsetenv("NIOXX_URING_DISABLE");
  EXPECT_FALSE(a.available);
  EXPECT_NE(a.reason.find("NIOXX_URING_DISABLE"), std::string::npos) << a.reason;
  const auto b = UringProcessor::probeNow();
  EXPECT_EQ(b.available, UringProcessor::probe().available);
}

}  // namespace
}  // namespace nioxx
