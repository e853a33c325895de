// ketama_ring.h — a classic ketama-style virtual-node ring, kept only as ring_bench's baseline.
//
// Each node puts kPointsPerNode = 160 points on the 64-bit circle, point i of node "n" at
// XXH3-64("n-i"). The points are kept as one sorted vector of (hash, node index). A topic belongs
// to the node of the first point whose hash is >= XXH3-64(topic), wrapping around to the first
// point past the top of the circle, so point k owns the arc (point k-1, point k].
//
// Worked example (two nodes, three points, hashes shrunk to 0..99):
//   points = (20, a) (55, b) (80, a)
//   topic hash 10 -> a (at 20), 55 -> b (at 55), 56 -> a (at 80), 95 -> a (wraps to 20).
//   a owns (80, 99] + [0, 20] + (55, 80] = 65 of 100; b owns (20, 55] = 35.
//
// This is NOT part of ringcast: the cluster routes with ring/ring.h. The class exists so that the
// benchmark can put ringcast's partitioned ring beside the layout most systems start from
// (libketama, Envoy's ring_hash), with the same hash function and the same topics.
//
// Thread safety: immutable after construction; const methods may be called from any thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace ringcast::bench {

class KetamaRing {
 public:
  static constexpr int kPointsPerNode = 160;

  // One virtual node: its position on the circle and the index of its node in nodes().
  struct Point {
    uint64_t hash = 0;
    uint32_t node = 0;
  };

  // `node_ids` must be non-empty and distinct. The point list depends only on the set of ids:
  // ties between equal hashes (never seen in practice) go to the smaller id.
  explicit KetamaRing(std::vector<std::string> node_ids) : nodes_(std::move(node_ids)) {
    points_.reserve(nodes_.size() * kPointsPerNode);
    std::string key;
    for (uint32_t n = 0; n < nodes_.size(); ++n) {
      for (int i = 0; i < kPointsPerNode; ++i) {
        key.assign(nodes_[n]).append("-").append(std::to_string(i));
        points_.push_back({Hash(key), n});
      }
    }
    std::sort(points_.begin(), points_.end(), [this](const Point& a, const Point& b) {
      return a.hash != b.hash ? a.hash < b.hash : nodes_[a.node] < nodes_[b.node];
    });
  }

  // XXH3-64 with seed 0, the hash ring/ring.h uses for topics.
  static uint64_t Hash(std::string_view bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

  // Index into points() of the point that owns `hash`.
  size_t PointIndexFor(uint64_t hash) const {
    auto it = std::lower_bound(points_.begin(), points_.end(), hash,
                               [](const Point& p, uint64_t h) { return p.hash < h; });
    return it == points_.end() ? 0 : static_cast<size_t>(it - points_.begin());
  }
  uint32_t NodeIndexFor(uint64_t hash) const { return points_[PointIndexFor(hash)].node; }

  // The id of the node that owns `topic`.
  const std::string& Lookup(std::string_view topic) const {
    return nodes_[NodeIndexFor(Hash(topic))];
  }

  const std::vector<std::string>& nodes() const { return nodes_; }
  // Sorted by hash.
  const std::vector<Point>& points() const { return points_; }

 private:
  std::vector<std::string> nodes_;
  std::vector<Point> points_;
};

}  // namespace ringcast::bench
