// The Proactor's guarantees (docs/parts/proactor.md), each under every strategy: exactly-once
// completion under races, per-channel order, no concurrent handlers per channel, shutdown,
// timers, many sockets, files.
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <set>
#include <vector>

#include "nioxx/proactor/async_file.h"
#include "proactor_fixture.h"

namespace nioxx::test {
namespace {

using GuaranteeTest = ProactorTest;

// Writes initiated from several threads at once never interleave their bytes, and each thread's
// writes complete (and hit the wire) in its initiation order: the write queue is a FIFO.
TEST_P(GuaranteeTest, WriteFifoUnderConcurrentWriters) {
  auto [client, server] = connectedPair();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  constexpr std::size_t kRecord = 8;  // "T" thread, 6-digit sequence, "\n"
  std::vector<std::vector<int>> completed(kThreads);
  std::mutex m;
  std::atomic<int> done{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        char rec[32];  // room for any int, so -Wformat-truncation stays quiet; kRecord bytes are
                       // sent
        std::snprintf(rec, sizeof(rec), "%c%06d\n", 'A' + t, i);
        client.writeAll(bufferOf(std::string_view(rec, kRecord)), i, [&, t](IoResult& r, int& seq) {
          EXPECT_TRUE(r.success());
          {
            std::lock_guard lock(m);
            completed[static_cast<std::size_t>(t)].push_back(seq);
          }
          done.fetch_add(1);  // after the unlock: the test may return as soon as done is full
        });
      }
    });
  }
  std::string wire;
  while (wire.size() < kThreads * kPerThread * kRecord) {
    IoResult r = server.read(ByteBuffer::allocate(4096), use_future).get();
    ASSERT_TRUE(r.success()) << r.error().message();
    wire += drained(r.buffer());
  }
  for (auto& w : writers)
    w.join();
  ASSERT_TRUE(eventually([&] { return done.load() == kThreads * kPerThread; }));
  std::vector<int> next(kThreads, 0);
  for (std::size_t off = 0; off < wire.size(); off += kRecord) {
    const int t = wire[off] - 'A';
    ASSERT_TRUE(t >= 0 && t < kThreads) << "interleaved bytes at " << off;
    ASSERT_EQ(std::stoi(wire.substr(off + 1, 6)), next[static_cast<std::size_t>(t)]++);
  }
  std::lock_guard lock(m);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      ASSERT_EQ(completed[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)], i);
    }
  }
}

// Handlers of one channel never overlap, even with reads and writes completing at once on a
// multi-threaded strategy (instrumented with an in-handler counter).
TEST_P(GuaranteeTest, NoConcurrentHandlersOnOneChannel) {
  auto [a, b] = connectedPair();
  std::atomic<int> inHandler{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> writesDone{0};
  std::atomic<int> bytesRead{0};
  constexpr int kWrites = 400;
  auto enter = [&] {
    if (inHandler.fetch_add(1) != 0) overlaps.fetch_add(1);
    std::this_thread::yield();
    inHandler.fetch_sub(1);
  };
  std::atomic<bool> readLoopEnded{false};
  std::function<void()> readMore = [&] {
    a.read(ByteBuffer::allocate(64), [&](IoResult& r) {
      enter();
      if (!r.success()) {
        readLoopEnded = true;
        return;
      }
      bytesRead.fetch_add(static_cast<int>(r.bytesTransferred()));
      readMore();
    });
  };
  readMore();
  std::thread echo([&] {  // the peer writes to `a` continuously
    for (int i = 0; i < kWrites; ++i)
      b.writeAll(bufferOf("0123456789"), use_future).get();
  });
  for (int i = 0; i < kWrites; ++i) {
    a.write(bufferOf("w"), [&](IoResult&) {
      enter();
      writesDone.fetch_add(1);
    });
  }
  echo.join();
  ASSERT_TRUE(
      eventually([&] { return writesDone.load() == kWrites && bytesRead == kWrites * 10; }));
  a.close();
  ASSERT_TRUE(eventually([&] { return readLoopEnded.load(); }));  // handlers use our locals
  EXPECT_EQ(overlaps.load(), 0);
}

// Exactly one completion per operation while cancel(), close() and timeouts race with I/O.
TEST_P(GuaranteeTest, ExactlyOnceUnderCancelCloseTimeoutRaces) {
  constexpr int kRounds = 250;
  std::atomic<int> initiated{0};
  std::atomic<int> completions{0};
  std::atomic<int> duplicates{0};
  std::vector<std::atomic<int>> seen(kRounds * 4);
  for (auto& s : seen)
    s = 0;
  auto handler = [&](IoResult&, int& idx) {
    if (seen[static_cast<std::size_t>(idx)].fetch_add(1) != 0) duplicates.fetch_add(1);
    completions.fetch_add(1);
  };
  for (int round = 0; round < kRounds; ++round) {
    auto [a, b] = connectedPair();
    const int base = round * 4;
    a.read(ByteBuffer::allocate(16), base, handler, std::chrono::microseconds(round % 7 * 100));
    a.write(bufferOf("ping"), base + 1, handler);
    b.read(ByteBuffer::allocate(2), base + 2, handler);
    b.write(bufferOf("pong"), base + 3, handler, 1ms);
    initiated += 4;
    switch (round % 3) {
      case 0:
        a.cancel();
        b.cancel();
        break;
      case 1:
        a.close();
        b.close();
        break;
      default:
        std::thread([x = a]() mutable { x.close(); }).join();
        b.cancel();
        break;
    }
    a.close();
    b.close();
  }
  ASSERT_TRUE(eventually([&] { return completions.load() == initiated.load(); }))
      << completions.load() << " of " << initiated.load();
  std::this_thread::sleep_for(20ms);  // a duplicate would show up now
  EXPECT_EQ(completions.load(), initiated.load());
  EXPECT_EQ(duplicates.load(), 0);
}

// Shutdown with operations in flight completes each with operation_aborted before returning,
// joins the threads, and no handler runs afterwards.
TEST_P(GuaranteeTest, ShutdownAbortsInFlightAndRunsNothingAfter) {
  auto [a, b] = connectedPair();
  std::atomic<int> aborted{0};
  std::atomic<bool> returned{false};
  std::atomic<int> late{0};
  auto h = [&](auto& r) {
    if (returned.load()) late.fetch_add(1);
    if (r.aborted()) aborted.fetch_add(1);
  };
  a.read(ByteBuffer::allocate(8), NoAct{}, h);
  b.read(ByteBuffer::allocate(8), NoAct{}, h);
  proactor().scheduleTimer(10s, NoAct{}, h);
  stopRunners();
  proactor().shutdown();
  returned = true;
  EXPECT_EQ(aborted.load(), 3);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(late.load(), 0);
  EXPECT_THROW(a.read(ByteBuffer::allocate(8), NoAct{}, h), std::logic_error);
  proactor_.reset();  // sockets outlive the Proactor object safely
  a.close();
}

// Timers fire no earlier than their delay (generous upper bound), and cancelled timers
// complete with operation_aborted instead.
TEST_P(GuaranteeTest, TimerAccuracyAndCancellation) {
  const auto start = std::chrono::steady_clock::now();
  auto [id, fired] = proactor().scheduleTimer(50ms, use_future);
  auto [id2, cancelled] = proactor().scheduleTimer(5s, use_future);
  proactor().cancelTimer(id2);
  TimerResult r = fired.get();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(r.success());
  EXPECT_EQ(r.timerId(), id);
  EXPECT_GE(elapsed, 50ms);
  EXPECT_LT(elapsed, 3s);
  ASSERT_EQ(cancelled.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(cancelled.get().aborted());
}

// Many timers with ACTs: each fires once with its own ACT.
TEST_P(GuaranteeTest, ManyTimersHandBackTheirActs) {
  std::mutex m;
  std::set<int> acts;
  std::atomic<int> n{0};
  for (int i = 0; i < 500; ++i) {
    proactor().scheduleTimer(std::chrono::milliseconds(i % 20), i, [&](TimerResult& r, int& act) {
      EXPECT_TRUE(r.success());
      {
        std::lock_guard lock(m);
        EXPECT_TRUE(acts.insert(act).second);
      }
      // Counted after the unlock: once n reaches 500 no handler touches m, which dies with the
      // test.
      n.fetch_add(1);
    });
  }
  ASSERT_TRUE(eventually([&] { return n.load() == 500; }));
}

thread_local bool tInsidePost = false;

// post() runs the function once, never inside post().
TEST_P(GuaranteeTest, PostRunsLater) {
  std::promise<void> ran;
  tInsidePost = true;
  proactor().post([&] {
    EXPECT_FALSE(tInsidePost);
    ran.set_value();
  });
  tInsidePost = false;
  EXPECT_EQ(ran.get_future().wait_for(kWait), std::future_status::ready);
}

// 1,000 sockets (500 connected pairs) with reads in flight, then data on every one.
TEST_P(GuaranteeTest, ThousandSocketsWithOperationsInFlight) {
  AsyncServerSocket server = listen();
  constexpr int kPairs = 500;
  std::vector<AsyncSocket> clients, servers;
  for (int i = 0; i < kPairs; ++i) {
    auto acc = server.accept(use_future);
    AsyncSocket c = AsyncSocket::open(proactor());
    ASSERT_TRUE(c.connect(*server.localAddress(), use_future).get().success());
    AcceptResult ar = acc.get();
    ASSERT_TRUE(ar.success());
    clients.push_back(c);
    servers.push_back(ar.socket());
  }
  std::atomic<int> got{0};
  for (int i = 0; i < kPairs; ++i) {
    servers[static_cast<std::size_t>(i)].readExactly(
        ByteBuffer::allocate(4), i, [&](IoResult& r, int& idx) {
          EXPECT_TRUE(r.success());
          EXPECT_EQ(drained(r.buffer()), std::to_string(1000 + idx));
          got.fetch_add(1);
        });
    clients[static_cast<std::size_t>(i)].read(ByteBuffer::allocate(4), NoAct{}, [](IoResult&) {});
  }
  for (int i = 0; i < kPairs; ++i) {
    clients[static_cast<std::size_t>(i)].writeAll(bufferOf(std::to_string(1000 + i)), NoAct{},
                                                  [](IoResult&) {});
  }
  ASSERT_TRUE(eventually([&] { return got.load() == kPairs; }));
  for (auto& c : clients)
    c.close();
  for (auto& s : servers)
    s.close();
}

// AsyncFile: a multi-megabyte write then read back, in several positional operations.
TEST_P(GuaranteeTest, AsyncFileMultiMegabyteRoundTrip) {
  char path[] = "/tmp/nioxx-asyncfile-XXXXXX";
  const int tmp = ::mkstemp(path);
  ASSERT_GE(tmp, 0);
  ::close(tmp);
  std::error_code ec;
  AsyncFile file = AsyncFile::open(proactor(), path, O_RDWR | O_TRUNC, ec);
  ASSERT_FALSE(ec) << ec.message();
  constexpr std::size_t kChunk = 1 << 20;
  constexpr int kChunks = 4;
  std::vector<std::future<FileResult>> writes;
  for (int i = 0; i < kChunks; ++i) {
    ByteBuffer b = ByteBuffer::allocate(kChunk);
    std::uint8_t* bytes = b.array();
    for (std::size_t j = 0; j < kChunk; ++j) {
      bytes[j] = static_cast<std::uint8_t>((j * 7 + static_cast<std::size_t>(i)) & 0xff);
    }
    writes.push_back(file.writeAt(std::move(b), static_cast<std::int64_t>(i * kChunk), use_future));
  }
  for (auto& w : writes) {
    FileResult r = w.get();
    ASSERT_TRUE(r.success()) << r.error().message();
    EXPECT_EQ(r.bytesTransferred(), kChunk);
  }
  EXPECT_EQ(file.size(), static_cast<std::int64_t>(kChunks * kChunk));
  for (int i = kChunks - 1; i >= 0; --i) {
    FileResult r =
        file.readAt(ByteBuffer::allocate(kChunk), static_cast<std::int64_t>(i * kChunk), use_future)
            .get();
    ASSERT_TRUE(r.success());
    ASSERT_EQ(r.buffer().position(), kChunk);
    for (std::size_t j = 0; j < kChunk; j += 4099) {
      ASSERT_EQ(r.buffer().get(j),
                static_cast<std::uint8_t>((j * 7 + static_cast<std::size_t>(i)) & 0xff));
    }
  }
  FileResult eof = file.readAt(ByteBuffer::allocate(16), kChunks * kChunk, use_future).get();
  EXPECT_TRUE(eof.endOfStream());
  file.close();
  ::unlink(path);
}

INSTANTIATE_TEST_SUITE_P(Strategies, GuaranteeTest, allStrategies(), paramName);

}  // namespace
}  // namespace nioxx::test
