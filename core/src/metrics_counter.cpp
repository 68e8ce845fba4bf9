// ThreadCounter's cells: each thread owns a slot of lazily allocated chunks of cells; a counter
// is one index into every slot. Only the owning thread writes its cells (load + store, relaxed);
// scrapes, thread exits and counter creation/destruction take the registry mutex.
#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "nioxx/core/metrics.h"

namespace nioxx::metrics {
namespace {

using detail::CounterCell;
constexpr std::size_t kChunkCells = detail::kCounterChunkCells;
constexpr std::size_t kChunks = kMaxThreadCounters / kChunkCells;
static_assert(kChunks * kChunkCells == kMaxThreadCounters);

// A chunk is kChunkCells cells (new[]); the slot's table is what detail::tCounterChunks points to.
struct Slot {
  std::array<std::atomic<CounterCell*>, kChunks> chunks{};
  Slot* prev = nullptr;
  Slot* next = nullptr;
  ~Slot() {
    for (auto& c : chunks)
      delete[] c.load(std::memory_order_relaxed);
  }
};

struct Registry {
  std::mutex mutex;
  Slot* head = nullptr;
  std::vector<std::int64_t> base = std::vector<std::int64_t>(kMaxThreadCounters, 0);
  std::vector<std::uint32_t> freeIndices;  // released, reusable (zeroed)
  std::uint32_t nextIndex = 0;
};

Registry& registry() noexcept {
  static Registry* r = new Registry;  // never destroyed: threads may exit after main()
  return *r;
}

thread_local Slot* tSlotPtr = nullptr;  // trivial: safe to read during thread exit
thread_local bool tExited = false;

struct ThreadSlot {
  Slot slot;
  ThreadSlot() {
    tSlotPtr = &slot;
    detail::tCounterChunks = slot.chunks.data();
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    slot.next = r.head;
    if (r.head != nullptr) r.head->prev = &slot;
    r.head = &slot;
  }
  ~ThreadSlot() {
    tSlotPtr = nullptr;
    detail::tCounterChunks = nullptr;
    tExited = true;  // counts made by later thread-exit destructors go to the base
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    for (std::size_t c = 0; c < kChunks; ++c) {
      const CounterCell* chunk = slot.chunks[c].load(std::memory_order_relaxed);
      if (chunk == nullptr) continue;
      for (std::size_t i = 0; i < kChunkCells; ++i)
        r.base[c * kChunkCells + i] += chunk[i].load(std::memory_order_relaxed);
    }
    if (slot.prev != nullptr) slot.prev->next = slot.next;
    if (slot.next != nullptr) slot.next->prev = slot.prev;
    if (r.head == &slot) r.head = slot.next;
  }
};

thread_local ThreadSlot tSlot;

Slot* mySlot() noexcept {
  Slot* s = tSlotPtr;
  if (s == nullptr && !tExited) s = &tSlot.slot;  // first use on this thread registers it
  return s;
}

}  // namespace

ThreadCounter::ThreadCounter() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (!r.freeIndices.empty()) {
    index_ = r.freeIndices.back();
    r.freeIndices.pop_back();
  } else if (r.nextIndex < kMaxThreadCounters) {
    index_ = r.nextIndex++;
  } else {
    throw std::length_error("nioxx: more than " + std::to_string(kMaxThreadCounters) +
                            " metrics::ThreadCounter objects alive at once");
  }
}

ThreadCounter::~ThreadCounter() {
  // Zero the cells so the index starts from 0 when reused (nobody adds to it any more).
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.base[index_] = 0;
  for (Slot* s = r.head; s != nullptr; s = s->next) {
    CounterCell* chunk = s->chunks[index_ / kChunkCells].load(std::memory_order_acquire);
    if (chunk != nullptr) chunk[index_ % kChunkCells].store(0, std::memory_order_relaxed);
  }
  r.freeIndices.push_back(index_);
}

void ThreadCounter::addSlow(std::int64_t delta) noexcept {
  Slot* s = mySlot();
  if (s == nullptr) [[unlikely]] {  // thread exit, after its slot was folded
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    r.base[index_] += delta;
    return;
  }
  auto& chunkPtr = s->chunks[index_ / kChunkCells];
  CounterCell* chunk = chunkPtr.load(std::memory_order_relaxed);
  if (chunk == nullptr) {
    chunk = new (std::nothrow) CounterCell[kChunkCells]();
    if (chunk == nullptr) return;  // out of memory: the count is lost, not the process
    chunkPtr.store(chunk, std::memory_order_release);
  }
  auto& cell = chunk[index_ % kChunkCells];
  cell.store(cell.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}

std::int64_t ThreadCounter::value() const noexcept {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::int64_t sum = r.base[index_];
  for (const Slot* s = r.head; s != nullptr; s = s->next) {
    const CounterCell* chunk = s->chunks[index_ / kChunkCells].load(std::memory_order_acquire);
    if (chunk != nullptr) sum += chunk[index_ % kChunkCells].load(std::memory_order_relaxed);
  }
  return sum;
}

}  // namespace nioxx::metrics
