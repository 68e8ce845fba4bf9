#include "common/latency_histogram.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>

namespace nioxx::demo {

// Values below kSub map 1:1 to the first kSub buckets; above, a value with its highest bit at
// position b (b >= kSubBits) lands in block (b - kSubBits + 1), sub-bucket = the kSubBits bits
// under the highest bit.
unsigned LatencyHistogram::indexOf(std::uint64_t value) noexcept {
  if (value < kSub) return static_cast<unsigned>(value);
  const unsigned top = 63u - static_cast<unsigned>(std::countl_zero(value));
  const unsigned shift = top - kSubBits;
  const unsigned sub = static_cast<unsigned>((value >> shift) & (kSub - 1));
  return (shift + 1) * kSub + sub;
}

std::uint64_t LatencyHistogram::upperBound(unsigned index) noexcept {
  if (index < kSub) return index;
  const unsigned shift = index / kSub - 1;
  const std::uint64_t sub = index % kSub;
  const std::uint64_t low = ((kSub | sub) << shift);
  return low + ((std::uint64_t{1} << shift) - 1);
}

void LatencyHistogram::record(std::chrono::nanoseconds value) noexcept {
  const std::uint64_t v = value.count() < 0 ? 0 : static_cast<std::uint64_t>(value.count());
  ++counts_[indexOf(v)];
  ++count_;
  max_ = std::max(max_, v);
  min_ = std::min(min_, v);
  sum_ += static_cast<long double>(v);
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  for (unsigned i = 0; i < kBuckets; ++i)
    counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
  sum_ += other.sum_;
}

void LatencyHistogram::clear() noexcept {
  *this = LatencyHistogram();
}

std::chrono::nanoseconds LatencyHistogram::min() const noexcept {
  return std::chrono::nanoseconds(count_ == 0 ? 0 : min_);
}

std::chrono::nanoseconds LatencyHistogram::mean() const noexcept {
  if (count_ == 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(static_cast<std::int64_t>(sum_ / count_));
}

std::chrono::nanoseconds LatencyHistogram::percentile(double p) const noexcept {
  if (count_ == 0) return std::chrono::nanoseconds(0);
  p = std::clamp(p, 0.0, 100.0);
  auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (unsigned i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      return std::chrono::nanoseconds(std::min(upperBound(i), max_));
    }
  }
  return std::chrono::nanoseconds(max_);
}

std::string LatencyHistogram::format(std::chrono::nanoseconds value) {
  const double ns = static_cast<double>(value.count());
  if (ns < 1e3) return fmt::format("{}ns", value.count());
  if (ns < 1e6) return fmt::format("{:.3g}us", ns / 1e3);
  if (ns < 1e9) return fmt::format("{:.3g}ms", ns / 1e6);
  return fmt::format("{:.3g}s", ns / 1e9);
}

std::string LatencyHistogram::summary() const {
  return fmt::format("p50={} p90={} p99={} p99.9={} max={}", format(percentile(50)),
                     format(percentile(90)), format(percentile(99)), format(percentile(99.9)),
                     format(max()));
}

}  // namespace nioxx::demo
