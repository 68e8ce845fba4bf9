#include "common/server_stats.h"

#include <fmt/format.h>

namespace nioxx::demo {

std::string ServerStats::summary() const {
  return fmt::format(
      "connections={} rejected={} requests={} errors={} idle_closed={} bytes_in={} bytes_out={}",
      get(connections), get(rejected), get(requests), get(errors), get(idleClosed), get(bytesIn),
      get(bytesOut));
}

}  // namespace nioxx::demo
