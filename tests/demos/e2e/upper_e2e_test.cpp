// End-to-end: the second demo (upper_server) reuses the skeleton in both modes.
#include <gtest/gtest.h>

#include "e2e_support.h"
#include "nioxx/core/frame_codec.h"

namespace nioxx::demo::e2e {
namespace {

std::string framed(std::string_view text) {
  std::string out;
  FrameEncoder::encode(text, out);
  return out;
}

std::vector<std::string> frames(const std::string& bytes) {
  std::vector<std::string> out;
  FrameDecoder(1 << 20).scan(
      std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()),
      [&](std::span<const std::uint8_t> f) {
        out.emplace_back(reinterpret_cast<const char*>(f.data()), f.size());
      });
  return out;
}

class UpperE2ETest : public ::testing::TestWithParam<std::string> {};

// Pipelined frames come back uppercased, in order; a frame over --max-frame gets "ERROR: ..."
// after them, then a clean close.
TEST_P(UpperE2ETest, UppercasesThenRejectsOversizedFrame) {
  ServerProcess server({"--mode", GetParam(), "--max-frame", "64"}, UPPER_SERVER_PATH);
  RawClient c(server.port());
  c.send(framed("hello") + framed("Zoë, mixed Case 123") + framed("") +
         framed(std::string(65, 'x')));
  std::string got;
  EXPECT_EQ(c.readToEnd(got), RawClient::End::eof);
  const auto replies = frames(got);
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies[0], "HELLO");
  EXPECT_EQ(replies[1], "ZOë, MIXED CASE 123");
  EXPECT_EQ(replies[2], "");
  EXPECT_EQ(replies[3].rfind("ERROR: frame too large", 0), 0u) << replies[3];
  EXPECT_EQ(server.terminate(), 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, UpperE2ETest,
                         ::testing::Values("reactor", "proactor", "coroutine"));

}  // namespace
}  // namespace nioxx::demo::e2e
