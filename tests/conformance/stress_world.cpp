// The stress run: setup, the race with shutdown(), the handlers and the invariant checks.
#include <sys/socket.h>

#include <random>
#include <stdexcept>
#include <thread>
#include <utility>

#include "api_scope.h"
#include "nioxx/core/error.h"
#include "nioxx/proactor/live_counts.h"
#include "stress_config.h"
#include "stress_world_detail.h"

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

namespace stress_detail {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

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

}  // namespace

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
    group_ = proactor_->provideBuffers({.bufferSize = 32, .buffersPerThread = 1});
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
    group_ = BufferGroup();
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

// The results handlers receive (stress_actions.cpp starts the operations).
template void World::onCompletion<IoResult>(IoResult&, const Act&);
template void World::onCompletion<ScatterResult>(ScatterResult&, const Act&);
template void World::onCompletion<TimerResult>(TimerResult&, const Act&);

namespace {

// Worlds whose seed failed are never freed: an operation the Proactor lost still points at its
// world, and a late handler must find it alive rather than turn a reported failure into a crash.
std::vector<std::unique_ptr<World>>& keptAlive() {
  static auto* worlds = new std::vector<std::unique_ptr<World>>;
  return *worlds;
}

}  // namespace
}  // namespace stress_detail

StressOutcome runStressSeed(const EngineParam& engine, std::uint64_t seed) {
  using stress_detail::keptAlive;
  auto world = std::make_unique<stress_detail::World>(engine, seed);
  StressOutcome outcome = world->run();
  if (outcome.failed()) keptAlive().push_back(std::move(world));
  return outcome;
}

}  // namespace nioxx::conformance
