#include "stress_world.h"

#include <sys/socket.h>

#include <chrono>
#include <random>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include "api_scope.h"
#include "nioxx/core/error.h"
#include "nioxx/proactor/live_counts.h"
#include "nioxx/proactor/proactor.h"
#include "stress_config.h"

namespace nioxx::conformance {

const char* describe(Invariant invariant) noexcept {
  switch (invariant) {
    case Invariant::exactly_once:
      return "(a) exactly once";
    case Invariant::channel_order:
      return "(b) per-channel order";
    case Invariant::channel_overlap:
      return "(c) one handler per channel at a time";
    case Invariant::inside_api_call:
      return "(d) no handler inside an API call";
    case Invariant::after_shutdown:
      return "(e) no handler after shutdown() returned";
    case Invariant::leak:
      return "(f) no leak";
    case Invariant::hang:
      return "no hang";
    case Invariant::unexpected_exception:
      return "no unexpected exception";
  }
  return "?";
}

bool StressOutcome::failed() const noexcept {
  for (std::uint64_t n : violations)
    if (n != 0) return true;
  return false;
}

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

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

const char* nameOf(Op op) noexcept {
  constexpr const char* kNames[] = {"read",   "readExactly", "write", "writeAll",
                                    "writev", "timer",       "post"};
  return kNames[static_cast<int>(op)];
}
bool isWrite(Op op) noexcept {
  return op == Op::write || op == Op::write_all || op == Op::writev;
}
bool isRead(Op op) noexcept {
  return op == Op::read || op == Op::read_exactly;
}

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

struct Weighted {
  Action action;
  unsigned weight;
};

// What a test thread does next.
constexpr Weighted kThreadMix[] = {
    {Action::read, 12},        {Action::read_exactly, 7},
    {Action::write, 12},       {Action::write_all, 10},
    {Action::writev, 7},       {Action::cancel, 6},
    {Action::close, 2},        {Action::schedule_timer, 10},
    {Action::cancel_timer, 8}, {Action::post, 8},
    {Action::stop, 3},         {Action::restart, 5},
    {Action::pause, 10},
};
// What a handler does next, when it does something.
constexpr Weighted kHandlerMix[] = {
    {Action::read, 18},         {Action::read_exactly, 6},
    {Action::write, 14},        {Action::write_all, 8},
    {Action::writev, 6},        {Action::cancel, 8},
    {Action::close, 2},         {Action::schedule_timer, 12},
    {Action::cancel_timer, 12}, {Action::post, 10},
    {Action::stop, 2},          {Action::restart, 2},
};

template <std::size_t N, class Rng>
Action pick(const Weighted (&mix)[N], Rng& rng) {
  unsigned total = 0;
  for (const Weighted& w : mix)
    total += w.weight;
  unsigned r = static_cast<unsigned>(rng() % total);
  for (const Weighted& w : mix) {
    if (r < w.weight) return w.action;
    r -= w.weight;
  }
  return mix[0].action;
}

// The ACT of every stress operation: which initiation this is (token) and where it belongs.
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

// How an operation ended, short enough to pack with its sequence number into one atomic.
enum class Outcome : std::uint8_t {
  success,
  aborted,
  timed_out,
  closed,
  read_pending,
  queue_full,
  other
};

Outcome outcomeOf(const std::error_code& error) noexcept {
  if (!error) return Outcome::success;
  if (error == Error::operation_aborted) return Outcome::aborted;
  if (error == Error::timed_out) return Outcome::timed_out;
  if (error == Error::closed) return Outcome::closed;
  if (error == Error::read_pending) return Outcome::read_pending;
  if (error == Error::queue_full) return Outcome::queue_full;
  return Outcome::other;
}

const char* nameOf(Outcome outcome) noexcept {
  constexpr const char* kNames[] = {"success",      "operation_aborted", "timed_out",  "closed",
                                    "read_pending", "queue_full",        "other error"};
  return kNames[static_cast<int>(outcome)];
}

std::int64_t packSeq(std::int64_t seq, Outcome outcome) noexcept {
  return seq * 8 + static_cast<std::int64_t>(outcome);
}

std::chrono::milliseconds scaled(std::chrono::milliseconds d) {
  return underSanitizer() ? d * 3 : d;
}

template <class Cond>
bool waitUntil(Cond cond, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!cond()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(200us);
  }
  return true;
}

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

World::World(const EngineParam& engine, std::uint64_t seed)
    : engine_(engine),
      seed_(seed),
      tokenState_(new std::atomic<std::uint8_t>[kMaxTokens]()),
      handlerCalls_(new std::atomic<std::uint32_t>[kMaxTokens]()),
      tokenInfo_(new TokenInfo[kMaxTokens]()) {
  std::seed_seq shape{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                      0xC0FFEEu};
  std::mt19937_64 rng(shape);
  threadCount_ = 2 + rng() % 3;
  pairCount_ = 4 + rng() % 5;
  actionsPerThread_ = 20 + rng() % 41;
  shutdownAtPercent_ = 30 + static_cast<unsigned>(rng() % 71);
}

StressOutcome World::run() {
  const std::int64_t operationsAtStart = liveOperationCount();
  const std::int64_t channelsAtStart = liveChannelCount();
  {
    proactor_ = engine_.make();
    for (std::size_t i = 0; i < pairCount_; ++i) {
      int fds[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        throw std::system_error(errno, std::generic_category(), "socketpair");
      }
      for (int fd : fds) {
        endpoints_.push_back(std::make_unique<Endpoint>());
        endpoints_.back()->socket = AsyncSocket::adopt(*proactor_, fd);
      }
    }
    runThreads_ = std::make_unique<RunThreads>(*proactor_, engine_.runners);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < threadCount_; ++i)
      threads.emplace_back([this, i] { testThread(i); });

    const std::uint64_t total = threadCount_ * actionsPerThread_;
    const std::uint64_t shutdownAt = total * shutdownAtPercent_ / 100;
    if (!waitUntil(
            [&] {
              return actionsDone_.load() >= shutdownAt || threadsDone_.load() == threadCount_;
            },
            scaled(10s))) {
      violate(Invariant::hang, "the test threads did only " + std::to_string(actionsDone_.load()) +
                                   " of " + std::to_string(total) + " actions within 10 s");
    }
    shutdownBegan_ = true;
    runThreads_->requestFinish();
    proactor_->shutdown();
    shutdownReturned_ = true;
    for (auto& t : threads)
      t.join();
    runThreads_->finish();
    checkExactlyOnce();
    for (auto& ep : endpoints_) {
      ep->socket.close();
      ep->socket = AsyncSocket();
    }
    runThreads_.reset();
    proactor_.reset();
  }
  if (!waitUntil(
          [&] {
            return liveOperationCount() == operationsAtStart &&
                   liveChannelCount() == channelsAtStart;
          },
          scaled(1s))) {
    violate(Invariant::leak, "live operations " + std::to_string(operationsAtStart) + " -> " +
                                 std::to_string(liveOperationCount()) + ", live channels " +
                                 std::to_string(channelsAtStart) + " -> " +
                                 std::to_string(liveChannelCount()) +
                                 " after shutdown() and dropping every socket");
  }

  StressOutcome out;
  for (std::size_t i = 0; i < kInvariants; ++i)
    out.violations[i] = violations_[i].load();
  {
    std::lock_guard lock(messagesMutex_);
    out.messages = messages_;
  }
  out.initiated = initiated_.load();
  out.refusedAfterShutdown = refused_.load();
  out.handlerCalls = handled_.load();
  out.succeeded = succeeded_.load();
  out.aborted = aborted_.load();
  out.timedOut = timedOut_.load();
  out.refused = refusals_.load();
  out.otherErrors = otherErrors_.load();
  return out;
}

void World::testThread(std::size_t index) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed_), static_cast<std::uint32_t>(seed_ >> 32),
                    static_cast<std::uint32_t>(index)};
  std::mt19937_64 rng(seq);
  try {
    for (std::size_t i = 0; i < actionsPerThread_ && !shutdownReturned_.load(); ++i) {
      perform(pick(kThreadMix, rng), rng, 0, -1);
      actionsDone_.fetch_add(1);
    }
  } catch (const std::exception& e) {
    violate(Invariant::unexpected_exception,
            std::string("a test thread's API call threw: ") + e.what());
  }
  threadsDone_.fetch_add(1);
}

template <class Rng>
void World::perform(Action action, Rng& rng, std::uint8_t generation, int preferredEndpoint) {
  const int e = preferredEndpoint >= 0 && rng() % 2 == 0
                    ? preferredEndpoint
                    : static_cast<int>(rng() % endpoints_.size());
  AsyncSocket& socket = endpoints_[static_cast<std::size_t>(e)]->socket;
  switch (action) {
    case Action::read:
      return startRead(e, false, rng, generation);
    case Action::read_exactly:
      return startRead(e, true, rng, generation);
    case Action::write:
      return startWrite(e, Op::write, rng, generation);
    case Action::write_all:
      return startWrite(e, Op::write_all, rng, generation);
    case Action::writev:
      return startWrite(e, Op::writev, rng, generation);
    case Action::cancel:
      return control([&] { socket.cancel(); });
    case Action::close:
      return control([&] { socket.close(); });
    case Action::schedule_timer:
      return startTimer(rng, generation);
    case Action::cancel_timer:
      return cancelSomeTimer(rng);
    case Action::post:
      return startPost(generation);
    case Action::stop:
      return control([&] { proactor_->stop(); });
    case Action::restart:
      control([&] { proactor_->restart(); });
      runThreads_->resume();
      return;
    case Action::pause:
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
      return;
  }
}

bool World::newToken(Op op, int endpoint, std::uint8_t generation, std::uint32_t& token) {
  token = nextToken_.fetch_add(1);
  if (token >= kMaxTokens) return false;  // out of room: skip (bounded by kMaxGeneration anyway)
  tokenInfo_[token] = TokenInfo{op, endpoint, generation};
  return true;
}

template <class Fn>
bool World::initiate(std::uint32_t token, Fn&& fn) {
  try {
    api(std::forward<Fn>(fn));
  } catch (const std::logic_error& e) {
    tokenState_[token].store(kThrew);
    refused_.fetch_add(1);
    if (!shutdownBegan_.load()) {
      violate(Invariant::unexpected_exception,
              std::string("std::logic_error before shutdown() began: ") + e.what());
    }
    return false;
  }
  tokenState_[token].store(kInitiated);
  initiated_.fetch_add(1);
  return true;
}

template <class Fn>
void World::control(Fn&& fn) {
  try {
    api(std::forward<Fn>(fn));
  } catch (const std::logic_error& e) {
    if (!shutdownBegan_.load()) {
      violate(Invariant::unexpected_exception,
              std::string("std::logic_error before shutdown() began: ") + e.what());
    }
  }
}

template <class Rng>
void World::startRead(int e, bool exactly, Rng& rng, std::uint8_t generation) {
  const Op op = exactly ? Op::read_exactly : Op::read;
  std::uint32_t token;
  if (!newToken(op, e, generation, token)) return;
  const std::size_t size = 1 + rng() % 64;
  const std::chrono::nanoseconds timeout =
      rng() % 4 == 0 ? std::chrono::microseconds(200 + rng() % 3000) : 0us;
  Endpoint& ep = *endpoints_[static_cast<std::size_t>(e)];
  std::lock_guard lock(ep.initiating);
  const Act act{token, e, ep.nextReadSeq++, generation, op};
  initiate(token, [&] {
    if (exactly) {
      ep.socket.readExactly(ByteBuffer::allocate(size), act, completion(), timeout);
    } else {
      ep.socket.read(ByteBuffer::allocate(size), act, completion(), timeout);
    }
  });
}

template <class Rng>
void World::startWrite(int e, Op op, Rng& rng, std::uint8_t generation) {
  std::uint32_t token;
  if (!newToken(op, e, generation, token)) return;
  // Now and then a write far larger than the socket buffer, so writes queue up behind it.
  const std::size_t size = rng() % 32 == 0 ? 64 * 1024 + rng() % 65536 : 1 + rng() % 128;
  const std::chrono::nanoseconds timeout =
      rng() % 10 == 0 ? std::chrono::microseconds(500 + rng() % 3000) : 0us;
  Endpoint& ep = *endpoints_[static_cast<std::size_t>(e)];
  std::lock_guard lock(ep.initiating);
  const Act act{token, e, ep.nextWriteSeq++, generation, op};
  initiate(token, [&] {
    if (op == Op::writev) {
      std::vector<ByteBuffer> parts;
      for (std::size_t i = 0, n = 2 + rng() % 2; i < n; ++i)
        parts.push_back(ByteBuffer::allocate(1 + (size + i) % 64));
      ep.socket.writev(std::move(parts), act, completion(), timeout);
    } else if (op == Op::write_all) {
      ep.socket.writeAll(ByteBuffer::allocate(size), act, completion(), timeout);
    } else {
      ep.socket.write(ByteBuffer::allocate(size), act, completion(), timeout);
    }
  });
}

template <class Rng>
void World::startTimer(Rng& rng, std::uint8_t generation) {
  std::uint32_t token;
  if (!newToken(Op::timer, -1, generation, token)) return;
  const Act act{token, -1, -1, generation, Op::timer};
  const auto delay = std::chrono::microseconds(rng() % 3000);
  std::uint64_t id = 0;
  if (initiate(token, [&] { id = proactor_->scheduleTimer(delay, act, completion()); })) {
    std::lock_guard lock(timersMutex_);
    timers_.push_back(id);
  }
}

template <class Rng>
void World::cancelSomeTimer(Rng& rng) {
  std::uint64_t id;
  {
    // Not held across cancelTimer(): a handler run inline there would deadlock on it.
    std::lock_guard lock(timersMutex_);
    if (timers_.empty()) return;
    id = timers_[rng() % timers_.size()];
  }
  control([&] { proactor_->cancelTimer(id); });
}

void World::startPost(std::uint8_t generation) {
  std::uint32_t token;
  if (!newToken(Op::post, -1, generation, token)) return;
  const Act act{token, -1, -1, generation, Op::post};
  initiate(token, [&] { proactor_->post([this, act](TimerResult& r) { onCompletion(r, act); }); });
}

template <class Result>
void World::onCompletion(Result& result, const Act& act) {
  if (insideApiCall()) {
    violate(Invariant::inside_api_call,
            describeOp(act) + "'s handler ran inside an API call on its own thread");
  }
  if (shutdownReturned_.load()) {
    violate(Invariant::after_shutdown,
            describeOp(act) + "'s handler ran after shutdown() returned");
  }
  Endpoint* ep =
      act.endpoint >= 0 ? endpoints_[static_cast<std::size_t>(act.endpoint)].get() : nullptr;
  if (ep != nullptr && ep->inHandler.fetch_add(1) != 0) {
    violate(
        Invariant::channel_overlap,
        describeOp(act) + "'s handler ran while another handler of the same socket was running");
  }
  if (handlerCalls_[act.token].fetch_add(1) != 0) {
    violate(Invariant::exactly_once, describeOp(act) + " completed more than once (" +
                                         result.error().message() + " this time)");
  }
  if (ep != nullptr) checkOrder(*ep, act, result.error());
  countOutcome(result.error());
  followUp(act);
  if (ep != nullptr) ep->inHandler.fetch_sub(1);
  handled_.fetch_add(1);
}

void World::checkOrder(Endpoint& ep, const Act& act, const std::error_code& error) {
  std::atomic<std::int64_t>* last = nullptr;
  if (isWrite(act.op)) {
    last = &ep.lastWriteDone;
  } else if (isRead(act.op) && error != Error::read_pending) {
    last = &ep.lastReadDone;
  }
  if (last == nullptr) return;
  const std::int64_t previous = last->exchange(packSeq(act.seq, outcomeOf(error)));
  if (previous >= 0 && previous / 8 > act.seq) {
    violate(Invariant::channel_order,
            describeOp(act) + " (" + nameOf(outcomeOf(error)) +
                ") completed after the same socket's " + (isWrite(act.op) ? "write" : "read") +
                " #" + std::to_string(previous / 8) + " (" +
                nameOf(static_cast<Outcome>(previous % 8)) + "), initiated after it" +
                (shutdownBegan_.load() ? " (while shutdown() ran)" : ""));
  }
}

void World::followUp(const Act& act) {
  if (act.generation >= kMaxGeneration) return;
  SplitMix rng{seed_ * 0x2545F4914F6CDD1DULL + act.token};
  if (rng() % 100 < 40) return;  // most handlers start something, not all
  try {
    perform(pick(kHandlerMix, rng), rng, static_cast<std::uint8_t>(act.generation + 1),
            act.endpoint);
  } catch (const std::exception& e) {
    violate(Invariant::unexpected_exception,
            describeOp(act) + "'s handler: an API call threw " + e.what());
  }
}

void World::countOutcome(const std::error_code& error) {
  if (!error) {
    succeeded_.fetch_add(1);
  } else if (error == Error::operation_aborted) {
    aborted_.fetch_add(1);
  } else if (error == Error::timed_out) {
    timedOut_.fetch_add(1);
  } else if (error == Error::closed || error == Error::read_pending || error == Error::queue_full) {
    refusals_.fetch_add(1);
  } else {
    otherErrors_.fetch_add(1);  // end of stream, connection reset, broken pipe: the peer closed
  }
}

void World::checkExactlyOnce() {
  // Everything must have completed before shutdown() returned; a straggler would already be an
  // (e) violation. Give one a moment to arrive anyway, so "lost" below means lost, not late.
  waitUntil([&] { return handled_.load() >= initiated_.load(); }, 100ms);
  const std::uint32_t tokens = std::min(nextToken_.load(), kMaxTokens);
  for (std::uint32_t t = 0; t < tokens; ++t) {
    const std::uint8_t state = tokenState_[t].load();
    const std::uint32_t calls = handlerCalls_[t].load();
    const TokenInfo& info = tokenInfo_[t];
    const Act act{t, info.endpoint, -1, info.generation, info.op};
    if (state == kInitiated && calls == 0) {
      violate(Invariant::exactly_once, describeOp(act) + " was initiated but never completed");
    } else if (state == kThrew && calls != 0) {
      violate(Invariant::exactly_once,
              describeOp(act) + "'s initiation threw std::logic_error, yet its handler ran");
    }
  }
}

void World::violate(Invariant invariant, std::string message) {
  violations_[static_cast<std::size_t>(invariant)].fetch_add(1);
  std::lock_guard lock(messagesMutex_);
  if (messages_.size() < kMaxMessages) {
    messages_.push_back(std::string(describe(invariant)) + ": " + std::move(message));
  }
}

std::string World::describeOp(const Act& act) {
  std::string s = std::string(nameOf(act.op)) + " #" + std::to_string(act.token);
  if (act.endpoint >= 0) {
    s += " (socket " + std::to_string(act.endpoint);
    if (act.seq >= 0)
      s += ", " + std::string(isWrite(act.op) ? "write" : "read") + " #" + std::to_string(act.seq);
    s += ")";
  }
  if (act.generation > 0) s += " [started by a handler]";
  return s;
}

// Worlds whose seed failed are never freed: an operation the Proactor lost still points at its
// world, and a late handler must find it alive rather than turn a reported failure into a crash.
std::vector<std::unique_ptr<World>>& keptAlive() {
  static auto* worlds = new std::vector<std::unique_ptr<World>>;
  return *worlds;
}

}  // namespace

StressOutcome runStressSeed(const EngineParam& engine, std::uint64_t seed) {
  auto world = std::make_unique<World>(engine, seed);
  StressOutcome outcome = world->run();
  if (outcome.failed()) keptAlive().push_back(std::move(world));
  return outcome;
}

}  // namespace nioxx::conformance
