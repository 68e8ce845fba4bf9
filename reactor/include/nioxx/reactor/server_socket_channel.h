// ServerSocketChannel: a non-blocking listening TCP socket (java.nio.channels), IPv4/IPv6.
//
// Error convention: see selectable_channel.h (ec overloads never throw; the others throw
// std::system_error). Thread rule: one thread at a time (normally the acceptor's loop thread).
#pragma once

#include <optional>
#include <system_error>

#include "nioxx/core/inet_socket_address.h"
#include "nioxx/reactor/selectable_channel.h"
#include "nioxx/reactor/socket_channel.h"

namespace nioxx {

class ServerSocketChannel : public SelectableChannel {
 public:
  ServerSocketChannel() = default;  // closed
  ServerSocketChannel(ServerSocketChannel&&) noexcept = default;
  ServerSocketChannel& operator=(ServerSocketChannel&&) noexcept = default;

  // A new unbound non-blocking socket of family AF_INET or AF_INET6 (IPv6 sockets are
  // IPV6_V6ONLY, so an IPv4 and an IPv6 server can share a port number).
  static ServerSocketChannel open(int family, std::error_code& ec) noexcept;
  static ServerSocketChannel open(int family = AF_INET);

  int validOps() const noexcept override { return SelectionKey::OP_ACCEPT; }

  // Set before bind().
  void setReuseAddress(bool on, std::error_code& ec) noexcept;
  void setReuseAddress(bool on);
  void setReusePort(bool on, std::error_code& ec) noexcept;
  void setReusePort(bool on);

  // bind(2) + listen(2). Port 0 picks a free port (see localAddress()).
  void bind(const InetSocketAddress& local, int backlog, std::error_code& ec) noexcept;
  void bind(const InetSocketAddress& local, int backlog = 1024);

  // Non-blocking accept4 (SOCK_NONBLOCK|SOCK_CLOEXEC): the new connected channel, or nullopt
  // with ec clear when no connection is pending (EAGAIN), or nullopt with ec set on an error
  // (EMFILE, ENFILE, ECONNABORTED, ...). Never throws.
  std::optional<SocketChannel> accept(std::error_code& ec) noexcept;

  std::optional<InetSocketAddress> localAddress() const noexcept;
  std::optional<InetSocketAddress> getLocalAddress() const noexcept { return localAddress(); }
};

}  // namespace nioxx
