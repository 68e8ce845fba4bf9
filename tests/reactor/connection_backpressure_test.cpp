// ReactorServer connections with backpressure: a handler that writes only while its connection is
// writable, and resumes on onWritabilityChanged(true), keeps its output queue under high water
// mark + one write against a slow reader; write() refuses bytes beyond the limit.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nioxx/reactor/reactor_server.h"
#include "nioxx_test/reactor_helpers.h"

namespace nioxx {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kChunk = 16 * 1024;
constexpr std::size_t kTotal = 8 << 20;  // beyond what the kernel buffers on loopback
constexpr std::size_t kLow = 32 * 1024;
constexpr std::size_t kHigh = 128 * 1024;

char patternAt(std::size_t i) {
  return static_cast<char>((i * 29 + (i >> 10)) & 0xff);
}

struct Seen {
  std::mutex mutex;
  std::vector<bool> writability;
  std::atomic<std::size_t> maxPending{0};
  std::atomic<int> inCallback{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> refused{0};
};

// Streams kTotal bytes once asked, only while the connection is writable.
class Producer : public ConnectionHandler {
 public:
  explicit Producer(Seen& seen) : seen_(seen) {}
  void onData(Connection& c, ByteBuffer& in) override {
    Guard g(seen_);
    in.advance(in.remaining());
    pump(c);
  }
  void onWritabilityChanged(Connection& c, bool writable) override {
    Guard g(seen_);
    {
      std::lock_guard lock(seen_.mutex);
      seen_.writability.push_back(writable);
    }
    if (writable) pump(c);
  }

 private:
  struct Guard {
    explicit Guard(Seen& s) : s(s) {
      if (s.inCallback.fetch_add(1) != 0) s.overlaps.fetch_add(1);
    }
    ~Guard() { s.inCallback.fetch_sub(1); }
    Seen& s;
  };
  void pump(Connection& c) {
    while (sent_ < kTotal && c.isWritable()) {
      std::string chunk(kChunk, '\0');
      for (std::size_t i = 0; i < kChunk; ++i)
        chunk[i] = patternAt(sent_ + i);
      if (!c.write(chunk)) {
        seen_.refused.fetch_add(1);
        return;
      }
      sent_ += kChunk;
      const std::size_t p = c.pendingWriteBytes();
      if (p > seen_.maxPending.load()) seen_.maxPending.store(p);
    }
  }
  Seen& seen_;
  std::size_t sent_ = 0;
};

class ConnectionBackpressureTest : public ::testing::TestWithParam<Concurrency> {};

INSTANTIATE_TEST_SUITE_P(Variants, ConnectionBackpressureTest,
                         ::testing::Values(Concurrency::single_reactor, Concurrency::worker_pool,
                                           Concurrency::main_sub_reactors));

TEST_P(ConnectionBackpressureTest, WriterThatHonoursWritabilityStaysBoundedAgainstASlowReader) {
  Seen seen;
  ReactorServer::Options o;
  o.concurrency = GetParam();
  o.writeBufferLowWatermark = kLow;
  o.writeBufferHighWatermark = kHigh;
  ReactorServer server(o, [&] { return std::make_unique<Producer>(seen); });
  server.start();
  SocketChannel client = SocketChannel::open();
  std::error_code ignored;
  client.setReceiveBufferSize(32 * 1024, ignored);  // a small window: the kernel absorbs less
  client.connect(server.localAddress());
  test::writeAll(client, "go");
  // Nothing is read until the producer was held back (the kernel buffers are far smaller than
  // kTotal), then everything as fast as it comes.
  ASSERT_TRUE(test::waitUntil([&] {
    std::lock_guard lock(seen.mutex);
    return !seen.writability.empty();
  })) << "the producer was never held back";
  std::size_t received = 0;
  std::size_t mismatches = 0;
  ByteBuffer in = ByteBuffer::allocate(64 * 1024);
  std::error_code ec;
  while (received < kTotal) {
    const auto n = client.read(in, ec);  // blocking
    if (n < 0) break;
    for (std::int64_t i = 0; i < n; ++i) {
      if (static_cast<char>(in.get(static_cast<std::size_t>(i))) != patternAt(received + i)) {
        ++mismatches;
      }
    }
    received += static_cast<std::size_t>(n);
    in.clear();
  }
  const bool all = received == kTotal;
  EXPECT_TRUE(all);
  EXPECT_EQ(received, kTotal);
  EXPECT_EQ(mismatches, 0u);
  ASSERT_TRUE(test::waitUntil([&] {
    std::lock_guard lock(seen.mutex);
    return !seen.writability.empty() && seen.writability.back();
  })) << "the producer was never held back, or never told it may go on ("
      <<
      [&] {
        std::lock_guard lock(seen.mutex);
        return seen.writability.size();
      }()
      << " notifications)";
  {
    std::lock_guard lock(seen.mutex);
    for (std::size_t i = 0; i < seen.writability.size(); ++i) {
      EXPECT_EQ(seen.writability[i], i % 2 == 1) << "notification " << i << " does not alternate";
    }
  }
  EXPECT_LE(seen.maxPending.load(), kHigh + kChunk);
  EXPECT_EQ(seen.overlaps.load(), 0) << "callbacks of one connection overlapped";
  EXPECT_EQ(seen.refused.load(), 0);
  server.stop();
}

TEST_P(ConnectionBackpressureTest, WriteBeyondTheLimitIsRefused) {
  struct Flood : ConnectionHandler {
    std::promise<std::pair<bool, bool>>& result;
    explicit Flood(std::promise<std::pair<bool, bool>>& r) : result(r) {}
    void onData(Connection& c, ByteBuffer& in) override {
      in.advance(in.remaining());
      c.setWriteBufferLimit(64 * 1024);
      const bool big = c.write(std::string(8 << 20, 'x'));  // alone: accepted whatever its size
      const bool more = c.write("y");
      result.set_value({big, more});
    }
  };
  std::promise<std::pair<bool, bool>> result;
  ReactorServer::Options o;
  o.concurrency = GetParam();
  ReactorServer server(o, [&] { return std::make_unique<Flood>(result); });
  server.start();
  SocketChannel client = SocketChannel::open();
  client.connect(server.localAddress());
  test::writeAll(client, "go");
  auto f = result.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  const auto [big, more] = f.get();
  EXPECT_TRUE(big);
  EXPECT_FALSE(more) << "8 MiB queued, limit 64 KiB: one more byte must be refused";
  server.stop();
}

}  // namespace
}  // namespace nioxx
