// Buffer and error helpers shared by the ring's issuing and completion code (ring_ops.cpp,
// ring_completions.cpp).
#pragma once

#include <sys/uio.h>

#include <algorithm>
#include <cstddef>
#include <system_error>
#include <vector>

#include "nioxx/core/byte_buffer.h"

namespace nioxx::uring_detail {

inline std::error_code sysError(int e) noexcept {
  return {e, std::system_category()};
}

// Up to 64 iovecs over the buffers' remaining bytes (a writev's, or a scatter read's).
inline unsigned gather(std::vector<ByteBuffer>& bufs, iovec* iov) noexcept {
  unsigned n = 0;
  for (auto& b : bufs) {
    if (!b.hasRemaining()) continue;
    if (n == 64) break;
    auto span = b.remainingSpan();
    iov[n++] = {span.data(), span.size()};
  }
  return n;
}

// Moves the buffers' positions past n transferred bytes, in order.
inline void advance(std::vector<ByteBuffer>& bufs, std::size_t n) noexcept {
  for (auto& b : bufs) {
    if (n == 0) break;
    const std::size_t step = std::min(n, b.remaining());
    b.advance(step);
    n -= step;
  }
}

inline bool anyRemaining(const std::vector<ByteBuffer>& bufs) noexcept {
  return std::any_of(bufs.begin(), bufs.end(),
                     [](const ByteBuffer& b) { return b.hasRemaining(); });
}

}  // namespace nioxx::uring_detail
