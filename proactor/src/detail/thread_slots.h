// Per-thread slots that many threads write and few read: each thread writes only its own slot
// (plain stores of single-writer atomics, no locked instruction on the hot path); readers walk
// every slot under the registry lock. Used for the live object counts and for the shutdown gate
// (which API call of which Proactor a thread is in).
#pragma once

#include <atomic>
#include <cstdint>

namespace nioxx::detail {

enum class LiveKind : int { operation = 0, channel = 1 };
inline constexpr int kLiveKinds = 2;

// The calling thread's live counts (kLiveKinds cells), null until its slot exists and after its
// exit. Trivial, so the inline liveAdd() is a TLS load, a load and a store (no call).
inline thread_local std::atomic<std::int64_t>* tLiveCounts = nullptr;
void liveAddSlow(LiveKind kind, std::int64_t delta) noexcept;

inline void liveAdd(LiveKind kind, std::int64_t delta) noexcept {
  if (std::atomic<std::int64_t>* counts = tLiveCounts) [[likely]] {
    auto& c = counts[static_cast<int>(kind)];
    c.store(c.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
    return;
  }
  liveAddSlow(kind, delta);
}
std::int64_t liveValue(LiveKind kind) noexcept;

// The calling thread's "inside an API call of this core" marker (null when in none). Null after
// the thread's slot was destroyed (thread exit): such a thread initiates nothing any more.
std::atomic<const void*>* apiCallMarker() noexcept;
// True while some thread's marker holds `core`.
bool anyThreadInApiCall(const void* core) noexcept;

}  // namespace nioxx::detail
