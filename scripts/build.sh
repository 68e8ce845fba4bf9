#!/usr/bin/env bash
# Configures and builds one flavour: scripts/build.sh [release|asan|tsan|debug] -> build/ or build-<flavour>/
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
jobs=${NIOXX_JOBS:-$(nproc)}
werror=OFF
if [[ "${CI:-}" == true || "${NIOXX_WERROR:-}" == 1 ]]; then werror=ON; fi
case "$flavour" in
  release) dir=build; args=(-DCMAKE_BUILD_TYPE=Release) ;;
  debug) dir=build-debug; args=(-DCMAKE_BUILD_TYPE=Debug) ;;
  # Sanitizer builds: -O1 -g1 compiles about twice as fast as RelWithDebInfo and keeps file:line in reports.
  asan) dir=build-asan; args=(-DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE="-O1 -g1" -DNIOXX_SANITIZE=asan -DNIOXX_BUILD_BENCH=OFF) ;;
  tsan) dir=build-tsan; args=(-DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE="-O1 -g1" -DNIOXX_SANITIZE=tsan -DNIOXX_BUILD_BENCH=OFF) ;;
  *) echo "usage: $0 [release|debug|asan|tsan]" >&2; exit 2 ;;
esac
# NIOXX_BUILD_BENCH=OFF skips bench/ (the test command does: no test needs it; bench/run.sh
# switches it back on in build/).
[[ -n "${NIOXX_BUILD_BENCH:-}" ]] && args+=(-DNIOXX_BUILD_BENCH="$NIOXX_BUILD_BENCH")
cmake -S . -B "$dir" -G Ninja -DNIOXX_WERROR="$werror" "${args[@]}" >/dev/null
cmake --build "$dir" -j "$jobs"
