// latency_histogram.h — a small log-linear histogram of non-negative integer values (latencies
// in microseconds for ringcast-load), in the manner of HdrHistogram: constant memory, O(1)
// recording, percentiles with a bounded relative error, and merging of per-thread copies.
//
// Layout. Values below kLinearLimit (128) have a bucket each, so they are exact. Above that each
// power of two [2^k, 2^(k+1)) is cut into kSubBuckets (64) equal buckets, so a bucket is at most
// 1/64 of its values wide: a reported percentile is at most 1.6% above the true one. Example:
// 1000 lies in [512, 1024), whose buckets are 8 wide, so 1000 is counted in [1000, 1007] and a
// percentile that falls in that bucket is reported as 1007 (or the maximum, if smaller). The whole
// uint64_t range takes 3,776 buckets (about 30 KiB).
//
// Thread safety: none. Record from one thread; Merge per-thread copies after they are finished.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace ringcast::bench {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 6;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;  // per power of two
  static constexpr uint64_t kLinearLimit = 2 * kSubBuckets;               // values below are exact
  static constexpr size_t kBucketCount = kLinearLimit + (64 - kSubBucketBits - 1) * kSubBuckets;

  // Counts one occurrence of `value`.
  void Record(uint64_t value) { RecordN(value, 1); }

  // Counts `n` occurrences of `value`.
  void RecordN(uint64_t value, uint64_t n) {
    if (n == 0) return;
    counts_[BucketIndex(value)] += n;
    if (count_ == 0 || value < min_) min_ = value;
    max_ = std::max(max_, value);
    count_ += n;
  }

  // Adds every value recorded in `other`.
  void Merge(const LatencyHistogram& other) {
    if (other.count_ == 0) return;
    for (size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
    if (count_ == 0 || other.min_ < min_) min_ = other.min_;
    max_ = std::max(max_, other.max_);
    count_ += other.count_;
  }

  // The smallest value v such that at least `percentile` % of the recorded values are <= v, up
  // to the bucket width: the highest value of v's bucket, capped at max(). 0 when empty.
  // `percentile` is clamped to [0, 100]; 0 gives min(), 100 gives max().
  uint64_t ValueAtPercentile(double percentile) const {
    if (count_ == 0) return 0;
    percentile = std::clamp(percentile, 0.0, 100.0);
    if (percentile == 0.0) return min_;
    // The rank of the wanted value, 1-based: ceil(p/100 * count), at least 1.
    const double exact_rank = percentile / 100.0 * static_cast<double>(count_);
    uint64_t rank = static_cast<uint64_t>(std::ceil(exact_rank - 1e-9));
    rank = std::clamp<uint64_t>(rank, 1, count_);
    uint64_t seen = 0;
    for (size_t i = 0; i < kBucketCount; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::clamp(HighestInBucket(i), min_, max_);
    }
    return max_;
  }

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }

  // The bucket of `value`; values in one bucket are reported alike.
  static size_t BucketIndex(uint64_t value) {
    if (value < kLinearLimit) return static_cast<size_t>(value);
    const int msb = std::bit_width(value) - 1;            // >= kSubBucketBits + 1
    const int shift = msb - kSubBucketBits;               // bucket width is 2^shift
    const uint64_t sub = (value >> shift) - kSubBuckets;  // in [0, kSubBuckets)
    return static_cast<size_t>(kLinearLimit + static_cast<uint64_t>(shift - 1) * kSubBuckets + sub);
  }

  // The lowest and highest value counted in bucket `index`.
  static uint64_t LowestInBucket(size_t index) {
    if (index < kLinearLimit) return index;
    const uint64_t above = index - kLinearLimit;
    const int shift = static_cast<int>(above / kSubBuckets) + 1;
    return (kSubBuckets + above % kSubBuckets) << shift;
  }
  static uint64_t HighestInBucket(size_t index) {
    if (index < kLinearLimit) return index;
    const int shift = static_cast<int>((index - kLinearLimit) / kSubBuckets) + 1;
    return LowestInBucket(index) + ((uint64_t{1} << shift) - 1);
  }

 private:
  std::array<uint64_t, kBucketCount> counts_{};
  uint64_t count_ = 0;
  uint64_t min_ = 0;
  uint64_t max_ = 0;
};

}  // namespace ringcast::bench
