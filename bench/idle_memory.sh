#!/usr/bin/env bash
# bench/idle_memory.sh: where hello_server's memory per idle connection goes (issue 12's target:
# at most 1.0 KiB per idle connection at 10,000 connections).
#   1. RSS per idle connection, measured as bench/run.sh's idle10k workload does (hello_load
#      --idle --server-pid: the server's RSS with the connections held minus before, divided by
#      their number). Memory, not timing: valid on a busy machine.
#   2. With --heaptrack, the same workload under heaptrack: the allocation sites holding the most
#      heap at the peak (while the connections are held), per connection.
# Not counted by either: kernel memory (socket buffers, io_uring requests) and, in (2), mmap'd
# memory (provided-buffer slabs, io_uring rings), whose touched pages do show in (1).
#
# Usage: bench/idle_memory.sh [--build-dir DIR] [--connections N] [--heaptrack] [--top N]
#                             [-- hello_server flags]
# Default server flags: --mode proactor --engine uring --dispatch call-through --threads 1
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=build
CONNECTIONS=10000
HOLD=1.5
HEAPTRACK=0
TOP=12
SERVER_ARGS=(--mode proactor --engine uring --dispatch call-through --threads 1)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --heaptrack) HEAPTRACK=1; shift ;;
    --top) TOP=$2; shift 2 ;;
    --) shift; SERVER_ARGS=("$@"); break ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "idle_memory.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
BIN="$BUILD_DIR/bin"
for b in hello_server hello_load; do
  [[ -x "$BIN/$b" ]] || { echo "idle_memory.sh: $BIN/$b missing (build it first)" >&2; exit 2; }
done
if [[ $HEAPTRACK = 1 ]] && ! command -v heaptrack >/dev/null; then
  echo "idle_memory.sh: heaptrack missing (scripts/install-deps.sh installs it)" >&2
  exit 2
fi
# Each side needs a descriptor per connection.
ulimit -n $((CONNECTIONS + 1000)) 2>/dev/null || true

WORK=$(mktemp -d)
SERVER_PID=""
WRAPPER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill -TERM "$SERVER_PID" 2>/dev/null || true
  [[ -n "$WRAPPER_PID" ]] && wait "$WRAPPER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Starts the server (under heaptrack if $1 = 1); sets SERVER_PID (hello_server itself) and PORT.
start() {
  local cmd=("$BIN/hello_server" --port 0 --max-connections $((CONNECTIONS * 2)) --log-level warn
    "${SERVER_ARGS[@]}")
  [[ $1 = 1 ]] && cmd=(heaptrack -o "$WORK/heap" "${cmd[@]}")
  "${cmd[@]}" >"$WORK/server.log" 2>&1 &
  WRAPPER_PID=$!
  SERVER_PID=$WRAPPER_PID
  PORT=""
  for _ in $(seq 400); do
    PORT=$(grep -oE 'listening on [^ ]*:[0-9]+' "$WORK/server.log" | head -1 | grep -oE '[0-9]+$' || true)
    [[ -n "$PORT" ]] && break
    kill -0 "$WRAPPER_PID" 2>/dev/null || break
    sleep 0.05
  done
  [[ -n "$PORT" ]] || { echo "server did not start:" >&2; cat "$WORK/server.log" >&2; exit 1; }
  # heaptrack runs the server as its child: measure and stop that one.
  [[ $1 = 1 ]] && SERVER_PID=$(pgrep -P "$WRAPPER_PID" -x hello_server)
  grep -m1 'listening on' "$WORK/server.log"
}
stop() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$WRAPPER_PID" 2>/dev/null || true
  SERVER_PID=""
  WRAPPER_PID=""
}

echo "== RSS per idle connection ($CONNECTIONS connections)"
start 0
"$BIN/hello_load" --port "$PORT" --idle --connections "$CONNECTIONS" --duration "$HOLD" \
  --server-pid "$SERVER_PID" | grep -E 'idle|error' || true
stop

if [[ $HEAPTRACK = 1 ]]; then
  echo "== heaptrack: largest heap consumers at the peak (per connection = bytes / $CONNECTIONS)"
  start 1
  "$BIN/hello_load" --port "$PORT" --idle --connections "$CONNECTIONS" --duration "$HOLD" \
    >/dev/null || true
  stop
  file=$(ls "$WORK"/heap* | head -1)
  heaptrack_print -f "$file" --print-peaks --peak-limit "$TOP" --sub-peak-limit 2 \
    --print-allocators 0 --print-temporary 0 --print-leaks 0 2>/dev/null |
    awk -v n="$CONNECTIONS" '
      /^PEAK MEMORY CONSUMERS/ { on = 1; print; next }
      /^total runtime/ { on = 0 }
      /peak memory consumed over/ {
        v = $1; m = 1
        if (v ~ /K$/) m = 1000; else if (v ~ /M$/) m = 1e6; else if (v ~ /G$/) m = 1e9
        sub(/[KMGB]+$/, "", v)
        printf "%7.0f B/conn  %s\n", v * m / n, $0; next
      }
      /^peak heap memory consumption/ { print; next }
      on && !/^  *in \// { print }
    '
fi
