#include "detail/thread_slots.h"

#include <array>
#include <mutex>

#include "nioxx/proactor/live_counts.h"

namespace nioxx::detail {
namespace {

struct Slot {
  std::array<std::atomic<std::int64_t>, kLiveKinds> counts{};
  std::atomic<const void*> apiCore{nullptr};
  Slot* prev = nullptr;
  Slot* next = nullptr;
};

struct Registry {
  std::mutex mutex;
  Slot* head = nullptr;
  std::array<std::int64_t, kLiveKinds> base{};  // what exited threads left behind
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
    tLiveCounts = slot.counts.data();
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    slot.next = r.head;
    if (r.head != nullptr) r.head->prev = &slot;
    r.head = &slot;
  }
  ~ThreadSlot() {
    tSlotPtr = nullptr;
    tLiveCounts = nullptr;
    tExited = true;  // objects freed by later thread-exit destructors count into the base
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    for (int k = 0; k < kLiveKinds; ++k)
      r.base[k] += slot.counts[k].load(std::memory_order_relaxed);
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

void liveAddSlow(LiveKind kind, std::int64_t delta) noexcept {
  Slot* s = mySlot();
  if (s == nullptr) {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    r.base[static_cast<int>(kind)] += delta;
    return;
  }
  auto& c = s->counts[static_cast<int>(kind)];
  c.store(c.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}

std::int64_t liveValue(LiveKind kind) noexcept {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::int64_t sum = r.base[static_cast<int>(kind)];
  for (Slot* s = r.head; s != nullptr; s = s->next)
    sum += s->counts[static_cast<int>(kind)].load(std::memory_order_relaxed);
  return sum;
}

std::atomic<const void*>* apiCallMarker() noexcept {
  Slot* s = mySlot();
  return s == nullptr ? nullptr : &s->apiCore;
}

bool anyThreadInApiCall(const void* core) noexcept {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  for (Slot* s = r.head; s != nullptr; s = s->next) {
    if (s->apiCore.load(std::memory_order_seq_cst) == core) return true;
  }
  return false;
}

}  // namespace nioxx::detail

namespace nioxx {
std::int64_t liveOperationCount() noexcept {
  return detail::liveValue(detail::LiveKind::operation);
}
std::int64_t liveChannelCount() noexcept {
  return detail::liveValue(detail::LiveKind::channel);
}
}  // namespace nioxx
