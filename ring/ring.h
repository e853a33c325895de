// ring.h — the partitioned consistent-hash ring: which node owns which topic.
//
// The 64-bit hash space of XXH3-64(topic bytes, seed 0) is cut into Q equal partitions (Q a power
// of two, default 16,384): partition = the top log2(Q) bits of the hash. A Ring is an immutable,
// versioned table partition -> owner member (Dynamo's "strategy 3", Redis Cluster's slots).
//
// Assignment is proportional to weight and sticky. Every member owns floor(ideal) or ceil(ideal)
// partitions, where ideal = Q * weight / total_weight. Changing one member (add, remove, weight)
// moves partitions only between that member and the others, never between two bystanders, and
// only as many as the quotas require.
//
// Worked example (Q = 8, equal weights; quotas 8/3 = 2.67, then 8/4 = 2):
//   Build({a, b, c})   owners = a b c a b c a b    a: 3, b: 3, c: 2
//   WithNodeAdded(d)   owners = a b c d d c a b    d takes one from a and one from b (the
//                                                  members above the new quota); c keeps its 2.
//
// Thread safety: a Ring is immutable after construction; every const method may be called from
// any number of threads. Lookup() and PartitionOf() take no lock and allocate nothing.
// Publication to readers goes through RingHolder (ring_holder.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ringcast {

// One node of the cluster as the ring sees it.
struct Member {
  std::string id;            // unique, 1..64 bytes of A-Z a-z 0-9 . _ -; orders the members
  int32_t weight = 1;        // 1..65535; partitions are shared in proportion to it
  std::string http_address;  // host:port of the node's HTTP listener; unique when non-empty
  std::string grpc_address;  // host:port of the node's gRPC listener; unique when non-empty
  // Base URL for clients (http/https, no trailing slash, no query); "" = "http://" + http_address.
  std::string public_url;

  friend bool operator==(const Member&, const Member&) = default;
};

// One partition that changes owner between two ring versions.
struct PartitionMove {
  uint32_t partition = 0;
  std::string from;  // member id of the old owner
  std::string to;    // member id of the new owner

  friend bool operator==(const PartitionMove&, const PartitionMove&) = default;
};

class Ring {
 public:
  static constexpr uint32_t kDefaultPartitionCount = 16384;
  static constexpr uint32_t kMaxPartitionCount = 1u << 20;
  static constexpr int32_t kMaxWeight = 65535;
  static constexpr size_t kMaxIdBytes = 64;

  // The first ring of a cluster: version 1 unless given. The table depends only on the set of
  // members and Q, never on the order of `members`.
  // Errors: INVALID_ARGUMENT for an empty list, a malformed id, a weight outside 1..65535,
  // duplicate ids or addresses, Q not a power of two in 1..2^20, more members than partitions.
  static absl::StatusOr<Ring> Build(std::vector<Member> members,
                                    uint32_t partition_count = kDefaultPartitionCount,
                                    uint64_t version = 1);

  // A ring received as data (e.g. a Cluster.GetRing reply): the owner table is taken as given,
  // not recomputed. `owners[p]` indexes `members` as given (they are re-sorted by id here).
  // Errors: INVALID_ARGUMENT as for Build, or when owners does not have Q valid indices.
  static absl::StatusOr<Ring> FromTable(uint64_t version, uint32_t partition_count,
                                        std::vector<Member> members,
                                        std::vector<uint32_t> owners);

  // The next version with `member` added; it takes its quota from the others.
  // Errors: INVALID_ARGUMENT (malformed id, bad weight, no partition left for it),
  // ALREADY_EXISTS (id or address already in the ring).
  absl::StatusOr<Ring> WithNodeAdded(Member member) const;

  // The next version without `id`; its partitions are shared out among the rest.
  // Errors: NOT_FOUND (unknown id), FAILED_PRECONDITION (it is the last member).
  absl::StatusOr<Ring> WithNodeRemoved(std::string_view id) const;

  // The next version with `id`'s weight changed; partitions move only to or from `id`.
  // Errors: NOT_FOUND (unknown id), INVALID_ARGUMENT (weight outside 1..65535).
  absl::StatusOr<Ring> WithWeight(std::string_view id, int32_t weight) const;

  // XXH3-64 of the topic's bytes with seed 0: the hash every implementation must use.
  static uint64_t HashTopic(std::string_view topic);

  // The top log2(Q) bits of the topic's hash.
  uint32_t PartitionOf(std::string_view topic) const {
    // NOTE: two shifts, because shifting a 64-bit value by 64 (Q = 1) is undefined.
    return static_cast<uint32_t>((HashTopic(topic) >> 1) >> (hash_shift_ - 1));
  }
  const Member& Lookup(std::string_view topic) const { return OwnerOf(PartitionOf(topic)); }
  const Member& OwnerOf(uint32_t partition) const { return members_[owners_[partition]]; }

  // The owner of `partition` followed by the next k-1 distinct members met walking the
  // partitions upwards (wrapping around): the replicas' order. Fewer when k > member count.
  std::vector<const Member*> PreferenceList(uint32_t partition, size_t k) const;

  // The member with this id, or nullptr.
  const Member* FindMember(std::string_view id) const;

  uint64_t version() const { return version_; }
  uint32_t partition_count() const { return partition_count_; }
  absl::Span<const Member> members() const { return members_; }
  // owners()[p] indexes members().
  absl::Span<const uint32_t> owners() const { return owners_; }
  // partitions_per_member()[i] is the number of partitions members()[i] owns.
  absl::Span<const uint32_t> partitions_per_member() const { return partitions_per_member_; }

  // The largest share of the keyspace any member holds relative to its ideal share
  // (count / (Q * weight / total_weight)); 1.0 is perfect balance.
  double PeakToMean() const;

 private:
  Ring(uint64_t version, uint32_t partition_count, std::vector<Member> members,
       std::vector<uint32_t> owners);

  // The next version after one member (`changed`, an index into `members`) grew (`take`) or
  // shrank. `members` is the new member list; old member i is new member old_to_new[i].
  absl::StatusOr<Ring> WithMemberChanged(std::vector<Member> members,
                                         absl::Span<const uint32_t> old_to_new, size_t changed,
                                         bool take) const;

  uint64_t version_;
  uint32_t partition_count_;
  int hash_shift_;  // 64 - log2(Q), in 44..64
  std::vector<Member> members_;  // sorted by id
  std::vector<uint32_t> owners_;
  std::vector<uint32_t> partitions_per_member_;
};

// The partitions whose owner differs between `from` and `to`, in partition order.
// Errors: INVALID_ARGUMENT when the two rings have different partition counts.
absl::StatusOr<std::vector<PartitionMove>> Diff(const Ring& from, const Ring& to);

}  // namespace ringcast
