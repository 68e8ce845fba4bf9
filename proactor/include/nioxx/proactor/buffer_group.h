// BufferGroup: a fixed set of read buffers owned by the engine (io_uring's provided-buffer rings),
// made with Proactor::provideBuffers() and used by AsyncSocket::read(group, ...) and
// readEach(group, ...). Each engine thread has its own `buffersPerThread` buffers of `bufferSize`
// bytes; a read takes one of its socket's thread only when data arrives, so a socket waiting for
// input holds no buffer, and memory for reads is bounded by the group's size however many
// connections there are.
//
// A read's result holds its bytes in buffer()[0, position); dropping that buffer (and every copy
// of it) returns it to the group, on any thread. When a thread's buffers are all held, reads on
// that thread wait (their bytes stay in the socket, their timeouts run) until one comes back:
// backpressure, not an error (end of stream and errors are also seen only once a buffer is free,
// as io_uring picks a buffer before it receives). So a handler that keeps buffers must give them
// back, or copy the bytes it wants to keep.
//
// Compared with BufferPool (nioxx/core/buffer_pool.h): a pool allocates more chunks when it runs
// out; a group never does, and a native engine hands its buffers to the kernel.
//
// Thread rule: a BufferGroup is a counted handle; every member is safe from any thread. The group
// lives while a handle, a lent buffer or its Proactor does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace nioxx {

class ProvidedBuffers;  // nioxx/proactor/spi/provided_buffers.h (engine authors)

class BufferGroup {
 public:
  struct Options {
    std::size_t bufferSize = 16 * 1024;  // bytes per buffer, 1 .. 1 MiB
    std::size_t buffersPerThread = 256;  // per engine thread, 1 .. 32768
  };

  BufferGroup() = default;  // no group; read(group) throws std::invalid_argument
  explicit BufferGroup(std::shared_ptr<ProvidedBuffers> group) noexcept
      : group_(std::move(group)) {}

  explicit operator bool() const noexcept { return static_cast<bool>(group_); }
  std::uint16_t id() const noexcept;
  std::size_t bufferSize() const noexcept;
  std::size_t buffersPerThread() const noexcept;
  // Buffers held by results (lent and not yet dropped), over all threads.
  std::size_t outstanding() const noexcept;

  ProvidedBuffers* get() const noexcept { return group_.get(); }

 private:
  std::shared_ptr<ProvidedBuffers> group_;
};

}  // namespace nioxx
