#!/usr/bin/env bash
# The README test command: installs dependencies, then builds and runs every test suite in the
# Release, ASan+UBSan and TSan builds. Exits non-zero on the first failure.
# NIOXX_FLAVOURS="release asan" narrows the set while developing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# Loopback load tests open thousands of sockets.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
# No test needs bench/ (baselines, load generator, micro-benchmarks): CI time. bench/run.sh
# builds them when it runs.
export NIOXX_BUILD_BENCH=${NIOXX_BUILD_BENCH:-OFF}
for flavour in ${NIOXX_FLAVOURS:-release asan tsan}; do
  echo "=== ${flavour}: build"
  bash scripts/build.sh "$flavour"
  dir=build; [[ $flavour != release ]] && dir=build-$flavour
  echo "=== ${flavour}: test"
  ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" --timeout 300
done
# Bounded libFuzzer runs of the frame decoder, the hello and the http request paths (clang;
# issues 6 and 15): 10 s each keeps CI in its budget; scripts/fuzz.sh runs longer ones.
# NIOXX_FUZZ_SECONDS=0 only replays the checked-in seed corpora.
if [[ " ${NIOXX_FLAVOURS:-release} " == *" release "* ]]; then
  echo "=== fuzz: ${NIOXX_FUZZ_SECONDS:-10} s per target"
  FUZZ_SECONDS=${NIOXX_FUZZ_SECONDS:-10} bash scripts/fuzz.sh
fi
echo "=== all suites passed: ${NIOXX_FLAVOURS:-release asan tsan}"
