// The custom reactive handler from docs/parts/reactor.md (README example), compiled and run.
#include <gtest/gtest.h>

#include <string>

#include "nioxx/reactor/acceptor.h"
#include "nioxx/reactor/reactor.h"
#include "nioxx_test/reactor_helpers.h"

namespace nioxx {
namespace {

int liveEchoes = 0;

class Echo : public EventHandler {  // one per connection, lives on the loop thread
 public:
  Echo(Reactor& r, SocketChannel ch) : ch_(std::move(ch)) {
    r.registerHandler(ch_, SelectionKey::OP_READ, *this);
    ++liveEchoes;
  }
  ~Echo() override { --liveEchoes; }
  void handleEvent(SelectionKey& key) override {
    std::error_code ec;
    if (key.isReadable() && ch_.read(buf_, ec) < 0) {  // EOF or error
      delete this;
      return;
    }
    buf_.flip();  // drain mode: the bytes to echo
    if (ch_.write(buf_, ec) < 0) {
      delete this;
      return;
    }
    const bool pending = buf_.hasRemaining();
    buf_.compact();  // back to fill mode
    // Lazy mask sync: no epoll_ctl unless the mask really changes.
    key.interestOps(pending ? SelectionKey::OP_WRITE : SelectionKey::OP_READ);
  }

 private:
  SocketChannel ch_;  // closed (and its key cancelled) by the destructor
  ByteBuffer buf_ = ByteBuffer::allocate(16 * 1024);
};

TEST(EchoExampleTest, EchoesAndCleansUpOnEndOfStream) {
  Reactor reactor;
  Acceptor acceptor(reactor, InetSocketAddress::loopback(0),
                    [&](SocketChannel&& ch) { new Echo(reactor, std::move(ch)); });
  SocketChannel client = SocketChannel::open();
  client.connect(acceptor.localAddress());
  test::writeAll(client, "echo me");
  std::string got;
  ByteBuffer in = ByteBuffer::allocate(64);
  ASSERT_TRUE(test::waitUntil([&] {
    reactor.runOnce(std::chrono::milliseconds(10));
    std::error_code ec;
    client.read(in, ec);
    return in.position() == 7;
  }));
  EXPECT_EQ(test::drainToString(in), "echo me");
  EXPECT_EQ(liveEchoes, 1);
  client.close();
  ASSERT_TRUE(test::waitUntil([&] {
    reactor.runOnce(std::chrono::milliseconds(10));
    return liveEchoes == 0;
  }));
  reactor.runOnce(std::chrono::milliseconds(0));
  EXPECT_EQ(reactor.selector().keyCount(), 1u);  // only the acceptor is left registered
}

}  // namespace
}  // namespace nioxx
