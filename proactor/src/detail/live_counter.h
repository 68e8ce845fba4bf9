// A counter many threads change and few read: each thread adds into its own slot (a plain store
// of a single-writer atomic, no locked instruction); value() sums the slots. Slots of exited
// threads are folded into a base.
#pragma once

#include <atomic>
#include <cstdint>

namespace nioxx::detail {

enum class LiveKind : int { operation = 0, channel = 1 };
inline constexpr int kLiveKinds = 2;

void liveAdd(LiveKind kind, std::int64_t delta) noexcept;
std::int64_t liveValue(LiveKind kind) noexcept;

}  // namespace nioxx::detail
