// The fixture of the behaviour tests: one Proactor per test built by the engine under test, the
// engine's run() threads, connected sockets, and the checks every test gets for free at the end:
// the Proactor shuts down without hanging, and no operation or channel outlives the test.
//
// Handlers may outlive a failed assertion (the shutdown in TearDown runs them), so tests keep
// what handlers touch in a std::shared_ptr the handlers capture by value, never in plain locals.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "api_scope.h"
#include "engine.h"
#include "nioxx/proactor/async_server_socket.h"
#include "nioxx/proactor/async_socket.h"
#include "nioxx/proactor/proactor.h"
#include "run_threads.h"
#include "watchdog.h"

namespace nioxx::conformance {

using namespace std::chrono_literals;

// Generous: "eventually" on a loaded 2-core machine, possibly under a sanitizer.
inline constexpr std::chrono::milliseconds kWait = 10s;

// Polls cond until it holds or `limit` passes.
template <class Cond>
bool eventually(Cond&& cond, std::chrono::milliseconds limit = kWait) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// The result of an operation started with use_future. A completion that never arrives fails the
// test (gtest reports the exception) instead of blocking it forever.
template <class Result>
Result awaitResult(std::future<Result>& f, std::string_view what) {
  if (f.wait_for(kWait) != std::future_status::ready) {
    throw std::runtime_error(std::string(what) + " did not complete within 10 s");
  }
  return f.get();
}

ByteBuffer bufferOf(std::string_view bytes);
std::string filledPart(const ByteBuffer& b);  // the bytes before position

// A plain descriptor, closed on destruction.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  ~UniqueFd();
  int get() const noexcept { return fd_; }
  void reset() noexcept;

 private:
  int fd_;
};

// Reads exactly n bytes from a blocking descriptor; fewer if `limit` passes or the peer closes.
std::string readPeer(int fd, std::size_t n, std::chrono::milliseconds limit = kWait);
// Writes all of bytes to a blocking descriptor.
bool writePeer(int fd, std::string_view bytes);

class ConformanceTest : public ::testing::TestWithParam<EngineParam> {
 protected:
  void SetUp() override;
  void TearDown() override;

  Proactor& proactor() { return *proactor_; }
  RunThreads& runThreads() { return *runThreads_; }

  // Two connected AsyncSockets (socketpair(2): no ports, no TIME_WAIT).
  std::pair<AsyncSocket, AsyncSocket> socketPair();
  // An AsyncSocket whose peer is a plain blocking descriptor the test drives directly.
  std::pair<AsyncSocket, UniqueFd> socketAndPeer();

  // stop(), then the run() threads must all return within `limit`. False if one did not.
  bool stopRunThreads(std::chrono::milliseconds limit = kWait);
  // stop() + shutdown(), as an application ends. Once; TearDown does it if the test did not.
  void shutdownProactor();

  std::unique_ptr<Proactor> proactor_;
  std::unique_ptr<RunThreads> runThreads_;

 private:
  Watchdog watchdog_;
  bool shutDown_ = false;
  std::int64_t liveOperationsAtStart_ = 0;
  std::int64_t liveChannelsAtStart_ = 0;
};

}  // namespace nioxx::conformance
