#include "nioxx/core/buffer_pool.h"

#include <atomic>
#include <mutex>
#include <vector>

#include "nioxx/core/recycling_allocator.h"

namespace nioxx {

struct BufferPool::State {
  std::size_t chunkSize;
  std::size_t maxCached;
  mutable std::mutex mutex;
  std::vector<std::uint8_t*> free;  // guarded by mutex
  bool closed = false;              // guarded: the pool object is gone; returned chunks are freed
  std::atomic<std::size_t> outstanding{0};

  void giveBack(std::uint8_t* chunk) noexcept {
    outstanding.fetch_sub(1, std::memory_order_relaxed);
    {
      std::lock_guard lock(mutex);
      if (!closed && free.size() < maxCached) {
        free.push_back(chunk);  // capacity reserved up front: never throws
        return;
      }
    }
    delete[] chunk;
  }
};

namespace {
// The chunk's deleter: hands it back to the pool it came from.
struct ReturnToPool {
  std::shared_ptr<BufferPool::State> state;
  void operator()(std::uint8_t* chunk) const noexcept { state->giveBack(chunk); }
};
}  // namespace

BufferPool::BufferPool(Options options) : state_(std::make_shared<State>()) {
  state_->chunkSize = options.chunkSize == 0 ? 1 : options.chunkSize;
  state_->maxCached = options.maxCached;
  state_->free.reserve(options.maxCached);
}

BufferPool::~BufferPool() {
  std::vector<std::uint8_t*> chunks;
  {
    std::lock_guard lock(state_->mutex);
    state_->closed = true;
    chunks.swap(state_->free);
  }
  for (std::uint8_t* chunk : chunks)
    delete[] chunk;
}

ByteBuffer BufferPool::acquire() {
  std::uint8_t* chunk = nullptr;
  {
    std::lock_guard lock(state_->mutex);
    if (!state_->free.empty()) {
      chunk = state_->free.back();
      state_->free.pop_back();
    }
  }
  if (chunk == nullptr) chunk = new std::uint8_t[state_->chunkSize];  // not zeroed: read into
  // Counted first: if the control block cannot be allocated, the deleter runs and uncounts it.
  state_->outstanding.fetch_add(1, std::memory_order_relaxed);
  // The control block (one per read) comes from the per-thread recycling allocator, not malloc.
  std::shared_ptr<std::uint8_t[]> owner(chunk, ReturnToPool{state_},
                                        RecyclingAllocator<std::uint8_t>{});
  return ByteBuffer::wrapOwned(std::move(owner), state_->chunkSize);
}

std::size_t BufferPool::chunkSize() const noexcept {
  return state_->chunkSize;
}

std::size_t BufferPool::cached() const noexcept {
  std::lock_guard lock(state_->mutex);
  return state_->free.size();
}

std::size_t BufferPool::outstanding() const noexcept {
  return state_->outstanding.load(std::memory_order_relaxed);
}

}  // namespace nioxx
