// The seeded stress test (stress_world.h): many short random runs per engine, each checking every
// invariant. A failing seed is reported with the command that reruns it alone.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>

#include "conformance_fixture.h"
#include "stress_config.h"
#include "stress_world.h"

namespace nioxx::conformance {
namespace {

std::string executablePath() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  return n > 0 ? std::string(path, static_cast<std::size_t>(n)) : "nioxx_conformance_tests";
}

std::string rerunCommand(std::uint64_t seed, const EngineParam& engine) {
  return "NIOXX_STRESS_SEED=" + std::to_string(seed) + " " + executablePath() +
         " --gtest_filter='*StressTest*/" + engine.name + "'";
}

std::string report(std::uint64_t seed, const EngineParam& engine, const StressOutcome& o) {
  std::ostringstream out;
  out << "stress seed " << seed << " failed on " << engine.name << ":";
  for (std::size_t i = 0; i < kInvariants; ++i) {
    if (o.violations[i] != 0) {
      out << "\n  " << describe(static_cast<Invariant>(i)) << ": " << o.violations[i]
          << " violation(s)";
    }
  }
  for (const std::string& m : o.messages)
    out << "\n    " << m;
  out << "\n  rerun alone: " << rerunCommand(seed, engine);
  return out.str();
}

class StressTest : public ::testing::TestWithParam<EngineParam> {};

TEST_P(StressTest, RandomOperationsFromManyThreadsKeepEveryGuarantee) {
  const StressConfig config = stressConfigFromEnvironment();
  const EngineParam& engine = GetParam();
  const auto perSeedLimit = underSanitizer() ? 120s : 30s;
  Watchdog watchdog;
  StressOutcome totals;
  std::size_t failures = 0;
  std::uint64_t ran = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t seed = config.firstSeed;
       seed < config.firstSeed + config.seeds && failures < config.maxFailures; ++seed) {
    watchdog.arm(perSeedLimit, "stress seed " + std::to_string(seed) + " on " + engine.name +
                                   " did not finish within " +
                                   std::to_string(perSeedLimit.count()) +
                                   " s\n  rerun alone: " + rerunCommand(seed, engine));
    const StressOutcome o = runStressSeed(engine, seed);
    watchdog.disarm();
    ++ran;
    totals.initiated += o.initiated;
    totals.refusedAfterShutdown += o.refusedAfterShutdown;
    totals.handlerCalls += o.handlerCalls;
    totals.succeeded += o.succeeded;
    totals.aborted += o.aborted;
    totals.timedOut += o.timedOut;
    totals.refused += o.refused;
    totals.otherErrors += o.otherErrors;
    if (o.failed()) {
      ++failures;
      ADD_FAILURE() << report(seed, engine, o);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // One RESULT line per engine, as every soak driver prints (scripts/soak.sh).
  std::printf("RESULT stress engine=%s seeds=%llu first_seed=%llu failing=%zu seconds=%.1f\n",
              engine.name.c_str(), static_cast<unsigned long long>(ran),
              static_cast<unsigned long long>(config.firstSeed), failures, seconds);
  std::printf(
      "[ stress   ] %s: %llu seed(s) from %llu in %.1f s, %zu failing%s\n"
      "[ stress   ]   %llu initiated, %llu threw after shutdown() began; handlers: %llu success, "
      "%llu aborted, %llu timed out, %llu refused (closed/read_pending/queue_full), %llu other "
      "errors (peer closed)\n",
      engine.name.c_str(), static_cast<unsigned long long>(ran),
      static_cast<unsigned long long>(config.firstSeed), seconds, failures,
      failures >= config.maxFailures && ran < config.seeds
          ? " (stopped early: NIOXX_STRESS_MAX_FAILURES)"
          : "",
      static_cast<unsigned long long>(totals.initiated),
      static_cast<unsigned long long>(totals.refusedAfterShutdown),
      static_cast<unsigned long long>(totals.succeeded),
      static_cast<unsigned long long>(totals.aborted),
      static_cast<unsigned long long>(totals.timedOut),
      static_cast<unsigned long long>(totals.refused),
      static_cast<unsigned long long>(totals.otherErrors));
  std::fflush(stdout);
}

INSTANTIATE_TEST_SUITE_P(Engines, StressTest, ::testing::ValuesIn(allEngines()),
                         [](const ::testing::TestParamInfo<EngineParam>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace nioxx::conformance
