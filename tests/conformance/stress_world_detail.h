// The stress test's internals, shared by stress_world.cpp (the run, the handlers, the invariant
// checks) and stress_actions.cpp (what test threads and handlers do). See stress_world.h.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "nioxx/proactor/async_socket.h"
#include "nioxx/proactor/proactor.h"
#include "run_threads.h"
#include "stress_world.h"

namespace nioxx::conformance::stress_detail {

// splitmix64: cheap enough to seed once per handler call (a std::mt19937_64 is not).
struct SplitMix {
  using result_type = std::uint64_t;
  std::uint64_t state;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return UINT64_MAX; }
  result_type operator()() noexcept {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

enum class Op : std::uint8_t { read, read_exactly, write, write_all, writev, timer, post };

enum class Action : std::uint8_t {
  read,
  read_exactly,
  write,
  write_all,
  writev,
  cancel,
  close,
  schedule_timer,
  cancel_timer,
  post,
  stop,
  restart,
  pause,  // test threads only: varies the interleaving (handlers never block)
};

struct Act {
  std::uint32_t token;
  std::int32_t endpoint;    // -1: timers and posts
  std::int64_t seq;         // initiation order on the endpoint, per direction
  std::uint8_t generation;  // 0: started by a test thread; n: by a handler n levels down
  Op op;
};

struct TokenInfo {
  Op op;
  std::int32_t endpoint;
  std::uint8_t generation;
};

constexpr std::uint32_t kMaxTokens = 1 << 14;
constexpr std::uint8_t kMaxGeneration = 3;  // bounds handler chains
constexpr std::size_t kMaxMessages = 8;
constexpr std::uint8_t kUnsettled = 0, kInitiated = 1, kThrew = 2;

struct Endpoint {
  AsyncSocket socket;
  // Held across "take a sequence number + initiate", so each socket has one initiation order to
  // compare completions against. Recursive: a handler run inline inside an initiation (itself a
  // violation) must not deadlock the test.
  std::recursive_mutex initiating;
  std::int64_t nextReadSeq = 0;   // guarded by initiating
  std::int64_t nextWriteSeq = 0;  // guarded by initiating
  // The last completion per direction: its sequence number and outcome (packSeq()).
  std::atomic<std::int64_t> lastReadDone{-1};
  std::atomic<std::int64_t> lastWriteDone{-1};
  std::atomic<int> inHandler{0};
};

class World {
 public:
  World(const EngineParam& engine, std::uint64_t seed);
  StressOutcome run();

 private:
  void testThread(std::size_t index);
  template <class Rng>
  void perform(Action action, Rng& rng, std::uint8_t generation, int preferredEndpoint);
  template <class Rng>
  void startRead(int e, bool exactly, Rng& rng, std::uint8_t generation);
  template <class Rng>
  void startWrite(int e, Op op, Rng& rng, std::uint8_t generation);
  template <class Rng>
  void startTimer(Rng& rng, std::uint8_t generation);
  template <class Rng>
  void cancelSomeTimer(Rng& rng);
  void startPost(std::uint8_t generation);
  template <class Fn>
  void control(Fn&& fn);  // cancel/close/cancelTimer/stop/restart: not operations, no token

  bool newToken(Op op, int endpoint, std::uint8_t generation, std::uint32_t& token);
  template <class Fn>
  bool initiate(std::uint32_t token, Fn&& fn);
  auto completion() {
    return [this](auto& result, Act& act) { onCompletion(result, act); };
  }
  template <class Result>
  void onCompletion(Result& result, const Act& act);
  void checkOrder(Endpoint& ep, const Act& act, const std::error_code& error);
  void followUp(const Act& act);
  void countOutcome(const std::error_code& error);
  void checkExactlyOnce();
  void violate(Invariant invariant, std::string message);
  static std::string describeOp(const Act& act);

  const EngineParam& engine_;
  const std::uint64_t seed_;
  std::size_t threadCount_ = 2;
  std::size_t pairCount_ = 4;
  std::size_t actionsPerThread_ = 40;
  unsigned shutdownAtPercent_ = 100;  // of all test-thread actions

  std::unique_ptr<Proactor> proactor_;
  // One buffer per engine thread: reads with it park and resume whenever sockets of one thread
  // overlap (the provided-buffer wait, under cancel, close and shutdown).
  BufferGroup group_;
  std::unique_ptr<RunThreads> runThreads_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::mutex timersMutex_;
  std::vector<std::uint64_t> timers_;  // ids of timers scheduled so far

  std::atomic<std::uint32_t> nextToken_{0};
  std::unique_ptr<std::atomic<std::uint8_t>[]> tokenState_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> handlerCalls_;
  std::unique_ptr<TokenInfo[]> tokenInfo_;

  std::atomic<bool> shutdownBegan_{false};
  std::atomic<bool> shutdownReturned_{false};
  std::atomic<std::uint64_t> actionsDone_{0};
  std::atomic<std::size_t> threadsDone_{0};
  std::atomic<std::uint64_t> initiated_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::uint64_t> handled_{0};
  std::atomic<std::uint64_t> succeeded_{0}, aborted_{0}, timedOut_{0}, refusals_{0},
      otherErrors_{0};

  std::array<std::atomic<std::uint64_t>, kInvariants> violations_{};
  std::mutex messagesMutex_;
  std::vector<std::string> messages_;
};

}  // namespace nioxx::conformance::stress_detail
