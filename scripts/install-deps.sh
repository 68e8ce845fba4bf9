#!/usr/bin/env bash
# Installs nioxx's build and test dependencies from Debian's packages (apt only; idempotent:
# packages already present are skipped, and apt is not touched at all if nothing is missing).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang clang-format libclang-rt-14-dev   # fuzzing (libFuzzer) and sanitizer runtimes
  libasio-dev libspdlog-dev libfmt-dev libcli11-dev
  libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev libbenchmark-dev
  libconcurrentqueue-dev liburing-dev
  procps util-linux python3
  libhttp-parser-dev curl chromium   # demos/http: its parser; its real-client tests (tests/http)
  prometheus python3-prometheus-client haproxy  # tests/ops: promtool, a real scraper, a balancer
)
if [[ "${NIOXX_BENCH_DEPS:-0}" == 1 ]]; then
  packages+=(gnuplot-nox nginx-light wrk)  # bench/http.sh: nginx as the reference, wrk as load
  packages+=(heaptrack strace)  # bench/idle_memory.sh --heaptrack, bench/uring_syscalls.sh
  packages+=(valgrind linux-perf)  # bench/callgrind_per_request.sh, bench/perf_split.sh
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
