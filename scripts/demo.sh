#!/usr/bin/env bash
# The README demo: installs the dependencies, builds hello_server and hello_client (Release), then
# for each mode starts the server, greets it once, runs a short checked load, and stops the server
# with SIGTERM (it must exit 0). Exits non-zero on any failure.
#
#   scripts/demo.sh                 # both modes
#   NIOXX_DEMO_MODES=reactor scripts/demo.sh
#   NIOXX_DEMO_SECONDS=10 scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

modes=${NIOXX_DEMO_MODES:-"reactor proactor"}
seconds=${NIOXX_DEMO_SECONDS:-3}
build=${NIOXX_DEMO_BUILD_DIR:-build}

scripts/install-deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target hello_server hello_client

server_pid=""
log=$(mktemp)
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid"; fi
  rm -f "$log"
}
trap cleanup EXIT

fail() {
  echo "demo: FAILED: $*" >&2
  [[ -s "$log" ]] && sed 's/^/  server: /' "$log" >&2
  exit 1
}

for mode in $modes; do
  echo
  echo "=== hello_server --mode $mode ==="
  : >"$log"
  "$build/bin/hello_server" --mode "$mode" --port 0 >"$log" 2>&1 &
  server_pid=$!
  port=""
  for _ in $(seq 1 200); do  # up to 10 s for the listening line
    port=$(sed -n 's/^listening on [^ ]*:\([0-9][0-9]*\) mode=.*/\1/p' "$log" | head -n1)
    [[ -n "$port" ]] && break
    kill -0 "$server_pid" 2>/dev/null || fail "hello_server exited at startup"
    sleep 0.05
  done
  [[ -n "$port" ]] || fail "no listening line from hello_server"
  grep -m1 '^listening on' "$log"

  echo "\$ hello_client --mode $mode --port $port --name Alice"
  greeting=$("$build/bin/hello_client" --mode "$mode" --port "$port" --name Alice) ||
    fail "hello_client --name Alice"
  echo "$greeting"
  [[ "$greeting" == "Hello, Alice!" ]] || fail "unexpected greeting '$greeting'"

  echo "\$ hello_client --mode $mode --port $port --connections 16 --pipeline 8 --duration $seconds --warmup 1"
  "$build/bin/hello_client" --mode "$mode" --port "$port" --connections 16 --pipeline 8 \
    --duration "$seconds" --warmup 1 || fail "load run in $mode mode"

  kill -TERM "$server_pid"
  status=0
  wait "$server_pid" || status=$?
  server_pid=""
  [[ $status -eq 0 ]] || fail "hello_server exited with $status after SIGTERM"
  grep -m1 '^stopped:' "$log" || fail "no summary line from hello_server"
done
echo
echo "demo: OK"
