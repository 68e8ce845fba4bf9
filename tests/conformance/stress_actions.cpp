// What test threads and handlers do: operations (each with a token, see stress_world.h) and the
// calls that are not operations (cancel, close, cancelTimer, stop, restart).
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>

#include "api_scope.h"
#include "stress_world_detail.h"

namespace nioxx::conformance::stress_detail {

using namespace std::chrono_literals;

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
  const bool fromGroup = !exactly && rng() % 3 == 0;
  Endpoint& ep = *endpoints_[static_cast<std::size_t>(e)];
  std::lock_guard lock(ep.initiating);
  const Act act{token, e, ep.nextReadSeq++, generation, op};
  initiate(token, [&] {
    if (exactly) {
      ep.socket.readExactly(ByteBuffer::allocate(size), act, completion(), timeout);
    } else if (fromGroup) {
      ep.socket.read(group_, act, completion(), timeout);
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

// The two generators perform() is called with: test threads' and handlers'.
template void World::perform<std::mt19937_64>(Action, std::mt19937_64&, std::uint8_t, int);
template void World::perform<SplitMix>(Action, SplitMix&, std::uint8_t, int);

}  // namespace nioxx::conformance::stress_detail
