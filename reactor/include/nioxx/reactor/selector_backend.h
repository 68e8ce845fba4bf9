// SelectorBackend: the readiness source under a Selector. epoll is the default (the only file that
// includes <sys/epoll.h> implements it); the simulator (sim/) supplies a seeded, deterministic one.
//
// What a backend must provide: add/modify/remove a descriptor with an event mask and an opaque
// token; a wait that fills BackendEvents (token nullptr = the wakeup signal) and returns their
// count (EINTR: 0); an async-signal- and thread-safe wakeup() and a drainWakeup() for the selecting
// thread. Level-triggered: a descriptor is reported again at every wait while it stays ready.
//
// Thread rule: add/modify/remove/wakeup from any thread; wait/drainWakeup from the selecting
// thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <system_error>

namespace nioxx {

struct BackendEvent {
  void* token;  // nullptr: the wakeup signal
  std::uint32_t events;
};

class SelectorBackend {
 public:
  // Event bits (equal to the EPOLL* values).
  static constexpr std::uint32_t kIn = 0x001;
  static constexpr std::uint32_t kOut = 0x004;
  static constexpr std::uint32_t kErr = 0x008;
  static constexpr std::uint32_t kHup = 0x010;

  virtual ~SelectorBackend() = default;
  virtual std::error_code add(int fd, std::uint32_t events, void* token) noexcept = 0;
  virtual std::error_code modify(int fd, std::uint32_t events, void* token) noexcept = 0;
  virtual std::error_code remove(int fd) noexcept = 0;
  // Waits up to timeoutMs (-1 forever, 0 not at all) and fills out; returns the count. Throws
  // std::system_error on a broken invariant.
  virtual int wait(std::span<BackendEvent> out, int timeoutMs) = 0;
  virtual void wakeup() noexcept = 0;
  virtual void drainWakeup() noexcept = 0;
};

using SelectorBackendFactory = std::unique_ptr<SelectorBackend> (*)();

// The backend a default-constructed Selector (hence every Reactor, also those inside the emulated
// engine) gets: epoll, unless a factory was installed (the simulator does; nullptr restores
// epoll). Not synchronised: install before creating selectors. Throws std::system_error.
std::unique_ptr<SelectorBackend> makeSelectorBackend();
void setSelectorBackendFactory(SelectorBackendFactory factory) noexcept;

}  // namespace nioxx
