// One seed of the stress test: a Proactor from the engine under test, 4-8 connected socket pairs,
// 2-4 threads doing random operations (and handlers doing more), stop()/restart() of the run()
// threads, and a shutdown() racing all of it. Everything random comes from the seed (per thread:
// std::mt19937_64 seeded with (seed, thread index); per handler: from (seed, operation token)),
// so a failing seed is worth rerunning alone, even though thread timing still varies.
//
// Invariants checked (Invariant below), each violation recorded with what was seen:
//   (a) exactly once: every initiation that did not throw gets exactly one handler call, and
//       one that threw (std::logic_error, only once shutdown() began) gets none;
//   (b) per-channel order: on each socket, write completions arrive in initiation order, and so
//       do read completions (read_pending refusals aside: they concern a read that never began);
//   (c) no two handlers of one socket run at once;
//   (d) no handler runs inside an API call on its thread (api_scope.h);
//   (e) no handler runs after shutdown() returned;
//   (f) live operations and channels are back to their starting counts at the end (no leak);
//   and no hang (every wait has a deadline) and no exception other than the documented
//   std::logic_error after shutdown.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine.h"
#include "nioxx/proactor/async_socket.h"
#include "run_threads.h"

namespace nioxx::conformance {

enum class Invariant : std::uint8_t {
  exactly_once,
  channel_order,
  channel_overlap,
  inside_api_call,
  after_shutdown,
  leak,
  hang,
  unexpected_exception,
};
inline constexpr std::size_t kInvariants = 8;
const char* describe(Invariant invariant) noexcept;

// What one seed did and what went wrong.
struct StressOutcome {
  std::array<std::uint64_t, kInvariants> violations{};
  std::vector<std::string> messages;       // the first few, each naming its invariant
  std::uint64_t initiated = 0;             // initiations that returned normally
  std::uint64_t refusedAfterShutdown = 0;  // initiations that threw std::logic_error
  std::uint64_t handlerCalls = 0;
  // Handler calls by outcome: what the seed actually exercised.
  std::uint64_t succeeded = 0, aborted = 0, timedOut = 0, refused = 0, otherErrors = 0;
  bool failed() const noexcept;
};

StressOutcome runStressSeed(const EngineParam& engine, std::uint64_t seed);

}  // namespace nioxx::conformance
