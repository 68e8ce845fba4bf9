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

void liveAdd(LiveKind kind, std::int64_t delta) noexcept;
std::int64_t liveValue(LiveKind kind) noexcept;

// The calling thread's "inside an API call of this core" marker (null when in none). Null after
// the thread's slot was destroyed (thread exit): such a thread initiates nothing any more.
std::atomic<const void*>* apiCallMarker() noexcept;
// True while some thread's marker holds `core`.
bool anyThreadInApiCall(const void* core) noexcept;

}  // namespace nioxx::detail
