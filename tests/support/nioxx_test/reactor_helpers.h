// Shared helpers for reactor tests: loopback connection pairs and "eventually" waits.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "nioxx/core/byte_buffer.h"
#include "nioxx/core/inet_socket_address.h"
#include "nioxx/reactor/pipe.h"
#include "nioxx/reactor/server_socket_channel.h"
#include "nioxx/reactor/socket_channel.h"

namespace nioxx::test {

// Generous: "eventually" conditions on a loaded 2-core machine under TSan.
inline constexpr std::chrono::seconds kEventually{10};

template <class Pred>
bool waitUntil(Pred&& pred, std::chrono::milliseconds timeout = kEventually) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Makes the pipe's source readable: one byte written to its sink.
inline void writeByte(Pipe& pipe) {
  char c = 'x';
  ASSERT_EQ(pipe.sink().writeSome(&c, 1), 1);
}

inline ServerSocketChannel listenLoopback(bool ipv6 = false) {
  ServerSocketChannel server = ServerSocketChannel::open(ipv6 ? AF_INET6 : AF_INET);
  server.setReuseAddress(true);
  server.bind(InetSocketAddress::loopback(0, ipv6), 128);
  return server;
}

inline std::optional<SocketChannel> acceptWithin(ServerSocketChannel& server,
                                                 std::chrono::milliseconds timeout = kEventually) {
  std::optional<SocketChannel> accepted;
  waitUntil(
      [&] {
        std::error_code ec;
        accepted = server.accept(ec);
        return accepted.has_value() || ec;
      },
      timeout);
  return accepted;
}

struct ConnectedPair {
  ServerSocketChannel server;
  SocketChannel client;    // non-blocking, connected
  SocketChannel accepted;  // the server side
};

inline ConnectedPair connectedPair(bool ipv6 = false) {
  ConnectedPair pair;
  pair.server = listenLoopback(ipv6);
  pair.client = SocketChannel::open(ipv6 ? AF_INET6 : AF_INET);
  pair.client.connect(*pair.server.localAddress());
  auto accepted = acceptWithin(pair.server);
  EXPECT_TRUE(accepted.has_value());
  if (accepted) pair.accepted = std::move(*accepted);
  EXPECT_TRUE(waitUntil([&] { return pair.client.finishConnect(); }));
  return pair;
}

inline ByteBuffer bufferOf(std::string_view text) {
  ByteBuffer b = ByteBuffer::allocate(text.size());
  b.put(text);
  b.flip();
  return b;
}

inline std::string drainToString(ByteBuffer b) {  // b in fill mode
  b.flip();
  return {reinterpret_cast<const char*>(b.array()) + b.position(), b.remaining()};
}

// Writes all of text (spinning on EAGAIN) through a non-blocking channel.
inline void writeAll(SocketChannel& ch, std::string_view text) {
  ByteBuffer b = bufferOf(text);
  ASSERT_TRUE(waitUntil([&] {
    ch.write(b);
    return !b.hasRemaining();
  }));
}

// Reads exactly n bytes (or until end of stream) within the timeout.
inline std::string readExactly(SocketChannel& ch, std::size_t n) {
  ByteBuffer b = ByteBuffer::allocate(n);
  waitUntil([&] {
    std::error_code ec;
    return ch.read(b, ec) < 0 || !b.hasRemaining();
  });
  return drainToString(b);
}

}  // namespace nioxx::test
