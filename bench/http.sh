#!/usr/bin/env bash
# bench/http.sh: http_server (reactor, proactor, coroutine) against nginx (Debian's, one worker, sendfile on,
# access_log off) serving the same tree, measured with wrk in interleaved rounds (every server
# once per round, so drift on a shared machine hits all alike): a 1 KiB and a 1 MiB file, 64 and
# 1,000 connections. Single-threaded servers (--threads 1, nginx's one worker) are pinned to CPU 0
# and wrk to CPU 1, as in bench/run.sh. Prints a table of medians (requests/s and MiB/s), writes
# every measurement to bench/results/http.tsv, and from it docs/BENCHMARKS-http.md with its chart
# docs/benchmarks-http.png (bench/http_report.py; run that alone to regenerate them).
#
# Usage: bench/http.sh [--rounds N] [--duration S] [--build-dir DIR] [--quick]
# Needs: nginx (nginx-light), wrk (NIOXX_BENCH_DEPS=1 scripts/install-deps.sh), a built http_server.
set -euo pipefail
ROUNDS=3
DURATION=5
BUILD_DIR=build
SERVER_CPU=0
LOAD_CPU=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --quick) ROUNDS=1; DURATION=2; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "http.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
SERVER="$BUILD_DIR/bin/http_server"
for tool in nginx wrk taskset; do
  command -v "$tool" >/dev/null || { echo "http.sh: $tool missing (NIOXX_BENCH_DEPS=1 scripts/install-deps.sh)" >&2; exit 1; }
done
[[ -x "$SERVER" ]] || { echo "http.sh: $SERVER missing (build http_server first)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK=$(mktemp -d /tmp/nioxx-http-bench-XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/www" "$WORK/nginx"
head -c 1024 /dev/urandom >"$WORK/www/1k.bin"
head -c $((1024 * 1024)) /dev/urandom >"$WORK/www/1m.bin"
chmod -R a+rX "$WORK/www"
# wrk prints Transfer/sec with two decimals in the largest unit ("0.92GB": 942 or 952 MiB/s, nothing
# between), so requests, bytes and duration come exactly from its Lua summary instead.
cat >"$WORK/summary.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("EXACT %d %d %d\n", summary.requests, summary.bytes, summary.duration))
end
LUA
PID=""
cleanup() {
  [[ -n "$PID" ]] && kill -KILL "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() {  # name -> sets PID, PORT
  PORT=$(free_port)
  case "$1" in
    nginx)
      cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  sendfile on;
  tcp_nopush on;
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  default_type application/octet-stream;
  server { listen 127.0.0.1:$PORT; root $WORK/www; }
}
CONF
      taskset -c "$SERVER_CPU" nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" \
        >"$WORK/server.log" 2>&1 &
      ;;
    reactor | proactor | coroutine)
      taskset -c "$SERVER_CPU" "$SERVER" --mode "$1" --threads 1 --root "$WORK/www" \
        --port "$PORT" --log-level warn --max-connections 20000 >"$WORK/server.log" 2>&1 &
      ;;
  esac
  PID=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/1k.bin" && return 0
    sleep 0.05
  done
  echo "http.sh: $1 did not start:" >&2
  cat "$WORK/server.log" >&2
  exit 1
}
stop() {
  kill -TERM "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
}

mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/http.tsv"
echo -e "round\tserver\tfile\tconnections\trequests_per_s\tMiB_per_s\terrors" >"$OUT"
SERVERS=(nginx reactor proactor coroutine)
for round in $(seq "$ROUNDS"); do
  for file in 1k.bin 1m.bin; do
    for conns in 64 1000; do
      for s in "${SERVERS[@]}"; do
        start "$s"
        # One wrk thread on the load CPU; 1,000 connections need no more threads than that.
        result=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 10s \
          -s "$WORK/summary.lua" "http://127.0.0.1:$PORT/$file" 2>&1 || true)
        stop
        rps=$(awk '/^EXACT/ && $4 > 0 {printf "%.2f", $2 / ($4 / 1e6)}' <<<"$result")
        tr=$(awk '/^EXACT/ && $4 > 0 {printf "%.2f", $3 / ($4 / 1e6) / 1048576}' <<<"$result")
        errors=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$result" | tr '\n' ' ')
        echo -e "$round\t$s\t$file\t$conns\t${rps:-0}\t${tr:-0}\t${errors:-none}" | tee -a "$OUT"
      done
    done
  done
done

echo
echo "Medians over $ROUNDS round(s) of ${DURATION} s (requests/s; ratio to nginx):"
python3 - "$OUT" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
med = {}
for r in rows:
    med.setdefault((r["file"], r["connections"], r["server"]), []).append(float(r["requests_per_s"]))
modes = ("reactor", "proactor", "coroutine")
print(f"{'file':8} {'conns':>6} {'nginx':>10}" + "".join(f" {m:>18}" for m in modes))
for file in ("1k.bin", "1m.bin"):
    for conns in ("64", "1000"):
        m = {s: statistics.median(med.get((file, conns, s), [0])) for s in ("nginx",) + modes}
        base = m["nginx"] or 1
        print(f"{file:8} {conns:>6} {m['nginx']:>10.0f}"
              + "".join(f" {m[s]:>10.0f} ({m[s] / base:.2f}x)" for s in modes))
PY
python3 "$ROOT/bench/http_report.py" --tsv "$OUT" --command "bench/http.sh --rounds $ROUNDS --duration $DURATION"
