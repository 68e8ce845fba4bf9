#include "common/server_stats.h"

#include <fmt/format.h>
#include <malloc.h>

namespace nioxx::demo {

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
      "connections={} rejected={} requests={} errors={} idle_closed={} bytes_in={} bytes_out={}",
      get(connections), get(rejected), get(requests), get(errors), get(idleClosed), get(bytesIn),
      get(bytesOut));
}

}  // namespace nioxx::demo
