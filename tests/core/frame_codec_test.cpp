// Varint32 length-delimited framing: encoder sizes, decoder streaming, zero copy, early errors.
#include "nioxx/core/frame_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nioxx {
namespace {

using Bytes = std::vector<std::uint8_t>;

struct Decoded {
  std::vector<std::string> frames;
  std::error_code error;
  friend bool operator==(const Decoded&, const Decoded&) = default;
};

std::string text(std::span<const std::uint8_t> s) {
  return {s.begin(), s.end()};
}

Bytes encodeAll(const std::vector<std::string>& payloads) {
  std::string wire;
  for (const auto& p : payloads)
    FrameEncoder::encode(p, wire);
  return {wire.begin(), wire.end()};
}

// Feeds `wire` in pieces cut at `cuts` (ascending offsets) and collects what comes out.
Decoded feedInPieces(FrameDecoder& d, std::span<const std::uint8_t> wire,
                     const std::vector<std::size_t>& cuts) {
  Decoded out;
  std::size_t from = 0;
  auto collect = [&](std::span<const std::uint8_t> f) { out.frames.push_back(text(f)); };
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t to = i < cuts.size() ? cuts[i] : wire.size();
    if (auto ec = d.feed(wire.subspan(from, to - from), collect)) out.error = ec;
    from = to;
  }
  return out;
}

Decoded feedWhole(std::span<const std::uint8_t> wire, std::size_t max = kDefaultMaxFrameSize) {
  FrameDecoder d(max);
  return feedInPieces(d, wire, {});
}

// ---- varint32 ----

TEST(Varint32Test, BoundaryValuesRoundTripWithExpectedSizes) {
  const std::vector<std::pair<std::uint32_t, std::size_t>> cases = {{0, 1},
                                                                    {1, 1},
                                                                    {127, 1},
                                                                    {128, 2},
                                                                    {16383, 2},
                                                                    {16384, 3},
                                                                    {(1u << 21) - 1, 3},
                                                                    {1u << 21, 4},
                                                                    {(1u << 28) - 1, 4},
                                                                    {1u << 28, 5},
                                                                    {0xFFFFFFFFu, 5}};
  for (const auto& [value, size] : cases) {
    std::uint8_t buf[kMaxVarint32Bytes] = {};
    EXPECT_EQ(varint32Size(value), size) << value;
    ASSERT_EQ(encodeVarint32(value, buf), size) << value;
    const auto r = decodeVarint32(std::span<const std::uint8_t>(buf, size));
    EXPECT_EQ(r.status, VarintStatus::ok) << value;
    EXPECT_EQ(r.value, value);
    EXPECT_EQ(r.length, size);
    // Every proper prefix of the encoding is incomplete, never wrong.
    for (std::size_t n = 0; n < size; ++n) {
      EXPECT_EQ(decodeVarint32(std::span<const std::uint8_t>(buf, n)).status,
                VarintStatus::incomplete)
          << value << " cut at " << n;
    }
  }
}

TEST(Varint32Test, KnownEncodings) {
  std::uint8_t buf[kMaxVarint32Bytes];
  ASSERT_EQ(encodeVarint32(300, buf), 2u);
  EXPECT_EQ(buf[0], 0xAC);
  EXPECT_EQ(buf[1], 0x02);
  ASSERT_EQ(encodeVarint32(0xFFFFFFFFu, buf), 5u);
  EXPECT_EQ(buf[4], 0x0F);  // the fifth byte carries only bits 28..31
}

TEST(Varint32Test, SixByteVarintIsMalformed) {
  const Bytes six = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  EXPECT_EQ(decodeVarint32(six).status, VarintStatus::malformed);
  // Knowable at the fifth byte already: its continuation bit asks for a sixth.
  EXPECT_EQ(decodeVarint32(std::span(six).first(5)).status, VarintStatus::malformed);
}

TEST(Varint32Test, FifthByteAbove0x0FIsMalformed) {
  const Bytes wide = {0xFF, 0xFF, 0xFF, 0xFF, 0x10};  // 2^32: wider than 32 bits
  EXPECT_EQ(decodeVarint32(wide).status, VarintStatus::malformed);
  const Bytes max = {0xFF, 0xFF, 0xFF, 0xFF, 0x0F};
  EXPECT_EQ(decodeVarint32(max).value, 0xFFFFFFFFu);
}

TEST(Varint32Test, NonCanonicalPaddingIsAccepted) {
  const Bytes padded = {0x81, 0x80, 0x00};  // 1, written in three bytes (protobuf accepts it)
  const auto r = decodeVarint32(padded);
  EXPECT_EQ(r.status, VarintStatus::ok);
  EXPECT_EQ(r.value, 1u);
  EXPECT_EQ(r.length, 3u);
}

// ---- encoder ----

TEST(FrameEncoderTest, EncodedSizeIsPrefixPlusPayload) {
  EXPECT_EQ(FrameEncoder::encodedSize(0), 1u);
  EXPECT_EQ(FrameEncoder::encodedSize(127), 128u);
  EXPECT_EQ(FrameEncoder::encodedSize(128), 130u);
  EXPECT_THROW(FrameEncoder::encodedSize(std::size_t{1} << 32), std::length_error);
}

TEST(FrameEncoderTest, StringAndVectorEncodingsAgreeAndAppend) {
  std::string s = "x";
  FrameEncoder::encode(std::string_view("abc"), s);
  EXPECT_EQ(s, std::string("x\x03"
                           "abc"));
  Bytes v = {0xEE};
  const Bytes payload(200, 0x41);
  FrameEncoder::encode(std::span<const std::uint8_t>(payload), v);
  ASSERT_EQ(v.size(), 1u + 2u + 200u);
  EXPECT_EQ(v[1], 0xC8);  // 200 = 0b1'1001000
  EXPECT_EQ(v[2], 0x01);
}

TEST(FrameEncoderTest, ByteBufferEncodingIsAllOrNothing) {
  const Bytes payload = {1, 2, 3};
  auto small = ByteBuffer::allocate(3);
  EXPECT_THROW(FrameEncoder::encode(std::span<const std::uint8_t>(payload), small),
               BufferOverflowException);
  EXPECT_EQ(small.position(), 0u);
  auto fits = ByteBuffer::allocate(4);
  FrameEncoder::encode(std::span<const std::uint8_t>(payload), fits);
  EXPECT_EQ(fits.position(), 4u);
  EXPECT_EQ(fits.get(0), 3u);
}

// ---- decoder ----

TEST(FrameDecoderTest, EmptyFrameIsDeliveredAsEmptySpan) {
  const Bytes wire = encodeAll({"", "a", ""});
  const auto d = feedWhole(wire);
  EXPECT_FALSE(d.error);
  EXPECT_EQ(d.frames, (std::vector<std::string>{"", "a", ""}));
}

TEST(FrameDecoderTest, SeveralFramesInOneFeed) {
  const std::vector<std::string> payloads = {"one", "two", std::string(300, 'z'), "four"};
  const auto d = feedWhole(encodeAll(payloads));
  EXPECT_FALSE(d.error);
  EXPECT_EQ(d.frames, payloads);
}

TEST(FrameDecoderTest, SplitAtEveryOffsetGivesIdenticalFrames) {
  const std::vector<std::string> payloads = {"hello", "", std::string(200, 'q'), "x"};
  const Bytes wire = encodeAll(payloads);
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    FrameDecoder d;
    const auto out = feedInPieces(d, wire, {cut});
    EXPECT_FALSE(out.error) << "cut " << cut;
    EXPECT_EQ(out.frames, payloads) << "cut " << cut;
    EXPECT_EQ(d.buffered(), 0u);
  }
  // And every pair of cuts, which puts a whole frame between two partial ones.
  for (std::size_t a = 0; a <= wire.size(); a += 3) {
    for (std::size_t b = a; b <= wire.size(); b += 5) {
      FrameDecoder d;
      EXPECT_EQ(feedInPieces(d, wire, {a, b}).frames, payloads) << a << "," << b;
    }
  }
}

TEST(FrameDecoderTest, OneByteAtATimeGivesIdenticalFrames) {
  const std::vector<std::string> payloads = {"a", std::string(16384, 'b'), "", "cd"};
  const Bytes wire = encodeAll(payloads);
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < wire.size(); ++i)
    cuts.push_back(i);
  FrameDecoder d;
  const auto out = feedInPieces(d, wire, cuts);
  EXPECT_FALSE(out.error);
  EXPECT_EQ(out.frames, payloads);
}

TEST(FrameDecoderTest, WholeFramesAreViewsIntoTheInput) {
  const Bytes wire = encodeAll({"abc", "defg"});
  FrameDecoder d;
  std::vector<const std::uint8_t*> starts;
  d.feed(std::span<const std::uint8_t>(wire),
         [&](std::span<const std::uint8_t> f) { starts.push_back(f.data()); });
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0], wire.data() + 1);
  EXPECT_EQ(starts[1], wire.data() + 5);
}

TEST(FrameDecoderTest, OnlyTheSplitFrameIsCopied) {
  const Bytes wire = encodeAll({"abc", "defg", "hi"});  // 4 + 5 + 3 bytes
  FrameDecoder d;
  std::vector<const std::uint8_t*> starts;
  auto collect = [&](std::span<const std::uint8_t> f) { starts.push_back(f.data()); };
  d.feed(std::span(wire).first(2), collect);  // "abc" split
  EXPECT_EQ(d.buffered(), 2u);
  d.feed(std::span(wire).subspan(2), collect);
  ASSERT_EQ(starts.size(), 3u);
  EXPECT_NE(starts[0], wire.data() + 1);  // reassembled inside the decoder
  EXPECT_EQ(starts[1], wire.data() + 5);  // the rest are views again
  EXPECT_EQ(starts[2], wire.data() + 10);
}

TEST(FrameDecoderTest, ScanReportsConsumedBytesOfCompleteFramesOnly) {
  const Bytes wire = encodeAll({"abc", "de"});  // 4 + 3 bytes
  FrameDecoder d;
  std::vector<std::string> frames;
  auto collect = [&](std::span<const std::uint8_t> f) { frames.push_back(text(f)); };
  for (std::size_t n = 0; n <= wire.size(); ++n) {
    frames.clear();
    const auto r = d.scan(std::span(wire).first(n), collect);
    EXPECT_FALSE(r.error);
    const std::size_t expected = n < 4 ? 0 : n < 7 ? 4 : 7;
    EXPECT_EQ(r.consumed, expected) << "n=" << n;
    EXPECT_EQ(frames.size(), n < 4 ? 0u : n < 7 ? 1u : 2u);
  }
}

TEST(FrameDecoderTest, ScanStopsWhenCallbackReturnsFalse) {
  const Bytes wire = encodeAll({"a", "b", "c"});
  FrameDecoder d;
  int calls = 0;
  const auto r = d.scan(wire, [&](std::span<const std::uint8_t>) { return ++calls < 2; });
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(r.consumed, 4u);  // the frame that said "stop" counts as consumed
}

TEST(FrameDecoderTest, ScanReportsErrorAfterGoodFrames) {
  Bytes wire = encodeAll({"ok"});
  const Bytes bad = {0x80, 0x80, 0x80, 0x80, 0x80};
  wire.insert(wire.end(), bad.begin(), bad.end());
  FrameDecoder d;
  int frames = 0;
  const auto r = d.scan(wire, [&](std::span<const std::uint8_t>) { ++frames; });
  EXPECT_EQ(frames, 1);
  EXPECT_EQ(r.consumed, 3u);
  EXPECT_EQ(r.error, Error::malformed_frame);
}

TEST(FrameDecoderTest, FeedBackpressureHoldsTheRestForTheNextFeed) {
  const Bytes wire = encodeAll({"a", "b", "c"});
  FrameDecoder d;
  std::vector<std::string> frames;
  bool accept = false;
  auto gate = [&](std::span<const std::uint8_t> f) {
    frames.push_back(text(f));
    return accept;
  };
  EXPECT_FALSE(d.feed(std::span<const std::uint8_t>(wire), gate));
  EXPECT_EQ(frames, (std::vector<std::string>{"a"}));
  EXPECT_EQ(d.buffered(), 4u);
  accept = true;
  EXPECT_FALSE(d.feed(std::span<const std::uint8_t>{}, gate));  // an empty feed delivers them
  EXPECT_EQ(frames, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameDecoderTest, OversizedPrefixIsReportedBeforeThePayloadArrives) {
  FrameDecoder d(100);
  std::uint8_t prefix[kMaxVarint32Bytes];
  const std::size_t n = encodeVarint32(101, prefix);
  int frames = 0;
  const auto ec = d.feed(std::span<const std::uint8_t>(prefix, n), [&](auto) { ++frames; });
  EXPECT_EQ(ec, Error::frame_too_large);
  EXPECT_EQ(frames, 0);
  EXPECT_TRUE(d.failed());
}

TEST(FrameDecoderTest, OversizedPrefixIsReportedBeforeThePrefixEnds) {
  // 0xFF 0xFF: the low 14 bits are already 16383 > 1000, whatever follows.
  FrameDecoder d(1000);
  const Bytes partial = {0xFF, 0xFF};
  EXPECT_EQ(d.feed(std::span<const std::uint8_t>(partial), [](auto) {}), Error::frame_too_large);
}

TEST(FrameDecoderTest, FrameOfExactlyMaxSizeIsAccepted) {
  const std::string payload(100, 'm');
  const auto out = feedWhole(encodeAll({payload}), 100);
  EXPECT_FALSE(out.error);
  ASSERT_EQ(out.frames.size(), 1u);
  EXPECT_EQ(out.frames[0], payload);
  EXPECT_EQ(feedWhole(encodeAll({payload + "!"}), 100).error, Error::frame_too_large);
}

TEST(FrameDecoderTest, ZeroMaxFrameSizeAllowsOnlyEmptyFrames) {
  EXPECT_EQ(feedWhole(encodeAll({"", ""}), 0).frames.size(), 2u);
  const auto out = feedWhole(encodeAll({"", "x"}), 0);
  EXPECT_EQ(out.frames.size(), 1u);
  EXPECT_EQ(out.error, Error::frame_too_large);
}

TEST(FrameDecoderTest, BufferedCountsOnlyBytesReceivedNotTheDeclaredLength) {
  FrameDecoder d(SIZE_MAX);
  const Bytes prefix = {0xFF, 0xFF, 0xFF, 0xFF, 0x0F};  // declares 4 GiB
  EXPECT_FALSE(d.feed(std::span<const std::uint8_t>(prefix), [](auto) {}));
  EXPECT_EQ(d.buffered(), 5u);
}

TEST(FrameDecoderTest, SixByteVarintIsMalformed) {
  const Bytes wire = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  EXPECT_EQ(feedWhole(wire).error, Error::malformed_frame);
  // Byte at a time: the error comes with the fifth byte, no sixth needed.
  FrameDecoder d;
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_FALSE(d.feed(std::span(wire).subspan(i, 1), [](auto) {})) << i;
  }
  EXPECT_EQ(d.feed(std::span(wire).subspan(4, 1), [](auto) {}), Error::malformed_frame);
}

TEST(FrameDecoderTest, FiveByteVarintWiderThan32BitsIsMalformed) {
  const Bytes wire = {0x80, 0x80, 0x80, 0x80, 0x10};
  EXPECT_EQ(feedWhole(wire, SIZE_MAX).error, Error::malformed_frame);
}

TEST(FrameDecoderTest, FailedDecoderStaysFailedUntilReset) {
  FrameDecoder d;
  const Bytes bad = {0x80, 0x80, 0x80, 0x80, 0x80};
  ASSERT_EQ(d.feed(std::span<const std::uint8_t>(bad), [](auto) {}), Error::malformed_frame);
  const Bytes good = encodeAll({"fine"});
  int frames = 0;
  EXPECT_EQ(d.feed(std::span<const std::uint8_t>(good), [&](auto) { ++frames; }),
            Error::malformed_frame);
  EXPECT_EQ(frames, 0);
  EXPECT_EQ(d.error(), Error::malformed_frame);
  d.reset();
  EXPECT_FALSE(d.failed());
  EXPECT_FALSE(d.feed(std::span<const std::uint8_t>(good), [&](auto) { ++frames; }));
  EXPECT_EQ(frames, 1);
}

TEST(FrameDecoderTest, ResetDiscardsBufferedPartialFrame) {
  const Bytes wire = encodeAll({"abcdef"});
  FrameDecoder d;
  d.feed(std::span(wire).first(3), [](auto) {});
  EXPECT_EQ(d.buffered(), 3u);
  d.reset();
  EXPECT_EQ(d.buffered(), 0u);
  EXPECT_EQ(feedInPieces(d, wire, {}).frames, std::vector<std::string>{"abcdef"});
}

TEST(FrameDecoderTest, ErrorInSplitStreamMatchesWholeStream) {
  Bytes wire = encodeAll({"a", "bc"});
  const Bytes bad = {0xFF, 0xFF, 0xFF, 0xFF, 0x1F};
  wire.insert(wire.end(), bad.begin(), bad.end());
  const auto whole = feedWhole(wire, SIZE_MAX);
  EXPECT_EQ(whole.error, Error::malformed_frame);
  EXPECT_EQ(whole.frames.size(), 2u);
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    FrameDecoder d(SIZE_MAX);
    EXPECT_EQ(feedInPieces(d, wire, {cut}), whole) << "cut " << cut;
  }
}

TEST(FrameDecoderTest, StringViewFeedDecodesTextWire) {
  std::string wire;
  FrameEncoder::encode(std::string_view("ping"), wire);
  FrameDecoder d;
  std::string got;
  EXPECT_FALSE(
      d.feed(std::string_view(wire), [&](std::span<const std::uint8_t> f) { got = text(f); }));
  EXPECT_EQ(got, "ping");
}

}  // namespace
}  // namespace nioxx
