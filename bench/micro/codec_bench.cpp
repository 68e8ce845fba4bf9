// Micro-benchmarks of the per-request hot path below the event loop: varint32 frame decode and
// encode (nioxx/core/frame_codec.h) and ByteBuffer's put/get/compact cycle (byte_buffer.h).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nioxx/core/byte_buffer.h"
#include "nioxx/core/frame_codec.h"

namespace {

// N frames shaped like HelloRequests (about 20-byte payloads), back to back.
std::vector<std::uint8_t> makeFrames(int n, std::size_t payloadSize = 20) {
  std::vector<std::uint8_t> out;
  const std::vector<std::uint8_t> payload(payloadSize, 'x');
  for (int i = 0; i < n; ++i)
    nioxx::FrameEncoder::encode(payload, out);
  return out;
}

// Stateless scan of a read buffer holding N complete frames (the reactor's path after a read).
void BM_FrameScan(benchmark::State& state) {
  const auto frames = makeFrames(static_cast<int>(state.range(0)));
  const nioxx::FrameDecoder decoder;
  for (auto _ : state) {
    std::size_t bytes = 0;
    auto scan = decoder.scan(frames, [&](std::span<const std::uint8_t> f) { bytes += f.size(); });
    benchmark::DoNotOptimize(bytes);
    benchmark::DoNotOptimize(scan);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frames.size()));
}
BENCHMARK(BM_FrameScan)->Arg(1)->Arg(16)->Arg(256);

// Streaming decoder fed whole reads of N frames: the zero-copy path.
void BM_FrameFeedWhole(benchmark::State& state) {
  const auto frames = makeFrames(static_cast<int>(state.range(0)));
  nioxx::FrameDecoder decoder;
  for (auto _ : state) {
    std::size_t count = 0;
    auto ec = decoder.feed(std::span<const std::uint8_t>(frames),
                           [&](std::span<const std::uint8_t>) { ++count; });
    benchmark::DoNotOptimize(ec);
    benchmark::DoNotOptimize(count);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_FrameFeedWhole)->Arg(1)->Arg(16)->Arg(256);

// Worst case: every byte arrives in its own read, so each frame is assembled in the decoder.
void BM_FrameFeedByteAtATime(benchmark::State& state) {
  const auto frames = makeFrames(static_cast<int>(state.range(0)));
  nioxx::FrameDecoder decoder;
  for (auto _ : state) {
    std::size_t count = 0;
    for (std::size_t i = 0; i < frames.size(); ++i) {
      auto ec = decoder.feed(std::span<const std::uint8_t>(&frames[i], 1),
                             [&](std::span<const std::uint8_t>) { ++count; });
      benchmark::DoNotOptimize(ec);
    }
    benchmark::DoNotOptimize(count);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frames.size()));
}
BENCHMARK(BM_FrameFeedByteAtATime)->Arg(16);

// Encoding N replies into one output buffer whose capacity is reused (the write path).
void BM_FrameEncode(benchmark::State& state) {
  const std::string payload(static_cast<std::size_t>(state.range(1)), 'y');
  std::string out;
  for (auto _ : state) {
    out.clear();
    for (int i = 0; i < state.range(0); ++i)
      nioxx::FrameEncoder::encode(payload, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_FrameEncode)->Args({16, 24})->Args({16, 1000});

void BM_Varint32RoundTrip(benchmark::State& state) {
  std::uint8_t buf[nioxx::kMaxVarint32Bytes];
  std::uint32_t value = static_cast<std::uint32_t>(state.range(0));
  for (auto _ : state) {
    const std::size_t n = nioxx::encodeVarint32(value, buf);
    auto r = nioxx::decodeVarint32(std::span<const std::uint8_t>(buf, n));
    benchmark::DoNotOptimize(r);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_Varint32RoundTrip)->Arg(100)->Arg(65536);

// A read cycle on a 8 KiB buffer: put a chunk (as read(2) would), flip, consume all but a partial
// frame, compact (the partial frame moves to the front).
void BM_ByteBufferReadCycle(benchmark::State& state) {
  auto buffer = nioxx::ByteBuffer::allocate(8192);
  const std::vector<std::uint8_t> chunk(static_cast<std::size_t>(state.range(0)), 0x2A);
  std::vector<std::uint8_t> sink(chunk.size());
  for (auto _ : state) {
    buffer.put(std::span<const std::uint8_t>(chunk));
    buffer.flip();
    buffer.get(std::span<std::uint8_t>(sink.data(), sink.size() - 7));  // 7 bytes stay behind
    buffer.compact();
    buffer.clear();
    benchmark::DoNotOptimize(sink.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ByteBufferReadCycle)->Arg(64)->Arg(4096);

// Single-byte relative put/get: the per-call overhead of the bounds checks.
void BM_ByteBufferPutGetByte(benchmark::State& state) {
  auto buffer = nioxx::ByteBuffer::allocate(256);
  for (auto _ : state) {
    buffer.clear();
    for (int i = 0; i < 256; ++i)
      buffer.put(static_cast<std::uint8_t>(i));
    buffer.flip();
    unsigned sum = 0;
    while (buffer.hasRemaining())
      sum += buffer.get();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * 512);
}
BENCHMARK(BM_ByteBufferPutGetByte);

// compact() with a partial frame of N bytes left over (the memmove cost).
void BM_ByteBufferCompact(benchmark::State& state) {
  auto buffer = nioxx::ByteBuffer::allocate(65536);
  const auto keep = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    buffer.clear();
    buffer.position(1000 + keep);
    buffer.flip();
    buffer.position(1000);
    buffer.compact();
    benchmark::DoNotOptimize(buffer.position());
  }
}
BENCHMARK(BM_ByteBufferCompact)->Arg(7)->Arg(4096);

}  // namespace
