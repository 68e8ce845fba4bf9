#!/usr/bin/env bash
# bench/compare_builds.sh: the hello server of two builds side by side (before/after a change),
# interleaved in rounds (the order alternates), one load generator, the server pinned to CPU 0 and
# hello_load to CPU 1 as in bench/run.sh. Prints each run and a Markdown table of medians with the
# ratio after/before (req/s and server CPU us/req).
#
# Usage: bench/compare_builds.sh BEFORE_BIN_DIR AFTER_BIN_DIR [--rounds N] [--duration S]
#                                [--warmup S] [--only REGEX]
# --only keeps the configurations whose name matches (reactor-1, proactor-call-through-1,
# proactor-post-reactive-1, proactor-pool-2, uring-call-through-1, coroutine-uring-call-through-1).
# e.g. git worktree add /tmp/nioxx-before <commit> && cmake -S /tmp/nioxx-before -B /tmp/nb ... &&
#      bench/compare_builds.sh /tmp/nb/bin build/bin
set -euo pipefail

[[ $# -ge 2 ]] || { sed -n '2,13p' "$0"; exit 2; }
BEFORE=$(cd "$1" && pwd)
AFTER=$(cd "$2" && pwd)
shift 2
ROUNDS=3
DURATION=4
WARMUP=1
SERVER_CPU=0
LOAD_CPU=1
ONLY=""
COMMAND="bench/compare_builds.sh $BEFORE $AFTER$(printf ' %q' "$@")"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    *) echo "compare_builds.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for d in "$BEFORE" "$AFTER"; do
  [[ -x "$d/hello_server" ]] || { echo "compare_builds.sh: $d/hello_server missing" >&2; exit 1; }
done
[[ -x "$AFTER/hello_load" ]] || { echo "compare_builds.sh: $AFTER/hello_load missing" >&2; exit 1; }
LOADGEN="$AFTER/hello_load"
OUT=$(mktemp -d /tmp/nioxx-compare.XXXXXX)
RUNS="$OUT/runs.jsonl"
LOG="$OUT/server.log"
: >"$RUNS"

# name threads args...
CONFIGS=("reactor-1 1 --mode reactor --threads 1"
  "proactor-call-through-1 1 --mode proactor --dispatch call-through --threads 1"
  "proactor-post-reactive-1 1 --mode proactor --dispatch post-reactive --threads 1"
  "proactor-pool-2 2 --mode proactor --dispatch pool --threads 2"
  "uring-call-through-1 1 --mode proactor --engine uring --dispatch call-through --threads 1"
  "coroutine-uring-call-through-1 1 --mode coroutine --engine uring --dispatch call-through --threads 1")
if [[ -n "$ONLY" ]]; then
  kept=()
  for c in "${CONFIGS[@]}"; do
    [[ "${c%% *}" =~ $ONLY ]] && kept+=("$c")
  done
  CONFIGS=("${kept[@]}")
fi
WORKLOADS=("64x1 64 1" "64x16 64 16" "1000x1 1000 1")

# shellcheck source=bench/server_lib.sh
source "$ROOT/bench/server_lib.sh"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== ${#CONFIGS[@]} configs x ${#WORKLOADS[@]} workloads x 2 builds x $ROUNDS rounds;" \
  "duration ${DURATION}s, warmup ${WARMUP}s; load average $LOAD_BEFORE"
for ((r = 1; r <= ROUNDS; r++)); do
  for w in "${WORKLOADS[@]}"; do
    read -r wname conns depth <<<"$w"
    for c in "${CONFIGS[@]}"; do
      read -r cname threads args <<<"$c"
      builds=(before after)
      ((r % 2 == 0)) && builds=(after before)
      for b in "${builds[@]}"; do
        BIN=$BEFORE
        [[ $b = after ]] && BIN=$AFTER
        # shellcheck disable=SC2086
        if ! start_server "$threads" hello_server $args --log-level warn; then
          echo "$b $cname did not start: $(tail -c 300 "$LOG")" >&2
          stop_server
          continue
        fi
        measure_load "$LOADGEN" "$OUT/load.err" --connections "$conns" --pipeline "$depth" \
          --duration "$DURATION" --warmup "$WARMUP"
        out=$LOAD_JSON
        rc=$LOAD_RC
        printf '{"workload":"%s","round":%d,"config":"%s","build":"%s","exit":%d,"result":%s}\n' \
          "$wname" "$r" "$cname" "$b" "$rc" "$out" >>"$RUNS"
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]) or {};
print("%-6s r%s %-25s %-6s %8.0f req/s  cpu %.2f us/req  wrong %d lost %d" % (sys.argv[2],
 sys.argv[3], sys.argv[4], sys.argv[5], d.get("rps",0), d.get("server_cpu_us_per_req",0),
 d.get("wrong",0), d.get("lost",0)))' "$out" "$wname" "$r" "$cname" "$b"
      done
    done
  done
done

python3 - "$RUNS" "$COMMAND" "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
print()
print(f"Command: `{sys.argv[2]}`; load average before {sys.argv[3]}, after {sys.argv[4]}.")
print()
print("| workload | config | before req/s | after req/s | after/before | before CPU us/req | after CPU us/req | after/before |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
configs = list(dict.fromkeys(r["config"] for r in runs))
for w in sorted({r["workload"] for r in runs}, key=lambda s: (len(s), s)):
    for c in configs:
        med = {}
        for b in ("before", "after"):
            rs = [r["result"] for r in runs
                  if r["workload"] == w and r["config"] == c and r["build"] == b and r["result"]]
            if rs:
                med[b] = (statistics.median(x.get("rps", 0) for x in rs),
                          statistics.median(x.get("server_cpu_us_per_req", 0) for x in rs))
        if len(med) < 2:
            continue
        (br, bc), (ar, ac) = med["before"], med["after"]
        rr = f"{ar / br:.2f}" if br else "-"
        cr = f"{ac / bc:.2f}" if bc else "-"
        print(f"| {w} | {c} | {br:,.0f} | {ar:,.0f} | {rr} | {bc:.2f} | {ac:.2f} | {cr} |")
PY
echo "(runs: $RUNS)"
