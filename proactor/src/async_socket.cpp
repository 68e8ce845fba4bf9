#include "nioxx/proactor/async_socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>
#include <system_error>

#include "detail/proactor_core.h"
#include "nioxx/core/error.h"
#include "nioxx/core/sys.h"
#include "nioxx/proactor/async_file.h"
#include "nioxx/proactor/proactor.h"
#include "nioxx/proactor/spi/provided_buffers.h"

namespace nioxx {
namespace detail {

std::optional<InetSocketAddress> addressOf(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  const int rc = peer ? sys::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                      : sys::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return std::nullopt;
  return InetSocketAddress::fromSockaddr(ss, len);
}

int openStreamSocket(bool ipv6) {
  const int fd =
      sys::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(lastError(), "nioxx: socket(2) failed");
  return fd;
}

}  // namespace detail

AsyncSocket AsyncSocket::open(Proactor& proactor, bool ipv6) {
  return open(proactor, Placement::any(), ipv6);
}

AsyncSocket AsyncSocket::open(Proactor& proactor, Placement placement, bool ipv6) {
  const int fd = detail::openStreamSocket(ipv6);
  try {
    return AsyncSocket(proactor.core()->newChannel(fd, ChannelKind::socket, placement.thread));
  } catch (...) {
    sys::close(fd);
    throw;
  }
}

AsyncSocket AsyncSocket::adopt(Proactor& proactor, int fd, Placement placement) {
  const int flags = sys::fcntl(fd, F_GETFL);
  if (flags < 0 || sys::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    throw std::system_error(lastError(), "nioxx: AsyncSocket::adopt: fcntl(O_NONBLOCK) failed");
  }
  return AsyncSocket(proactor.core()->newChannel(fd, ChannelKind::socket, placement.thread));
}

ProvidedBuffers* AsyncSocket::checked(const BufferGroup& group) const {
  ProvidedBuffers* g = group.get();
  if (g == nullptr) {
    throw std::invalid_argument(
        "nioxx: read with an empty BufferGroup; make one with Proactor::provideBuffers()");
  }
  if (channel_ && g->owner() != &channel_->core()) {
    throw std::invalid_argument(
        "nioxx: read with a BufferGroup of another Proactor; use a group made by the Proactor "
        "this socket belongs to");
  }
  return g;
}

AsyncChannel* AsyncSocket::checked() const {
  if (!channel_) {
    throw std::logic_error(
        "nioxx: operation on an empty AsyncSocket; create it with AsyncSocket::open() or take "
        "it from AcceptResult::socket()");
  }
  return channel_.get();
}

std::size_t AsyncSocket::pendingWriteBytes() const noexcept {
  return channel_ ? channel_->pendingWriteBytes() : 0;
}
std::size_t AsyncSocket::pendingWrites() const noexcept {
  return channel_ ? channel_->pendingWrites() : 0;
}
void AsyncSocket::setWriteBufferWatermarks(std::size_t low, std::size_t high) {
  AsyncChannel* ch = checked();
  ch->core().setWriteBuffer(*ch, low, high, ch->writeLimit_.load());
}
void AsyncSocket::setWriteBufferLimit(std::size_t bytes) {
  AsyncChannel* ch = checked();
  ch->core().setWriteBuffer(*ch, ch->lowWater_.load(), ch->highWater_.load(), bytes);
}
void AsyncSocket::onWritabilityChanged(std::function<void(AsyncSocket&, bool)> handler) {
  AsyncChannel* ch = checked();
  ch->core().watchWritability(*ch, std::move(handler));
}
std::optional<InetSocketAddress> AsyncSocket::localAddress() const {
  return channel_ ? detail::addressOf(channel_->fd(), false) : std::nullopt;
}
std::optional<InetSocketAddress> AsyncSocket::remoteAddress() const {
  return channel_ ? detail::addressOf(channel_->fd(), true) : std::nullopt;
}

std::error_code AsyncSocket::setNoDelay(bool on) {
  const int v = on ? 1 : 0;
  if (sys::setsockopt(checked()->fd(), IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) != 0) {
    return lastError();
  }
  return {};
}

std::future<ConnectResult> AsyncSocket::connect(const InetSocketAddress& to, UseFuture,
                                                Nanos timeout) {
  auto [op, future] = detail::makeFutureOperation<ConnectResult>(OpKind::connect, checked());
  op->address = std::make_unique<InetSocketAddress>(to);
  start(op, timeout);
  return std::move(future);
}

std::future<IoResult> AsyncSocket::ioFuture(OpKind kind, bool whole, ByteBuffer buf,
                                            Nanos timeout) {
  auto [op, future] = detail::makeFutureOperation<IoResult>(kind, checked());
  op->buffer = std::move(buf);
  op->whole = whole;
  start(op, timeout);
  return std::move(future);
}

std::future<IoResult> AsyncSocket::read(ByteBuffer dst, UseFuture, Nanos timeout) {
  return ioFuture(OpKind::read, false, std::move(dst), timeout);
}
std::future<IoResult> AsyncSocket::readExactly(ByteBuffer dst, UseFuture, Nanos timeout) {
  return ioFuture(OpKind::read, true, std::move(dst), timeout);
}
std::future<IoResult> AsyncSocket::readUntil(ByteBuffer dst, std::string_view delimiter,
                                             std::size_t maxBytes, UseFuture, Nanos timeout) {
  auto promise = std::make_shared<std::promise<IoResult>>();
  auto future = promise->get_future();
  readUntil(
      std::move(dst), delimiter, maxBytes, NoAct{},
      [promise](IoResult& r) { promise->set_value(std::move(r)); }, timeout);
  return future;
}
std::future<IoResult> AsyncSocket::write(ByteBuffer src, UseFuture, Nanos timeout) {
  return ioFuture(OpKind::write, false, std::move(src), timeout);
}
std::future<IoResult> AsyncSocket::writeAll(ByteBuffer src, UseFuture, Nanos timeout) {
  return ioFuture(OpKind::write, true, std::move(src), timeout);
}
std::future<ScatterResult> AsyncSocket::writev(std::vector<ByteBuffer> srcs, UseFuture,
                                               Nanos timeout, bool whole) {
  auto [op, future] = detail::makeFutureOperation<ScatterResult>(OpKind::writev, checked());
  op->buffers = std::move(srcs);
  op->whole = whole;
  start(op, timeout);
  return std::move(future);
}

int AsyncSocket::fdOf(const AsyncFile& file) {
  if (file.channel() == nullptr) {
    throw std::logic_error(
        "nioxx: transmitFile of an empty AsyncFile; open it with AsyncFile::open() and check the "
        "error_code");
  }
  return file.fd();
}

void AsyncSocket::prepareTransmit(Operation& op, int fileFd, std::uint64_t offset,
                                  std::uint64_t count) noexcept {
  op.count = count;
  if (offset > static_cast<std::uint64_t>(INT64_MAX)) {
    op.error = Error::invalid_argument;
    return;
  }
  op.offset = static_cast<std::int64_t>(offset);
  if (count == 0) return;  // nothing to send: no descriptor needed
  op.fileFd = sys::fcntl(fileFd, F_DUPFD_CLOEXEC, 0);
  if (op.fileFd < 0) op.error = lastError();
}

std::future<IoResult> AsyncSocket::transmitFile(const AsyncFile& file, std::uint64_t offset,
                                                std::uint64_t count, UseFuture, Nanos timeout) {
  const int fd = fdOf(file);
  auto [op, future] = detail::makeFutureOperation<IoResult>(OpKind::transmit_file, checked());
  prepareTransmit(*op, fd, offset, count);
  start(op, timeout);
  return std::move(future);
}

void AsyncSocket::cancel() {
  checked()->core().cancel(*channel_.get());
}
void AsyncSocket::cancel(OperationId operation) {
  checked()->core().cancelOperation(*channel_.get(), operation);
}
std::error_code AsyncSocket::shutdownInput() {
  if (sys::shutdown(checked()->fd(), SHUT_RD) != 0) return lastError();
  return {};
}
std::error_code AsyncSocket::shutdownOutput() {
  if (sys::shutdown(checked()->fd(), SHUT_WR) != 0) return lastError();
  return {};
}
void AsyncSocket::close() {
  if (channel_) channel_->core().close(*channel_.get());
}

}  // namespace nioxx
