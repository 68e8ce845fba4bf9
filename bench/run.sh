#!/usr/bin/env bash
# bench/run.sh: nioxx's hello server (reactor, proactor per dispatch strategy, coroutine) side by side with
# the Asio and hand-written epoll baselines, interleaved in rounds, on the four workloads of
# issue 7. Writes bench/results/runs.jsonl, docs/BENCHMARKS.md and docs/benchmarks.png.
#
# Usage: bench/run.sh [--rounds N] [--duration S] [--warmup S] [--quick] [--no-build]
#                     [--build-dir DIR] [--only REGEX] [--workloads REGEX]
# Placement: servers run with --threads 1 are pinned to CPU 0 and the load generator to CPU 1
# (taskset); servers with more threads may use both CPUs (so they share CPU 1 with the load
# generator). Missing server binaries are skipped with a note.
set -euo pipefail

# --- Configuration -------------------------------------------------------------------------
REACTOR_THREADS="1 2"
PROACTOR_POST_REACTIVE_THREADS="1"
PROACTOR_CALL_THROUGH_THREADS="1 2"
PROACTOR_POOL_THREADS="2"
# hello_server --mode coroutine (issue 14): compared with the callback proactor of the same
# dispatch strategy and threads, same run.
COROUTINE_CALL_THROUGH_THREADS="1"
COROUTINE_POST_REACTIVE_THREADS="1"
# The native io_uring engine (issue 12), call-through (handlers on the ring thread).
URING_CALL_THROUGH_THREADS="1 2"
# Coroutines on the io_uring engine (issues 12 and 14), compared with uring-call-through-1t.
COROUTINE_URING_CALL_THROUGH_THREADS="1"
ASIO_THREADS="1 2"
EPOLL_THREADS="1 2"
# Extra flags for hello_server (its default connection limit could refuse part of the idle
# workload; its idle timeout is far longer than the idle hold; it prints the listening line on
# stdout whatever the log level).
NIOXX_EXTRA_ARGS="--max-connections 20000 --log-level warn"
# Workloads: name connections pipeline [rate] (idle = hold connections idle, measure server RSS).
# With a rate the load is open-loop at that many requests/s (hello_load --rate): at 1000x1 the
# closed-loop load generator saturates its core before the servers do, so 1000x1@50k compares
# the servers' CPU per request at one offered rate (one that falls behind shows skipped requests).
WORKLOADS=("64x1 64 1" "1000x1 1000 1" "1000x1@50k 1000 1 50000" "64x16 64 16" "idle10k 10000 idle")
ROUNDS=3
DURATION=4      # measured seconds per load run
WARMUP=1        # unmeasured seconds before each load run
IDLE_HOLD=2     # seconds the idle connections are held (RSS sampled after 1 s)
IDLE_ROUNDS=1   # memory per connection does not depend on timing: one round is enough
SERVER_CPU=0
LOAD_CPU=1
# --------------------------------------------------------------------------------------------

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=build
DO_BUILD=1
ONLY=""
WORKLOAD_FILTER=""
COMMAND="bench/run.sh"
[[ $# -gt 0 ]] && COMMAND+="$(printf ' %q' "$@")"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --quick) ROUNDS=1; DURATION=1; WARMUP=0.3; IDLE_HOLD=1.1; shift ;;
    --no-build) DO_BUILD=0; shift ;;
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --workloads) WORKLOAD_FILTER=$2; shift 2 ;;
    -h|--help) sed -n "2,11p" "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
cd "$ROOT"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
BIN="$BUILD_DIR/bin"
RESULTS="$ROOT/bench/results"
mkdir -p "$RESULTS"
RUNS="$RESULTS/runs.jsonl"
NOTES="$RESULTS/notes.txt"
: >"$RUNS"
: >"$NOTES"
note() {
  echo "$*" >>"$NOTES"
  echo "note: $*" >&2
}

if [[ $DO_BUILD = 1 ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNIOXX_BUILD_BENCH=ON >/dev/null
  cmake --build "$BUILD_DIR" -j2 --target asio_hello_server asio_uring_hello_server epoll_hello_server hello_load
  if cmake --build "$BUILD_DIR" --target help | grep -q '^hello_server:'; then
    cmake --build "$BUILD_DIR" -j2 --target hello_server || note "hello_server failed to build"
  fi
fi
[[ -x "$BIN/hello_load" ]] || { echo "run.sh: $BIN/hello_load missing" >&2; exit 1; }

# 10,000 idle connections need ~10,050 descriptors in each process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [[ $(ulimit -n) -lt 10100 ]]; then note "ulimit -n is $(ulimit -n): the idle workload may fail"; fi

# Configurations: "name threads binary args..."
CONFIGS=()
add() { CONFIGS+=("$*"); }
for t in $REACTOR_THREADS; do add "reactor-${t}t $t hello_server --mode reactor --threads $t $NIOXX_EXTRA_ARGS"; done
for t in $PROACTOR_POST_REACTIVE_THREADS; do
  add "proactor-post-reactive-${t}t $t hello_server --mode proactor --dispatch post-reactive --threads $t $NIOXX_EXTRA_ARGS"
done
for t in $PROACTOR_CALL_THROUGH_THREADS; do
  add "proactor-call-through-${t}t $t hello_server --mode proactor --dispatch call-through --threads $t $NIOXX_EXTRA_ARGS"
done
for t in $PROACTOR_POOL_THREADS; do
  add "proactor-pool-${t}t $t hello_server --mode proactor --dispatch pool --threads $t $NIOXX_EXTRA_ARGS"
done
for t in $COROUTINE_POST_REACTIVE_THREADS; do
  add "coroutine-post-reactive-${t}t $t hello_server --mode coroutine --dispatch post-reactive --threads $t $NIOXX_EXTRA_ARGS"
done
for t in $COROUTINE_CALL_THROUGH_THREADS; do
  add "coroutine-call-through-${t}t $t hello_server --mode coroutine --dispatch call-through --threads $t $NIOXX_EXTRA_ARGS"
done
for t in $URING_CALL_THROUGH_THREADS; do
  add "uring-call-through-${t}t $t hello_server --mode proactor --engine uring --dispatch call-through --threads $t $NIOXX_EXTRA_ARGS"
done
for t in $COROUTINE_URING_CALL_THROUGH_THREADS; do
  add "coroutine-uring-call-through-${t}t $t hello_server --mode coroutine --engine uring --dispatch call-through --threads $t $NIOXX_EXTRA_ARGS"
done
for t in $ASIO_THREADS; do add "asio-${t}t $t asio_hello_server --threads $t"; done
add "asio-uring-1t 1 asio_uring_hello_server --threads 1"
for t in $EPOLL_THREADS; do add "epoll-${t}t $t epoll_hello_server --threads $t"; done

ACTIVE=()
for c in "${CONFIGS[@]}"; do
  read -r name _ bin _ <<<"$c"
  if [[ -n "$ONLY" && ! "$name" =~ $ONLY ]]; then continue; fi
  if [[ ! -x "$BIN/$bin" ]]; then
    note "skipping $name: $BIN/$bin does not exist (yet)"
    continue
  fi
  ACTIVE+=("$c")
done
[[ ${#ACTIVE[@]} -gt 0 ]] || { echo "run.sh: no server binaries to run" >&2; exit 1; }

LOG="$RESULTS/server.log"
# shellcheck source=bench/server_lib.sh
source "$ROOT/bench/server_lib.sh"

machine() {
  echo "nproc=$(nproc); CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1); kernel $(uname -r);" \
    "$(free -g | awk '/^Mem:/ {print $2 " GiB RAM"}')"
}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
if awk '{exit !($1 > 1.0)}' /proc/loadavg; then
  note "the machine was busy at the start (load average $LOAD_BEFORE): figures are noisy; re-run on an idle machine"
fi
if [[ -n "$WORKLOAD_FILTER" ]]; then
  kept=()
  for w in "${WORKLOADS[@]}"; do [[ "${w%% *}" =~ $WORKLOAD_FILTER ]] && kept+=("$w"); done
  WORKLOADS=("${kept[@]}")
  [[ ${#WORKLOADS[@]} -gt 0 ]] || { echo "run.sh: no workload matches $WORKLOAD_FILTER" >&2; exit 2; }
fi
START=$(date +%s)
echo "== ${#ACTIVE[@]} configurations x ${#WORKLOADS[@]} workloads x $ROUNDS rounds;" \
  "duration ${DURATION}s, warmup ${WARMUP}s; $(machine)"

n=${#ACTIVE[@]}
for w in "${WORKLOADS[@]}"; do
  read -r wname conns depth rate <<<"$w"
  rounds=$ROUNDS
  [[ $depth = idle ]] && rounds=$((IDLE_ROUNDS < ROUNDS ? IDLE_ROUNDS : ROUNDS))
  for ((r = 1; r <= rounds; r++)); do
    for ((i = 0; i < n; i++)); do
      # Rotate the order each round so no configuration always runs first (or after the same one).
      c=${ACTIVE[$(((i + r - 1) % n))]}
      read -r name threads bin args <<<"$c"
      # shellcheck disable=SC2086
      if ! start_server "$threads" "$bin" $args; then
        note "$name did not start (log: $(tail -c 300 "$LOG" | tr '\n' ' '))"
        stop_server
        continue
      fi
      if [[ $depth = idle ]]; then
        lg=(--idle --connections "$conns" --duration "$IDLE_HOLD")
      else
        lg=(--connections "$conns" --pipeline "$depth" --duration "$DURATION" --warmup "$WARMUP")
        [[ -n $rate ]] && lg+=(--rate "$rate")
      fi
      set +e
      out=$(timeout 120 taskset -c "$LOAD_CPU" "$BIN/hello_load" --port "$PORT" "${lg[@]}" \
        --server-pid "$SERVER_PID" --json 2>"$RESULTS/load.err")
      rc=$?
      set -e
      stop_server
      [[ -n "$out" ]] || out=null
      printf '{"workload":"%s","round":%d,"config":"%s","threads":%d,"exit":%d,"result":%s}\n' \
        "$wname" "$r" "$name" "$threads" "$rc" "$out" >>"$RUNS"
      summary=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]) or {};
print("%.0f req/s p50 %.0fus p99 %.0fus cpu %.2fus/req rss/conn %.2fKiB wrong %d lost %d errs %d" % (
 d.get("rps",0), d.get("p50_us",0), d.get("p99_us",0), d.get("server_cpu_us_per_req",0),
 d.get("rss_per_conn_kib",0), d.get("wrong",0), d.get("lost",0), d.get("conn_errors",0)))' "$out")
      printf '%-8s r%d %-28s %s%s\n' "$wname" "$r" "$name" "$summary" \
        "$([[ $rc = 0 ]] || echo " EXIT $rc: $(tr '\n' ' ' <"$RESULTS/load.err" | tail -c 200)")"
    done
  done
done
ELAPSED=$(($(date +%s) - START))

python3 "$ROOT/bench/report.py" --runs "$RUNS" --notes "$NOTES" --out "$ROOT/docs/BENCHMARKS.md" \
  --chart "$ROOT/docs/benchmarks.png" --dat "$RESULTS/chart.dat" --machine "$(machine)" \
  --command "$COMMAND" --append "$ROOT/docs/parts/bench-analysis.md" "$ROOT/docs/parts/bench-io-variants.md" \
  --meta "rounds=$ROUNDS duration=${DURATION}s warmup=${WARMUP}s idle_hold=${IDLE_HOLD}s elapsed=${ELAPSED}s load_before=$LOAD_BEFORE load_after=$(cut -d' ' -f1-3 /proc/loadavg)"
