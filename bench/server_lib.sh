# bench/server_lib.sh: starting and stopping one server under test, shared by bench/run.sh and
# bench/io_variants.sh. The caller sets BIN (binaries), LOG (server log) and SERVER_CPU (the CPU a
# single-threaded server is pinned to), then sources this file.
# shellcheck shell=bash

SERVER_PID=""
start_server() {  # threads binary args... ; sets SERVER_PID and PORT
  local threads=$1 bin=$2
  shift 2
  local pin=()
  [[ $threads = 1 ]] && pin=(taskset -c "$SERVER_CPU")
  # Empty the log here, not only in the child's redirection: the child may run late, and the
  # previous server's "listening on" line would then give us a dead port.
  : >"$LOG"
  "${pin[@]}" "$BIN/$bin" --port 0 "$@" >>"$LOG" 2>&1 &
  SERVER_PID=$!
  PORT=""
  for _ in $(seq 200); do
    PORT=$(grep -oE 'listening on [^ ]*:[0-9]+' "$LOG" 2>/dev/null | head -1 | grep -oE '[0-9]+$' || true)
    [[ -n "$PORT" ]] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  return 1
}
stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}
# Runs the load generator against the server started last, then stops the server. Sets LOAD_JSON
# (its --json line, or null) and LOAD_RC. Usage: measure_load loadgen errfile hello_load-args...
measure_load() {
  local loadgen=$1 errfile=$2
  shift 2
  set +e
  LOAD_JSON=$(timeout 120 taskset -c "$LOAD_CPU" "$loadgen" --port "$PORT" "$@" \
    --server-pid "$SERVER_PID" --json 2>"$errfile")
  LOAD_RC=$?
  set -e
  stop_server
  [[ -n "$LOAD_JSON" ]] || LOAD_JSON=null
}
trap 'if [[ -n "$SERVER_PID" ]]; then kill -KILL "$SERVER_PID" 2>/dev/null || true; fi' EXIT
