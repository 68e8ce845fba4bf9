#!/usr/bin/env bash
# Builds every libFuzzer target with clang (-fsanitize=fuzzer,address,undefined) and runs each for
# FUZZ_SECONDS (default 60; 0 = build and replay the checked-in seeds only).
#   - the frame decoder target (fuzz/frame_decoder_fuzzer.cpp, built and run by fuzz/run.sh)
#   - the hello request-to-reply target (fuzz/hello/hello_fuzz.cpp: FramedSession + HelloService)
#   - the HTTP request path (fuzz/http/http_fuzz.cpp: HttpSession over http-parser, demos/http)
# New inputs go to a scratch corpus in the build dir; the checked-in seeds are never modified.
# A crash leaves crash-* in $FUZZ_BUILD_DIR/artifacts/<target>/ and fails the script: copy it to
# fuzz/hello/corpus/ (named regress-<what>) and it becomes a regression input for both this script
# and the CTest `reliability.hello_fuzz_corpus` (which replays the corpus in every build flavour).
# Environment: FUZZ_SECONDS, FUZZ_BUILD_DIR (default build-fuzz), FUZZ_CXX (default clang++),
#              FUZZ_JOBS (parallel fuzzing processes per target, default 1).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${FUZZ_SECONDS:-60}"
cxx="${FUZZ_CXX:-clang++}"
jobs="${FUZZ_JOBS:-1}"
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
status=0
mkdir -p "$out"

# FUZZ_TARGETS (default "frame hello http") picks the targets.
targets=" ${FUZZ_TARGETS:-frame hello http} "

# 1. The frame decoder target: its owner's script knows its sources and seeds.
if [[ $targets == *" frame "* && -f "$root/fuzz/run.sh" ]]; then
  echo "=== fuzz: frame decoder (fuzz/run.sh, ${seconds} s)"
  FUZZ_BUILD_DIR="$out" CXX="$cxx" bash "$root/fuzz/run.sh" "$seconds" 2>&1 | tail -n 25 || status=1
fi

# 2. The hello server's request-to-reply path.
if [[ $targets == *" hello "* ]]; then
  echo "=== fuzz: hello request-to-reply (fuzz/hello, ${seconds} s)"
  gen="$out/hello-gen"
  obj="$out/hello-obj"
  mkdir -p "$gen" "$obj" "$out/corpus-hello" "$out/artifacts/hello"
  protoc --cpp_out="$gen" -I"$root/demos/hello" "$root/demos/hello/hello.proto" \
    "$root/demos/hello/hello_reply_wire.proto"
  # Instrument our code (core, the server layer's session, service); protobuf, spdlog and fmt
  # are system libraries.
  srcs=("$gen/hello.pb.cc" "$gen/hello_reply_wire.pb.cc" "$root/demos/hello/hello_service.cpp" "$root/fuzz/hello/hello_fuzz.cpp")
  for f in framed_session framing server_stats; do
    srcs+=("$root/server/src/$f.cpp")
  done
  while IFS= read -r f; do srcs+=("$f"); done < <(find "$root/core/src" -name '*.cpp' | sort)
  objs=()
  for src in "${srcs[@]}"; do
    o="$obj/$(echo "${src#"$root"/}" | tr '/' '_').o"
    objs+=("$o")
    if [[ ! -f "$o" || "$src" -nt "$o" || "$0" -nt "$o" ]]; then
      "$cxx" "${flags[@]/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,}" -c "$src" -o "$o" \
        -I"$root/core/include" -I"$root/core/src" -I"$root/server/include" -I"$root/demos" -I"$gen" -DSPDLOG_FMT_EXTERNAL \
        -DSPDLOG_COMPILED_LIB &
      while (( $(jobs -rp | wc -l) >= 2 )); do wait -n; done
    fi
  done
  wait
  "$cxx" "${flags[@]}" "${objs[@]}" -o "$out/hello_fuzz" -lprotobuf -lspdlog -lfmt -pthread
  cd "$out"  # libFuzzer writes fuzz-<n>.log and crash files relative to here
  if [[ "$seconds" == 0 ]]; then
    "$out/hello_fuzz" -runs=0 "$root/fuzz/hello/corpus" 2>&1 | tail -n 3 || status=1
  else
    "$out/hello_fuzz" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
      $( ((jobs > 1)) && echo "-jobs=$jobs -workers=$jobs") -print_final_stats=1 \
      -artifact_prefix="$out/artifacts/hello/" "$out/corpus-hello" "$root/fuzz/hello/corpus" \
      > "$out/hello_fuzz.log" 2>&1 || status=1
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)|ERROR|oracle|SUMMARY" \
      "$out/hello_fuzz.log" | tail -n 20 || true
    if (( status )); then tail -n 60 "$out/hello_fuzz.log"; ls -l "$out/artifacts/hello/"; fi
  fi
fi
# 3. The HTTP server's request path (parser, path resolution, response planning).
if [[ $targets == *" http "* ]]; then
  echo "=== fuzz: http request path (fuzz/http, ${seconds} s)"
  mkdir -p "$out/corpus-http" "$out/artifacts/http"
  srcs=("$root/fuzz/http/http_fuzz.cpp")
  for f in http_date request_parser path_resolver response http_session; do
    srcs+=("$root/demos/http/$f.cpp")
  done
  "$cxx" "${flags[@]}" -I"$root/demos" "${srcs[@]}" -o "$out/http_fuzz" -lhttp_parser || status=1
  (
    cd "$out"
    if [[ "$seconds" == 0 ]]; then
      "$out/http_fuzz" -runs=0 "$root/fuzz/http/corpus" 2>&1 | tail -n 3
    else
      "$out/http_fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$out/artifacts/http/" "$out/corpus-http" \
        "$root/fuzz/http/corpus" > "$out/http_fuzz.log" 2>&1 || exit 1
      grep -E "^(stat::number_of_executed_units|#[0-9]+ +DONE)|ERROR|oracle|SUMMARY" \
        "$out/http_fuzz.log" | tail -n 20 || true
    fi
  ) || { status=1; tail -n 60 "$out/http_fuzz.log" 2>/dev/null; ls -l "$out/artifacts/http/"; }
fi

(( status == 0 )) && echo "=== fuzz: all targets clean" || echo "=== fuzz: FAILURES (see above)"
exit "$status"
