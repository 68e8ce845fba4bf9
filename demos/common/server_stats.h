// ServerStats: process-wide counters of a demo server, updated by every connection and printed in
// the shutdown summary.
//
// Thread rule: every member is safe from any thread (relaxed atomics: the figures are reports,
// not synchronisation).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace nioxx::demo {

struct ServerStats {
  std::atomic<std::uint64_t> connections{0};  // accepted and served
  std::atomic<std::uint64_t> rejected{0};     // refused over --max-connections
  std::atomic<std::uint64_t> active{0};       // open right now
  std::atomic<std::uint64_t> requests{0};     // request frames answered
  std::atomic<std::uint64_t> errors{0};       // connections closed for bad input
  std::atomic<std::uint64_t> idleClosed{0};   // connections closed by the idle timeout
  std::atomic<std::uint64_t> bytesIn{0};
  std::atomic<std::uint64_t> bytesOut{0};
  std::atomic<std::uint64_t> peakSinceTrim{0};  // most connections open at once since the last trim

  static void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) noexcept {
    counter.fetch_add(n, std::memory_order_relaxed);
  }
  static std::uint64_t get(const std::atomic<std::uint64_t>& counter) noexcept {
    return counter.load(std::memory_order_relaxed);
  }

  // Track `active`. When the server goes idle after a busy period (at least kTrimAfterPeak
  // connections open at once since the last trim), freed memory is handed back to the OS: glibc
  // keeps freed per-connection buffers in its arenas, so RSS would otherwise stay at its peak.
  static constexpr std::uint64_t kTrimAfterPeak = 64;
  void connectionOpened() noexcept;
  void connectionClosed() noexcept;

  // "connections=... rejected=... requests=... errors=... idle_closed=... bytes_in=...
  // bytes_out=..."
  std::string summary() const;
};

}  // namespace nioxx::demo
