#include "detail/pre_close.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

namespace nioxx::uring_detail {
namespace {

int deadSocket() noexcept {
  static const int fd = [] {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return -1;
    ::close(pair[1]);  // no peer: reads see end of stream, writes fail
    return pair[0];
  }();
  return fd;
}

}  // namespace

void ensurePreCloseSocket() noexcept {
  (void)deadSocket();
}

void preClose(int fd) noexcept {
  if (fd < 0) return;
  if (const int dead = deadSocket(); dead >= 0) {
    int rc;
    do {
      rc = ::dup3(dead, fd, O_CLOEXEC);
    } while (rc < 0 && errno == EINTR);
    if (rc >= 0) return;
  }
  ::shutdown(fd, SHUT_RDWR);
}

}  // namespace nioxx::uring_detail
