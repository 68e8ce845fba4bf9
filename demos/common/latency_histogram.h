// LatencyHistogram: a compact log-linear histogram of durations (HdrHistogram's idea in 16 KiB):
// values are bucketed by power of two and then linearly into 32 sub-buckets, so every reported
// percentile is within ~3% of the true value, with O(1) record() and no allocation after creation.
//
// Thread rule: not synchronised; give each thread its own and merge() them.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

namespace nioxx::demo {

class LatencyHistogram {
 public:
  void record(std::chrono::nanoseconds value) noexcept;
  void merge(const LatencyHistogram& other) noexcept;
  void clear() noexcept;

  std::uint64_t count() const noexcept { return count_; }
  std::chrono::nanoseconds max() const noexcept { return std::chrono::nanoseconds(max_); }
  std::chrono::nanoseconds min() const noexcept;
  std::chrono::nanoseconds mean() const noexcept;
  // The smallest recorded-bucket upper bound covering p percent of the values (0 < p <= 100);
  // 0 when empty. Never above max().
  std::chrono::nanoseconds percentile(double p) const noexcept;

  // "p50=41us p90=88us p99=190us p99.9=1.2ms max=3.4ms"
  std::string summary() const;
  // 1234567ns -> "1.23ms"
  static std::string format(std::chrono::nanoseconds value);

 private:
  static constexpr unsigned kSubBits = 5;
  static constexpr unsigned kSub = 1u << kSubBits;
  static constexpr unsigned kBuckets = (64 - kSubBits + 1) * kSub;
  static unsigned indexOf(std::uint64_t value) noexcept;
  static std::uint64_t upperBound(unsigned index) noexcept;

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  long double sum_ = 0;
};

}  // namespace nioxx::demo
