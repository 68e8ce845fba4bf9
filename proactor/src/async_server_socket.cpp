#include "nioxx/proactor/async_server_socket.h"

#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include "detail/proactor_core.h"
#include "nioxx/core/error.h"
#include "nioxx/core/sys.h"
#include "nioxx/proactor/proactor.h"

namespace nioxx {
namespace detail {
std::optional<InetSocketAddress> addressOf(int fd, bool peer);
int openStreamSocket(bool ipv6);
}  // namespace detail

AsyncServerSocket AsyncServerSocket::open(Proactor& proactor, bool ipv6) {
  return open(proactor, Placement::any(), ipv6);
}

void AsyncServerSocket::placeAccepted(Placement placement) {
  checked()->setAcceptedPlacement(placement.thread);
}

AsyncServerSocket AsyncServerSocket::open(Proactor& proactor, Placement placement, bool ipv6) {
  const int fd = detail::openStreamSocket(ipv6);
  try {
    return AsyncServerSocket(
        proactor.core()->newChannel(fd, ChannelKind::server_socket, placement.thread));
  } catch (...) {
    sys::close(fd);
    throw;
  }
}

AsyncChannel* AsyncServerSocket::checked() const {
  if (!channel_) {
    throw std::logic_error(
        "nioxx: operation on an empty AsyncServerSocket; create it with "
        "AsyncServerSocket::open()");
  }
  return channel_.get();
}

std::error_code AsyncServerSocket::bind(const InetSocketAddress& local, int backlog) {
  const int fd = checked()->fd();
  const int one = 1;
  sys::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (sys::bind(fd, local.sockaddr(), local.length()) != 0) return lastError();
  if (sys::listen(fd, backlog) != 0) return lastError();
  return {};
}

std::optional<InetSocketAddress> AsyncServerSocket::localAddress() const {
  return channel_ ? detail::addressOf(channel_->fd(), false) : std::nullopt;
}

std::future<AcceptResult> AsyncServerSocket::accept(UseFuture, Nanos timeout) {
  auto [op, future] = detail::makeFutureOperation<AcceptResult>(OpKind::accept, checked());
  op->timeout = timeout;
  detail::initiate(op);
  return std::move(future);
}

void AsyncServerSocket::cancel() {
  checked()->core().cancel(*channel_.get());
}
void AsyncServerSocket::cancel(OperationId operation) {
  checked()->core().cancelOperation(*channel_.get(), operation);
}
void AsyncServerSocket::close() {
  if (channel_) channel_->core().close(*channel_.get());
}

}  // namespace nioxx
