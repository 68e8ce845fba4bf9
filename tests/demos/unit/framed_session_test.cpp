// FramedSession + HelloService: the protocol core shared by both server modes.
#include "nioxx/server/framed_session.h"

#include <gtest/gtest.h>

#include <string>

#include "hello/hello_service.h"
#include "hello_test_util.h"

namespace nioxx::demo {
namespace {

using testing::drain;
using testing::frame;
using testing::parseReplies;

class FramedSessionTest : public ::testing::TestWithParam<testing::InputPath> {
 protected:
  std::size_t feed(FramedSession& s, std::string_view bytes, std::size_t step = SIZE_MAX) {
    return testing::feed(s, bytes, step, GetParam());
  }

  static void SetUpTestSuite() { HelloService::routeProtobufLogs(); }

  static FramedSession make(SessionLimits limits = {}) {
    return FramedSession(HelloService::create(), limits, nullptr);
  }

  static std::string requests(int n, std::string_view name = "Alice", std::uint64_t firstSeq = 1) {
    std::string out;
    for (int i = 0; i < n; ++i)
      HelloService::appendRequest(name, firstSeq + i, out);
    return out;
  }

  // Asserts replies[i] greets name with seq firstSeq + i.
  static void expectGreetings(const std::vector<hello::HelloReply>& replies, std::size_t n,
                              std::string_view name = "Alice", std::uint64_t firstSeq = 1) {
    ASSERT_GE(replies.size(), n);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_EQ(replies[i].greeting(), HelloService::greeting(name)) << "reply " << i;
      EXPECT_EQ(replies[i].seq(), firstSeq + i) << "reply " << i;
      EXPECT_TRUE(replies[i].error().empty()) << "reply " << i;
    }
  }

  // Two valid requests then bad bytes in one read: two greetings, one error containing
  // `reason`, then the session wants to close and reads nothing more.
  void expectErrorAfterTwo(std::string_view bad, std::string_view reason,
                           SessionLimits limits = {}) {
    auto s = make(limits);
    feed(s, requests(2) + std::string(bad) + requests(1, "after", 9));
    EXPECT_FALSE(s.wantsRead());
    EXPECT_TRUE(s.failed());
    const auto replies = parseReplies(drain(s));
    ASSERT_EQ(replies.size(), 3u);
    expectGreetings(replies, 2);
    EXPECT_NE(replies[2].error().find(reason), std::string::npos) << replies[2].error();
    EXPECT_TRUE(replies[2].greeting().empty());
    EXPECT_TRUE(s.shouldClose());
    EXPECT_EQ(s.requests(), 2u);
  }
};

// One request, one greeting with the same seq; the connection stays open.
TEST_P(FramedSessionTest, AnswersOneRequest) {
  auto s = make();
  feed(s, requests(1, "Alice", 42));
  const auto replies = parseReplies(drain(s));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].greeting(), "Hello, Alice!");
  EXPECT_EQ(replies[0].seq(), 42u);
  EXPECT_TRUE(s.wantsRead());
  EXPECT_FALSE(s.shouldClose());
}

// 100 requests in one read are answered in order.
TEST_P(FramedSessionTest, AnswersPipelinedRequestsInOrder) {
  auto s = make();
  feed(s, requests(100));
  const auto replies = parseReplies(drain(s));
  ASSERT_EQ(replies.size(), 100u);
  expectGreetings(replies, 100);
}

// A stream split at every possible byte gives the same replies (prefixes of 1 and 2 bytes).
TEST_P(FramedSessionTest, SplitAtEveryByte) {
  std::string stream = requests(1, "Bob", 1);
  HelloService::appendRequest(std::string(300, 'x'), 2, stream);  // 2-byte length prefix
  HelloService::appendRequest("", 3, stream);
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    auto s = make();
    feed(s, std::string_view(stream).substr(0, cut));
    std::string out = drain(s);
    feed(s, std::string_view(stream).substr(cut));
    out += drain(s);
    const auto replies = parseReplies(out);
    ASSERT_EQ(replies.size(), 3u) << "cut at " << cut;
    EXPECT_EQ(replies[0].greeting(), "Hello, Bob!");
    EXPECT_EQ(replies[1].greeting(), HelloService::greeting(std::string(300, 'x')));
    EXPECT_EQ(replies[2].greeting(), "Hello, !");
    EXPECT_EQ(replies[2].seq(), 3u);
  }
}

// A request delivered one byte per read is answered once complete.
TEST_P(FramedSessionTest, OneByteAtATime) {
  auto s = make();
  const std::string stream = requests(3, "Zoë");
  feed(s, stream, 1);
  expectGreetings(parseReplies(drain(s)), 3, "Zoë");
}

// UTF-8 names (multi-byte, emoji), the empty name, a 10,000-byte name and an empty frame.
TEST_P(FramedSessionTest, NamesOfEveryShape) {
  for (const std::string& name :
       {std::string("Łukasz 李雷 🙂"), std::string(), std::string(10000, 'n')}) {
    auto s = make();
    feed(s, requests(1, name, 7));
    const auto replies = parseReplies(drain(s));
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_EQ(replies[0].greeting(), "Hello, " + name + "!");
    EXPECT_EQ(replies[0].seq(), 7u);
  }
  auto s = make();
  feed(s, frame(""));  // an empty HelloRequest: name "", seq 0
  const auto replies = parseReplies(drain(s));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].greeting(), "Hello, !");
  EXPECT_EQ(replies[0].seq(), 0u);
}

// A frame of exactly --max-frame bytes is fine; one more byte is refused.
TEST_P(FramedSessionTest, MaxFrameIsInclusive) {
  SessionLimits limits;
  limits.maxFrame = 1000;
  auto ok = make(limits);
  // A payload of exactly maxFrame bytes: name tag(1) + length(2) + name + seq tag(1) + seq(1).
  hello::HelloRequest r;
  r.set_name(std::string(1000 - 1 - 2 - 2, 'a'));
  r.set_seq(1);
  ASSERT_EQ(r.ByteSizeLong(), 1000u);
  feed(ok, frame(r.SerializeAsString()));
  auto replies = parseReplies(drain(ok));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0].error().empty());

  r.set_name(r.name() + "a");
  expectErrorAfterTwo(frame(r.SerializeAsString()), "frame too large: declared length 1001",
                      limits);
}

// Declared length over the limit: refused as soon as the prefix is in, before any payload.
TEST_P(FramedSessionTest, FrameTooLargeAnsweredBeforePayload) {
  expectErrorAfterTwo("\x80\x80\x80\x01", "exceeds the limit of 65536 bytes");  // 2^21
}

// A negative-looking / 5-byte maximal varint is just a huge length.
TEST_P(FramedSessionTest, HugeVarintIsTooLarge) {
  expectErrorAfterTwo("\xff\xff\xff\xff\x0f", "frame too large");
}

// A varint prefix longer than 5 bytes is malformed.
TEST_P(FramedSessionTest, SixByteVarintIsMalformed) {
  expectErrorAfterTwo("\x80\x80\x80\x80\x80\x01", "malformed frame");
}

// Bytes that are not protobuf wire format.
TEST_P(FramedSessionTest, GarbagePayloadIsRejected) {
  expectErrorAfterTwo(frame("\xff\xff\xff"), "not a valid HelloRequest");
}

// A truncated field inside a complete frame.
TEST_P(FramedSessionTest, TruncatedFieldIsRejected) {
  expectErrorAfterTwo(frame("\x0a\x05"
                            "ab"),
                      "not a valid HelloRequest");
}

// proto3 refuses a string field holding invalid UTF-8; the reason says so.
TEST_P(FramedSessionTest, InvalidUtf8NameIsRejected) {
  expectErrorAfterTwo(frame("\x0a\x02\xc3\x28"), "name is not valid UTF-8");
  expectErrorAfterTwo(frame("\x0a\x01\xff"), "name is not valid UTF-8");
}

// Unknown fields and an unknown wire type for a known number are tolerated (proto3 rules).
TEST_P(FramedSessionTest, UnknownFieldsAreIgnored) {
  auto s = make();
  // name="A" (field 1), field 7 varint 5, seq=3.
  feed(s, frame(std::string("\x0a\x01"
                            "A"
                            "\x38\x05"
                            "\x10\x03",
                            7)));
  const auto replies = parseReplies(drain(s));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].greeting(), "Hello, A!");
  EXPECT_EQ(replies[0].seq(), 3u);
}

// EOF on a frame boundary: everything answered, then close, no error.
TEST_P(FramedSessionTest, CleanEndOfInputClosesAfterReplies) {
  auto s = make();
  feed(s, requests(3));
  s.endOfInput();
  EXPECT_FALSE(s.wantsRead());
  EXPECT_FALSE(s.shouldClose());  // replies still queued
  const auto replies = parseReplies(drain(s));
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_TRUE(s.shouldClose());
  EXPECT_FALSE(s.failed());
}

// EOF inside a frame gets an error reply after the complete ones; a graceful stop drops it
// silently.
TEST_P(FramedSessionTest, EndOfInputInsideAFrame) {
  const std::string stream = requests(2) + requests(1).substr(0, 3);
  auto s = make();
  feed(s, stream);
  s.endOfInput();
  auto replies = parseReplies(drain(s));
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_NE(replies[2].error().find("truncated frame"), std::string::npos);
  EXPECT_TRUE(s.shouldClose());

  auto g = make();
  feed(g, stream);
  g.endOfInput(/*truncatedIsError=*/false);
  replies = parseReplies(drain(g));
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_TRUE(g.shouldClose());
  EXPECT_FALSE(g.failed());
}

// Output over the cap stops decoding and reading; draining resumes it; nothing is lost.
TEST_P(FramedSessionTest, OutputCapAppliesBackpressure) {
  SessionLimits limits;
  limits.outputCap = 200;
  auto s = make(limits);
  const std::string stream = requests(500);
  std::size_t fed = feed(s, stream);
  EXPECT_FALSE(s.wantsRead());
  EXPECT_LT(fed, stream.size());
  std::string out;
  int rounds = 0;
  while (fed < stream.size() || s.hasOutput()) {
    // The backlog never exceeds the cap by more than one reply.
    EXPECT_LE(s.pendingOutput(), limits.outputCap + 32);
    auto next = s.nextOutput();
    out.append(reinterpret_cast<const char*>(next.data()), next.size());
    s.consumeOutput(next.size());
    fed += feed(s, std::string_view(stream).substr(fed));
    ASSERT_LT(++rounds, 10000);
  }
  EXPECT_GT(rounds, 10);
  const auto replies = parseReplies(out);
  ASSERT_EQ(replies.size(), 500u);
  expectGreetings(replies, 500);
}

// The proactive glue's arrangement: replies leave the session (takeOutput) for a write queue of
// the framework, whose backlog counts against the cap; resume() continues once it drained.
TEST_P(FramedSessionTest, OutputBacklogElsewhereCountsAgainstTheCap) {
  SessionLimits limits;
  limits.outputCap = 200;
  auto s = make(limits);
  std::size_t queued = 0;  // the stand-in for socket.pendingWriteBytes()
  s.setOutputBacklog([](const void* q) { return *static_cast<const std::size_t*>(q); }, &queued);
  const std::string stream = requests(500);
  std::size_t fed = feed(s, stream);
  std::string out;
  int rounds = 0;
  while (fed < stream.size() || s.hasOutput() || queued > 0) {
    ASSERT_LT(++rounds, 10000);
    const std::string batch = s.takeOutput();
    queued += batch.size();
    out += batch;
    // The backlog never exceeds the cap by more than one reply.
    EXPECT_LE(queued, limits.outputCap + 32);
    if (s.paused() || fed == stream.size()) {
      EXPECT_TRUE(fed == stream.size() || !s.wantsRead());
      queued = 0;  // the writes completed (the writable notification)
      s.resume();
      continue;
    }
    fed += feed(s, std::string_view(stream).substr(fed));  // the peer reads nothing meanwhile
  }
  EXPECT_GT(rounds, 10);
  const auto replies = parseReplies(out);
  ASSERT_EQ(replies.size(), 500u);
  expectGreetings(replies, 500);
}

// nextOutput() stays valid while more replies are appended (a proactive write in flight).
TEST_P(FramedSessionTest, OutputInFlightSurvivesAppends) {
  auto s = make();
  feed(s, requests(1, "first", 1));
  const auto inFlight = s.nextOutput();
  const std::string copy(reinterpret_cast<const char*>(inFlight.data()), inFlight.size());
  feed(s, requests(200, std::string(100, 'y'), 2));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(inFlight.data()), inFlight.size()), copy);
  s.consumeOutput(inFlight.size());
  const auto replies = parseReplies(copy + drain(s));
  ASSERT_EQ(replies.size(), 201u);
  EXPECT_EQ(replies[0].greeting(), "Hello, first!");
  expectGreetings(std::vector(replies.begin() + 1, replies.end()), 200, std::string(100, 'y'), 2);
}

// reject(): exactly one error reply, nothing read, then close.
TEST_P(FramedSessionTest, RejectSendsOneErrorAndCloses) {
  auto s = make();
  s.reject("server busy: too many connections");
  EXPECT_FALSE(s.wantsRead());
  const auto replies = parseReplies(drain(s));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].error(), "server busy: too many connections");
  EXPECT_TRUE(s.shouldClose());
}

// Stats count requests, errors and bytes in both directions.
TEST_P(FramedSessionTest, UpdatesServerStats) {
  ServerStats stats;
  FramedSession s(HelloService::create(), {}, &stats);
  const std::string in = requests(5) + frame("\xff");
  feed(s, in);
  const std::string out = drain(s);
  EXPECT_EQ(ServerStats::get(stats.requests), 5u);
  EXPECT_EQ(ServerStats::get(stats.errors), 1u);
  EXPECT_EQ(ServerStats::get(stats.bytesIn), in.size());
  EXPECT_EQ(ServerStats::get(stats.bytesOut), out.size());
}

INSTANTIATE_TEST_SUITE_P(InputPaths, FramedSessionTest,
                         ::testing::Values(testing::InputPath::session_buffer,
                                           testing::InputPath::fed),
                         [](const auto& info) {
                           return info.param == testing::InputPath::fed ? "Fed" : "SessionBuffer";
                         });

}  // namespace
}  // namespace nioxx::demo
