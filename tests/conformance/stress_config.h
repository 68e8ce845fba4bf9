// Which seeds the stress test runs, from the environment:
//   NIOXX_STRESS_SEED=S         exactly seed S (to rerun a failure alone)
//   NIOXX_STRESS_SEEDS=N        N seeds (default: 1000 in optimised builds, 100 under a
//                               sanitizer, 200 in unoptimised builds)
//   NIOXX_STRESS_FIRST_SEED=F   starting at F (default 1)
//   NIOXX_STRESS_MAX_FAILURES=M stop an engine's run after M failing seeds (default 3): a broken
//                               engine fails fast instead of printing a thousand reports
#pragma once

#include <cstddef>
#include <cstdint>

namespace nioxx::conformance {

struct StressConfig {
  std::uint64_t firstSeed = 1;
  std::uint64_t seeds = 1000;
  std::size_t maxFailures = 3;
};

StressConfig stressConfigFromEnvironment();

// True in ASan/TSan builds (slower by 2-15x: fewer seeds, longer deadlines).
bool underSanitizer() noexcept;

}  // namespace nioxx::conformance
