// LineHandler over a real ReactorServer: lines split at any byte, "\r\n" and "\n", the maximum
// with its reply, and input after a close() made by onLine ignored.
#include "nioxx/reactor/line_handler.h"

#include <gtest/gtest.h>

#include <string>

#include "nioxx/reactor/reactor_server.h"
#include "nioxx_test/blocking_client.h"

namespace nioxx {
namespace {

class Shout final : public LineHandler {
 public:
  Shout() : LineHandler(16) {}
  void onLine(Connection& c, std::string_view line) override {
    if (line == "QUIT") {
      c.write(std::string_view("BYE\n"));
      c.close();
      return;
    }
    std::string reply(1, '[');  // (operator+ here trips GCC 12's -Wstringop-overflow)
    reply.append(line).append("]\n");
    c.write(reply);
  }
  void onLineTooLong(Connection& c) override { c.write(std::string_view("ERR too long\n")); }
};

struct LineServer {
  explicit LineServer(Concurrency concurrency)
      : server({.concurrency = concurrency}, [] { return std::make_unique<Shout>(); }) {
    server.start();
  }
  ReactorServer server;
};

class LineHandlerTest : public ::testing::TestWithParam<Concurrency> {};

TEST_P(LineHandlerTest, SplitsLinesWhereverTheBytesAreCut) {
  LineServer s(GetParam());
  test::BlockingClient client(s.server.localAddress());
  // One byte per send: every line boundary falls between reads at some point.
  for (char c : std::string("ab\r\ncd\n\nxyz\n"))
    client.send(std::string(1, c));
  EXPECT_EQ(client.readExactly(13), "[ab]\n[cd]\n[]\n");
  EXPECT_EQ(client.readExactly(6), "[xyz]\n");
}

TEST_P(LineHandlerTest, ALineBeyondTheMaximumGetsItsReplyThenAnOrderlyClose) {
  LineServer s(GetParam());
  test::BlockingClient client(s.server.localAddress());
  std::string lines = "short\n";
  lines.append(1000, 'x').append("\nnever seen\n");
  client.send(lines);
  EXPECT_EQ(client.readToEnd(), "[short]\nERR too long\n");  // then end of stream, not a reset
}

TEST_P(LineHandlerTest, LinesAfterQuitAreIgnoredAndByeIsDelivered) {
  LineServer s(GetParam());
  test::BlockingClient client(s.server.localAddress());
  client.send("one\nQUIT\ntwo\nthree\n");
  EXPECT_EQ(client.readToEnd(), "[one]\nBYE\n");
}

INSTANTIATE_TEST_SUITE_P(Concurrency, LineHandlerTest,
                         ::testing::Values(Concurrency::single_reactor, Concurrency::worker_pool));

}  // namespace
}  // namespace nioxx
