// SocketChannel: readiness and I/O on real loopback sockets, IPv4 and IPv6.
#include "nioxx/reactor/socket_channel.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "nioxx/core/error.h"
#include "nioxx/reactor/selector.h"
#include "nioxx/reactor/server_socket_channel.h"
#include "nioxx_test/reactor_helpers.h"

namespace nioxx {
namespace {

using namespace std::chrono_literals;

class SocketChannelTest : public ::testing::TestWithParam<bool> {
 protected:
  bool ipv6() const { return GetParam(); }
  int family() const { return ipv6() ? AF_INET6 : AF_INET; }
};

INSTANTIATE_TEST_SUITE_P(Families, SocketChannelTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "IPv6" : "IPv4"; });

TEST_P(SocketChannelTest, AcceptAndConnectReadinessOnLoopback) {
  Selector selector;
  ServerSocketChannel server = test::listenLoopback(ipv6());
  SelectionKey& acceptKey = server.registerWith(selector, SelectionKey::OP_ACCEPT);
  SocketChannel client = SocketChannel::open(family());
  const bool immediate = client.connect(*server.localAddress());
  SelectionKey& connectKey =
      client.registerWith(selector, immediate ? 0 : SelectionKey::OP_CONNECT);

  bool accepted = false;
  bool connected = immediate;
  std::optional<SocketChannel> serverSide;
  ASSERT_TRUE(test::waitUntil([&] {
    selector.select(1s);
    for (SelectionKey* k : selector.selectedKeys()) {
      if (k == &acceptKey && k->isAcceptable()) {
        std::error_code ec;
        serverSide = server.accept(ec);
        accepted = serverSide.has_value();
      }
      if (k == &connectKey && k->isConnectable()) {
        connected = client.finishConnect();
        k->interestOps(0);
      }
    }
    selector.selectedKeys().clear();
    return accepted && connected;
  }));
  EXPECT_TRUE(client.isConnected());
  EXPECT_EQ(client.remoteAddress()->port(), server.localAddress()->port());
  EXPECT_EQ(serverSide->remoteAddress(), client.localAddress());
  EXPECT_EQ(serverSide->localAddress()->isIpv6(), ipv6());
}

TEST_P(SocketChannelTest, ReadAndWriteReadiness) {
  Selector selector;
  auto pair = test::connectedPair(ipv6());
  SelectionKey& readKey = pair.accepted.registerWith(selector, SelectionKey::OP_READ);
  SelectionKey& writeKey = pair.client.registerWith(selector, SelectionKey::OP_WRITE);
  ASSERT_EQ(selector.select(10s), 1);  // an empty socket buffer is writable, nothing readable
  EXPECT_TRUE(writeKey.isWritable());
  EXPECT_FALSE(readKey.isReadable());
  selector.selectedKeys().clear();

  ByteBuffer out = test::bufferOf("hello");
  EXPECT_EQ(pair.client.write(out), 5);
  writeKey.interestOps(0);
  ASSERT_TRUE(test::waitUntil([&] { return selector.select(1s) > 0; }));
  EXPECT_TRUE(readKey.isReadable());
  ByteBuffer in = ByteBuffer::allocate(16);
  EXPECT_EQ(pair.accepted.read(in), 5);
  EXPECT_EQ(test::drainToString(in), "hello");
  EXPECT_EQ(pair.accepted.read(in), 0);  // would block
}

TEST_P(SocketChannelTest, ReadReturnsMinusOneAtEndOfStream) {
  auto pair = test::connectedPair(ipv6());
  test::writeAll(pair.client, "bye");
  pair.client.close();
  EXPECT_EQ(test::readExactly(pair.accepted, 3), "bye");
  ByteBuffer in = ByteBuffer::allocate(8);
  std::error_code ec;
  std::int64_t n = 0;
  ASSERT_TRUE(test::waitUntil([&] { return (n = pair.accepted.read(in, ec)) != 0; }));
  EXPECT_EQ(n, -1);
  EXPECT_FALSE(ec);
}

TEST_P(SocketChannelTest, ShutdownOutputGivesPeerEndOfStream) {
  auto pair = test::connectedPair(ipv6());
  pair.client.shutdownOutput();
  ByteBuffer in = ByteBuffer::allocate(8);
  std::int64_t n = 0;
  ASSERT_TRUE(test::waitUntil([&] { return (n = pair.accepted.read(in)) != 0; }));
  EXPECT_EQ(n, -1);
  test::writeAll(pair.accepted, "still open");  // the other direction still works
  EXPECT_EQ(test::readExactly(pair.client, 10), "still open");
}

TEST_P(SocketChannelTest, ConnectToClosedPortReportsErrorThroughFinishConnect) {
  InetSocketAddress address;
  {
    ServerSocketChannel probe = test::listenLoopback(ipv6());
    address = *probe.localAddress();
  }  // closed: nothing listens there now
  Selector selector;
  SocketChannel client = SocketChannel::open(family());
  std::error_code ec;
  if (!client.connect(address, ec) && !ec) {
    SelectionKey& key = client.registerWith(selector, SelectionKey::OP_CONNECT);
    ASSERT_TRUE(test::waitUntil([&] { return selector.select(1s) > 0; }));
    EXPECT_TRUE(key.isConnectable());
    EXPECT_FALSE(client.finishConnect(ec));
    EXPECT_THROW(client.finishConnect(), std::system_error);  // no longer pending
  }
  EXPECT_EQ(ec, std::errc::connection_refused);
  EXPECT_FALSE(client.isConnected());
}

TEST_P(SocketChannelTest, ScatterGatherWithPartialWrites) {
  auto pair = test::connectedPair(ipv6());
  std::error_code ec;
  pair.client.setSendBufferSize(4096, ec);
  ASSERT_FALSE(ec);

  constexpr std::size_t kPart = 128 * 1024;  // 384 KiB: more than the socket buffers hold
  std::array<ByteBuffer, 3> out{ByteBuffer::allocate(kPart), ByteBuffer::allocate(kPart),
                                ByteBuffer::allocate(kPart)};
  for (std::size_t b = 0; b < out.size(); ++b) {
    for (std::size_t i = 0; i < kPart; ++i)
      out[b].put(static_cast<std::uint8_t>(b * 7 + i));
    out[b].flip();
  }
  std::vector<std::uint8_t> received;
  std::array<ByteBuffer, 2> in{ByteBuffer::allocate(1000), ByteBuffer::allocate(3000)};
  bool sawPartialWrite = false;
  const auto total = out.size() * kPart;
  const auto deadline = std::chrono::steady_clock::now() + test::kEventually;
  while (received.size() < total && std::chrono::steady_clock::now() < deadline) {
    const auto before = out[0].remaining() + out[1].remaining() + out[2].remaining();
    const auto n = pair.client.write(std::span(out), ec);
    ASSERT_FALSE(ec);
    if (n >= 0 && static_cast<std::size_t>(n) < before) sawPartialWrite = true;
    const auto r = pair.accepted.read(std::span(in), ec);
    ASSERT_GE(r, 0);
    for (ByteBuffer& b : in) {
      b.flip();
      received.insert(received.end(), b.array(), b.array() + b.limit());
      b.clear();
    }
    if (n == 0 && r == 0) std::this_thread::yield();
  }
  ASSERT_EQ(received.size(), total);
  EXPECT_TRUE(sawPartialWrite);
  for (std::size_t i = 0; i < total; ++i) {
    ASSERT_EQ(received[i], static_cast<std::uint8_t>((i / kPart) * 7 + i % kPart)) << i;
  }
}

TEST_P(SocketChannelTest, RawReadSomeAndWriteSomeFollowPosix) {
  auto pair = test::connectedPair(ipv6());
  char buf[8];
  errno = 0;
  EXPECT_EQ(pair.accepted.readSome(buf, sizeof buf), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(pair.client.writeSome("abc", 3), 3);
  iovec iov[2] = {{const_cast<char*>("de"), 2}, {const_cast<char*>("f"), 1}};
  EXPECT_EQ(pair.client.writev(iov, 2), 3);
  EXPECT_EQ(test::readExactly(pair.accepted, 6), "abcdef");
  pair.client.close();
  ssize_t n = -1;
  ASSERT_TRUE(test::waitUntil([&] { return (n = pair.accepted.readSome(buf, sizeof buf)) >= 0; }));
  EXPECT_EQ(n, 0);  // POSIX end of stream
}

TEST_P(SocketChannelTest, OptionsCanBeSet) {
  auto pair = test::connectedPair(ipv6());
  std::error_code ec;
  pair.client.setTcpNoDelay(true, ec);
  EXPECT_FALSE(ec);
  pair.client.setSoLinger(0, ec);
  EXPECT_FALSE(ec);
  pair.client.setSoLinger(-1, ec);
  EXPECT_FALSE(ec);
}

TEST(SocketChannelStateTest, ReadOnClosedChannelReportsError) {
  SocketChannel channel;
  ByteBuffer in = ByteBuffer::allocate(4);
  std::error_code ec;
  EXPECT_EQ(channel.read(in, ec), -1);
  EXPECT_EQ(ec, std::errc::bad_file_descriptor);
  EXPECT_THROW(channel.read(in), std::system_error);
}

TEST(SocketChannelStateTest, FinishConnectWithoutConnectIsAnError) {
  SocketChannel channel = SocketChannel::open();
  std::error_code ec;
  EXPECT_FALSE(channel.finishConnect(ec));
  EXPECT_EQ(ec, Error::not_connected);
}

TEST(SocketChannelStateTest, MovingARegisteredChannelKeepsItsKey) {
  Selector selector;
  auto pair = test::connectedPair();
  SelectionKey& key = pair.accepted.registerWith(selector, SelectionKey::OP_READ);
  SocketChannel moved = std::move(pair.accepted);
  EXPECT_EQ(key.channel(), &moved);
  EXPECT_EQ(moved.keyFor(selector), &key);
  moved.close();
  EXPECT_FALSE(key.isValid());
}

}  // namespace
}  // namespace nioxx
