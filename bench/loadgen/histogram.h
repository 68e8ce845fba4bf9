// A compact log-linear latency histogram (HdrHistogram's bucketing, 64 sub-buckets per power of
// two: every recorded value is kept within 1/32 = 3% relative error, from 1 ns to ~18 minutes in
// about 1,200 counters). No C/C++ HdrHistogram is packaged for Debian, hence this.
//
// Thread rule: one thread records into a histogram; merge() combines per-thread histograms.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace nioxx::bench {

class Histogram {
 public:
  static constexpr int kSubBits = 6;  // 64 linear sub-buckets
  static constexpr int kHalf = 1 << (kSubBits - 1);
  static constexpr int kMaxShift = 40 - kSubBits;
  static constexpr int kBuckets = (1 << kSubBits) + kMaxShift * kHalf;

  void record(std::uint64_t value) noexcept {
    ++counts_[index(value)];
    ++total_;
    max_ = std::max(max_, value);
  }

  void merge(const Histogram& other) noexcept {
    for (int i = 0; i < kBuckets; ++i)
      counts_[i] += other.counts_[i];
    total_ += other.total_;
    max_ = std::max(max_, other.max_);
  }

  void reset() noexcept { *this = Histogram{}; }

  std::uint64_t count() const noexcept { return total_; }
  std::uint64_t max() const noexcept { return max_; }

  // The value at quantile q (0..1): the upper bound of the bucket holding that rank.
  std::uint64_t quantile(double q) const noexcept {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_) + 0.5);
    rank = std::clamp<std::uint64_t>(rank, 1, total_);
    std::uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(upperBound(i), max_);
    }
    return max_;
  }

 private:
  static int index(std::uint64_t v) noexcept {
    if (v < (1u << kSubBits)) return static_cast<int>(v);
    int shift = std::bit_width(v) - kSubBits;  // v >> shift is in [32, 64)
    if (shift > kMaxShift) return kBuckets - 1;
    return (1 << kSubBits) + (shift - 1) * kHalf + static_cast<int>((v >> shift) - kHalf);
  }
  static std::uint64_t upperBound(int i) noexcept {
    if (i < (1 << kSubBits)) return static_cast<std::uint64_t>(i);
    int shift = (i - (1 << kSubBits)) / kHalf + 1;
    std::uint64_t sub = static_cast<std::uint64_t>((i - (1 << kSubBits)) % kHalf + kHalf);
    return ((sub + 1) << shift) - 1;
  }

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace nioxx::bench
