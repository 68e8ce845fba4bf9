// Shared fixture for the emulated-proactor tests: a Proactor per test (parametrised over the
// three dispatch strategies, the I/O modes, and for post_reactive both the leader/followers
// arrangement with 1 or 3 run() threads and the processor's own reactor threads), thread(s) in
// run() (needed by post_reactive, harmless otherwise), and loopback helpers.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "nioxx/bridge/emulated_processor.h"
#include "nioxx/proactor/async_server_socket.h"
#include "nioxx/proactor/async_socket.h"
#include "nioxx/proactor/proactor.h"

namespace nioxx::test {

using namespace std::chrono_literals;

inline constexpr auto kWait = 10s;  // generous: "eventually" on a loaded 2-core machine

inline ByteBuffer bufferOf(std::string_view s) {
  ByteBuffer b = ByteBuffer::allocate(s.size());
  b.put(s);
  b.flip();
  return b;
}

inline std::string drained(const ByteBuffer& b) {  // the bytes before position
  return std::string(reinterpret_cast<const char*>(b.array()), b.position());
}

// Polls cond until true or kWait passes.
template <class Cond>
bool eventually(Cond cond, std::chrono::milliseconds limit = kWait) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

struct ProactorParam {
  DispatchStrategy strategy;
  IoMode ioMode = IoMode::inline_io;
  std::size_t reactors = 2;
  bool driven = true;       // post_reactive + inline_io: run() threads drive the Reactor
  std::size_t runners = 1;  // threads calling Proactor::run()
};

inline std::string paramName(const ::testing::TestParamInfo<ProactorParam>& info) {
  const ProactorParam& p = info.param;
  std::string name = std::string(toString(p.strategy)) + "_" + toString(p.ioMode);
  if (p.strategy == DispatchStrategy::post_reactive && p.ioMode == IoMode::inline_io) {
    name += p.driven ? "_driven" + std::to_string(p.runners) : "_ownthreads";
  }
  return name;
}

class ProactorTest : public ::testing::TestWithParam<ProactorParam> {
 protected:
  void SetUp() override {
    EmulatedProactorOptions o;
    o.proactor.strategy = GetParam().strategy;
    o.processor.ioMode = GetParam().ioMode;
    o.processor.reactorThreads = GetParam().reactors;
    o.processor.driven = GetParam().driven;
    o.proactor.writeQueueLimit = writeQueueLimit();
    proactor_ = std::make_unique<Proactor>(makeEmulatedProactor(o));
    for (std::size_t i = 0; i < std::max<std::size_t>(GetParam().runners, 1); ++i)
      runners_.emplace_back([this] { proactor_->run(); });
  }
  void TearDown() override {
    if (!proactor_) return;
    stopRunners();
    proactor_->shutdown();
  }
  void stopRunners() {
    proactor_->stop();
    for (auto& t : runners_)
      t.join();
    runners_.clear();
  }
  virtual std::size_t writeQueueLimit() const { return 65536; }

  Proactor& proactor() { return *proactor_; }

  // A listening server on an ephemeral loopback port.
  AsyncServerSocket listen() {
    AsyncServerSocket server = AsyncServerSocket::open(proactor());
    EXPECT_FALSE(server.bind(InetSocketAddress::loopback(0)));
    return server;
  }
  // A connected pair (client, accepted), both attached to the proactor.
  std::pair<AsyncSocket, AsyncSocket> connectedPair() {
    AsyncServerSocket server = listen();
    auto accepted = server.accept(use_future);
    AsyncSocket client = AsyncSocket::open(proactor());
    auto connected = client.connect(*server.localAddress(), use_future);
    if (connected.wait_for(kWait) != std::future_status::ready) abandon("connect");
    ConnectResult c = connected.get();
    EXPECT_TRUE(c.success()) << c.error().message();
    if (accepted.wait_for(kWait) != std::future_status::ready) abandon("accept");
    AcceptResult a = accepted.get();
    EXPECT_TRUE(a.success()) << a.error().message();
    server.close();
    return {client, a.socket()};
  }

  // A completion that never arrives would make get() block until CI kills the run. Record the
  // failure, shut the Proactor down while the test's locals are still alive (it aborts what is in
  // flight and runs those handlers now), and leave the test by exception (gtest reports it).
  [[noreturn]] void abandon(const char* what) {
    ADD_FAILURE() << "the " << what << " completion did not arrive within "
                  << std::chrono::duration_cast<std::chrono::seconds>(kWait).count() << " s";
    stopRunners();
    proactor_->shutdown();
    proactor_.reset();  // TearDown: nothing left to stop
    throw std::runtime_error(std::string("nioxx test: ") + what + " completion never arrived");
  }

  std::unique_ptr<Proactor> proactor_;
  std::vector<std::thread> runners_;
};

inline auto allStrategies() {
  return ::testing::Values(
      ProactorParam{DispatchStrategy::post_reactive},
      ProactorParam{DispatchStrategy::post_reactive, IoMode::inline_io, 1, true, 3},
      ProactorParam{DispatchStrategy::post_reactive, IoMode::inline_io, 2, false},
      ProactorParam{DispatchStrategy::call_through}, ProactorParam{DispatchStrategy::pool},
      ProactorParam{DispatchStrategy::call_through, IoMode::worker_pool},
      ProactorParam{DispatchStrategy::post_reactive, IoMode::worker_pool});
}

}  // namespace nioxx::test
