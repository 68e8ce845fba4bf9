// SocketChannel: a non-blocking TCP stream socket (java.nio.channels.SocketChannel), IPv4/IPv6.
//
// Result convention of read/write (Java's): bytes transferred (> 0), 0 if the call would block,
// -1 at end of stream (read only). On an error the result is -1 and ec is set; at end of stream
// ec is clear. The throwing overloads throw std::system_error instead of setting ec.
//
// Thread rule: one thread at a time (normally the loop thread of the reactor it is registered
// with). See selectable_channel.h for registration and close().
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>

#include "nioxx/core/byte_buffer.h"
#include "nioxx/core/inet_socket_address.h"
#include "nioxx/reactor/selectable_channel.h"

namespace nioxx {

class SocketChannel : public SelectableChannel {
 public:
  SocketChannel() = default;  // closed; fill by open() or ServerSocketChannel::accept()
  SocketChannel(SocketChannel&&) noexcept = default;
  SocketChannel& operator=(SocketChannel&&) noexcept = default;
  // Adopts a connected or connecting stream socket descriptor (made non-blocking).
  static SocketChannel adopt(int fd) noexcept;

  // A new unconnected non-blocking socket of family AF_INET or AF_INET6.
  static SocketChannel open(int family, std::error_code& ec) noexcept;
  static SocketChannel open(int family = AF_INET);
  // Java's SocketChannel.open(remote): opens a socket of remote's family and starts connect(),
  // throwing on failure; check isConnectionPending()/finishConnect() as usual.
  static SocketChannel open(const InetSocketAddress& remote);

  int validOps() const noexcept override {
    return SelectionKey::OP_READ | SelectionKey::OP_WRITE | SelectionKey::OP_CONNECT;
  }

  // Starts connecting. true if connected at once (loopback can), false if in progress (then
  // register OP_CONNECT and call finishConnect() when connectable). Errors through ec.
  bool connect(const InetSocketAddress& remote, std::error_code& ec) noexcept;
  bool connect(const InetSocketAddress& remote);
  // Completes a pending connect: true once connected, false if still in progress; a failed
  // connect (e.g. ECONNREFUSED) is reported through ec / thrown.
  bool finishConnect(std::error_code& ec) noexcept;
  bool finishConnect();
  bool isConnected() const noexcept { return state_ == State::connected; }
  bool isConnectionPending() const noexcept { return state_ == State::pending; }

  // Java read/write on ByteBuffers (fill mode for read, drain mode for write). A read into a
  // buffer with no room returns 0, as "would block" does: clear() or compact() it first.
  std::int64_t read(ByteBuffer& dst, std::error_code& ec) noexcept;
  std::int64_t read(ByteBuffer& dst);
  std::int64_t write(ByteBuffer& src, std::error_code& ec) noexcept;
  std::int64_t write(ByteBuffer& src);
  // Scatter/gather over several buffers (readv/writev); buffers are advanced in order.
  std::int64_t read(std::span<ByteBuffer> dsts, std::error_code& ec) noexcept;
  std::int64_t write(std::span<ByteBuffer> srcs, std::error_code& ec) noexcept;

  // Raw POSIX results, errno left set: >0 bytes, 0 = end of stream (readSome), -1 = error or
  // EAGAIN. No bookkeeping at all (the bridge's hot path). writeSome/writev use MSG_NOSIGNAL.
  ssize_t readSome(void* data, std::size_t n) noexcept;
  ssize_t writeSome(const void* data, std::size_t n) noexcept;
  ssize_t readv(const iovec* iov, int count) noexcept;
  ssize_t writev(const iovec* iov, int count) noexcept;

  void shutdownInput(std::error_code& ec) noexcept;
  void shutdownOutput(std::error_code& ec) noexcept;
  void shutdownInput();
  void shutdownOutput();

  std::optional<InetSocketAddress> localAddress() const noexcept;
  std::optional<InetSocketAddress> remoteAddress() const noexcept;
  // Java-style aliases.
  std::optional<InetSocketAddress> getLocalAddress() const noexcept { return localAddress(); }
  std::optional<InetSocketAddress> getRemoteAddress() const noexcept { return remoteAddress(); }

  void setTcpNoDelay(bool on, std::error_code& ec) noexcept;
  void setTcpNoDelay(bool on);
  // SO_LINGER; a negative value disables lingering (the default).
  void setSoLinger(int seconds, std::error_code& ec) noexcept;
  void setSendBufferSize(int bytes, std::error_code& ec) noexcept;
  void setReceiveBufferSize(int bytes, std::error_code& ec) noexcept;

 private:
  friend class ServerSocketChannel;
  enum class State : std::uint8_t { unconnected, pending, connected };
  SocketChannel(int fd, State state) noexcept : SelectableChannel(fd), state_(state) {}

  State state_ = State::unconnected;
};

}  // namespace nioxx
