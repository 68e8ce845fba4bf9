#include "nioxx/core/pre_close.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>

#include "nioxx/core/sys.h"

namespace nioxx::descriptor {
namespace {

std::atomic<int> gDeadFd{-1};
std::mutex gDeadMutex;

int deadFd() noexcept {
  int fd = gDeadFd.load(std::memory_order_acquire);
  if (fd >= 0) return fd;
  std::lock_guard lock(gDeadMutex);
  fd = gDeadFd.load(std::memory_order_relaxed);
  if (fd >= 0) return fd;
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return -1;
  ::close(pair[1]);  // the peer is gone: reads see end of stream, writes fail
  gDeadFd.store(pair[0], std::memory_order_release);
  return pair[0];
}

}  // namespace

void ensurePreCloseSocket() noexcept {
  if (sys::installed() == nullptr) (void)deadFd();
}

void preClose(int fd) noexcept {
  if (fd < 0) return;
  // A simulated OS (sim/) lives shorter than the cached dead socket: release the connection with
  // a shutdown there, which the peer sees the same way.
  if (sys::installed() != nullptr) {
    sys::shutdown(fd, SHUT_RDWR);
    return;
  }
  const int dead = deadFd();
  if (dead >= 0) {
    int rc;
    do {
      rc = ::dup3(dead, fd, O_CLOEXEC);
    } while (rc < 0 && errno == EINTR);
    if (rc >= 0) return;
  }
  sys::shutdown(fd, SHUT_RDWR);
}

}  // namespace nioxx::descriptor
