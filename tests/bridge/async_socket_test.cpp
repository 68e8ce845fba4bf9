// AsyncSocket / AsyncServerSocket behaviour over the emulated processor, for every strategy.
#include <netinet/in.h>
#include <sys/socket.h>

#include <mutex>
#include <set>
#include <vector>

#include "proactor_fixture.h"

namespace nioxx::test {
namespace {

using AsyncSocketTest = ProactorTest;

// A write and a read move bytes end to end; buffers come back in the results.
TEST_P(AsyncSocketTest, WriteThenReadRoundTrip) {
  auto [client, server] = connectedPair();
  auto w = client.writeAll(bufferOf("hello proactor"), use_future);
  IoResult wr = w.get();
  ASSERT_TRUE(wr.success()) << wr.error().message();
  EXPECT_EQ(wr.bytesTransferred(), 14u);
  EXPECT_FALSE(wr.buffer().hasRemaining());

  auto r = server.readExactly(ByteBuffer::allocate(14), use_future);
  IoResult rr = r.get();
  ASSERT_TRUE(rr.success()) << rr.error().message();
  EXPECT_EQ(drained(rr.buffer()), "hello proactor");
  EXPECT_EQ(rr.socket().fd(), server.fd());
}

// One interface handler object serves many operations and tells them apart by ACT alone.
TEST_P(AsyncSocketTest, ActRoundTripManyOperationsOneHandler) {
  struct Handler : CompletionHandler<IoResult, int> {
    std::mutex m;
    std::vector<int> acts;
    std::atomic<int> done{0};
    void completed(IoResult& r, int& act) override {
      std::lock_guard lock(m);
      acts.push_back(act);
      EXPECT_EQ(r.bytesTransferred(), 4u);
      done.fetch_add(1);
    }
    void failed(IoResult& r, int&) override { ADD_FAILURE() << r.error().message(); }
  } handler;
  auto [client, server] = connectedPair();
  constexpr int kOps = 200;
  for (int i = 0; i < kOps; ++i)
    client.writeAll(bufferOf("abcd"), i, handler);
  ASSERT_TRUE(eventually([&] { return handler.done.load() == kOps; }));
  std::lock_guard lock(handler.m);
  std::vector<int> expected(kOps);
  for (int i = 0; i < kOps; ++i)
    expected[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(handler.acts, expected);  // also: FIFO completion order of one thread's writes
}

// A second outstanding read fails with read_pending through its handler (never thrown) and the
// first read is unaffected.
TEST_P(AsyncSocketTest, SecondReadCompletesWithReadPending) {
  auto [client, server] = connectedPair();
  auto first = server.read(ByteBuffer::allocate(16), use_future);
  auto second = server.read(ByteBuffer::allocate(16), use_future);
  IoResult r2 = second.get();
  EXPECT_EQ(r2.error(), make_error_code(Error::read_pending));
  EXPECT_EQ(first.wait_for(50ms), std::future_status::timeout);
  client.writeAll(bufferOf("x"), use_future).get();
  IoResult r1 = first.get();
  EXPECT_TRUE(r1.success());
  EXPECT_EQ(r1.bytesTransferred(), 1u);
}

// Set by the thread inside an initiating call: a handler seeing it true on its own thread runs
// inside that call.
thread_local bool initiating = false;

// Handlers never run inside the initiating call, even when the I/O completes at once.
TEST_P(AsyncSocketTest, HandlerNeverRunsInsideInitiatingCall) {
  auto [client, server] = connectedPair();
  std::atomic<int> inlineCalls{0};
  std::atomic<int> done{0};
  std::promise<void> all;
  auto handler = [&](IoResult&) {
    if (initiating) inlineCalls.fetch_add(1);
    if (done.fetch_add(1) + 1 == 110) all.set_value();
  };
  for (int i = 0; i < 100; ++i) {
    initiating = true;
    client.write(bufferOf("y"), handler);
    initiating = false;
  }
  // Also from inside a handler, where the I/O is tried speculatively on the loop thread.
  proactor().post([&] {
    for (int i = 0; i < 10; ++i) {
      initiating = true;
      client.write(bufferOf("z"), handler);
      initiating = false;
    }
  });
  ASSERT_EQ(all.get_future().wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(inlineCalls.load(), 0);
}

// Connecting to a closed port fails with connection_refused.
TEST_P(AsyncSocketTest, ConnectToClosedPortFails) {
  // A port that was bound but never listened on: nothing accepts there.
  const int raw = ::socket(AF_INET, SOCK_STREAM, 0);
  const InetSocketAddress any = InetSocketAddress::loopback(0);
  ASSERT_EQ(::bind(raw, any.sockaddr(), any.length()), 0);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  ASSERT_EQ(::getsockname(raw, reinterpret_cast<sockaddr*>(&ss), &len), 0);
  const InetSocketAddress closed = *InetSocketAddress::fromSockaddr(ss, len);
  AsyncSocket client = AsyncSocket::open(proactor());
  ConnectResult r = client.connect(closed, use_future).get();
  EXPECT_EQ(r.error(), std::errc::connection_refused) << r.error().message();
  ::close(raw);
}

// The peer resets (SO_LINGER 0) while a read waits: the read fails, it does not hang.
TEST_P(AsyncSocketTest, PeerResetMidRead) {
  auto [client, server] = connectedPair();
  auto pending = server.read(ByteBuffer::allocate(64), use_future);
  linger lg{1, 0};
  ASSERT_EQ(::setsockopt(client.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
  client.close();
  ASSERT_EQ(pending.wait_for(kWait), std::future_status::ready);
  IoResult r = pending.get();
  EXPECT_FALSE(r.success());
  EXPECT_TRUE(r.error() == std::errc::connection_reset || r.endOfStream()) << r.error().message();
}

// The peer resets while a large writeAll is in progress: the write fails with an error.
TEST_P(AsyncSocketTest, PeerResetMidWrite) {
  auto [client, server] = connectedPair();
  auto big = ByteBuffer::allocate(16 << 20);
  auto pending = client.writeAll(std::move(big), use_future);
  std::this_thread::sleep_for(20ms);  // let the send buffers fill
  linger lg{1, 0};
  ASSERT_EQ(::setsockopt(server.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
  server.close();
  ASSERT_EQ(pending.wait_for(kWait), std::future_status::ready);
  IoResult r = pending.get();
  EXPECT_FALSE(r.success());
  EXPECT_LT(r.bytesTransferred(), std::size_t{16} << 20);
}

// End of stream is reported as end_of_stream.
TEST_P(AsyncSocketTest, OrderlyCloseGivesEndOfStream) {
  auto [client, server] = connectedPair();
  ::shutdown(client.fd(), SHUT_WR);
  IoResult r = server.read(ByteBuffer::allocate(8), use_future).get();
  EXPECT_TRUE(r.endOfStream()) << r.error().message();
}

// A read timeout completes the read with timed_out; the socket stays usable.
TEST_P(AsyncSocketTest, ReadTimeoutThenNextReadWorks) {
  auto [client, server] = connectedPair();
  const auto start = std::chrono::steady_clock::now();
  IoResult r = server.read(ByteBuffer::allocate(8), use_future, 30ms).get();
  EXPECT_TRUE(r.timedOut()) << r.error().message();
  EXPECT_GE(std::chrono::steady_clock::now() - start, 29ms);
  client.writeAll(bufferOf("ok"), use_future).get();
  IoResult r2 = server.readExactly(ByteBuffer::allocate(2), use_future, 5s).get();
  EXPECT_TRUE(r2.success()) << r2.error().message();
  EXPECT_EQ(drained(r2.buffer()), "ok");
}

// The socket's timeout timer is lazy: a short timeout after a long one (that completed in
// time) still fires on time, and a completed operation never times out later.
TEST_P(AsyncSocketTest, ShortTimeoutAfterLongOneStillFires) {
  auto [client, server] = connectedPair();
  auto longRead = server.read(ByteBuffer::allocate(8), use_future, 10s);
  client.writeAll(bufferOf("a"), use_future).get();
  EXPECT_TRUE(longRead.get().success());
  const auto start = std::chrono::steady_clock::now();
  IoResult r = server.read(ByteBuffer::allocate(8), use_future, 40ms).get();
  EXPECT_TRUE(r.timedOut()) << r.error().message();
  EXPECT_GE(std::chrono::steady_clock::now() - start, 39ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

// cancel() aborts the pending read with operation_aborted and does not poison the next one.
TEST_P(AsyncSocketTest, CancelDoesNotPoisonNextRead) {
  auto [client, server] = connectedPair();
  auto pending = server.read(ByteBuffer::allocate(8), use_future);
  server.cancel();
  EXPECT_TRUE(pending.get().aborted());
  client.writeAll(bufferOf("next"), use_future).get();
  IoResult r = server.readExactly(ByteBuffer::allocate(4), use_future).get();
  EXPECT_TRUE(r.success());
  EXPECT_EQ(drained(r.buffer()), "next");
}

// After close(), new operations complete with Error::closed.
TEST_P(AsyncSocketTest, OperationsAfterCloseFailWithClosed) {
  auto [client, server] = connectedPair();
  client.close();
  EXPECT_FALSE(client.isOpen());
  IoResult r = client.write(bufferOf("late"), use_future).get();
  EXPECT_EQ(r.error(), make_error_code(Error::closed));
}

// Scatter/gather: writev of three buffers arrives in order; readv fills two buffers.
TEST_P(AsyncSocketTest, ScatterGather) {
  auto [client, server] = connectedPair();
  std::vector<ByteBuffer> out{bufferOf("ab"), bufferOf("cde"), bufferOf("f")};
  ScatterResult w = client.writev(std::move(out), use_future).get();
  ASSERT_TRUE(w.success());
  EXPECT_EQ(w.bytesTransferred(), 6u);
  std::promise<ScatterResult> p;
  server.readv(
      std::vector<ByteBuffer>{ByteBuffer::allocate(3), ByteBuffer::allocate(3)}, NoAct{},
      [&](ScatterResult& r) { p.set_value(std::move(r)); }, 5s, true);
  ScatterResult r = p.get_future().get();
  ASSERT_TRUE(r.success()) << r.error().message();
  EXPECT_EQ(drained(r.buffers()[0]) + drained(r.buffers()[1]), "abcdef");
}

// pendingWriteBytes() reports queued bytes while the peer does not read, and drains to 0.
TEST_P(AsyncSocketTest, PendingWriteBytesBackpressure) {
  auto [client, server] = connectedPair();
  client.setWriteBufferLimit(SIZE_MAX);  // 8 MiB queued: beyond the default limit (4 MiB)
  std::atomic<int> done{0};
  constexpr std::size_t kChunk = 512 << 10;
  ByteBuffer chunk = ByteBuffer::allocate(kChunk);
  for (int i = 0; i < 16; ++i) {
    client.writeAll(chunk.duplicate(), [&](IoResult& r) {
      EXPECT_TRUE(r.success());
      done.fetch_add(1);
    });
  }
  EXPECT_GT(client.pendingWriteBytes(), 0u);
  std::size_t received = 0;
  ByteBuffer readBuf = ByteBuffer::allocate(1 << 20);
  while (received < 16 * kChunk) {
    IoResult r = server.read(readBuf.duplicate(), use_future).get();
    ASSERT_TRUE(r.success()) << r.error().message();
    received += r.bytesTransferred();
  }
  ASSERT_TRUE(eventually([&] { return done.load() == 16; }));
  EXPECT_EQ(client.pendingWriteBytes(), 0u);
  EXPECT_EQ(client.pendingWrites(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Strategies, AsyncSocketTest, allStrategies(), paramName);

// Beyond the write-queue limit, writes complete with queue_full.
class WriteQueueLimitTest : public ProactorTest {
 protected:
  std::size_t writeQueueLimit() const override { return 4; }
};

TEST_P(WriteQueueLimitTest, WritesBeyondLimitCompleteWithQueueFull) {
  auto [client, server] = connectedPair();
  client.setWriteBufferLimit(SIZE_MAX);  // the count limit is under test, not the byte limit
  std::atomic<int> full{0};
  std::atomic<int> done{0};
  ByteBuffer big = ByteBuffer::allocate(8 << 20);  // more than the socket buffers hold
  for (int i = 0; i < 64; ++i) {
    client.writeAll(big.duplicate(), [&](IoResult& r) {
      if (r.error() == Error::queue_full) full.fetch_add(1);
      done.fetch_add(1);
    });
  }
  client.close();  // aborts what is queued
  ASSERT_TRUE(eventually([&] { return done.load() == 64; }));
  EXPECT_GE(full.load(), 50);  // 4 queued; one may finish early
}

INSTANTIATE_TEST_SUITE_P(Strategies, WriteQueueLimitTest, allStrategies(), paramName);

}  // namespace
}  // namespace nioxx::test
