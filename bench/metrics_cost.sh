#!/usr/bin/env bash
# bench/metrics_cost.sh: what --metrics costs (issue 16: <= 3% throughput on 64 x 16). The same
# hello_server configuration with and without --metrics (with a scraper reading /metrics once a
# second during the "on" runs), interleaved in rounds, with bench/loadgen/hello_load. Prints one
# line per run and the median req/s per variant. Placement as bench/run.sh (a one-thread server
# on CPU 0, the load on CPU 1). On a shared machine the numbers are indicative only.
#
# Usage: bench/metrics_cost.sh [--build-dir DIR] [--rounds N] [--duration S] [--mode M]...
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$ROOT/build
ROUNDS=5
DURATION=4
WARMUP=1
MODES=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --mode) MODES+=("$2"); shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
((${#MODES[@]})) || MODES=(reactor proactor)
BIN=$BUILD_DIR/bin
for b in hello_server hello_load; do
  [[ -x $BIN/$b ]] || { echo "missing $BIN/$b (cmake --build $BUILD_DIR --target $b)" >&2; exit 1; }
done
LOG=$(mktemp)
SERVER_CPU=0
LOAD_CPU=1
# shellcheck source=bench/server_lib.sh
source "$ROOT/bench/server_lib.sh"
RESULTS=$(mktemp)

scraper() {  # scrapes the server's /metrics once a second until killed
  local url
  for _ in $(seq 100); do
    url=$(grep -oE 'metrics on http://[^ ]+' "$LOG" | head -1 | cut -d' ' -f3 || true)
    [[ -n "$url" ]] && break
    sleep 0.05
  done
  while sleep 1; do curl -s -o /dev/null "$url" || true; done
}

for ((round = 1; round <= ROUNDS; round++)); do
  for mode in "${MODES[@]}"; do
    # The order alternates by round: the second run of a pair must not always be the same variant.
    variants=(off on)
    ((round % 2 == 0)) && variants=(on off)
    for variant in "${variants[@]}"; do
      extra=(--mode "$mode" --threads 1 --log-level warn)
      [[ $variant == on ]] && extra+=(--metrics 127.0.0.1:0)
      start_server 1 hello_server "${extra[@]}"
      SCRAPER=""
      if [[ $variant == on ]]; then scraper & SCRAPER=$!; fi
      measure_load "$BIN/hello_load" /dev/null --connections 64 --pipeline 16 \
        --duration "$DURATION" --warmup "$WARMUP"
      [[ -n $SCRAPER ]] && kill "$SCRAPER" 2>/dev/null && wait "$SCRAPER" 2>/dev/null || true
      rps=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d.get("rps", d.get("req_per_s", 0)) if d else 0)' "$LOAD_JSON")
      echo "round $round $mode metrics=$variant $rps req/s"
      echo "$mode $variant $rps" >>"$RESULTS"
    done
  done
done
python3 - "$RESULTS" <<'PY'
import statistics, sys, collections
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    mode, variant, rps = line.split()
    runs[(mode, variant)].append(float(rps))
for mode in sorted({m for m, _ in runs}):
    off, on = statistics.median(runs[(mode, "off")]), statistics.median(runs[(mode, "on")])
    print(f"{mode}: median off {off:.0f} req/s, on {on:.0f} req/s, "
          f"difference {100 * (on - off) / off:+.1f}% ({len(runs[(mode, 'off')])} rounds)")
PY
rm -f "$LOG" "$RESULTS"
