// Connection::close() delivers the last reply even with unread input (no RST), and a handler
// whose connection exceeds maxInputBytes gets to answer before the close.
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "nioxx/core/error.h"
#include "nioxx/reactor/reactor_server.h"
#include "nioxx_test/blocking_client.h"
#include "nioxx_test/reactor_helpers.h"

namespace nioxx {
namespace {

struct Outcome {
  std::mutex mutex;
  std::error_code reason;
  std::atomic<bool> closed{false};
};

// Records how the connection closed.
class RecordsClose : public ConnectionHandler {
 public:
  explicit RecordsClose(Outcome& o) : outcome_(o) {}
  void onClose(Connection&, const std::error_code& reason) override {
    std::lock_guard lock(outcome_.mutex);
    outcome_.reason = reason;
    outcome_.closed = true;
  }

 private:
  Outcome& outcome_;
};

// Rejects the first request with one error line and closes, without reading the rest.
class RejectFirst final : public RecordsClose {
 public:
  using RecordsClose::RecordsClose;
  void onData(Connection& c, ByteBuffer& input) override {
    input.position(input.limit());
    if (replied_) return;
    replied_ = true;
    c.write(std::string_view("ERR bad request\n"));
    c.close();
  }

 private:
  bool replied_ = false;
};

// Never consumes its input; answers when the limit is reached.
class Hoarder final : public RecordsClose {
 public:
  using RecordsClose::RecordsClose;
  void onData(Connection&, ByteBuffer&) override {}
  void onInputLimitExceeded(Connection& c) override {
    c.write(std::string_view("ERR request too large\n"));
  }
};

// Answers each request after a while (the peer's end of stream arrives first) and stays open.
class SlowEcho final : public RecordsClose {
 public:
  using RecordsClose::RecordsClose;
  void onData(Connection& c, ByteBuffer& input) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::string reply = "OK ";
    while (input.hasRemaining())
      reply.push_back(static_cast<char>(input.get()));
    c.write(std::string_view(reply));
  }
};

class ConnectionCloseTest : public ::testing::TestWithParam<Concurrency> {};

// `printf 'hi' | nc -N`: the peer shuts its write side right after the request and still reads
// the reply; with a worker pool the end of stream reaches the loop before the handler has run.
TEST_P(ConnectionCloseTest, EndOfStreamAfterARequestStillGetsTheReply) {
  Outcome outcome;
  ReactorServer server({.concurrency = GetParam()},
                       [&] { return std::make_unique<SlowEcho>(outcome); });
  server.start();
  test::BlockingClient client(server.localAddress());
  client.send("hi");
  ::shutdown(client.fd(), SHUT_WR);
  EXPECT_EQ(client.readToEnd(), "OK hi");
  ASSERT_TRUE(test::waitUntil([&] { return outcome.closed.load(); }));
  std::lock_guard lock(outcome.mutex);
  EXPECT_FALSE(outcome.reason) << outcome.reason.message();
}

TEST_P(ConnectionCloseTest, CloseAfterAReplyDeliversItDespiteUnreadInput) {
  Outcome outcome;
  ReactorServer server({.concurrency = GetParam(), .readBufferSize = 4096},
                       [&] { return std::make_unique<RejectFirst>(outcome); });
  server.start();
  test::BlockingClient client(server.localAddress());
  // Far more than the server reads before it closes: closed at once, this would be unread input
  // in its receive queue, and the kernel would answer the close with an RST.
  std::string request = "bad\n";
  request.append(512 * 1024, 'x');
  std::thread sender([&] {
    client.send(request);
    ::shutdown(client.fd(), SHUT_WR);
  });
  EXPECT_EQ(client.readToEnd(), "ERR bad request\n");  // a reset fails here
  sender.join();
  ASSERT_TRUE(test::waitUntil([&] { return outcome.closed.load(); }));
  std::lock_guard lock(outcome.mutex);
  EXPECT_FALSE(outcome.reason) << outcome.reason.message();
}

TEST_P(ConnectionCloseTest, InputLimitLetsTheHandlerAnswerBeforeTheClose) {
  Outcome outcome;
  ReactorServer server({.concurrency = GetParam(), .readBufferSize = 512, .maxInputBytes = 1024},
                       [&] { return std::make_unique<Hoarder>(outcome); });
  server.start();
  test::BlockingClient client(server.localAddress());
  std::thread sender([&] {
    client.send(std::string(64 * 1024, 'y'));
    ::shutdown(client.fd(), SHUT_WR);
  });
  EXPECT_EQ(client.readToEnd(), "ERR request too large\n");
  sender.join();
  ASSERT_TRUE(test::waitUntil([&] { return outcome.closed.load(); }));
  std::lock_guard lock(outcome.mutex);
  EXPECT_EQ(outcome.reason, make_error_code(Error::limit_exceeded)) << outcome.reason.message();
}

INSTANTIATE_TEST_SUITE_P(Concurrency, ConnectionCloseTest,
                         ::testing::Values(Concurrency::single_reactor, Concurrency::worker_pool));

}  // namespace
}  // namespace nioxx
