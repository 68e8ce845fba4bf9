// ServerSocketChannel: binding, non-blocking accept, SO_REUSEPORT.
#include "nioxx/reactor/server_socket_channel.h"

#include <gtest/gtest.h>

#include "nioxx_test/reactor_helpers.h"

namespace nioxx {
namespace {

TEST(ServerSocketChannelTest, AcceptReturnsEmptyWhenNothingIsPending) {
  ServerSocketChannel server = test::listenLoopback();
  std::error_code ec;
  EXPECT_FALSE(server.accept(ec).has_value());
  EXPECT_FALSE(ec);
}

TEST(ServerSocketChannelTest, PortZeroPicksAFreePort) {
  for (bool ipv6 : {false, true}) {
    ServerSocketChannel server = test::listenLoopback(ipv6);
    auto local = server.localAddress();
    ASSERT_TRUE(local.has_value());
    EXPECT_NE(local->port(), 0);
    EXPECT_EQ(local->isIpv6(), ipv6);
  }
}

TEST(ServerSocketChannelTest, AcceptedChannelIsConnectedAndNonBlocking) {
  auto pair = test::connectedPair();
  EXPECT_TRUE(pair.accepted.isConnected());
  EXPECT_FALSE(pair.accepted.isBlocking());
  ByteBuffer in = ByteBuffer::allocate(4);
  EXPECT_EQ(pair.accepted.read(in), 0);  // would block instead of blocking
}

TEST(ServerSocketChannelTest, BindingAPortInUseFails) {
  ServerSocketChannel first = test::listenLoopback();
  ServerSocketChannel second = ServerSocketChannel::open();
  std::error_code ec;
  second.bind(*first.localAddress(), 16, ec);
  EXPECT_EQ(ec, std::errc::address_in_use);
  EXPECT_THROW(second.bind(*first.localAddress()), std::system_error);
}

TEST(ServerSocketChannelTest, ReusePortAllowsSeveralListeners) {
  ServerSocketChannel first = ServerSocketChannel::open();
  first.setReusePort(true);
  first.bind(InetSocketAddress::loopback(0));
  ServerSocketChannel second = ServerSocketChannel::open();
  second.setReusePort(true);
  std::error_code ec;
  second.bind(*first.localAddress(), 16, ec);
  EXPECT_FALSE(ec) << ec.message();
}

}  // namespace
}  // namespace nioxx
