// libFuzzer target for FrameDecoder. Oracle: the verdict (frames and error) depends only on the
// bytes, never on how they are split: whole, split at a pseudo-random point, one byte at a time,
// stateless scan(), and feed() with backpressure must all agree.
//
// Input layout: byte 0 picks maxFrameSize, bytes 1-2 seed the split point, the rest is the stream.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "nioxx/core/frame_codec.h"

namespace {

using nioxx::FrameDecoder;
using Span = std::span<const std::uint8_t>;

struct Verdict {
  std::vector<std::string> frames;
  std::error_code error;
  bool operator==(const Verdict&) const = default;
};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "frame_decoder_fuzzer: %s\n", what);
  std::abort();
}

Verdict feedPieces(std::size_t max, Span stream, const std::vector<std::size_t>& cuts) {
  FrameDecoder decoder(max);
  Verdict v;
  std::size_t from = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t to = i < cuts.size() ? cuts[i] : stream.size();
    const auto ec = decoder.feed(stream.subspan(from, to - from), [&](Span f) {
      if (f.size() > max) fail("frame larger than maxFrameSize delivered");
      v.frames.emplace_back(f.begin(), f.end());
    });
    if (ec) {
      if (v.error && v.error != ec) fail("a failed decoder changed its error");
      v.error = ec;
      if (!decoder.failed() || decoder.buffered() != 0) fail("failed decoder state");
    }
    from = to;
  }
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  static constexpr std::size_t kMaxima[] = {0, 1, 5, 127, 128, 300, 16384, 65536, SIZE_MAX};
  const std::size_t max = kMaxima[data[0] % std::size(kMaxima)];
  const std::size_t seed = static_cast<std::size_t>(data[1]) << 8 | data[2];
  const Span stream(data + 3, size - 3);

  const Verdict whole = feedPieces(max, stream, {});
  if (feedPieces(max, stream, {seed % (stream.size() + 1)}) != whole) {
    fail("split at one point differs from whole");
  }
  if (stream.size() <= 2048) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < stream.size(); ++i)
      cuts.push_back(i);
    if (feedPieces(max, stream, cuts) != whole) fail("byte-at-a-time differs from whole");
  }

  // Stateless scan: same frames and error; without an error the unconsumed tail is what a
  // streaming decoder would have buffered.
  FrameDecoder scanner(max);
  Verdict scanned;
  const auto result = scanner.scan(stream, [&](Span f) {
    if (f.data() < stream.data() || f.data() + f.size() > stream.data() + stream.size()) {
      fail("scan() delivered a span outside its input");
    }
    scanned.frames.emplace_back(f.begin(), f.end());
  });
  scanned.error = result.error;
  if (scanned != whole) fail("scan() differs from feed()");
  if (result.consumed > stream.size()) fail("scan() consumed more than its input");

  // Backpressure: refuse every other frame, then keep feeding nothing until no progress.
  FrameDecoder gated(max);
  Verdict slow;
  bool accept = false;
  auto gate = [&](Span f) {
    slow.frames.emplace_back(f.begin(), f.end());
    accept = !accept;
    return accept;
  };
  slow.error = gated.feed(stream, gate);
  for (std::size_t last = SIZE_MAX; !slow.error && slow.frames.size() != last;) {
    last = slow.frames.size();
    slow.error = gated.feed(Span{}, gate);
  }
  if (slow != whole) fail("feed() with backpressure differs from feed()");
  return 0;
}
