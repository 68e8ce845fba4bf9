#include "nioxx/proactor/spi/provided_buffers.h"

#include <sys/mman.h>

#include <new>
#include <stdexcept>
#include <string>

namespace nioxx {

// The deleter of a lent buffer: puts the id back on its thread's list.
struct ProvidedBuffers::Returner {
  std::shared_ptr<ProvidedBuffers> group;
  std::uint32_t thread;
  std::uint16_t bufferId;
  void operator()(std::uint8_t*) const noexcept { group->returned(thread, bufferId); }
};

ProvidedBuffers::ProvidedBuffers(const void* owner, std::uint16_t groupId, std::size_t threads,
                                 std::size_t bufferSize, std::size_t buffersPerThread)
    : owner_(owner), groupId_(groupId), bufferSize_(bufferSize), perThread_(buffersPerThread) {
  if (bufferSize == 0 || bufferSize > kMaxBufferSize) {
    throw std::invalid_argument("provideBuffers: bufferSize must be 1 .. " +
                                std::to_string(kMaxBufferSize) + " bytes, got " +
                                std::to_string(bufferSize));
  }
  if (buffersPerThread == 0 || buffersPerThread > kMaxBuffersPerThread) {
    throw std::invalid_argument("provideBuffers: buffersPerThread must be 1 .. " +
                                std::to_string(kMaxBuffersPerThread) + ", got " +
                                std::to_string(buffersPerThread));
  }
  if (threads == 0) threads = 1;
  const std::size_t bytes = bufferSize * buffersPerThread;
  for (std::size_t t = 0; t < threads; ++t) {
    auto slab = std::make_unique<Slab>();
    // mmap: page aligned, and untouched pages cost no memory until a read fills them.
    void* m = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    slab->memory = static_cast<std::uint8_t*>(m);
    slab->free.reserve(buffersPerThread);
    // Highest id last, so take() hands out 0, 1, 2, ... first (reads touch the slab in order).
    for (std::size_t i = buffersPerThread; i-- > 0;)
      slab->free.push_back(static_cast<std::uint16_t>(i));
    slab->freeCount.store(buffersPerThread, std::memory_order_relaxed);
    slabs_.push_back(std::move(slab));
  }
}

ProvidedBuffers::~ProvidedBuffers() {
  for (auto& s : slabs_)
    ::munmap(s->memory, bufferSize_ * perThread_);
}

std::uint8_t* ProvidedBuffers::slab(std::uint32_t thread) const noexcept {
  return slabs_[thread % slabs_.size()]->memory;
}

int ProvidedBuffers::take(std::uint32_t thread) noexcept {
  Slab& s = *slabs_[thread % slabs_.size()];
  std::lock_guard lock(s.mutex);
  if (s.free.empty()) {
    // Set under the lock: a return that takes the lock after this sees it and calls the hook.
    s.waiting.store(true, std::memory_order_relaxed);
    return -1;
  }
  const std::uint16_t id = s.free.back();
  s.free.pop_back();
  s.freeCount.store(s.free.size(), std::memory_order_relaxed);
  return id;
}

void ProvidedBuffers::giveBack(std::uint32_t thread, std::uint16_t bufferId) noexcept {
  thread %= static_cast<std::uint32_t>(slabs_.size());
  Slab& s = *slabs_[thread];
  bool wake;
  {
    std::lock_guard lock(s.mutex);
    s.free.push_back(bufferId);
    s.freeCount.store(s.free.size(), std::memory_order_relaxed);
    // Another read may have found none while this one held it (a spurious wake-up).
    wake = s.waiting.exchange(false, std::memory_order_relaxed);
  }
  if (wake) {
    std::lock_guard hook(hookMutex_);
    if (hook_) hook_(thread);
  }
}

bool ProvidedBuffers::hasReturned(std::uint32_t thread) const noexcept {
  return slabs_[thread % slabs_.size()]->freeCount.load(std::memory_order_relaxed) != 0;
}

void ProvidedBuffers::waitForReturn(std::uint32_t thread) noexcept {
  Slab& s = *slabs_[thread % slabs_.size()];
  bool call = false;
  {
    std::lock_guard lock(s.mutex);
    // Ids returned before the engine noticed the ring was empty: the engine must look again now.
    if (s.free.empty()) {
      s.waiting.store(true, std::memory_order_relaxed);
    } else {
      call = true;
    }
  }
  if (call) {
    std::lock_guard hook(hookMutex_);
    if (hook_) hook_(thread % static_cast<std::uint32_t>(slabs_.size()));
  }
}

void ProvidedBuffers::returned(std::uint32_t thread, std::uint16_t bufferId) noexcept {
  outstanding_.fetch_sub(1, std::memory_order_relaxed);
  giveBack(thread, bufferId);  // the list has room for every id: cannot throw
}

ByteBuffer ProvidedBuffers::lend(std::uint32_t thread, std::uint16_t bufferId, std::size_t bytes) {
  thread %= static_cast<std::uint32_t>(slabs_.size());
  std::uint8_t* p = data(thread, bufferId);
  // Counted first: if the control block cannot be allocated, the deleter returns the id at once.
  outstanding_.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<std::uint8_t[]> owner(p, Returner{shared_from_this(), thread, bufferId});
  ByteBuffer b = ByteBuffer::wrapOwned(std::move(owner), bufferSize_);
  b.position(bytes);
  return b;
}

std::size_t ProvidedBuffers::available(std::uint32_t thread) const noexcept {
  return slabs_[thread % slabs_.size()]->freeCount.load(std::memory_order_relaxed);
}

std::size_t ProvidedBuffers::outstanding() const noexcept {
  return outstanding_.load(std::memory_order_relaxed);
}

void ProvidedBuffers::setReturnHook(ReturnHook hook) {
  std::lock_guard lock(hookMutex_);
  hook_ = std::move(hook);
}

}  // namespace nioxx
