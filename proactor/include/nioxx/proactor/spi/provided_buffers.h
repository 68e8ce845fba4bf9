// ProvidedBuffers: one group of provided buffers as an engine sees it (io_uring's buffer rings;
// users hold a BufferGroup handle, nioxx/proactor/buffer_group.h). Per engine thread, a fixed slab
// of `buffersPerThread` buffers of `bufferSize` bytes, identified by a buffer id (0 .. count-1);
// the group has a 16-bit group id. A read with a group takes a buffer only when data arrives,
// so a connection waiting for input holds none.
//
// The life of one buffer: the engine takes it (the emulated engine through take(); a native
// engine lets the kernel pick one from the ring it filled with reclaim()), fills it, and hands
// it to the user with lend(): a ByteBuffer whose last copy, dropped on any thread, puts the id on
// its thread's return list. An engine that found no free buffer calls waitForReturn(thread) (take()
// does it itself); the next buffer that comes back to that thread then calls the engine's return
// hook once, and the engine re-arms the reads that waited (nothing is lost: the bytes stay in the
// socket until a buffer is free).
//
// Thread rule: every member is safe from any thread. The return hook is called on the thread that
// dropped the buffer, with no lock of the group held: it must be short and must not block
// (post to the engine's thread).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "nioxx/core/byte_buffer.h"

namespace nioxx {

class ProvidedBuffers : public std::enable_shared_from_this<ProvidedBuffers> {
 public:
  // The limits io_uring puts on a buffer ring (16-bit buffer ids, ring size a power of two up to
  // 32768) and a per-buffer bound that keeps a slab's size reasonable.
  static constexpr std::size_t kMaxBuffersPerThread = 32768;
  static constexpr std::size_t kMaxBufferSize = std::size_t{1} << 20;

  // owner: the Proactor (its core) the group belongs to. Throws std::invalid_argument for sizes
  // outside the limits, std::bad_alloc.
  ProvidedBuffers(const void* owner, std::uint16_t groupId, std::size_t threads,
                  std::size_t bufferSize, std::size_t buffersPerThread);
  ~ProvidedBuffers();
  ProvidedBuffers(const ProvidedBuffers&) = delete;
  ProvidedBuffers& operator=(const ProvidedBuffers&) = delete;

  const void* owner() const noexcept { return owner_; }
  std::uint16_t groupId() const noexcept { return groupId_; }
  std::size_t threads() const noexcept { return slabs_.size(); }
  std::size_t bufferSize() const noexcept { return bufferSize_; }
  std::size_t buffersPerThread() const noexcept { return perThread_; }

  // The thread's slab (buffersPerThread * bufferSize bytes, page aligned) and one buffer in it.
  std::uint8_t* slab(std::uint32_t thread) const noexcept;
  std::uint8_t* data(std::uint32_t thread, std::uint16_t bufferId) const noexcept {
    return slab(thread) + std::size_t{bufferId} * bufferSize_;
  }

  // Emulated engines: a free buffer id of the thread's slab, or -1 (then the return hook fires
  // for the next buffer that comes back to this thread).
  int take(std::uint32_t thread) noexcept;
  // A taken buffer that received nothing goes back (waking a read that found none meanwhile).
  void giveBack(std::uint32_t thread, std::uint16_t bufferId) noexcept;
  // Native engines: moves the ids returned so far out of the thread's list (all of them after
  // construction) into the engine's ring, calling onId(bufferId) for each. Returns how many.
  template <class F>
  std::size_t reclaim(std::uint32_t thread, F&& onId);
  // A cheap check before reclaim(): are there returned ids (relaxed; may be stale).
  bool hasReturned(std::uint32_t thread) const noexcept;
  // The engine found the ring empty: call the hook on the next return to this thread.
  void waitForReturn(std::uint32_t thread) noexcept;

  // Hands a filled buffer to the user: capacity bufferSize, position `bytes` (the bytes in
  // [0, position), as a read into it would leave them). The group lives while the buffer does.
  // Throws std::bad_alloc; the id is then back in the thread's list already.
  ByteBuffer lend(std::uint32_t thread, std::uint16_t bufferId, std::size_t bytes);

  // Ids in the thread's list (free for take(); for a native engine: returned, not yet reclaimed)
  // and buffers lent to users and not yet dropped, over all threads.
  std::size_t available(std::uint32_t thread) const noexcept;
  std::size_t outstanding() const noexcept;

  // The engine's wake-up for waitForReturn(). Setting null (at the engine's shutdown) waits until
  // a hook call in progress on another thread has returned.
  using ReturnHook = std::function<void(std::uint32_t thread)>;
  void setReturnHook(ReturnHook hook);

 private:
  struct Slab {
    std::uint8_t* memory = nullptr;
    mutable std::mutex mutex;
    std::vector<std::uint16_t> free;  // taken by take() (emulated) or reclaim() (native)
    std::atomic<std::size_t> freeCount{0};
    std::atomic<bool> waiting{false};
  };
  void returned(std::uint32_t thread, std::uint16_t bufferId) noexcept;
  struct Returner;

  const void* owner_;
  std::uint16_t groupId_;
  std::size_t bufferSize_;
  std::size_t perThread_;
  std::vector<std::unique_ptr<Slab>> slabs_;
  std::atomic<std::size_t> outstanding_{0};
  // Held while the hook runs (rare: only after a wait), so clearing it waits for a call in
  // progress.
  std::mutex hookMutex_;
  ReturnHook hook_;
};

template <class F>
std::size_t ProvidedBuffers::reclaim(std::uint32_t thread, F&& onId) {
  Slab& s = *slabs_[thread];
  std::vector<std::uint16_t> ids;
  {
    std::lock_guard lock(s.mutex);
    ids.swap(s.free);
    s.freeCount.store(0, std::memory_order_relaxed);
  }
  for (std::uint16_t id : ids)
    onId(id);
  return ids.size();
}

}  // namespace nioxx
