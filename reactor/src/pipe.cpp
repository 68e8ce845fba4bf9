#include "nioxx/reactor/pipe.h"

#include <fcntl.h>
#include <unistd.h>

#include "nioxx/core/error.h"
#include "nioxx/core/sys.h"

namespace nioxx {

Pipe Pipe::open(std::error_code& ec) noexcept {
  ec.clear();
  int fds[2];
  Pipe pipe;
  if (sys::pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
    ec = lastError();
    return pipe;
  }
  pipe.source_ = SourceChannel(fds[0]);
  pipe.sink_ = SinkChannel(fds[1]);
  return pipe;
}

Pipe Pipe::open() {
  std::error_code ec;
  Pipe pipe = open(ec);
  if (ec) throw std::system_error(ec, "Pipe::open");
  return pipe;
}

std::int64_t Pipe::SourceChannel::read(ByteBuffer& dst, std::error_code& ec) noexcept {
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
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    ec = lastError();
    return -1;
  }
}

ssize_t Pipe::SourceChannel::readSome(void* data, std::size_t n) noexcept {
  return sys::read(fd_, data, n);
}

std::int64_t Pipe::SinkChannel::write(ByteBuffer& src, std::error_code& ec) noexcept {
  ec.clear();
  auto span = src.remainingSpan();
  if (span.empty()) return 0;
  for (;;) {
    const ssize_t n = sys::write(fd_, span.data(), span.size());
    if (n >= 0) {
      src.advance(static_cast<std::size_t>(n));
      return n;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    ec = lastError();
    return -1;
  }
}

ssize_t Pipe::SinkChannel::writeSome(const void* data, std::size_t n) noexcept {
  return sys::write(fd_, data, n);
}

}  // namespace nioxx
