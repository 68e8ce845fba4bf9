// EpollBackend: the only place that talks to epoll (and the wakeup eventfd). The Selector uses
// nothing else from the kernel's readiness API, so a simulated backend (seeded, deterministic
// readiness for property tests) can replace this class.
//
// What a backend must provide: add/modify/remove a descriptor with an event mask and an opaque
// token; a wait that fills BackendEvents (token nullptr = the wakeup signal); an async-signal-
// and thread-safe wakeup() and a drainWakeup() for the selecting thread.
//
// Thread rule: add/modify/remove/wakeup from any thread (the kernel serialises them);
// wait/drainWakeup from the selecting thread only.
#pragma once

#include <cstdint>
#include <span>
#include <system_error>

namespace nioxx::detail {

// Event bits (equal to the EPOLL* values; checked in the .cpp).
inline constexpr std::uint32_t kEventIn = 0x001;
inline constexpr std::uint32_t kEventOut = 0x004;
inline constexpr std::uint32_t kEventErr = 0x008;
inline constexpr std::uint32_t kEventHup = 0x010;

struct BackendEvent {
  void* token;  // nullptr: the wakeup eventfd fired
  std::uint32_t events;
};

class EpollBackend {
 public:
  EpollBackend();  // throws std::system_error
  ~EpollBackend();
  EpollBackend(const EpollBackend&) = delete;
  EpollBackend& operator=(const EpollBackend&) = delete;

  std::error_code add(int fd, std::uint32_t events, void* token) noexcept;
  std::error_code modify(int fd, std::uint32_t events, void* token) noexcept;
  std::error_code remove(int fd) noexcept;

  // Waits up to timeoutMs (-1 forever) and fills out; returns the count. EINTR gives 0.
  // Throws std::system_error on any other failure (a broken invariant).
  int wait(std::span<BackendEvent> out, int timeoutMs);

  void wakeup() noexcept;
  void drainWakeup() noexcept;

 private:
  int epfd_ = -1;
  int eventFd_ = -1;
  void* events_ = nullptr;  // epoll_event[capacity_], kept out of this header
  std::size_t capacity_ = 0;
};

}  // namespace nioxx::detail
