// Data transfer as users rely on it: connect/accept, read/write, readExactly/writeAll, writev,
// one read at a time, per-thread write order, end of stream.
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <vector>

#include "conformance_fixture.h"

namespace nioxx::conformance {
namespace {

TEST_P(ConformanceTest, ConnectAcceptThenRequestAndReplyRoundTrip) {
  AsyncServerSocket server = AsyncServerSocket::open(proactor());
  ASSERT_FALSE(server.bind(InetSocketAddress::loopback(0)));
  auto accepted = api([&] { return server.accept(use_future); });
  AsyncSocket client = AsyncSocket::open(proactor());
  auto connected = api([&] { return client.connect(*server.localAddress(), use_future); });
  ConnectResult c = awaitResult(connected, "connect");
  ASSERT_TRUE(c.success()) << c.error().message();
  AcceptResult a = awaitResult(accepted, "accept");
  ASSERT_TRUE(a.success()) << a.error().message();
  AsyncSocket serverSide = a.socket();
  server.close();

  auto request = api([&] { return serverSide.readExactly(ByteBuffer::allocate(4), use_future); });
  auto sent = api([&] { return client.writeAll(bufferOf("ping"), use_future); });
  IoResult w = awaitResult(sent, "writeAll(ping)");
  EXPECT_TRUE(w.success()) << w.error().message();
  EXPECT_EQ(w.bytesTransferred(), 4u);
  IoResult r = awaitResult(request, "readExactly(ping)");
  ASSERT_TRUE(r.success()) << r.error().message();
  EXPECT_EQ(filledPart(r.buffer()), "ping");

  auto reply = api([&] { return client.readExactly(ByteBuffer::allocate(4), use_future); });
  auto replied = api([&] { return serverSide.write(bufferOf("pong"), use_future); });
  EXPECT_TRUE(awaitResult(replied, "write(pong)").success());
  IoResult back = awaitResult(reply, "readExactly(pong)");
  ASSERT_TRUE(back.success()) << back.error().message();
  EXPECT_EQ(filledPart(back.buffer()), "pong");
  client.close();
  serverSide.close();
}

TEST_P(ConformanceTest, ReadExactlyAndWriteAllMoveEveryByte) {
  auto [a, b] = socketPair();
  constexpr std::size_t kBytes = 1 << 20;  // far beyond a socket buffer: many partial transfers
  ByteBuffer pattern = ByteBuffer::allocate(kBytes);
  for (std::size_t i = 0; i < kBytes; ++i)
    pattern.put(static_cast<std::uint8_t>(i * 31 + 7));
  pattern.flip();
  auto received =
      api([&, &b = b] { return b.readExactly(ByteBuffer::allocate(kBytes), use_future); });
  auto sent = api([&, &a = a] { return a.writeAll(std::move(pattern), use_future); });
  IoResult w = awaitResult(sent, "writeAll(1 MiB)");
  ASSERT_TRUE(w.success()) << w.error().message();
  EXPECT_EQ(w.bytesTransferred(), kBytes);
  EXPECT_FALSE(w.buffer().hasRemaining());
  IoResult r = awaitResult(received, "readExactly(1 MiB)");
  ASSERT_TRUE(r.success()) << r.error().message();
  ASSERT_EQ(r.bytesTransferred(), kBytes);
  for (std::size_t i = 0; i < kBytes; ++i) {
    ASSERT_EQ(r.buffer().get(i), static_cast<std::uint8_t>(i * 31 + 7)) << "byte " << i;
  }

  // Bytes arriving in two pieces still complete one readExactly, once, with all of them.
  auto whole = api([&, &b = b] { return b.readExactly(ByteBuffer::allocate(10), use_future); });
  auto first = api([&, &a = a] { return a.writeAll(bufferOf("abc"), use_future); });
  awaitResult(first, "writeAll(abc)");
  auto second = api([&, &a = a] { return a.writeAll(bufferOf("defghij"), use_future); });
  awaitResult(second, "writeAll(defghij)");
  IoResult ten = awaitResult(whole, "readExactly(10)");
  ASSERT_TRUE(ten.success()) << ten.error().message();
  EXPECT_EQ(filledPart(ten.buffer()), "abcdefghij");
}

TEST_P(ConformanceTest, WritevSendsTheBuffersInOrder) {
  auto [a, b] = socketPair();
  auto received = api([&, &b = b] { return b.readExactly(ByteBuffer::allocate(9), use_future); });
  std::vector<ByteBuffer> parts;
  parts.push_back(bufferOf("ab"));
  parts.push_back(bufferOf("cdef"));
  parts.push_back(bufferOf("ghi"));
  auto sent = api([&, &a = a] { return a.writev(std::move(parts), use_future); });
  ScatterResult w = awaitResult(sent, "writev");
  ASSERT_TRUE(w.success()) << w.error().message();
  EXPECT_EQ(w.bytesTransferred(), 9u);
  ASSERT_EQ(w.buffers().size(), 3u);
  for (const ByteBuffer& part : w.buffers())
    EXPECT_FALSE(part.hasRemaining());
  IoResult r = awaitResult(received, "readExactly(9)");
  ASSERT_TRUE(r.success()) << r.error().message();
  EXPECT_EQ(filledPart(r.buffer()), "abcdefghi");
}

// One read at a time: a second read while one is pending completes with read_pending (not inside
// the call) and leaves the pending read alone.
TEST_P(ConformanceTest, SecondReadWhileOnePendsCompletesWithReadPending) {
  auto [a, b] = socketPair();
  struct State {
    std::atomic<int> firstCalls{0};
    std::atomic<int> secondCalls{0};
    std::atomic<bool> insideApi{false};
    std::error_code firstError, secondError;
    std::string firstData;
  };
  auto s = std::make_shared<State>();
  api([&, &b = b] {
    b.read(ByteBuffer::allocate(8), [s](IoResult& r) {
      s->insideApi = s->insideApi || insideApiCall();
      s->firstError = r.error();
      s->firstData = filledPart(r.buffer());
      s->firstCalls.fetch_add(1);
    });
  });
  api([&, &b = b] {
    b.read(ByteBuffer::allocate(8), [s](IoResult& r) {
      s->insideApi = s->insideApi || insideApiCall();
      s->secondError = r.error();
      s->secondCalls.fetch_add(1);
    });
  });
  ASSERT_TRUE(eventually([&] { return s->secondCalls.load() == 1; }));
  EXPECT_EQ(s->secondError, Error::read_pending) << s->secondError.message();
  EXPECT_EQ(s->firstCalls.load(), 0) << "the pending read was disturbed";
  auto sent = api([&, &a = a] { return a.writeAll(bufferOf("x"), use_future); });
  awaitResult(sent, "writeAll(x)");
  ASSERT_TRUE(eventually([&] { return s->firstCalls.load() == 1; }));
  EXPECT_FALSE(s->firstError) << s->firstError.message();
  EXPECT_EQ(s->firstData, "x");
  EXPECT_FALSE(s->insideApi.load()) << "a handler ran inside the read() call";
}

// The built-in write queue: writes initiated back to back from two threads at once each keep
// their thread's order, on the wire and in completion, and every byte arrives, uninterleaved.
TEST_P(ConformanceTest, BackToBackWritesFromTwoThreadsKeepEachThreadsOrder) {
  auto [socket, peer] = socketAndPeer();
  constexpr int kThreads = 2;
  constexpr int kPerThread = 500;
  constexpr std::size_t kRecord = 8;  // thread letter, 6-digit sequence number, newline
  struct State {
    std::mutex mutex;
    std::vector<std::vector<int>> completed{kThreads};
    std::atomic<int> done{0};
    std::atomic<int> failed{0};
    std::atomic<int> insideApi{0};
  };
  auto s = std::make_shared<State>();
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t, sock = socket]() mutable {
      for (int i = 0; i < kPerThread; ++i) {
        char record[32];
        std::snprintf(record, sizeof(record), "%c%06d\n", 'A' + t, i);
        api([&] {
          sock.writeAll(bufferOf(std::string_view(record, kRecord)), i,
                        [s, t](IoResult& r, int& seq) {
                          if (insideApiCall()) s->insideApi.fetch_add(1);
                          if (!r.success()) s->failed.fetch_add(1);
                          {
                            std::lock_guard lock(s->mutex);
                            s->completed[static_cast<std::size_t>(t)].push_back(seq);
                          }
                          s->done.fetch_add(1);
                        });
        });
      }
    });
  }
  const std::string wire = readPeer(peer.get(), kThreads * kPerThread * kRecord);
  for (auto& w : writers)
    w.join();
  ASSERT_EQ(wire.size(), kThreads * kPerThread * kRecord) << "not every byte arrived";
  ASSERT_TRUE(eventually([&] { return s->done.load() == kThreads * kPerThread; }));
  EXPECT_EQ(s->failed.load(), 0);
  EXPECT_EQ(s->insideApi.load(), 0) << "handlers ran inside writeAll()";
  std::vector<int> next(kThreads, 0);
  for (std::size_t off = 0; off < wire.size(); off += kRecord) {
    const int t = wire[off] - 'A';
    ASSERT_TRUE(t >= 0 && t < kThreads) << "interleaved bytes at offset " << off;
    ASSERT_EQ(std::stoi(wire.substr(off + 1, 6)), next[static_cast<std::size_t>(t)]++)
        << "thread " << t << "'s records reordered on the wire";
  }
  std::lock_guard lock(s->mutex);
  for (int t = 0; t < kThreads; ++t) {
    const auto& seqs = s->completed[static_cast<std::size_t>(t)];
    for (std::size_t i = 0; i < seqs.size(); ++i)
      ASSERT_EQ(seqs[i], static_cast<int>(i)) << "thread " << t << "'s completions reordered";
  }
}

// Initiation order is also kept between a thread and a handler: a write another thread initiated
// (and returned from) before a handler's write goes first on the wire and completes first, even
// though the handler runs where the socket's I/O runs.
TEST_P(ConformanceTest, WriteFromAHandlerStaysBehindAWriteAnotherThreadStartedFirst) {
  auto [socket, peer] = socketAndPeer();
  struct State {
    std::mutex mutex;
    std::condition_variable cv;
    bool handlerRunning = false;     // guarded by mutex
    bool otherWriteStarted = false;  // guarded by mutex
    std::atomic<int> done{0};
    std::string completionOrder;  // guarded by mutex
  };
  auto s = std::make_shared<State>();
  auto record = [s](IoResult&, char& tag) {
    std::lock_guard lock(s->mutex);
    s->completionOrder += tag;
    s->done.fetch_add(1);
  };
  api([&, &sock = socket] {
    sock.writeAll(bufferOf("0"), '0', [s, record](IoResult& r, char&) mutable {
      std::unique_lock lock(s->mutex);
      s->handlerRunning = true;
      s->cv.notify_all();
      s->cv.wait_for(lock, kWait, [&] { return s->otherWriteStarted; });
      lock.unlock();
      AsyncSocket self = r.socket();
      api([&] { self.writeAll(bufferOf("B"), 'B', record); });
      s->done.fetch_add(1);
    });
  });
  {
    std::unique_lock lock(s->mutex);
    ASSERT_TRUE(s->cv.wait_for(lock, kWait, [&] { return s->handlerRunning; }));
  }
  api([&, &sock = socket] { sock.writeAll(bufferOf("A"), 'A', record); });
  {
    std::lock_guard lock(s->mutex);
    s->otherWriteStarted = true;
  }
  s->cv.notify_all();
  EXPECT_EQ(readPeer(peer.get(), 3), "0AB") << "bytes reordered on the wire";
  ASSERT_TRUE(eventually([&] { return s->done.load() == 3; }));
  std::lock_guard lock(s->mutex);
  EXPECT_EQ(s->completionOrder, "AB") << "write completions out of initiation order";
}

TEST_P(ConformanceTest, ReadCompletesWithEndOfStreamWhenThePeerCloses) {
  auto [a, b] = socketPair();
  auto pending = api([&, &b = b] { return b.read(ByteBuffer::allocate(8), use_future); });
  api([&, &a = a] { a.close(); });
  IoResult r = awaitResult(pending, "read at end of stream");
  EXPECT_TRUE(r.endOfStream()) << r.error().message();
  EXPECT_EQ(r.bytesTransferred(), 0u);
  // And again: end of stream is not a one-shot event.
  auto again = api([&, &b = b] { return b.read(ByteBuffer::allocate(8), use_future); });
  EXPECT_TRUE(awaitResult(again, "second read at end of stream").endOfStream());
}

}  // namespace
}  // namespace nioxx::conformance
