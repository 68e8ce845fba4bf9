// Process-wide counts of live proactor objects, for leak checks in tests and for metrics: an
// operation is live from its creation until it is freed (after its handler ran, or unstarted),
// a channel from its creation until its last reference is gone.
//
// Thread rule: any thread. Counting costs one uncontended store per operation (each thread
// counts into its own slot; a read sums the slots), so it is always on.
#pragma once

#include <cstdint>

namespace nioxx {

std::int64_t liveOperationCount() noexcept;
std::int64_t liveChannelCount() noexcept;

}  // namespace nioxx
