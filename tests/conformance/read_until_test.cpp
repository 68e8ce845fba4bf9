// AsyncSocket::readUntil (Asio's read_until) on every engine: messages split across reads,
// several messages in one read, leftovers searched first, the maximum, end of stream.
#include <future>
#include <string>
#include <utility>
#include <vector>

#include "conformance_fixture.h"

namespace nioxx::conformance {
namespace {

// The message a successful readUntil delivered, and the buffer prepared for the next one.
std::string takeMessage(IoResult& r, ByteBuffer& next) {
  next = std::move(r.buffer());
  next.flip();
  std::string message(next.remainingText().substr(0, r.bytesTransferred()));
  next.advance(r.bytesTransferred());
  next.compact();
  return message;
}

TEST_P(ConformanceTest, ReadUntilFindsADelimiterSplitAcrossReads) {
  auto [a, b] = socketPair();
  // A tiny buffer: readUntil grows it; the delimiter arrives in two writes, split in the middle.
  auto line =
      api([&, &b = b] { return b.readUntil(ByteBuffer::allocate(4), "\r\n", 1024, use_future); });
  auto first = api([&, &a = a] { return a.writeAll(bufferOf("hello, world\r"), use_future); });
  ASSERT_TRUE(awaitResult(first, "writeAll(first half)").success());
  auto second = api([&, &a = a] { return a.writeAll(bufferOf("\nnext"), use_future); });
  ASSERT_TRUE(awaitResult(second, "writeAll(second half)").success());
  IoResult r = awaitResult(line, "readUntil");
  ASSERT_TRUE(r.success()) << r.error().message();
  EXPECT_EQ(r.bytesTransferred(), 14u);
  ByteBuffer next;
  EXPECT_EQ(takeMessage(r, next), "hello, world\r\n");
  // What came after the delimiter is kept for the next call (it may or may not have arrived yet).
  EXPECT_TRUE(next.position() == 0 || next.position() == 4) << next.position();
}

TEST_P(ConformanceTest, ReadUntilSearchesLeftoverBytesFirst) {
  auto [a, b] = socketPair();
  auto sent = api([&, &a = a] { return a.writeAll(bufferOf("one\ntwo\nthree\n"), use_future); });
  ASSERT_TRUE(awaitResult(sent, "writeAll").success());
  ByteBuffer buffer = ByteBuffer::allocate(64);
  std::vector<std::string> lines;
  while (lines.size() < 3) {
    auto f = api([&, &b = b] { return b.readUntil(std::move(buffer), "\n", 64, use_future); });
    IoResult r = awaitResult(f, "readUntil");
    ASSERT_TRUE(r.success()) << r.error().message();
    lines.push_back(takeMessage(r, buffer));
  }
  EXPECT_EQ(lines, (std::vector<std::string>{"one\n", "two\n", "three\n"}));
  EXPECT_EQ(buffer.position(), 0u);
}

TEST_P(ConformanceTest, ReadUntilFailsWithLimitExceededAtTheMaximum) {
  auto [a, b] = socketPair();
  auto line =
      api([&, &b = b] { return b.readUntil(ByteBuffer::allocate(8), "\n", 100, use_future); });
  auto sent = api([&, &a = a] { return a.writeAll(bufferOf(std::string(300, 'x')), use_future); });
  ASSERT_TRUE(awaitResult(sent, "writeAll").success());
  IoResult r = awaitResult(line, "readUntil");
  EXPECT_EQ(r.error(), make_error_code(Error::limit_exceeded)) << r.error().message();
  EXPECT_EQ(r.buffer().position(), 100u);  // never more than the maximum buffered
  EXPECT_EQ(r.bytesTransferred(), 100u);
  EXPECT_THROW(b.readUntil(ByteBuffer::allocate(8), "", 100, use_future), std::invalid_argument);
  EXPECT_THROW(b.readUntil(ByteBuffer::allocate(8), "\n", 0, use_future), std::invalid_argument);
}

TEST_P(ConformanceTest, ReadUntilReportsEndOfStreamWithThePartialMessage) {
  auto [a, b] = socketPair();
  auto line =
      api([&, &b = b] { return b.readUntil(ByteBuffer::allocate(64), "\n", 64, use_future); });
  auto sent = api([&, &a = a] { return a.writeAll(bufferOf("no newline"), use_future); });
  ASSERT_TRUE(awaitResult(sent, "writeAll").success());
  ASSERT_FALSE(a.shutdownOutput());
  IoResult r = awaitResult(line, "readUntil");
  EXPECT_TRUE(r.endOfStream()) << r.error().message();
  r.buffer().flip();
  EXPECT_EQ(r.buffer().remainingText(), "no newline");
}

// With an interface handler and a typed ACT, as the other operations.
TEST_P(ConformanceTest, ReadUntilCallsAnInterfaceHandlerWithItsAct) {
  struct Handler : CompletionHandler<IoResult, int> {
    std::promise<std::pair<std::string, int>> done;
    void completed(IoResult& r, int& act) override {
      r.buffer().flip();
      done.set_value(
          {std::string(r.buffer().remainingText().substr(0, r.bytesTransferred())), act});
    }
    void failed(IoResult& r, int&) override { done.set_value({r.error().message(), -1}); }
  } handler;
  auto result = handler.done.get_future();
  auto [a, b] = socketPair();
  api([&, &b = b] { return b.readUntil(ByteBuffer::allocate(16), "END", 64, 42, handler); });
  auto sent = api([&, &a = a] { return a.writeAll(bufferOf("abcENDdef"), use_future); });
  ASSERT_TRUE(awaitResult(sent, "writeAll").success());
  auto [message, act] = awaitResult(result, "readUntil(handler)");
  EXPECT_EQ(message, "abcEND");
  EXPECT_EQ(act, 42);
}

}  // namespace
}  // namespace nioxx::conformance
