#include "detail/epoll_backend.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <new>

#include "nioxx/core/error.h"

namespace nioxx::detail {

static_assert(kEventIn == EPOLLIN && kEventOut == EPOLLOUT && kEventErr == EPOLLERR &&
              kEventHup == EPOLLHUP);

EpollBackend::EpollBackend() {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw std::system_error(lastError(), "epoll_create1");
  eventFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (eventFd_ < 0) {
    const auto ec = lastError();
    ::close(epfd_);
    throw std::system_error(ec, "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, eventFd_, &ev) < 0) {
    const auto ec = lastError();
    ::close(eventFd_);
    ::close(epfd_);
    throw std::system_error(ec, "epoll_ctl(eventfd)");
  }
}

EpollBackend::~EpollBackend() {
  std::free(events_);
  ::close(eventFd_);
  ::close(epfd_);
}

std::error_code EpollBackend::add(int fd, std::uint32_t events, void* token) noexcept {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = token;
  return ::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0 ? lastError() : std::error_code{};
}

std::error_code EpollBackend::modify(int fd, std::uint32_t events, void* token) noexcept {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = token;
  return ::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) < 0 ? lastError() : std::error_code{};
}

std::error_code EpollBackend::remove(int fd) noexcept {
  epoll_event ev{};  // non-null for kernels before 2.6.9
  return ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev) < 0 ? lastError() : std::error_code{};
}

int EpollBackend::wait(std::span<BackendEvent> out, int timeoutMs) {
  if (capacity_ < out.size()) {  // grows with the selector's array only: no per-call allocation
    void* grown = std::realloc(events_, out.size() * sizeof(epoll_event));
    if (grown == nullptr) throw std::bad_alloc();
    events_ = grown;
    capacity_ = out.size();
  }
  auto* events = static_cast<epoll_event*>(events_);
  const int n = ::epoll_wait(epfd_, events, static_cast<int>(out.size()), timeoutMs);
  if (n < 0) {
    if (errno == EINTR) return 0;
    throw std::system_error(lastError(), "epoll_wait");
  }
  for (int i = 0; i < n; ++i)
    out[static_cast<std::size_t>(i)] = {events[i].data.ptr, events[i].events};
  return n;
}

void EpollBackend::wakeup() noexcept {
  const std::uint64_t one = 1;
  // EAGAIN (counter saturated) still leaves the fd readable: nothing to do.
  [[maybe_unused]] const ssize_t n = ::write(eventFd_, &one, sizeof one);
}

void EpollBackend::drainWakeup() noexcept {
  std::uint64_t value = 0;
  [[maybe_unused]] const ssize_t n = ::read(eventFd_, &value, sizeof value);
}

}  // namespace nioxx::detail

namespace nioxx {
namespace {
SelectorBackendFactory gFactory = nullptr;
}  // namespace

std::unique_ptr<SelectorBackend> makeSelectorBackend() {
  if (gFactory != nullptr) return gFactory();
  return std::make_unique<detail::EpollBackend>();
}

void setSelectorBackendFactory(SelectorBackendFactory factory) noexcept {
  gFactory = factory;
}

}  // namespace nioxx
