// EpollBackend: the only place that talks to epoll (and the wakeup eventfd); the default
// SelectorBackend (see nioxx/reactor/selector_backend.h for the contract).
//
// Thread rule: add/modify/remove/wakeup from any thread (the kernel serialises them);
// wait/drainWakeup from the selecting thread only.
#pragma once

#include <cstdint>
#include <span>
#include <system_error>

#include "nioxx/reactor/selector_backend.h"

namespace nioxx::detail {

// Event bits (equal to the EPOLL* values; checked in the .cpp).
inline constexpr std::uint32_t kEventIn = SelectorBackend::kIn;
inline constexpr std::uint32_t kEventOut = SelectorBackend::kOut;
inline constexpr std::uint32_t kEventErr = SelectorBackend::kErr;
inline constexpr std::uint32_t kEventHup = SelectorBackend::kHup;

class EpollBackend final : public SelectorBackend {
 public:
  EpollBackend();  // throws std::system_error
  ~EpollBackend();
  EpollBackend(const EpollBackend&) = delete;
  EpollBackend& operator=(const EpollBackend&) = delete;

  std::error_code add(int fd, std::uint32_t events, void* token) noexcept override;
  std::error_code modify(int fd, std::uint32_t events, void* token) noexcept override;
  std::error_code remove(int fd) noexcept override;

  // Waits up to timeoutMs (-1 forever) and fills out; returns the count. EINTR gives 0.
  // Throws std::system_error on any other failure (a broken invariant).
  int wait(std::span<BackendEvent> out, int timeoutMs) override;

  void wakeup() noexcept override;
  void drainWakeup() noexcept override;

 private:
  int epfd_ = -1;
  int eventFd_ = -1;
  void* events_ = nullptr;  // epoll_event[capacity_], kept out of this header
  std::size_t capacity_ = 0;
};

}  // namespace nioxx::detail
