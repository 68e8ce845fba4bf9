#include "nioxx/core/fd_reserve.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <system_error>

#include "nioxx/core/log.h"
#include "nioxx/core/sys.h"

namespace nioxx::descriptor {
namespace {

constexpr auto kWarningInterval = std::chrono::seconds(1);

// std::mutex and std::atomic<int> have constexpr constructors: no static-initialisation order
// issue, and both are usable from processor threads until the process exits.
std::mutex gMutex;
std::atomic<int> gReserve{-1};
std::chrono::steady_clock::time_point gLastWarning{};  // guarded by gMutex
std::size_t gSuppressed = 0;                           // guarded by gMutex

int openReserve() noexcept {
  return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

}  // namespace

void ensureFdReserve() noexcept {
  if (gReserve.load(std::memory_order_acquire) >= 0) return;
  const int saved = errno;
  std::lock_guard lock(gMutex);
  if (gReserve.load(std::memory_order_relaxed) < 0)
    gReserve.store(openReserve(), std::memory_order_release);
  errno = saved;
}

ShedResult shedOnExhaustion(int listenFd, int error, std::size_t maxShed) noexcept {
  ShedResult result;
  bool warn = false;
  std::size_t suppressed = 0;
  {
    std::lock_guard lock(gMutex);
    int spare = gReserve.load(std::memory_order_relaxed);
    if (spare < 0) spare = openReserve();  // a slot may have been freed since the last attempt
    if (spare >= 0) {
      ::close(spare);
      gReserve.store(-1, std::memory_order_release);
      // Until the backlog is empty (EAGAIN) or the freed slot is lost to another thread (EMFILE
      // again): accept and close at once. Blocking-mode accept is not a risk: the listening
      // socket is non-blocking (the processor's accept would hang otherwise).
      for (std::size_t i = 0; i < maxShed; ++i) {
        const int c = sys::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          result.drained = errno == EAGAIN || errno == EWOULDBLOCK;
          break;
        }
        sys::close(c);
        ++result.shed;
      }
      gReserve.store(openReserve(), std::memory_order_release);
    }
    if (result.shed == 0 && result.drained) return result;  // nobody turned away: nothing to say
    const auto now = std::chrono::steady_clock::now();
    if (now - gLastWarning >= kWarningInterval) {
      warn = true;
      suppressed = gSuppressed;
      gSuppressed = 0;
      gLastWarning = now;
    } else {
      ++gSuppressed;
    }
  }
  if (warn) {
    try {
      log::get("core")->warn(
          "accept: {}; closed {} waiting connection(s) at once so their clients see a close "
          "(reserve-descriptor trick); {} similar warnings suppressed. Raise the descriptor "
          "limit (ulimit -n) or lower the load.",
          std::error_code(error, std::system_category()).message(), result.shed, suppressed);
    } catch (...) {  // logging must not turn a failed accept into a crash
    }
  }
  return result;
}

}  // namespace nioxx::descriptor
