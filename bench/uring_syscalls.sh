#!/usr/bin/env bash
# bench/uring_syscalls.sh: the system calls hello_server makes under load (issue 12: with the
# io_uring engine, `strace -f -c` must show io_uring_enter and no epoll_wait). Runs the server
# under `strace -f -c` (every thread), drives it with hello_load for a few seconds, stops it
# gracefully and prints strace's table. Counts, not timings: strace slows every system call, so
# its time columns say nothing about the server's speed.
#
# Usage: bench/uring_syscalls.sh [--build-dir DIR] [--connections N] [--pipeline N]
#                                [--duration S] [-- hello_server flags]
# Default server flags: --mode proactor --engine uring --dispatch call-through --threads 1
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=build
CONNECTIONS=64
PIPELINE=1
DURATION=3
SERVER_ARGS=(--mode proactor --engine uring --dispatch call-through --threads 1)
USAGE_LINES=2,10p
# shellcheck source=bench/load_args.sh
source "$ROOT/bench/load_args.sh"
parse_load_args "$0" "$@"
((${#SERVER_CMD[@]} == 0)) || SERVER_ARGS=("${SERVER_CMD[@]}")
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
BIN="$BUILD_DIR/bin"
for b in hello_server hello_load; do
  [[ -x "$BIN/$b" ]] || { echo "uring_syscalls.sh: $BIN/$b missing (build it first)" >&2; exit 2; }
done
command -v strace >/dev/null || { echo "uring_syscalls.sh: strace missing" >&2; exit 2; }

WORK=$(mktemp -d)
STRACE_PID=""
cleanup() {
  [[ -n "$STRACE_PID" ]] && kill -TERM "$STRACE_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

strace -f -c -o "$WORK/counts" "$BIN/hello_server" --port 0 --log-level warn "${SERVER_ARGS[@]}" \
  >"$WORK/server.log" 2>&1 &
STRACE_PID=$!
PORT=""
for _ in $(seq 400); do
  PORT=$(grep -oE 'listening on [^ ]*:[0-9]+' "$WORK/server.log" | head -1 | grep -oE '[0-9]+$' || true)
  [[ -n "$PORT" ]] && break
  kill -0 "$STRACE_PID" 2>/dev/null || break
  sleep 0.05
done
[[ -n "$PORT" ]] || { echo "server did not start:" >&2; cat "$WORK/server.log" >&2; exit 1; }
grep -m1 'listening on' "$WORK/server.log"
SERVER_PID=$(pgrep -P "$STRACE_PID" -x hello_server)

"$BIN/hello_load" --port "$PORT" --connections "$CONNECTIONS" --pipeline "$PIPELINE" \
  --duration "$DURATION" --warmup 0.5 | grep -E 'requests,|wrong' || true

kill -TERM "$SERVER_PID"
wait "$STRACE_PID" || true
STRACE_PID=""
echo "strace -f -c (all threads, from start to graceful stop):"
cat "$WORK/counts"
if grep -qE ' epoll_(wait|pwait|pwait2)$' "$WORK/counts"; then
  echo "uring_syscalls.sh: epoll_wait seen" >&2
  exit 1
fi
