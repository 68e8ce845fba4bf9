#!/usr/bin/env bash
# Builds and runs the FrameDecoder libFuzzer target (clang, ASan+UBSan). Not part of the main
# CMake build. Usage: fuzz/run.sh [seconds]   (default 60; 0 = build and replay the seeds only)
# Environment: FUZZ_BUILD_DIR (default build-fuzz), CXX (default clang++).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${1:-60}"
cxx="${CXX:-clang++}"
mkdir -p "$out/corpus-frame"

"$cxx" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/core/include" \
  "$root/fuzz/frame_decoder_fuzzer.cpp" "$root/core/src/frame_codec.cpp" \
  "$root/core/src/byte_buffer.cpp" "$root/core/src/recycling_allocator.cpp" "$root/core/src/error.cpp" \
  -o "$out/frame_decoder_fuzzer"

if [[ "$seconds" == 0 ]]; then
  # Replays every seed once (regression check); exits non-zero on any oracle failure.
  "$out/frame_decoder_fuzzer" "$root"/fuzz/corpus/frame/*
else
  # New inputs go to the scratch corpus (first dir), the checked-in seeds stay untouched.
  "$out/frame_decoder_fuzzer" -max_total_time="$seconds" -max_len=4096 \
    "$out/corpus-frame" "$root/fuzz/corpus/frame"
fi
