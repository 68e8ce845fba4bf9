#!/usr/bin/env bash
# bench/perf_split.sh: a server's CPU time per request, split into kernel and user space, sampled by
# `perf record -e cpu-clock` (a software timer: this VM has no hardware counters) while
# bench/loadgen's hello_load drives it. The server is pinned to CPU 0 and the load generator to CPU 1,
# as in bench/run.sh. Where callgrind counts user-space instructions only, this shows how the kernel's
# share compares (docs/parts/bench-analysis.md, session 10). Needs root (or perf_event_paranoid <= 1)
# and Debian's linux-perf.
#
# Usage: bench/perf_split.sh [--build-dir DIR] [--connections C] [--pipeline P] [--duration S]
#                            -- SERVER ARGS...      (NIOXX_PERF_TOP=N: also the N hottest symbols)
# e.g.   bench/perf_split.sh --pipeline 1 -- hello_server --mode proactor --dispatch call-through --threads 1
#        bench/perf_split.sh -- epoll_hello_server
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$ROOT/build
CONNECTIONS=64
PIPELINE=16
DURATION=3
USAGE_LINES=2,13p
# shellcheck source=bench/load_args.sh
source "$ROOT/bench/load_args.sh"
parse_load_args "$0" "$@"
set -- "${SERVER_CMD[@]}"
[[ $# -ge 1 ]] || { sed -n "$USAGE_LINES" "$0"; exit 2; }
TOP=${NIOXX_PERF_TOP:-0}
command -v perf >/dev/null || { echo "perf missing (apt-get install linux-perf)" >&2; exit 1; }
BIN=$BUILD_DIR/bin
SERVER=$1
shift
WORK=$(mktemp -d)
LOG=$WORK/server.log
SERVER_CPU=0
# shellcheck source=bench/server_lib.sh
source "$ROOT/bench/server_lib.sh"
trap 'stop_server; rm -rf "$WORK"' EXIT
start_server 1 "$SERVER" "$@" || { echo "server did not start:" >&2; cat "$LOG" >&2; exit 1; }
LOAD=(taskset -c 1 "$BIN/hello_load" --port "$PORT" --connections "$CONNECTIONS" --pipeline "$PIPELINE" --warmup 0)
"${LOAD[@]}" --duration 1 >/dev/null 2>&1  # warm-up: connections, buffers, caches
# The recording covers the measured load run: it starts first and ends a second after (the server
# is idle then, so the extra second adds no samples).
perf record -q -e cpu-clock -F 4999 -p "$SERVER_PID" -o "$WORK/perf.data" -- sleep "$(awk -v d="$DURATION" 'BEGIN { print d + 1 }')" \
  >/dev/null 2>"$WORK/perf.err" &
PERF=$!
"${LOAD[@]}" --duration "$DURATION" --json >"$WORK/load.json" 2>/dev/null
wait "$PERF" || { cat "$WORK/perf.err" >&2; exit 1; }
perf report -i "$WORK/perf.data" --no-children --sort dso --stdio >"$WORK/dso.txt" 2>/dev/null
python3 - "$WORK/load.json" "$WORK/dso.txt" <<'EOF'
import json, re, sys
requests = json.load(open(sys.argv[1]))["requests"]
text = open(sys.argv[2]).read()
events = float(re.search(r"Event count \(approx.\): (\d+)", text).group(1))  # ns of cpu-clock
kernel = sum(float(m.group(1)) for m in re.finditer(r"^\s+([\d.]+)%\s+\[kernel", text, re.M))
per = events / requests
print(f"{per:.0f} ns/request: kernel {per * kernel / 100:.0f}, user {per * (100 - kernel) / 100:.0f} "
      f"({requests} requests)")
EOF
if ((TOP > 0)); then
  perf report -i "$WORK/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null |
    grep -E '^ +[0-9]' | head -n "$TOP"
fi
