// ServerStats: process-wide counters of a server, updated by every connection, printed in
// the shutdown summary and exported by --metrics (collectMetrics()).
//
// Thread rule: every member is safe from any thread. The per-request counters are
// metrics::ThreadCounter (each thread counts into its own cell: no lock and no shared atomic
// read-modify-write per request; reads sum the cells); `active` and the trim peak are per
// connection and stay plain relaxed atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "nioxx/core/metrics.h"

namespace nioxx::server {

struct ServerStats {
  metrics::ThreadCounter connections;    // accepted and served
  metrics::ThreadCounter rejected;       // refused over --max-connections
  std::atomic<std::uint64_t> active{0};  // open right now
  metrics::ThreadCounter requests;       // request frames answered
  metrics::ThreadCounter errors;         // connections closed for bad input (error reply)
  metrics::ThreadCounter idleClosed;     // connections closed by the idle timeout
  metrics::ThreadCounter shed;           // accepted and closed at once on EMFILE/ENFILE
  metrics::ThreadCounter bytesIn;
  metrics::ThreadCounter bytesOut;
  // Reply bytes produced and not yet written to a socket, summed over connections (a gauge: the
  // sessions add what they produce and subtract what is written or dropped with the connection).
  metrics::ThreadCounter outputPending;
  std::atomic<std::uint64_t> peakSinceTrim{0};  // most connections open at once since the last trim

  static void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) noexcept {
    counter.fetch_add(n, std::memory_order_relaxed);
  }
  static std::uint64_t get(const std::atomic<std::uint64_t>& counter) noexcept {
    return counter.load(std::memory_order_relaxed);
  }
  static void add(metrics::ThreadCounter& counter, std::uint64_t n) noexcept {
    counter.add(static_cast<std::int64_t>(n));
  }
  static std::uint64_t get(const metrics::ThreadCounter& counter) noexcept {
    return static_cast<std::uint64_t>(counter.value());
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

  // Adds the nioxx_server_* families (labels: the server's name) for a /metrics scrape.
  void collectMetrics(metrics::Exposition& out, const std::string& server) const;
};

}  // namespace nioxx::server
