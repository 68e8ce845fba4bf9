#include "nioxx/reactor/server_socket_channel.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nioxx/core/error.h"
#include "nioxx/core/sys.h"

namespace nioxx {

namespace {
void setFlag(int fd, int level, int name, bool on, std::error_code& ec) noexcept {
  ec.clear();
  const int value = on ? 1 : 0;
  if (sys::setsockopt(fd, level, name, &value, sizeof value) < 0) ec = lastError();
}
void throwIf(const std::error_code& ec, const char* what) {
  if (ec) throw std::system_error(ec, what);
}
}  // namespace

ServerSocketChannel ServerSocketChannel::open(int family, std::error_code& ec) noexcept {
  ec.clear();
  const int fd = sys::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ec = lastError();
    return {};
  }
  ServerSocketChannel ch;
  ch.fd_ = fd;
  if (family == AF_INET6) setFlag(fd, IPPROTO_IPV6, IPV6_V6ONLY, true, ec);
  return ch;
}

ServerSocketChannel ServerSocketChannel::open(int family) {
  std::error_code ec;
  ServerSocketChannel ch = open(family, ec);
  throwIf(ec, "ServerSocketChannel::open");
  return ch;
}

void ServerSocketChannel::setReuseAddress(bool on, std::error_code& ec) noexcept {
  setFlag(fd_, SOL_SOCKET, SO_REUSEADDR, on, ec);
}
void ServerSocketChannel::setReuseAddress(bool on) {
  std::error_code ec;
  setReuseAddress(on, ec);
  throwIf(ec, "setReuseAddress");
}
void ServerSocketChannel::setReusePort(bool on, std::error_code& ec) noexcept {
  setFlag(fd_, SOL_SOCKET, SO_REUSEPORT, on, ec);
}
void ServerSocketChannel::setReusePort(bool on) {
  std::error_code ec;
  setReusePort(on, ec);
  throwIf(ec, "setReusePort");
}

void ServerSocketChannel::bind(const InetSocketAddress& local, int backlog,
                               std::error_code& ec) noexcept {
  ec.clear();
  if (sys::bind(fd_, local.sockaddr(), local.length()) < 0 || sys::listen(fd_, backlog) < 0) {
    ec = lastError();
  }
}

void ServerSocketChannel::bind(const InetSocketAddress& local, int backlog) {
  std::error_code ec;
  bind(local, backlog, ec);
  if (ec) throw std::system_error(ec, "ServerSocketChannel::bind " + local.toString());
}

std::optional<SocketChannel> ServerSocketChannel::accept(std::error_code& ec) noexcept {
  ec.clear();
  for (;;) {
    const int fd = sys::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) return SocketChannel(fd, SocketChannel::State::connected);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) ec = lastError();
    return std::nullopt;
  }
}

std::optional<InetSocketAddress> ServerSocketChannel::localAddress() const noexcept {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (sys::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return std::nullopt;
  return InetSocketAddress::fromSockaddr(ss, len);
}

}  // namespace nioxx
