// InetSocketAddress: numeric IPv4/IPv6 parsing and formatting, sockaddr round trips.
#include "nioxx/core/inet_socket_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>

namespace nioxx {
namespace {

TEST(InetSocketAddressTest, DefaultIsIpv4AnyPortZero) {
  InetSocketAddress a;
  EXPECT_EQ(a.family(), AF_INET);
  EXPECT_EQ(a.toString(), "0.0.0.0:0");
  EXPECT_EQ(a.length(), sizeof(sockaddr_in));
}

TEST(InetSocketAddressTest, OfIpv4) {
  auto a = InetSocketAddress::of("192.168.1.20", 8080);
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->isIpv6());
  EXPECT_EQ(a->port(), 8080);
  EXPECT_EQ(a->host(), "192.168.1.20");
  EXPECT_EQ(a->toString(), "192.168.1.20:8080");
  const auto* in = reinterpret_cast<const sockaddr_in*>(a->sockaddr());
  EXPECT_EQ(ntohs(in->sin_port), 8080);
  EXPECT_EQ(ntohl(in->sin_addr.s_addr), 0xC0A80114u);
}

TEST(InetSocketAddressTest, OfIpv6WithAndWithoutBrackets) {
  auto a = InetSocketAddress::of("::1", 7070);
  auto b = InetSocketAddress::of("[::1]", 7070);
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_TRUE(a->isIpv6());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->host(), "::1");
  EXPECT_EQ(a->toString(), "[::1]:7070");
  EXPECT_EQ(a->length(), sizeof(sockaddr_in6));
}

TEST(InetSocketAddressTest, Ipv6IsFormattedCanonically) {
  auto a = InetSocketAddress::of("2001:0db8:0000:0000:0000:0000:0000:0001", 1);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host(), "2001:db8::1");
}

TEST(InetSocketAddressTest, LocalhostIsIpv4Loopback) {
  auto a = InetSocketAddress::of("localhost", 9);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, InetSocketAddress::loopback(9));
  EXPECT_EQ(a->toString(), "127.0.0.1:9");
}

TEST(InetSocketAddressTest, LoopbackAndAny) {
  EXPECT_EQ(InetSocketAddress::loopback(1).toString(), "127.0.0.1:1");
  EXPECT_EQ(InetSocketAddress::loopback(1, true).toString(), "[::1]:1");
  EXPECT_EQ(InetSocketAddress::any(2).toString(), "0.0.0.0:2");
  EXPECT_EQ(InetSocketAddress::any(2, true).toString(), "[::]:2");
}

TEST(InetSocketAddressTest, ParseHostPort) {
  auto a = InetSocketAddress::parse("10.0.0.1:65535");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->port(), 65535);
  EXPECT_EQ(a->host(), "10.0.0.1");
  auto b = InetSocketAddress::parse("[fe80::1]:0");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host(), "fe80::1");
  EXPECT_EQ(b->port(), 0);
  auto c = InetSocketAddress::parse("localhost:80");
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, InetSocketAddress::loopback(80));
}

TEST(InetSocketAddressTest, ParseOfToStringRoundTrips) {
  for (const char* text : {"1.2.3.4:5", "255.255.255.255:65535", "[::]:0", "[2001:db8::7]:443",
                           "[::ffff:10.1.2.3]:8"}) {
    auto a = InetSocketAddress::parse(text);
    ASSERT_TRUE(a) << text;
    EXPECT_EQ(a->toString(), text);
    EXPECT_EQ(InetSocketAddress::parse(a->toString()), a);
  }
}

TEST(InetSocketAddressTest, Ipv6ScopeIdRoundTrips) {
  auto a = InetSocketAddress::parse("[fe80::1%3]:22");
  ASSERT_TRUE(a);
  EXPECT_EQ(reinterpret_cast<const sockaddr_in6*>(a->sockaddr())->sin6_scope_id, 3u);
  EXPECT_EQ(a->toString(), "[fe80::1%3]:22");
  EXPECT_NE(*a, *InetSocketAddress::parse("[fe80::1]:22"));
  EXPECT_TRUE(InetSocketAddress::of("fe80::1%lo", 1));  // interface names resolve to an index
}

TEST(InetSocketAddressTest, InvalidInputsAreRejected) {
  for (const char* bad : {"",
                          ":80",
                          "1.2.3.4",
                          "1.2.3.4:",
                          "1.2.3.4:65536",
                          "1.2.3.4:-1",
                          "1.2.3.4:8x",
                          "1.2.3.4: 80",
                          "256.0.0.1:80",
                          "1.2.3:80",
                          "127.1:80",
                          "0x7f.0.0.1:80",
                          "::1:80",
                          "[::1]80",
                          "[::1:80",
                          "[1.2.3.4]:80",
                          "[::1]:",
                          "example.com:80",
                          "[fe80::1%]:1",
                          "[fe80::1%nosuchif0]:1",
                          "[::g]:1",
                          " 1.2.3.4:80"}) {
    EXPECT_FALSE(InetSocketAddress::parse(bad)) << '"' << bad << '"';
  }
  EXPECT_FALSE(InetSocketAddress::of("", 1));
  EXPECT_FALSE(InetSocketAddress::of("[]", 1));
  EXPECT_FALSE(InetSocketAddress::of("host.invalid", 1));  // numeric only: no DNS
}

TEST(InetSocketAddressTest, SockaddrStorageRoundTrip) {
  for (const auto& original : {*InetSocketAddress::parse("10.9.8.7:6543"),
                               *InetSocketAddress::parse("[2001:db8::1]:99")}) {
    sockaddr_storage ss{};
    std::memcpy(&ss, original.sockaddr(), original.length());
    auto back = InetSocketAddress::fromSockaddr(ss, original.length());
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, original);
    EXPECT_EQ(back->toString(), original.toString());
  }
}

TEST(InetSocketAddressTest, FromSockaddrRejectsOtherFamiliesAndShortLengths) {
  sockaddr_storage ss{};
  ss.ss_family = AF_UNIX;
  EXPECT_FALSE(InetSocketAddress::fromSockaddr(ss, sizeof ss));
  ss.ss_family = AF_INET;
  EXPECT_FALSE(InetSocketAddress::fromSockaddr(ss, sizeof(sockaddr_in) - 1));
  ss.ss_family = AF_INET6;
  EXPECT_FALSE(InetSocketAddress::fromSockaddr(ss, sizeof(sockaddr_in)));
}

TEST(InetSocketAddressTest, EqualityComparesFamilyAddressAndPort) {
  EXPECT_EQ(*InetSocketAddress::parse("1.2.3.4:5"), *InetSocketAddress::parse("1.2.3.4:5"));
  EXPECT_NE(*InetSocketAddress::parse("1.2.3.4:5"), *InetSocketAddress::parse("1.2.3.4:6"));
  EXPECT_NE(*InetSocketAddress::parse("1.2.3.4:5"), *InetSocketAddress::parse("1.2.3.5:5"));
  EXPECT_NE(InetSocketAddress::any(5), InetSocketAddress::any(5, true));
}

}  // namespace
}  // namespace nioxx
