#include "nioxx/core/sys.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace nioxx::sys {

ssize_t Os::sendfile(int outFd, int inFd, off_t* offset, std::size_t n) noexcept {
  std::array<std::uint8_t, 16384> chunk;  // bounded: a large file is never read whole
  const ssize_t got = ::pread(inFd, chunk.data(), std::min(n, chunk.size()), *offset);
  if (got <= 0) return got;  // end of file (0) or the file's error
  const ssize_t sent = send(outFd, chunk.data(), static_cast<std::size_t>(got), MSG_NOSIGNAL);
  if (sent > 0) *offset += sent;
  return sent;
}

namespace detail {
Os* gOs = nullptr;
}  // namespace detail

void install(Os* os) noexcept {
  detail::gOs = os;
}

}  // namespace nioxx::sys
