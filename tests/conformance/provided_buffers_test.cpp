// Provided-buffer groups (Proactor::provideBuffers): reads take one of a fixed set of engine
// buffers only when data arrives; when all of a thread's buffers are held, reads wait (bytes stay
// in the socket, nothing is lost, timeouts and cancel still work) and go on when one is dropped.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api_scope.h"
#include "conformance_fixture.h"
#include "nioxx/bridge/emulated_processor.h"
#include "nioxx/proactor/buffer_group.h"

namespace nioxx::conformance {
namespace {

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

struct Held {
  std::mutex m;
  std::string bytes;
  std::vector<ByteBuffer> buffers;  // results kept, as a slow consumer would
  std::vector<std::error_code> finals;
  std::atomic<int> results{0};
  std::atomic<std::size_t> maxOutstanding{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> active{0};
  std::atomic<int> insideApi{0};
  std::atomic<bool> done{false};
};

// A group of 2 buffers per thread carries a stream of many times its size: reads stop while the
// consumer holds both, resume when it lets go, and every byte arrives once, in order.
TEST_P(ConformanceTest, ReadEachThroughATinyBufferGroupStallsAndResumesWithoutLoss) {
  auto [socket, peer] = socketAndPeer();
  BufferGroup group = proactor().provideBuffers({.bufferSize = 64, .buffersPerThread = 2});
  auto held = std::make_shared<Held>();
  api([&, &socket = socket] {
    socket.readEach(group, [held, group](IoResult& r) {
      if (held->active.fetch_add(1) != 0) held->overlaps.fetch_add(1);
      if (insideApiCall()) held->insideApi.fetch_add(1);
      {
        std::lock_guard lock(held->m);
        if (r.more()) {
          EXPECT_EQ(r.buffer().capacity(), 64u);
          held->bytes.append(reinterpret_cast<const char*>(r.buffer().array()),
                             r.buffer().position());
          held->buffers.push_back(r.buffer());
          r.buffer() = ByteBuffer();  // the result's copy must not keep it either
          held->results.fetch_add(1);
        } else {
          held->finals.push_back(r.error());
          held->done = true;
        }
      }
      const std::size_t out = group.outstanding();
      std::size_t seen = held->maxOutstanding.load();
      while (out > seen && !held->maxOutstanding.compare_exchange_weak(seen, out)) {
      }
      held->active.fetch_sub(1);
    });
  });
  const std::string expected = pattern(4096);  // 64 buffers' worth
  ASSERT_TRUE(writePeer(peer.get(), expected));
  int stalls = 0;
  for (;;) {
    ASSERT_TRUE(eventually([&] {
      std::lock_guard lock(held->m);
      return held->buffers.size() == 2 || held->bytes.size() == expected.size();
    })) << "reads stopped with fewer than 2 buffers held";
    {
      std::lock_guard lock(held->m);
      if (held->bytes.size() == expected.size()) break;
    }
    // Both buffers held: no read can complete until one is dropped.
    const int before = held->results.load();
    std::this_thread::sleep_for(5ms);
    EXPECT_EQ(held->results.load(), before) << "a read completed with every buffer held";
    ++stalls;
    std::lock_guard lock(held->m);
    held->buffers.clear();  // back to the group: the parked read goes on
  }
  EXPECT_GE(stalls, 1);
  {
    // End of stream is seen with a buffer too (as io_uring picks one before it receives).
    std::lock_guard lock(held->m);
    held->buffers.clear();
  }
  peer.reset();
  ASSERT_TRUE(eventually([&] { return held->done.load(); }));
  std::lock_guard lock(held->m);
  EXPECT_EQ(held->bytes, expected);
  ASSERT_EQ(held->finals.size(), 1u);
  EXPECT_EQ(held->finals[0], Error::end_of_stream) << held->finals[0].message();
  EXPECT_LE(held->maxOutstanding.load(), 2u * proactor().engineThreads());
  EXPECT_EQ(held->overlaps.load(), 0);
  EXPECT_EQ(held->insideApi.load(), 0);
  held->buffers.clear();
  EXPECT_TRUE(eventually([&] { return group.outstanding() == 0; }));
}

TEST_P(ConformanceTest, ReadWithABufferGroupLendsABufferUntilTheResultIsDropped) {
  auto [a, b] = socketPair();
  BufferGroup group = proactor().provideBuffers({.bufferSize = 128, .buffersPerThread = 4});
  auto got = api([&, &b = b] {
    auto promise = std::make_shared<std::promise<IoResult>>();
    b.read(group, [promise](IoResult& r) { promise->set_value(r); });
    return promise->get_future();
  });
  auto sent = api([&, &a = a] { return a.writeAll(bufferOf("hello group"), use_future); });
  awaitResult(sent, "writeAll");
  IoResult r = awaitResult(got, "read(group)");
  ASSERT_TRUE(r.success()) << r.error().message();
  EXPECT_EQ(filledPart(r.buffer()), "hello group");
  EXPECT_EQ(r.bytesTransferred(), 11u);
  EXPECT_EQ(r.buffer().capacity(), 128u);
  EXPECT_EQ(group.outstanding(), 1u);
  r = IoResult();
  // The handler's own copy of the result goes when its operation is freed, just after it ran.
  EXPECT_TRUE(eventually([&] { return group.outstanding() == 0; }));
}

// A read parked for a buffer is a waiting read like any other: its timeout fires, cancel ends
// it, and the bytes it could not take are still there for the next read.
TEST_P(ConformanceTest, AReadWaitingForABufferTimesOutAndCancelsAndLosesNothing) {
  auto [a, b] = socketPair();
  BufferGroup group = proactor().provideBuffers({.bufferSize = 16, .buffersPerThread = 1});
  const auto readGroup = [&, &b = b](std::chrono::nanoseconds timeout) {
    auto promise = std::make_shared<std::promise<IoResult>>();
    auto future = promise->get_future();
    const OperationId id = b.read(
        group, NoAct{}, [promise](IoResult& r) { promise->set_value(r); }, timeout);
    return std::make_pair(id, std::move(future));
  };
  auto sent = api([&, &a = a] { return a.writeAll(bufferOf("0123456789abcdefXYZ"), use_future); });
  awaitResult(sent, "writeAll");
  auto [id1, first] = api([&] { return readGroup(0ns); });
  IoResult one = awaitResult(first, "first read");
  ASSERT_TRUE(one.success()) << one.error().message();
  EXPECT_EQ(filledPart(one.buffer()), "0123456789abcdef");  // the whole buffer: 16 bytes
  // The only buffer is held by `one`: "XYZ" waits in the socket.
  auto [id2, second] = api([&] { return readGroup(30ms); });
  EXPECT_EQ(awaitResult(second, "read waiting for a buffer").error(), Error::timed_out);
  auto [id3, third] = api([&] { return readGroup(0ns); });
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(third.wait_for(0s), std::future_status::timeout) << "read completed without buffer";
  api([&, &b = b, id = id3] { b.cancel(id); });
  EXPECT_EQ(awaitResult(third, "cancelled read").error(), Error::operation_aborted);
  auto [id4, fourth] = api([&] { return readGroup(0ns); });
  one = IoResult();  // the buffer goes back: the parked read takes it
  IoResult last = awaitResult(fourth, "read after the buffer came back");
  ASSERT_TRUE(last.success()) << last.error().message();
  EXPECT_EQ(filledPart(last.buffer()), "XYZ");
  (void)id1;
  (void)id2;
  (void)id4;
}

TEST_P(ConformanceTest, BufferGroupsAreCheckedAtTheCall) {
  auto [a, b] = socketPair();
  BufferGroup none;
  EXPECT_THROW(api([&, &b = b] { b.read(none, [](IoResult&) {}); }), std::invalid_argument);
  EXPECT_THROW(proactor().provideBuffers({.bufferSize = 0, .buffersPerThread = 1}),
               std::invalid_argument);
  EXPECT_THROW(proactor().provideBuffers({.bufferSize = 64, .buffersPerThread = 40000}),
               std::invalid_argument);
  Proactor other = makeEmulatedProactor(DispatchStrategy::call_through);
  BufferGroup foreign = other.provideBuffers({.bufferSize = 64, .buffersPerThread = 1});
  EXPECT_THROW(api([&, &b = b] { b.readEach(foreign, [](IoResult&) {}); }), std::invalid_argument);
  other.shutdown();
  EXPECT_THROW(other.provideBuffers(), ShutdownError);
}

// A lent buffer may outlive the Proactor and its engine: dropping it later is harmless.
TEST_P(ConformanceTest, ALentBufferOutlivesTheProactor) {
  auto [a, b] = socketPair();
  BufferGroup group = proactor().provideBuffers({.bufferSize = 32, .buffersPerThread = 1});
  auto got = api([&, &b = b] {
    auto promise = std::make_shared<std::promise<IoResult>>();
    b.read(group, [promise](IoResult& r) { promise->set_value(r); });
    return promise->get_future();
  });
  auto sent = api([&, &a = a] { return a.writeAll(bufferOf("kept"), use_future); });
  awaitResult(sent, "writeAll");
  IoResult r = awaitResult(got, "read(group)");
  ASSERT_TRUE(r.success());
  ByteBuffer kept = r.buffer();
  r = IoResult();
  api([&, &a = a] { a.close(); });
  api([&, &b = b] { b.close(); });
  shutdownProactor();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(kept.array()), 4), "kept");
  kept = ByteBuffer();
  EXPECT_EQ(group.outstanding(), 0u);
}

}  // namespace
}  // namespace nioxx::conformance
