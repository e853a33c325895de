// latency_histogram_test.cc — bench/latency_histogram.h: exact small values, the bucket layout
// at its edges, percentiles against a sorted reference within the 1/64 bound, merging, and the
// empty histogram.
#include "bench/latency_histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringcast::bench {
namespace {

using ::testing::AllOf;
using ::testing::Ge;
using ::testing::Le;

// Given nothing recorded, expect zeros everywhere.
TEST(LatencyHistogram, EmptyIsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.ValueAtPercentile(50), 0u);
  EXPECT_EQ(h.ValueAtPercentile(100), 0u);
}

// Given 1..100 (all below the linear limit), expect exact nearest-rank percentiles.
TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100u);
  EXPECT_EQ(h.ValueAtPercentile(0), 1u);
  EXPECT_EQ(h.ValueAtPercentile(1), 1u);
  EXPECT_EQ(h.ValueAtPercentile(50), 50u);
  EXPECT_EQ(h.ValueAtPercentile(99), 99u);
  EXPECT_EQ(h.ValueAtPercentile(99.9), 100u);
  EXPECT_EQ(h.ValueAtPercentile(100), 100u);
  EXPECT_EQ(h.ValueAtPercentile(250), 100u);  // clamped
}

// The layout, pinned:
//   value           bucket  range
//   0..127          = value exact
//   128, 129        128     [128, 129]
//   255             191     [254, 255]
//   256             192     [256, 259]
//   1000            ...     [1000, 1007]
//   2^64-1          3775    [127 * 2^57, 2^64-1]
TEST(LatencyHistogram, BucketEdges) {
  using H = LatencyHistogram;
  EXPECT_EQ(H::kBucketCount, 3776u);
  EXPECT_EQ(H::BucketIndex(127), 127u);
  EXPECT_EQ(H::BucketIndex(128), 128u);
  EXPECT_EQ(H::BucketIndex(129), 128u);
  EXPECT_EQ(H::BucketIndex(130), 129u);
  EXPECT_EQ(H::BucketIndex(255), 191u);
  EXPECT_EQ(H::BucketIndex(256), 192u);
  EXPECT_EQ(H::LowestInBucket(H::BucketIndex(1000)), 1000u);
  EXPECT_EQ(H::HighestInBucket(H::BucketIndex(1000)), 1007u);
  const uint64_t top = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(H::BucketIndex(top), H::kBucketCount - 1);
  EXPECT_EQ(H::LowestInBucket(H::kBucketCount - 1), uint64_t{127} << 57);
  EXPECT_EQ(H::HighestInBucket(H::kBucketCount - 1), top);
  // Every bucket starts right after the previous one ends and holds its own bounds.
  for (size_t i = 1; i < H::kBucketCount; ++i) {
    ASSERT_EQ(H::LowestInBucket(i), H::HighestInBucket(i - 1) + 1) << "bucket " << i;
    ASSERT_EQ(H::BucketIndex(H::LowestInBucket(i)), i);
    ASSERT_EQ(H::BucketIndex(H::HighestInBucket(i)), i);
  }
}

// Given a bucket-width value, expect the bucket's top reported, but never above max().
TEST(LatencyHistogram, ReportsBucketTopCappedAtMax) {
  LatencyHistogram h;
  h.Record(1000);
  EXPECT_EQ(h.ValueAtPercentile(50), 1000u);  // capped at max = 1000
  h.Record(5000);
  EXPECT_EQ(h.ValueAtPercentile(50), 1007u);  // 1000's bucket is [1000, 1007]
  EXPECT_EQ(h.ValueAtPercentile(100), 5000u);
}

// Given 100,000 log-uniform values, expect every percentile within [true, true * (1 + 1/64)].
TEST(LatencyHistogram, PercentilesWithinRelativeError) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> exponent(0.0, 30.0);
  std::vector<uint64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = static_cast<uint64_t>(std::exp2(exponent(rng)));
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.max(), values.back());
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
    const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * values.size()));
    const uint64_t truth = values[rank - 1];
    EXPECT_THAT(h.ValueAtPercentile(p), AllOf(Ge(truth), Le(truth + truth / 64))) << "p" << p;
  }
}

// Given two halves recorded apart, expect their merge to equal one histogram of both.
TEST(LatencyHistogram, MergeEqualsRecordingTogether) {
  LatencyHistogram a;
  LatencyHistogram b;
  LatencyHistogram all;
  for (uint64_t v = 0; v < 20000; v += 7) {
    (v % 2 == 0 ? a : b).Record(v * 13);
    all.Record(v * 13);
  }
  LatencyHistogram empty;
  a.Merge(empty);
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  for (double p : {0.0, 50.0, 99.0, 99.9, 100.0}) {
    EXPECT_EQ(a.ValueAtPercentile(p), all.ValueAtPercentile(p)) << "p" << p;
  }
  empty.Merge(all);
  EXPECT_EQ(empty.ValueAtPercentile(50), all.ValueAtPercentile(50));
}

// Given RecordN, expect it to weigh like n Records.
TEST(LatencyHistogram, RecordNWeighs) {
  LatencyHistogram h;
  h.RecordN(10, 99);
  h.RecordN(7, 0);  // ignored: min stays 10
  h.Record(1000000);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.min(), 10u);
  EXPECT_EQ(h.ValueAtPercentile(99), 10u);
  EXPECT_EQ(h.ValueAtPercentile(99.9), 1000000u);
}

}  // namespace
}  // namespace ringcast::bench
