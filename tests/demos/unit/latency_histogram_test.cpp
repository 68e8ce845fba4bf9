// LatencyHistogram: percentiles within the bucket precision, merge, empty behaviour.
#include "common/latency_histogram.h"

#include <gtest/gtest.h>

namespace nioxx::demo {
namespace {

using std::chrono::nanoseconds;

// An empty histogram reports zeros.
TEST(LatencyHistogramTest, EmptyReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(50).count(), 0);
  EXPECT_EQ(h.max().count(), 0);
}

// Percentiles of 1..100000 ns are within ~3% (one sub-bucket) of the exact ranks.
TEST(LatencyHistogramTest, PercentilesWithinPrecision) {
  LatencyHistogram h;
  for (int v = 1; v <= 100000; ++v)
    h.record(nanoseconds(v));
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const double exact = p / 100.0 * 100000;
    const double got = static_cast<double>(h.percentile(p).count());
    EXPECT_GE(got, exact * 0.999) << p;
    EXPECT_LE(got, exact * 1.04) << p;
  }
  EXPECT_EQ(h.percentile(100).count(), 100000);
  EXPECT_EQ(h.max().count(), 100000);
  EXPECT_EQ(h.min().count(), 1);
  EXPECT_EQ(h.mean().count(), 50000);
}

// Small values are exact; huge values do not overflow the buckets.
TEST(LatencyHistogramTest, ExtremesAreSafe) {
  LatencyHistogram h;
  h.record(nanoseconds(3));
  h.record(nanoseconds(INT64_MAX));
  h.record(nanoseconds(-5));  // clock glitch: counted as 0
  EXPECT_EQ(h.count(), 3u);
  EXPECT_EQ(h.percentile(34).count(), 3);
  EXPECT_EQ(h.percentile(100).count(), INT64_MAX);
}

// merge() equals recording everything in one histogram.
TEST(LatencyHistogramTest, MergeAddsCounts) {
  LatencyHistogram a, b, all;
  for (int v = 1; v <= 1000; ++v) {
    (v % 2 ? a : b).record(nanoseconds(v * 1000));
    all.record(nanoseconds(v * 1000));
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.percentile(99).count(), all.percentile(99).count());
  EXPECT_EQ(a.max().count(), all.max().count());
  EXPECT_EQ(a.summary(), all.summary());
}

// Formatting picks a readable unit.
TEST(LatencyHistogramTest, FormatUnits) {
  EXPECT_EQ(LatencyHistogram::format(nanoseconds(999)), "999ns");
  EXPECT_EQ(LatencyHistogram::format(nanoseconds(41500)), "41.5us");
  EXPECT_EQ(LatencyHistogram::format(nanoseconds(1230000)), "1.23ms");
  EXPECT_EQ(LatencyHistogram::format(nanoseconds(2000000000)), "2s");
}

}  // namespace
}  // namespace nioxx::demo
