// Helpers for the demo unit tests: feeding a FramedSession and decoding its hello replies.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "hello.pb.h"
#include "nioxx/core/frame_codec.h"
#include "nioxx/server/framed_session.h"

namespace nioxx::demo {
// The session is the server layer's; the demo tests drive it with the hello protocol.
using server::FramedSession;
using server::ServerStats;
using server::SessionLimits;
}  // namespace nioxx::demo

namespace nioxx::demo::testing {

// Reads bytes into the session the way the I/O glue does, in pieces of at most step bytes.
// Returns how many bytes the session accepted before it stopped wanting input.
// How the glue hands input to the session: into its own buffer (readSpace/commitRead) or from a
// buffer of the glue's (feed(), whenever the session holds no input), as the server glues do.
enum class InputPath { session_buffer, fed };

inline std::size_t feed(FramedSession& s, std::string_view bytes, std::size_t step = SIZE_MAX,
                        InputPath path = InputPath::session_buffer) {
  std::size_t done = 0;
  while (done < bytes.size() && s.wantsRead()) {
    if (path == InputPath::fed && s.inputEmpty()) {
      const std::size_t n = std::min({FramedSession::kReadChunk, step, bytes.size() - done});
      std::vector<std::uint8_t> scratch(bytes.begin() + done, bytes.begin() + done + n);
      s.feed(scratch);
      std::fill(scratch.begin(), scratch.end(), 0xEE);  // the session must not keep a view of it
      done += n;
      continue;
    }
    auto space = s.readSpace();
    const std::size_t n = std::min({space.size(), step, bytes.size() - done});
    std::memcpy(space.data(), bytes.data() + done, n);
    s.commitRead(n);
    done += n;
  }
  return done;
}

// Takes every pending output byte, as a writer that always keeps up would.
inline std::string drain(FramedSession& s) {
  std::string all;
  while (s.hasOutput()) {
    auto next = s.nextOutput();
    all.append(reinterpret_cast<const char*>(next.data()), next.size());
    s.consumeOutput(next.size());
  }
  return all;
}

// Splits a byte stream of framed HelloReply messages; fails the test on a trailing fragment.
inline std::vector<hello::HelloReply> parseReplies(std::string_view bytes,
                                                   std::size_t maxFrame = 1 << 20) {
  std::vector<hello::HelloReply> replies;
  FrameDecoder decoder(maxFrame);
  const auto scan = decoder.scan(
      std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()),
      [&](std::span<const std::uint8_t> frame) {
        hello::HelloReply reply;
        EXPECT_TRUE(reply.ParseFromArray(frame.data(), static_cast<int>(frame.size())));
        replies.push_back(std::move(reply));
      });
  EXPECT_FALSE(scan.error);
  EXPECT_EQ(scan.consumed, bytes.size()) << "a reply was cut off";
  return replies;
}

// Raw framed payload (no protobuf involved): lets tests build bad requests.
inline std::string frame(std::string_view payload) {
  std::string out;
  FrameEncoder::encode(payload, out);
  return out;
}

}  // namespace nioxx::demo::testing
