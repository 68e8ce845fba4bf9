// Issue 12's idle-memory target, without measuring memory: a server connection waiting for input
// holds no read buffer. On io_uring a read must name its buffer when it is issued, so the glues
// read there from a provided-buffer group (the kernel picks a buffer when bytes arrive); a pooled
// read would hold a chunk per idle connection (the 4 KiB per connection once measured).
// server::Server::readBuffersHeld() counts pooled chunks taken and group buffers not given back.
// The emulated engine keeps one pooled chunk staged per I/O thread (bridge/src/perform.cpp): a cost
// per thread, not per connection, so the bound below is the server's thread count.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "hello/hello_service.h"
#include "hello_test_util.h"
#include "nioxx/server/server.h"
#include "nioxx/uring/uring_processor.h"
#include "nioxx_test/blocking_client.h"

namespace nioxx::demo {
namespace {

using namespace std::chrono_literals;
using server::makeCoroutineServer;
using server::makeProactiveServer;
using server::ServerConfig;

struct Case {
  std::string mode;      // proactor | coroutine
  std::string engine;    // emulated | uring
  std::string dispatch;  // call-through | pool
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.mode << " --engine " << c.engine << " --dispatch " << c.dispatch;
}

std::string nameOf(const ::testing::TestParamInfo<Case>& info) {
  std::string name = info.param.mode + "_" + info.param.engine + "_" + info.param.dispatch;
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

// The bytes the server must answer to `request`: the same FramedSession + HelloService.
std::string expectedReply(const std::string& request) {
  FramedSession local(HelloService::create(), {}, nullptr);
  testing::feed(local, request);
  return testing::drain(local);
}

// Polls until held() is at most `bound` (the last handler may still be returning when the reply
// arrived); returns the last value seen. The deadline only bounds a failure.
template <class F>
std::size_t settlesTo(std::size_t bound, F held) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::size_t n = held();
  while (n > bound && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
    n = held();
  }
  return n;
}

class IdleReadBuffersTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (GetParam().engine == "uring" && !UringProcessor::probe().available) {
      GTEST_SKIP() << "io_uring unavailable: " << UringProcessor::probe().reason;
    }
  }
  // One thread of the case's glue, engine and dispatch strategy.
  static ServerConfig configFor(const Case& c) {
    ServerConfig config;
    config.mode = c.mode;
    config.port = 0;
    config.threads = 1;
    config.engine = c.engine;
    config.dispatch = c.dispatch;
    return config;
  }
  static std::unique_ptr<server::Server> make(const ServerConfig& config) {
    return config.mode == "coroutine" ? makeCoroutineServer(config, HelloService::create)
                                      : makeProactiveServer(config, HelloService::create);
  }
};

TEST_P(IdleReadBuffersTest, IdleConnectionsHoldNoReadBuffer) {
  const Case& c = GetParam();
  const ServerConfig config = configFor(c);
  auto server = make(config);
  const InetSocketAddress address = server->start();
  EXPECT_EQ(server->engine(), c.engine);  // the engine asked for is the one serving

  // More connections than a thread's pooled chunks would be noticed by, each after one round
  // trip, so each has had a read complete and a new one issued that now waits.
  constexpr int kConnections = 48;
  std::vector<std::unique_ptr<test::BlockingClient>> clients;
  for (int i = 0; i < kConnections; ++i) {
    clients.push_back(std::make_unique<test::BlockingClient>(address));
    std::string request;
    HelloService::appendRequest("idle-" + std::to_string(i), 1, request);
    ASSERT_TRUE(clients.back()->send(request));
    ASSERT_EQ(clients.back()->readExactly(expectedReply(request).size()), expectedReply(request));
  }
  // io_uring: none at all (the kernel holds the group's buffers until bytes arrive).
  const std::size_t bound = c.engine == "uring" ? 0 : config.threads;
  EXPECT_LE(settlesTo(bound, [&] { return server->readBuffersHeld(); }), bound)
      << kConnections << " idle connections, each with a read waiting";

  // The waiting reads are real: every connection is served again, and gives its buffer back.
  for (int i = 0; i < kConnections; ++i) {
    std::string request;
    HelloService::appendRequest("again-" + std::to_string(i), 2, request);
    ASSERT_TRUE(clients[i]->send(request));
    ASSERT_EQ(clients[i]->readExactly(expectedReply(request).size()), expectedReply(request));
  }
  EXPECT_LE(settlesTo(bound, [&] { return server->readBuffersHeld(); }), bound);
  clients.clear();
  server->stop();
}

// A client that sends and never reads: the server's write waits, and the coroutine glue, busy
// with it, does not take what its multishot read delivers. Held in the ring's buffers, those
// arrivals would drain the ring (512 per thread) that every other connection of the thread reads
// into; the stream copies them out (and the glue's maxWaiting bounds how many it keeps).
TEST_P(IdleReadBuffersTest, AClientThatNeverReadsHoldsFewReadBuffers) {
  const Case& c = GetParam();
  ServerConfig config = configFor(c);
  config.shutdownGrace = 100ms;  // the hog's write never ends: stop() closes it
  auto server = make(config);
  const InetSocketAddress address = server->start();

  test::BlockingClient hog(address);
  const int small = 16 * 1024;
  ::setsockopt(hog.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  ::fcntl(hog.fd(), F_SETFL, ::fcntl(hog.fd(), F_GETFL) | O_NONBLOCK);
  std::string batch;
  for (int i = 0; i < 20; ++i)
    HelloService::appendRequest(std::string(40, 'h'), i + 1, batch);
  // Until the server stops taking them (each 1 KiB is an arrival of the multishot read).
  auto lastProgress = std::chrono::steady_clock::now();
  std::size_t sent = 0;
  while (std::chrono::steady_clock::now() - lastProgress < 300ms && sent < (64u << 20)) {
    const ssize_t n = ::send(hog.fd(), batch.data(), batch.size(), MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      lastProgress = std::chrono::steady_clock::now();
    } else {
      std::this_thread::sleep_for(5ms);
    }
  }
  // io_uring: none (what waits in a coroutine's stream is copied out of the ring).
  const std::size_t bound = c.engine == "uring" ? 0 : config.threads;
  EXPECT_LE(settlesTo(bound, [&] { return server->readBuffersHeld(); }), bound)
      << sent << " bytes sent by a client that never reads";
  // And the server stopped taking its bytes: socket buffers and a bounded backlog (~8 MiB seen),
  // not the 64 MiB the loop would send to a server that copies every arrival it does not answer.
  EXPECT_LT(sent, 24u << 20);

  // Others are still served: the thread's reads have buffers.
  test::BlockingClient other(address);
  std::string request;
  HelloService::appendRequest("other", 1, request);
  ASSERT_TRUE(other.send(request));
  EXPECT_EQ(other.readExactly(expectedReply(request).size()), expectedReply(request));
  server->stop();
}

INSTANTIATE_TEST_SUITE_P(Glues, IdleReadBuffersTest,
                         ::testing::Values(Case{"proactor", "uring", "call-through"},
                                           Case{"proactor", "uring", "pool"},
                                           Case{"coroutine", "uring", "call-through"},
                                           Case{"coroutine", "uring", "pool"},
                                           Case{"proactor", "emulated", "call-through"},
                                           Case{"coroutine", "emulated", "call-through"}),
                         nameOf);

}  // namespace
}  // namespace nioxx::demo
