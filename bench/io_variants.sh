#!/usr/bin/env bash
# bench/io_variants.sh: the emulated proactor's I/O variants side by side (issue 4: "whether an
# operation is attempted speculatively at initiation ... measure both", and inline vs worker-pool
# I/O): hello_server --mode proactor --dispatch call-through --threads 1 with
#   --io-mode inline|worker-pool x --speculative on|off
# against hello_load at 64x1 and 64x16, interleaved (the order rotates each round), server pinned
# to CPU 0 and the load generator to CPU 1 as in bench/run.sh. Prints each run and a Markdown
# table of medians (req/s, server CPU us/req, and their ratio to inline+speculative).
#
# Usage: bench/io_variants.sh [--rounds N] [--duration S] [--warmup S] [--build-dir DIR]
#                             [--no-build]
set -euo pipefail

ROUNDS=3
DURATION=5
WARMUP=1
SERVER_CPU=0
LOAD_CPU=1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=build
DO_BUILD=1
COMMAND="bench/io_variants.sh$(printf ' %q' "$@")"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "io_variants.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
cd "$ROOT"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
BIN="$BUILD_DIR/bin"
if [[ $DO_BUILD = 1 ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNIOXX_BUILD_BENCH=ON >/dev/null
  cmake --build "$BUILD_DIR" -j2 --target hello_server hello_load
fi
for b in hello_server hello_load; do
  [[ -x "$BIN/$b" ]] || { echo "io_variants.sh: $BIN/$b missing (build it or drop --no-build)" >&2; exit 1; }
done
OUT=$(mktemp -d /tmp/nioxx-io-variants.XXXXXX)
RUNS="$OUT/runs.jsonl"
LOG="$OUT/server.log"
: >"$RUNS"

VARIANTS=("inline+spec inline on" "inline+nospec inline off" "worker-pool+spec worker-pool on"
  "worker-pool+nospec worker-pool off")
WORKLOADS=("64x1 64 1" "64x16 64 16")

# shellcheck source=bench/server_lib.sh
source "$ROOT/bench/server_lib.sh"
start_variant() {  # io-mode speculative ; sets SERVER_PID and PORT
  start_server 1 hello_server --mode proactor --dispatch call-through --threads 1 \
    --io-mode "$1" --speculative "$2" --log-level warn
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== ${#VARIANTS[@]} variants x ${#WORKLOADS[@]} workloads x $ROUNDS rounds; duration" \
  "${DURATION}s, warmup ${WARMUP}s; nproc=$(nproc); load average $LOAD_BEFORE"
n=${#VARIANTS[@]}
for ((r = 1; r <= ROUNDS; r++)); do
  for w in "${WORKLOADS[@]}"; do
    read -r wname conns depth <<<"$w"
    for ((i = 0; i < n; i++)); do
      read -r name mode spec <<<"${VARIANTS[$(((i + r - 1) % n))]}"
      if ! start_variant "$mode" "$spec"; then
        echo "$name did not start: $(tail -c 300 "$LOG")" >&2
        stop_server
        continue
      fi
      measure_load "$BIN/hello_load" "$OUT/load.err" --connections "$conns" --pipeline "$depth" \
        --duration "$DURATION" --warmup "$WARMUP"
      out=$LOAD_JSON
      rc=$LOAD_RC
      printf '{"workload":"%s","round":%d,"variant":"%s","exit":%d,"result":%s}\n' \
        "$wname" "$r" "$name" "$rc" "$out" >>"$RUNS"
      python3 -c 'import json,sys; d=json.loads(sys.argv[1]) or {};
print("%-6s r%s %-19s %8.0f req/s  cpu %.2f us/req  wrong %d lost %d errs %d" % (sys.argv[2],
 sys.argv[3], sys.argv[4], d.get("rps",0), d.get("server_cpu_us_per_req",0), d.get("wrong",0),
 d.get("lost",0), d.get("conn_errors",0)))' "$out" "$wname" "$r" "$name"
    done
  done
done

python3 - "$RUNS" "$COMMAND" "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
order = ["inline+spec", "inline+nospec", "worker-pool+spec", "worker-pool+nospec"]
print()
print(f"Command: `{sys.argv[2]}`; load average before {sys.argv[3]}, after {sys.argv[4]}.")
print()
print("| workload | variant | median req/s | vs inline+spec | median server CPU us/req | vs inline+spec | req/s spread (min-max) |")
print("|---|---|---:|---:|---:|---:|---|")
for w in sorted({r["workload"] for r in runs}, key=lambda s: (len(s), s)):
    med = {}
    for v in order:
        rs = [r["result"] for r in runs if r["workload"] == w and r["variant"] == v and r["result"]]
        if not rs:
            continue
        rps = [x.get("rps", 0) for x in rs]
        cpu = [x.get("server_cpu_us_per_req", 0) for x in rs]
        med[v] = (statistics.median(rps), statistics.median(cpu), min(rps), max(rps))
    base = med.get("inline+spec")
    for v, (rps, cpu, lo, hi) in med.items():
        rr = f"{rps / base[0]:.2f}" if base and base[0] else "-"
        cr = f"{cpu / base[1]:.2f}" if base and base[1] else "-"
        print(f"| {w} | {v} | {rps:,.0f} | {rr} | {cpu:.2f} | {cr} | {lo:,.0f}-{hi:,.0f} |")
PY
echo "(runs: $RUNS)"
