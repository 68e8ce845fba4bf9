// ReactorServer: the same handler served under each of Doug Lea's concurrency variants.
#include "nioxx/reactor/reactor_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "nioxx/core/error.h"
#include "nioxx_test/reactor_helpers.h"

namespace nioxx {
namespace {

using namespace std::chrono_literals;

struct Record {
  std::mutex mutex;
  std::set<Reactor*> openReactors;
  std::set<std::thread::id> dataThreads;
  std::atomic<int> closes{0};
  std::vector<std::error_code> reasons;
};

class EchoHandler : public ConnectionHandler {
 public:
  explicit EchoHandler(Record& record) : record_(record) {}
  void onOpen(Connection& c) override {
    std::lock_guard lock(record_.mutex);
    record_.openReactors.insert(&c.reactor());
  }
  void onData(Connection& c, ByteBuffer& in) override {
    {
      std::lock_guard lock(record_.mutex);
      record_.dataThreads.insert(std::this_thread::get_id());
    }
    auto bytes = in.remainingSpan();
    EXPECT_TRUE(c.write(bytes));
    in.advance(bytes.size());
  }
  void onClose(Connection&, const std::error_code& reason) override {
    std::lock_guard lock(record_.mutex);
    record_.reasons.push_back(reason);
    ++record_.closes;
  }

 private:
  Record& record_;
};

class ReactorServerTest : public ::testing::TestWithParam<Concurrency> {};

INSTANTIATE_TEST_SUITE_P(Variants, ReactorServerTest,
                         ::testing::Values(Concurrency::single_reactor, Concurrency::worker_pool,
                                           Concurrency::main_sub_reactors, Concurrency::reuse_port),
                         [](const auto& info) {
                           switch (info.param) {
                             case Concurrency::single_reactor:
                               return "SingleReactor";
                             case Concurrency::worker_pool:
                               return "WorkerPool";
                             case Concurrency::main_sub_reactors:
                               return "MainSubReactors";
                             case Concurrency::reuse_port:
                               return "ReusePort";
                           }
                           return "Unknown";
                         });

TEST_P(ReactorServerTest, EchoesAndClosesCleanly) {
  Record record;
  ReactorServer::Options options;
  options.concurrency = GetParam();
  ReactorServer server(options, [&] { return std::make_unique<EchoHandler>(record); });
  server.start();
  std::vector<SocketChannel> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(SocketChannel::open());
    clients.back().connect(server.localAddress());
    ASSERT_TRUE(test::waitUntil([&] { return clients.back().finishConnect(); }));
  }
  for (int i = 0; i < 4; ++i) {
    const std::string msg = "hello-" + std::to_string(i);
    test::writeAll(clients[static_cast<std::size_t>(i)], msg);
    EXPECT_EQ(test::readExactly(clients[static_cast<std::size_t>(i)], msg.size()), msg);
  }
  EXPECT_EQ(server.connectionCount(), 4u);
  clients.clear();  // end of stream for each connection
  EXPECT_TRUE(test::waitUntil([&] { return record.closes.load() == 4; }));
  EXPECT_TRUE(test::waitUntil([&] { return server.connectionCount() == 0; }));
  server.stop();
  std::lock_guard lock(record.mutex);
  for (const auto& reason : record.reasons)
    EXPECT_FALSE(reason) << reason.message();
}

TEST(ReactorServerVariantTest, MainSubReactorsSpreadsConnectionsRoundRobin) {
  Record record;
  ReactorServer::Options options;
  options.concurrency = Concurrency::main_sub_reactors;
  options.reactors = 2;
  ReactorServer server(options, [&] { return std::make_unique<EchoHandler>(record); });
  server.start();
  std::vector<SocketChannel> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(SocketChannel::open());
    clients.back().connect(server.localAddress());
  }
  ASSERT_TRUE(test::waitUntil([&] { return server.connectionCount() == 4; }));
  {
    std::lock_guard lock(record.mutex);
    EXPECT_EQ(record.openReactors.size(), 2u);
  }
  server.stop();
}

TEST(ReactorServerVariantTest, WorkerPoolRunsHandlersOffTheLoopThreads) {
  Record record;
  ReactorServer::Options options;
  options.concurrency = Concurrency::worker_pool;
  ReactorServer server(options, [&] {
    struct Probe : EchoHandler {
      using EchoHandler::EchoHandler;
      void onData(Connection& c, ByteBuffer& in) override {
        EXPECT_EQ(Reactor::current(), nullptr);  // not a reactor thread
        EchoHandler::onData(c, in);
      }
    };
    return std::make_unique<Probe>(record);
  });
  server.start();
  SocketChannel client = SocketChannel::open();
  client.connect(server.localAddress());
  test::writeAll(client, "work");
  EXPECT_EQ(test::readExactly(client, 4), "work");
  server.stop();
}

TEST(ReactorServerVariantTest, StopClosesOpenConnectionsWithOperationAborted) {
  Record record;
  ReactorServer server({}, [&] { return std::make_unique<EchoHandler>(record); });
  server.start();
  SocketChannel client = SocketChannel::open();
  client.connect(server.localAddress());
  ASSERT_TRUE(test::waitUntil([&] { return server.connectionCount() == 1; }));
  server.stop();
  EXPECT_EQ(record.closes.load(), 1);
  ASSERT_EQ(record.reasons.size(), 1u);
  EXPECT_EQ(record.reasons[0], Error::operation_aborted);
  ByteBuffer in = ByteBuffer::allocate(4);
  std::error_code ec;
  EXPECT_TRUE(test::waitUntil([&] { return client.read(in, ec) < 0; }));
}

TEST(ReactorServerVariantTest, CloseFlushesQueuedOutputFirst) {
  constexpr std::size_t kSize = 4 * 1024 * 1024;  // larger than the socket buffers
  struct Bulk : ConnectionHandler {
    void onData(Connection& c, ByteBuffer& in) override {
      in.advance(in.remaining());
      std::string big(kSize, 'z');
      c.write(big);
      c.close();
    }
  };
  ReactorServer server({}, [] { return std::make_unique<Bulk>(); });
  server.start();
  SocketChannel client = SocketChannel::open();
  client.connect(server.localAddress());
  test::writeAll(client, "go");
  std::size_t total = 0;
  ByteBuffer in = ByteBuffer::allocate(64 * 1024);
  std::error_code ec;
  EXPECT_TRUE(test::waitUntil([&] {
    const auto n = client.read(in, ec);
    if (n > 0) total += static_cast<std::size_t>(n);
    in.clear();
    return n < 0;
  }));
  EXPECT_FALSE(ec);
  EXPECT_EQ(total, kSize);
  server.stop();
}

// A write from another thread that reaches the loop after the connection closed is dropped
// and takes its bytes back out of pendingWriteBytes(), which must not wrap below zero.
TEST(ReactorServerVariantTest, WriteQueuedBehindAnAbortLeavesNoPendingBytes) {
  struct Capture : ConnectionHandler {
    std::promise<std::shared_ptr<Connection>>& opened;
    explicit Capture(std::promise<std::shared_ptr<Connection>>& p) : opened(p) {}
    void onOpen(Connection& c) override { opened.set_value(c.shared_from_this()); }
    void onData(Connection&, ByteBuffer& in) override { in.advance(in.remaining()); }
  };
  std::promise<std::shared_ptr<Connection>> opened;
  ReactorServer server({}, [&] { return std::make_unique<Capture>(opened); });
  server.start();
  SocketChannel client = SocketChannel::open();
  client.connect(server.localAddress());
  auto future = opened.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  std::shared_ptr<Connection> connection = future.get();

  // Hold the loop so the abort and the write queue up behind it, in that order.
  std::promise<void> held;
  std::promise<void> release;
  connection->reactor().post([&] {
    held.set_value();
    release.get_future().wait();
  });
  held.get_future().wait();
  connection->abort();
  EXPECT_TRUE(connection->write("late"));  // still open: the abort has not run yet
  EXPECT_EQ(connection->pendingWriteBytes(), 4u);
  release.set_value();
  std::promise<void> flushed;
  connection->reactor().post([&] { flushed.set_value(); });
  flushed.get_future().wait();

  EXPECT_FALSE(connection->isOpen());
  EXPECT_EQ(connection->pendingWriteBytes(), 0u);
  EXPECT_FALSE(connection->write("after"));
  server.stop();
}

}  // namespace
}  // namespace nioxx
