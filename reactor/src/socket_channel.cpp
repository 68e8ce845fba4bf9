#include "nioxx/reactor/socket_channel.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include "nioxx/core/error.h"
#include "nioxx/core/sys.h"

namespace nioxx {

namespace {

constexpr std::size_t kMaxIov = 64;

bool wouldBlock(int err) noexcept {
  return err == EAGAIN || err == EWOULDBLOCK;
}

void throwIf(const std::error_code& ec, const char* what) {
  if (ec) throw std::system_error(ec, what);
}

void setIntOption(int fd, int level, int name, int value, std::error_code& ec) noexcept {
  ec.clear();
  if (sys::setsockopt(fd, level, name, &value, sizeof value) < 0) ec = lastError();
}

std::optional<InetSocketAddress> addressOf(int fd, bool peer) noexcept {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  const int rc = peer ? sys::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                      : sys::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc < 0) return std::nullopt;
  return InetSocketAddress::fromSockaddr(ss, len);
}

// Advances buffers in order by n transferred bytes.
void advanceAll(std::span<ByteBuffer> buffers, std::size_t n) {
  for (ByteBuffer& b : buffers) {
    if (n == 0) break;
    const std::size_t step = std::min(n, b.remaining());
    b.advance(step);
    n -= step;
  }
}

std::size_t fillIov(std::span<ByteBuffer> buffers, std::array<iovec, kMaxIov>& iov) noexcept {
  std::size_t count = 0;
  for (ByteBuffer& b : buffers) {
    if (count == kMaxIov) break;
    if (!b.hasRemaining()) continue;
    auto span = b.remainingSpan();
    iov[count++] = {span.data(), span.size()};
  }
  return count;
}

}  // namespace

SocketChannel SocketChannel::adopt(int fd) noexcept {
  const int flags = sys::fcntl(fd, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK) == 0) sys::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  return SocketChannel(fd, State::connected);
}

SocketChannel SocketChannel::open(int family, std::error_code& ec) noexcept {
  ec.clear();
  const int fd = sys::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ec = lastError();
    return {};
  }
  return SocketChannel(fd, State::unconnected);
}

SocketChannel SocketChannel::open(int family) {
  std::error_code ec;
  SocketChannel ch = open(family, ec);
  throwIf(ec, "SocketChannel::open");
  return ch;
}

SocketChannel SocketChannel::open(const InetSocketAddress& remote) {
  SocketChannel ch = open(remote.family());
  ch.connect(remote);
  return ch;
}

bool SocketChannel::connect(const InetSocketAddress& remote, std::error_code& ec) noexcept {
  ec.clear();
  if (state_ == State::connected) {
    ec = make_error_code(Error::already_connected);
    return false;
  }
  if (state_ == State::pending) {
    ec = make_error_code(Error::connection_pending);
    return false;
  }
  if (sys::connect(fd_, remote.sockaddr(), remote.length()) == 0) {
    state_ = State::connected;
    return true;
  }
  if (errno == EINPROGRESS || errno == EINTR) {  // EINTR: the connect continues asynchronously
    state_ = State::pending;
    return false;
  }
  ec = lastError();
  return false;
}

bool SocketChannel::connect(const InetSocketAddress& remote) {
  std::error_code ec;
  const bool done = connect(remote, ec);
  throwIf(ec, "SocketChannel::connect");
  return done;
}

bool SocketChannel::finishConnect(std::error_code& ec) noexcept {
  ec.clear();
  if (state_ == State::connected) return true;
  if (state_ != State::pending) {
    ec = make_error_code(Error::not_connected);  // Java's NoConnectionPendingException
    return false;
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (sys::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
    ec = lastError();
    return false;
  }
  if (err != 0) {
    state_ = State::unconnected;
    ec = {err, std::system_category()};
    return false;
  }
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  if (sys::getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &sl) == 0) {
    state_ = State::connected;
    return true;
  }
  return false;  // ENOTCONN without a pending error: still in progress
}

bool SocketChannel::finishConnect() {
  std::error_code ec;
  const bool done = finishConnect(ec);
  throwIf(ec, "SocketChannel::finishConnect");
  return done;
}

std::int64_t SocketChannel::read(ByteBuffer& dst, std::error_code& ec) noexcept {
  ec.clear();
  auto span = dst.remainingSpan();
  if (span.empty()) return 0;
  for (;;) {
    const ssize_t n = sys::read(fd_, span.data(), span.size());
    if (n > 0) {
      dst.advance(static_cast<std::size_t>(n));
      return n;
    }
    if (n == 0) return -1;
    if (errno == EINTR) continue;
    if (wouldBlock(errno)) return 0;
    ec = lastError();
    return -1;
  }
}

std::int64_t SocketChannel::read(ByteBuffer& dst) {
  std::error_code ec;
  const auto n = read(dst, ec);
  throwIf(ec, "SocketChannel::read");
  return n;
}

std::int64_t SocketChannel::write(ByteBuffer& src, std::error_code& ec) noexcept {
  ec.clear();
  auto span = src.remainingSpan();
  if (span.empty()) return 0;
  for (;;) {
    const ssize_t n = sys::send(fd_, span.data(), span.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      src.advance(static_cast<std::size_t>(n));
      return n;
    }
    if (errno == EINTR) continue;
    if (wouldBlock(errno)) return 0;
    ec = lastError();
    return -1;
  }
}

std::int64_t SocketChannel::write(ByteBuffer& src) {
  std::error_code ec;
  const auto n = write(src, ec);
  throwIf(ec, "SocketChannel::write");
  return n;
}

std::int64_t SocketChannel::read(std::span<ByteBuffer> dsts, std::error_code& ec) noexcept {
  ec.clear();
  std::array<iovec, kMaxIov> iov;
  const std::size_t count = fillIov(dsts, iov);
  if (count == 0) return 0;
  for (;;) {
    const ssize_t n = sys::readv(fd_, iov.data(), static_cast<int>(count));
    if (n > 0) {
      advanceAll(dsts, static_cast<std::size_t>(n));
      return n;
    }
    if (n == 0) return -1;
    if (errno == EINTR) continue;
    if (wouldBlock(errno)) return 0;
    ec = lastError();
    return -1;
  }
}

std::int64_t SocketChannel::write(std::span<ByteBuffer> srcs, std::error_code& ec) noexcept {
  ec.clear();
  std::array<iovec, kMaxIov> iov;
  const std::size_t count = fillIov(srcs, iov);
  if (count == 0) return 0;
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = count;
  for (;;) {
    const ssize_t n = sys::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n >= 0) {
      advanceAll(srcs, static_cast<std::size_t>(n));
      return n;
    }
    if (errno == EINTR) continue;
    if (wouldBlock(errno)) return 0;
    ec = lastError();
    return -1;
  }
}

ssize_t SocketChannel::readSome(void* data, std::size_t n) noexcept {
  return sys::read(fd_, data, n);
}

ssize_t SocketChannel::writeSome(const void* data, std::size_t n) noexcept {
  return sys::send(fd_, data, n, MSG_NOSIGNAL);
}

ssize_t SocketChannel::readv(const iovec* iov, int count) noexcept {
  return sys::readv(fd_, iov, count);
}

ssize_t SocketChannel::writev(const iovec* iov, int count) noexcept {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = static_cast<std::size_t>(count);
  return sys::sendmsg(fd_, &msg, MSG_NOSIGNAL);
}

void SocketChannel::shutdownInput(std::error_code& ec) noexcept {
  ec.clear();
  if (sys::shutdown(fd_, SHUT_RD) < 0) ec = lastError();
}
void SocketChannel::shutdownOutput(std::error_code& ec) noexcept {
  ec.clear();
  if (sys::shutdown(fd_, SHUT_WR) < 0) ec = lastError();
}
void SocketChannel::shutdownInput() {
  std::error_code ec;
  shutdownInput(ec);
  throwIf(ec, "SocketChannel::shutdownInput");
}
void SocketChannel::shutdownOutput() {
  std::error_code ec;
  shutdownOutput(ec);
  throwIf(ec, "SocketChannel::shutdownOutput");
}

std::optional<InetSocketAddress> SocketChannel::localAddress() const noexcept {
  return addressOf(fd_, false);
}
std::optional<InetSocketAddress> SocketChannel::remoteAddress() const noexcept {
  return addressOf(fd_, true);
}

void SocketChannel::setTcpNoDelay(bool on, std::error_code& ec) noexcept {
  setIntOption(fd_, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0, ec);
}
void SocketChannel::setTcpNoDelay(bool on) {
  std::error_code ec;
  setTcpNoDelay(on, ec);
  throwIf(ec, "setTcpNoDelay");
}

void SocketChannel::setSoLinger(int seconds, std::error_code& ec) noexcept {
  ec.clear();
  linger value{seconds >= 0 ? 1 : 0, seconds >= 0 ? seconds : 0};
  if (sys::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &value, sizeof value) < 0) ec = lastError();
}
void SocketChannel::setSendBufferSize(int bytes, std::error_code& ec) noexcept {
  setIntOption(fd_, SOL_SOCKET, SO_SNDBUF, bytes, ec);
}
void SocketChannel::setReceiveBufferSize(int bytes, std::error_code& ec) noexcept {
  setIntOption(fd_, SOL_SOCKET, SO_RCVBUF, bytes, ec);
}

}  // namespace nioxx
