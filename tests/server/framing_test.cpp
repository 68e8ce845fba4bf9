// Framing on its own: every framing finds the frames it wrote, wherever the stream is split, and
// reports frames over the limit as soon as that is knowable.
#include "nioxx/server/framing.h"

#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "server_test_util.h"

namespace nioxx::server {
namespace {

using testing::bytesOf;
using testing::framings;
using testing::NamedFraming;

constexpr std::size_t kMaxFrame = 64;

// Scans a stream handed over in two parts, as a session does: what a scan leaves is kept and the
// next part is appended behind it.
struct Split {
  std::vector<std::string> frames;
  FramingScan last;
};
Split scanInTwo(const Framing& framing, std::string_view wire, std::size_t at) {
  Split out;
  std::string held;
  for (std::string_view part : {wire.substr(0, at), wire.substr(at)}) {
    held.append(part);
    out.last = framing.scan(bytesOf(held), kMaxFrame, [&](std::span<const std::uint8_t> frame) {
      out.frames.emplace_back(reinterpret_cast<const char*>(frame.data()), frame.size());
    });
    if (out.last.error) return out;
    held.erase(0, out.last.consumed);
  }
  return out;
}

class FramingTest : public ::testing::TestWithParam<NamedFraming> {
 protected:
  const Framing& framing() const { return GetParam().framing; }
};

TEST_P(FramingTest, FindsEveryFrameAtEverySplitPoint) {
  // Empty, short, exactly the limit, and (lines aside) bytes that look like delimiters.
  std::vector<std::string> payloads = {
      "",    "a", "hello, nioxx", std::string(kMaxFrame, 'x'), std::string(kMaxFrame - 1, 'y'),
      "tail"};
  if (framing().kind() != Framing::Kind::line) payloads.push_back(std::string("a\nb\r\n\0c", 7));
  std::string wire;
  for (const auto& p : payloads)
    framing().append(p, wire);
  for (std::size_t at = 0; at <= wire.size(); ++at) {
    const Split got = scanInTwo(framing(), wire, at);
    ASSERT_FALSE(got.last.error) << "split at " << at;
    ASSERT_EQ(got.frames, payloads) << "split at " << at;
  }
}

TEST_P(FramingTest, AFrameOverTheLimitIsAnErrorWhereverTheStreamIsSplit) {
  std::string wire;
  framing().append("first", wire);
  framing().append(std::string(kMaxFrame + 1, 'z'), wire);
  for (std::size_t at = 0; at <= wire.size(); ++at) {
    const Split got = scanInTwo(framing(), wire, at);
    ASSERT_EQ(got.last.error, Error::frame_too_large) << "split at " << at;
    ASSERT_EQ(got.frames, std::vector<std::string>{"first"}) << "split at " << at;
  }
}

TEST_P(FramingTest, AnOversizedFrameIsRefusedBeforeItsPayloadArrives) {
  std::string wire;
  framing().append(std::string(kMaxFrame + 1, 'z'), wire);
  // A prefix declares the length up front; a line is known too long once the limit (and a '\r')
  // has passed without an end of line.
  const std::size_t knowable = framing().kind() == Framing::Kind::line
                                   ? kMaxFrame + (framing().stripsCr() ? 2 : 1)
                               : framing().overhead() == 5 ? 1
                                                           : framing().prefixBytes();
  const auto scan = framing().scan(bytesOf(wire).first(knowable), kMaxFrame,
                                   [](std::span<const std::uint8_t>) { FAIL() << "no frame"; });
  EXPECT_EQ(scan.error, Error::frame_too_large);
  EXPECT_NE(framing().describe(scan, kMaxFrame).find(std::to_string(kMaxFrame)), std::string::npos);
}

TEST_P(FramingTest, ReportsTheSizeOfTheIncompleteFrameOnceItsHeaderIsIn) {
  std::string wire;
  framing().append(std::string(40, 'q'), wire);
  const auto scan = framing().scan(bytesOf(wire).first(wire.size() - 1), kMaxFrame,
                                   [](std::span<const std::uint8_t>) { FAIL() << "no frame"; });
  EXPECT_FALSE(scan.error);
  EXPECT_EQ(scan.consumed, 0u);
  // Lines carry no length: the caller cannot know (0), and must not reserve for it.
  EXPECT_EQ(scan.needed, framing().kind() == Framing::Kind::line ? 0 : wire.size());
}

TEST_P(FramingTest, ACallbackReturningFalseStopsAfterThatFrame) {
  std::string wire;
  for (const char* p : {"one", "two", "three"})
    framing().append(p, wire);
  int seen = 0;
  const auto scan = framing().scan(bytesOf(wire), kMaxFrame,
                                   [&](std::span<const std::uint8_t>) { return ++seen < 2; });
  EXPECT_EQ(seen, 2);
  std::string firstTwo;
  framing().append("one", firstTwo);
  framing().append("two", firstTwo);
  EXPECT_EQ(scan.consumed, firstTwo.size());
}

TEST_P(FramingTest, InPlaceRepliesEqualCopiedOnes) {
  std::string copied;
  framing().append("in place", copied);
  std::string filled;
  framing().append(
      8, [](std::uint8_t* at) { std::memcpy(at, "in place", 8); }, filled);
  EXPECT_EQ(filled, copied);
}

INSTANTIATE_TEST_SUITE_P(AllFramings, FramingTest, ::testing::ValuesIn(framings()),
                         [](const auto& info) { return info.param.name; });

TEST(VarintFraming, IsProtobufsLengthDelimitedForm) {
  std::string ours;
  Framing::varint().append(std::string(300, 'p'), ours);
  std::string reference;
  FrameEncoder::encode(std::string(300, 'p'), reference);
  EXPECT_EQ(ours, reference);
  EXPECT_EQ(Framing().kind(), Framing::Kind::varint);  // the default
}

TEST(VarintFraming, ASixByteVarintIsMalformed) {
  const std::string wire = "\x80\x80\x80\x80\x80\x01";
  const auto scan = Framing::varint().scan(bytesOf(wire), kMaxFrame, [](auto) {});
  EXPECT_EQ(scan.error, Error::malformed_frame);
  EXPECT_EQ(Framing::varint().describe(scan, kMaxFrame),
            "malformed frame: the length prefix is not a valid varint32 (longer than 5 bytes)");
}

TEST(LengthPrefixedFraming, IsBigEndian) {
  std::string two;
  Framing::lengthPrefixed(2).append(std::string(0x0102, 'b'), two);
  EXPECT_EQ(two.substr(0, 2), std::string("\x01\x02", 2));
  std::string four;
  Framing::lengthPrefixed(4).append("abc", four);
  EXPECT_EQ(four, std::string("\0\0\0\3abc", 7));
}

TEST(LengthPrefixedFraming, RefusesPrefixSizesOtherThanTwoAndFour) {
  EXPECT_THROW(Framing::lengthPrefixed(3), std::invalid_argument);
  EXPECT_THROW(Framing::lengthPrefixed(8), std::invalid_argument);
}

TEST(LengthPrefixedFraming, AReplyTooLongForItsPrefixThrows) {
  std::string out;
  EXPECT_THROW(Framing::lengthPrefixed(2).append(std::string(65536, 'l'), out), std::length_error);
  EXPECT_TRUE(out.empty());
}

TEST(LineFraming, StripsCarriageReturnsOnlyWhenAsked) {
  const std::string wire = "a\r\nb\n\r\n";
  std::vector<std::string> stripped;
  std::vector<std::string> kept;
  Framing::lines(true).scan(bytesOf(wire), kMaxFrame, [&](std::span<const std::uint8_t> f) {
    stripped.emplace_back(reinterpret_cast<const char*>(f.data()), f.size());
  });
  Framing::lines(false).scan(bytesOf(wire), kMaxFrame, [&](std::span<const std::uint8_t> f) {
    kept.emplace_back(reinterpret_cast<const char*>(f.data()), f.size());
  });
  EXPECT_EQ(stripped, (std::vector<std::string>{"a", "b", ""}));
  EXPECT_EQ(kept, (std::vector<std::string>{"a\r", "b", "\r"}));
}

TEST(LineFraming, TheLimitCountsTheLineWithoutItsEnd) {
  const std::string atLimit = std::string(kMaxFrame, 'x') + "\r\n";
  int lines = 0;
  const auto ok = Framing::lines(true).scan(bytesOf(atLimit), kMaxFrame, [&](auto) { ++lines; });
  EXPECT_FALSE(ok.error);
  EXPECT_EQ(lines, 1);
  // Without stripping, the '\r' is part of the line: one byte over.
  const auto over = Framing::lines(false).scan(bytesOf(atLimit), kMaxFrame, [&](auto) { ++lines; });
  EXPECT_EQ(over.error, Error::frame_too_large);
  EXPECT_EQ(Framing::lines(false).describe(over, kMaxFrame),
            "line too long: more than 64 bytes without an end of line");
}

TEST(LineFraming, AnIncompleteLineIsSearchedOnlyOnce) {
  const Framing lines = Framing::lines();
  const auto first =
      lines.scan(bytesOf("GET ke"), kMaxFrame, [](auto) { FAIL() << "no line yet"; });
  EXPECT_EQ(first.searched, 6u);
  // The hint says where to go on: the bytes already searched are not searched again (a '\n'
  // planted there is not seen: the hint is trusted), the new ones are.
  std::vector<std::string> got;
  const auto second = lines.scan(
      bytesOf("GET\nkey\nnext"), kMaxFrame,
      [&](std::span<const std::uint8_t> f) {
        got.emplace_back(reinterpret_cast<const char*>(f.data()), f.size());
      },
      first.searched);
  EXPECT_EQ(got, std::vector<std::string>{"GET\nkey"});
  EXPECT_EQ(second.consumed, 8u);
  EXPECT_EQ(second.searched, 4u);  // "next", for the scan after this one
}

TEST(LineFraming, RepliesEndInANewline) {
  std::string out;
  Framing::lines().append("OK", out);
  EXPECT_EQ(out, "OK\n");
}

}  // namespace
}  // namespace nioxx::server
