// BufferPool: fixed-size chunks for reads whose buffer is chosen only when data arrives (a
// "provided buffer", as io_uring's buffer rings or Netty's read allocator). A connection that
// waits for input then holds no buffer at all; the chunk is taken at readiness and comes back as
// soon as the bytes were consumed. (Idle memory per connection is a measured target, issue 7.)
//
// acquire() returns a ByteBuffer that owns one chunk; when the last copy of that buffer is gone,
// the chunk returns to the pool (kept for reuse up to maxCached chunks, freed beyond).
//
// Thread rule: every member is safe from any thread; buffers may be dropped on any thread and may
// outlive the BufferPool object (the chunk is then freed).
#pragma once

#include <cstddef>
#include <memory>

#include "nioxx/core/byte_buffer.h"

namespace nioxx {

class BufferPool {
 public:
  struct Options {
    std::size_t chunkSize = 16 * 1024;  // bytes per buffer
    std::size_t maxCached = 256;        // free chunks kept for reuse (memory bound when idle)
  };

  explicit BufferPool(Options options);
  BufferPool() : BufferPool(Options{}) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A buffer of chunkSize bytes: position 0, limit = capacity. Contents are unspecified (the
  // chunk is not cleared: it is meant to be read into). Throws std::bad_alloc.
  ByteBuffer acquire();

  std::size_t chunkSize() const noexcept;
  std::size_t cached() const noexcept;       // free chunks held for reuse
  std::size_t outstanding() const noexcept;  // chunks handed out and not yet returned

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace nioxx
