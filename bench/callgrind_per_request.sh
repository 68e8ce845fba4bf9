#!/usr/bin/env bash
# bench/callgrind_per_request.sh: user-space instructions per request of one server configuration,
# counted by callgrind (all threads, counters zeroed after a warm-up), under bench/loadgen's
# hello_load. Instruction counts do not depend on the machine's load, so this is the figure to
# compare on a shared machine (docs/parts/bench-analysis.md).
#
# Usage: bench/callgrind_per_request.sh [--build-dir DIR] [--connections C] [--pipeline P]
#                                       [--duration S] -- SERVER ARGS...
# e.g.   bench/callgrind_per_request.sh -- hello_server --mode proactor --threads 1 --metrics 127.0.0.1:0
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$ROOT/build
CONNECTIONS=64
PIPELINE=16
DURATION=3
USAGE_LINES=2,9p
# shellcheck source=bench/load_args.sh
source "$ROOT/bench/load_args.sh"
parse_load_args "$0" "$@"
set -- "${SERVER_CMD[@]}"
[[ $# -ge 1 ]] || { sed -n "$USAGE_LINES" "$0"; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind missing (apt-get install valgrind)" >&2; exit 1; }
BIN=$BUILD_DIR/bin
SERVER=$1
shift
WORK=$(mktemp -d)
PID=""
cleanup() {
  [[ -n "$PID" ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# NIOXX_CG_OPTS: more callgrind options, e.g. "--cache-sim=yes --branch-sim=yes" (simulated caches and
# branch predictor: this VM has no hardware counters).
# shellcheck disable=SC2086
valgrind --tool=callgrind ${NIOXX_CG_OPTS:-} --callgrind-out-file="$WORK/cg.out" "$BIN/$SERVER" --port 0 "$@" \
  >"$WORK/stdout" 2>"$WORK/stderr" &
PID=$!
for _ in $(seq 600); do
  PORT=$(grep -oE 'listening on [^ ]+:[0-9]+' "$WORK/stdout" | head -1 | sed 's/.*://' || true)
  [[ -n "$PORT" ]] && break
  sleep 0.1
done
[[ -n "${PORT:-}" ]] || { echo "server did not start:" >&2; cat "$WORK/stderr" >&2; exit 1; }
"$BIN/hello_load" --port "$PORT" --connections "$CONNECTIONS" --pipeline "$PIPELINE" --duration 1 --warmup 0 \
  >/dev/null 2>&1
callgrind_control -z "$PID" >/dev/null 2>&1
"$BIN/hello_load" --port "$PORT" --connections "$CONNECTIONS" --pipeline "$PIPELINE" \
  --duration "$DURATION" --warmup 0 --json >"$WORK/load.json" 2>/dev/null
callgrind_control -d "$PID" >/dev/null 2>&1
sleep 0.5
REQUESTS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$WORK/load.json")
# The dump after zeroing is the last file written (cg.out.<pid>.N or cg.out.N).
DUMP=$(ls -t "$WORK"/cg.out* | head -1)
# NIOXX_CG_KEEP=FILE: keep the dump for callgrind_annotate.
[[ -n "${NIOXX_CG_KEEP:-}" ]] && cp "$DUMP" "$NIOXX_CG_KEEP" && echo "$REQUESTS" >"$NIOXX_CG_KEEP.requests"
IR=$(callgrind_annotate "$DUMP" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
python3 -c "import sys; ir, n = int(sys.argv[1]), int(sys.argv[2]); print(f'{ir / n:.0f} instructions/request ({ir} over {n} requests)')" "$IR" "$REQUESTS"
# NIOXX_CG_FUNCTIONS=REGEX: also the inclusive instructions per request of the matching functions
# (e.g. 'OperationMetrics' for what --metrics costs), which vary much less than the total.
if [[ -n "${NIOXX_CG_FUNCTIONS:-}" ]]; then
  callgrind_annotate --inclusive=yes --threshold=100 "$DUMP" 2>/dev/null |
    awk -v re="$NIOXX_CG_FUNCTIONS" -v n="$REQUESTS" '$0 ~ re {
      gsub(",", "", $1); printf "  %8.1f instructions/request  %s\n", $1 / n, substr($0, index($0, $2)) }'
fi
