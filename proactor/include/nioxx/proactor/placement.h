// Placement: which engine thread a channel lives on. An engine runs one instance (a Reactor, an
// io_uring ring) per thread; a channel's I/O, and with call_through its handlers, stay on its
// thread. By default the engine chooses (round-robin); placing two sockets on one thread (a
// proxy's two ends) keeps everything between them on that thread, with no hand-off.
#pragma once

#include <cstdint>

namespace nioxx {

struct Placement {
  static constexpr std::uint32_t kAny = UINT32_MAX;
  std::uint32_t thread = kAny;  // 0 .. Proactor::engineThreads() - 1 (taken modulo), or kAny

  static constexpr Placement any() noexcept { return {}; }
  static constexpr Placement onThread(std::uint32_t t) noexcept { return Placement{t}; }
};

}  // namespace nioxx
