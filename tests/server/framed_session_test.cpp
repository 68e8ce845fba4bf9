// FramedSession under every framing: the same requests give the same replies however the input
// is cut and whichever way the glue hands it over; the limits give one error reply and a close.
#include "nioxx/server/framed_session.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "server_test_util.h"

namespace nioxx::server {
namespace {

using testing::drain;
using testing::InputPath;
using testing::NamedFraming;

// Echoes each request; "QUIT" is answered "BYE" and ends the connection, "BAD" is bad input.
class EchoService final : public FrameService {
 public:
  bool onFrame(std::span<const std::uint8_t> payload, Replies& out) override {
    const std::string_view text(reinterpret_cast<const char*>(payload.data()), payload.size());
    if (text == "BAD") {
      appendError("bad request", out);
      return false;
    }
    if (text == "QUIT") {
      out.append("BYE");
      out.closeAfter();
      return true;
    }
    out.append(payload);
    return true;
  }
  void appendError(std::string_view reason, Replies& out) override {
    out.append("ERR " + std::string(reason));
  }
};

constexpr std::size_t kMax = 100;

class FramedSessionFramingTest
    : public ::testing::TestWithParam<std::tuple<NamedFraming, InputPath>> {
 protected:
  const Framing& framing() const { return std::get<0>(GetParam()).framing; }
  InputPath path() const { return std::get<1>(GetParam()); }

  FramedSession make(ServerStats* stats = nullptr, std::size_t outputCap = 1 << 20) {
    return FramedSession(std::make_unique<EchoService>(), {kMax, outputCap}, stats, framing());
  }
  std::size_t feed(FramedSession& s, std::string_view bytes, std::size_t step = SIZE_MAX) {
    return testing::feed(s, bytes, step, path());
  }
  std::string wire(std::initializer_list<std::string_view> payloads) const {
    std::string out;
    for (auto p : payloads)
      framing().append(p, out);
    return out;
  }
};

TEST_P(FramedSessionFramingTest, AnswersTheSameWhereverTheInputIsCut) {
  const std::string in = wire({"alpha", "", std::string(kMax, 'm'), "omega"});
  for (std::size_t cut = 0; cut <= in.size(); ++cut) {
    auto s = make();
    feed(s, in.substr(0, cut));
    std::string out = drain(s);
    feed(s, in.substr(cut));
    out += drain(s);
    ASSERT_EQ(out, in) << "cut at " << cut;  // an echo: replies framed as the requests were
    ASSERT_EQ(s.requests(), 4u);
    ASSERT_FALSE(s.closing());
  }
}

TEST_P(FramedSessionFramingTest, AnswersByteByByteInput) {
  const std::string in = wire({"one", "two", "three"});
  auto s = make();
  feed(s, in, 1);
  EXPECT_EQ(drain(s), in);
}

TEST_P(FramedSessionFramingTest, AFrameOverTheLimitGetsOneErrorReplyAfterTheEarlierOnes) {
  const std::string in = wire({"first", std::string(kMax + 1, 'x'), "never"});
  for (std::size_t step : {std::size_t{1}, std::size_t{7}, in.size()}) {
    auto s = make();
    feed(s, in, step);
    const std::string out = drain(s);
    const std::string error =
        framing().kind() == Framing::Kind::line
            ? wire({"ERR line too long: more than 100 bytes without an end of line"})
            : wire({"ERR frame too large: declared length 101 exceeds the limit of 100 bytes"});
    EXPECT_EQ(out, wire({"first"}) + error) << "step " << step;
    EXPECT_TRUE(s.failed());
    EXPECT_TRUE(s.shouldClose());
    EXPECT_FALSE(s.wantsRead());
  }
}

TEST_P(FramedSessionFramingTest, BadInputGetsTheServicesErrorAndACountedClose) {
  ServerStats stats;
  auto s = make(&stats);
  feed(s, wire({"ok", "BAD", "after"}));
  EXPECT_EQ(drain(s), wire({"ok", "ERR bad request"}));
  EXPECT_TRUE(s.failed());
  EXPECT_TRUE(s.shouldClose());
  EXPECT_EQ(ServerStats::get(stats.errors), 1u);
}

TEST_P(FramedSessionFramingTest, CloseAfterEndsTheConnectionWithoutAnError) {
  ServerStats stats;
  auto s = make(&stats);
  feed(s, wire({"hi", "QUIT", "ignored"}));
  EXPECT_EQ(drain(s), wire({"hi", "BYE"}));
  EXPECT_TRUE(s.shouldClose());
  EXPECT_FALSE(s.failed());
  EXPECT_EQ(ServerStats::get(stats.errors), 0u);
  EXPECT_EQ(s.requests(), 2u);
}

TEST_P(FramedSessionFramingTest, ATruncatedFrameAtEndOfInputGetsAnErrorReply) {
  const std::string in = wire({"whole", "cut short"});
  auto s = make();
  feed(s, in.substr(0, in.size() - 2));
  s.endOfInput();
  const std::string out = drain(s);
  EXPECT_EQ(out.substr(0, wire({"whole"}).size()), wire({"whole"}));
  EXPECT_NE(out.find("ERR truncated frame"), std::string::npos);
  EXPECT_TRUE(s.shouldClose());
}

TEST_P(FramedSessionFramingTest, TheOutputCapHoldsInputBackUntilTheRepliesAreWritten) {
  auto s = make(nullptr, /*outputCap=*/16);
  const std::string in = wire({"0123456789", "abcdefghij", "ABCDEFGHIJ", "9876543210"});
  feed(s, in);
  EXPECT_TRUE(s.paused());
  EXPECT_FALSE(s.wantsRead());
  EXPECT_EQ(drain(s), in);  // writing resumes the decoding of what was held back
  EXPECT_EQ(s.requests(), 4u);
}

TEST_P(FramedSessionFramingTest, CountsOutputPendingUntilWrittenOrDropped) {
  ServerStats stats;
  {
    auto s = make(&stats);
    feed(s, wire({"one", "two"}));
    const std::size_t produced = wire({"one", "two"}).size();
    EXPECT_EQ(stats.outputPending.value(), static_cast<std::int64_t>(produced));
    const auto next = s.nextOutput();
    s.consumeOutput(next.size() - 1);
    EXPECT_EQ(stats.outputPending.value(), 1);
    EXPECT_EQ(ServerStats::get(stats.bytesOut), produced - 1);
    feed(s, wire({"three"}));  // the connection then ends with replies unwritten
  }
  EXPECT_EQ(stats.outputPending.value(), 0);
}

TEST_P(FramedSessionFramingTest, RepliesHandedToTheGluesQueueStayPendingUntilWritten) {
  ServerStats stats;
  auto s = make(&stats);
  feed(s, wire({"queued"}));
  const std::string out = s.takeOutput();
  EXPECT_EQ(stats.outputPending.value(), static_cast<std::int64_t>(out.size()));
  s.outputWritten(out.size());
  EXPECT_EQ(stats.outputPending.value(), 0);
  EXPECT_EQ(ServerStats::get(stats.bytesOut), out.size());
}

INSTANTIATE_TEST_SUITE_P(AllFramings, FramedSessionFramingTest,
                         ::testing::Combine(::testing::ValuesIn(testing::framings()),
                                            ::testing::Values(InputPath::session_buffer,
                                                              InputPath::fed)),
                         [](const auto& info) {
                           return std::get<0>(info.param).name +
                                  (std::get<1>(info.param) == InputPath::fed ? "_fed"
                                                                             : "_session_buffer");
                         });

TEST(FramedSession, DefaultsToVarintFraming) {
  FramedSession s(std::make_unique<EchoService>(), {}, nullptr);
  std::string in;
  FrameEncoder::encode("protobuf-style", in);
  testing::feed(s, in, SIZE_MAX, InputPath::session_buffer);
  EXPECT_EQ(drain(s), in);
}

// The proactive and coroutine glues write straight from next() (one write in flight): what is
// appended meanwhile lands in the other buffer, and a steady read/write cycle swaps the same two
// buffers back and forth instead of allocating per write.
TEST(OutputBuffer, WriteCyclesReuseTheSameTwoBuffers) {
  OutputBuffer b;
  const std::string reply(100, 'r');  // on the heap, not in the small-string buffer
  std::vector<const std::uint8_t*> fronts;
  for (int cycle = 0; cycle < 4; ++cycle) {
    b.back() += reply;
    const auto out = b.next();
    ASSERT_EQ(out.size(), reply.size());
    b.back() += "appended while the write is in flight";
    EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(out.data()), out.size()), reply);
    fronts.push_back(out.data());
    b.consume(out.size());
    const auto rest = b.next();
    EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(rest.data()), rest.size()),
              "appended while the write is in flight");
    b.consume(rest.size());
    EXPECT_TRUE(b.empty());
  }
  EXPECT_EQ(fronts[0], fronts[1]);
  EXPECT_EQ(fronts[1], fronts[2]);
  EXPECT_EQ(fronts[2], fronts[3]);
}

}  // namespace
}  // namespace nioxx::server
