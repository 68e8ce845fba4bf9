#include "nioxx/server/server_stats.h"

#include <fmt/format.h>
#include <malloc.h>

#include <algorithm>

namespace nioxx::server {

void ServerStats::connectionOpened() noexcept {
  const std::uint64_t now = active.fetch_add(1, std::memory_order_relaxed) + 1;
  std::uint64_t peak = peakSinceTrim.load(std::memory_order_relaxed);
  while (now > peak && !peakSinceTrim.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void ServerStats::connectionClosed() noexcept {
  if (active.fetch_sub(1, std::memory_order_relaxed) != 1) return;
  // Last connection gone: trim once per busy period, not per connection (a trim walks the heap).
  if (peakSinceTrim.exchange(0, std::memory_order_relaxed) >= kTrimAfterPeak) ::malloc_trim(0);
}

std::string ServerStats::summary() const {
  return fmt::format(
      "connections={} rejected={} requests={} errors={} idle_closed={} bytes_in={} bytes_out={} "
      "shed={}",
      get(connections), get(rejected), get(requests), get(errors), get(idleClosed), get(bytesIn),
      get(bytesOut), get(shed));
}

void ServerStats::collectMetrics(metrics::Exposition& out, const std::string& server) const {
  using metrics::Type;
  const metrics::Labels labels{{"server", server}};
  const auto counter = [&](const char* name, const char* help, const metrics::ThreadCounter& c) {
    out.family(name, help, Type::counter).sample(labels, static_cast<double>(get(c)));
  };
  counter("nioxx_server_connections_accepted_total", "Connections accepted and served.",
          connections);
  counter("nioxx_server_connections_rejected_total",
          "Connections refused over --max-connections (busy error reply, then close).", rejected);
  counter("nioxx_server_connections_shed_total",
          "Connections accepted and closed at once because descriptors ran out (EMFILE/ENFILE).",
          shed);
  counter("nioxx_server_connections_idle_closed_total", "Connections closed by the idle timeout.",
          idleClosed);
  counter("nioxx_server_error_replies_total",
          "Connections answered with an error reply and closed for bad input.", errors);
  counter("nioxx_server_frames_total", "Request frames answered.", requests);
  counter("nioxx_server_received_bytes_total", "Bytes read from clients.", bytesIn);
  counter("nioxx_server_sent_bytes_total", "Bytes written to clients.", bytesOut);
  out.family("nioxx_server_connections_open", "Connections open now.", Type::gauge)
      .sample(labels, static_cast<double>(get(active)));
  // Cells of different threads are read one after the other: a sum caught between a write on one
  // thread and its accounting on another can be off by a moment, never below zero for long.
  out.family("nioxx_server_output_pending_bytes",
             "Reply bytes queued and not yet written to clients, summed over connections.",
             Type::gauge)
      .sample(labels, static_cast<double>(std::max<std::int64_t>(0, outputPending.value())));
}

}  // namespace nioxx::server
