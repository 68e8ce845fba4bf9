#!/usr/bin/env bash
# Deterministic simulation (issue 13): runs the properties of tests/sim over seeded simulated
# worlds, or replays one seed. Builds nioxx_simulate first if needed. Examples:
#   scripts/simulate.sh --seeds 10000                        # seeds 1..10000, every property
#   scripts/simulate.sh --seed 42 --property proactor --log  # replay one seed with its event log
#   scripts/simulate.sh --seeds 200 --fault reorder-writes --expect-failure
# Environment: BUILD_DIR (default build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
[[ "$build" = /* ]] || build="$root/$build"
if [[ ! -x "$build/bin/nioxx_simulate" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j"$(nproc)" --target nioxx_simulate >/dev/null
fi
exec "$build/bin/nioxx_simulate" "$@"
