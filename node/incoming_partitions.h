// incoming_partitions.h — the partitions a node gained in a ring change whose history has not
// arrived yet (handoff.proto, target side). Until the previous owner's Transfer begins, the node
// creates no topic there (a publish would start a second history beside the one being moved);
// after `begin`, only the topics it listed wait for their snapshots. A partition settles when
// its transfer completes, or is abandoned after `abandon_after` without any transfer activity
// (its previous owner is gone: its topics start afresh with a new epoch, and subscribers
// resuming an old id get ringcast.reset).
//
// Overlapping ring changes. A node that loses a partition while it still waits for its history
// holds nothing of it, and the history is still with an earlier owner, which sends it to the
// new owner itself. Such a partition is `LostWhileWaiting` (until `abandon_after`): the node must
// not send the new owner an empty transfer for it, which would settle the partition there
// before the history arrived (and let it start the topics afresh). The partition's source is
// whichever node's transfer begins for it, not necessarily the previous ring's owner.
//
// Thread safety: thread-safe. MayCreate is cheap when nothing is incoming.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "node/handoff_metrics.h"
#include "ring/ring.h"

namespace ringcast::node {

class IncomingPartitions {
 public:
  // `metrics` (its incoming-partitions gauge) must outlive this.
  IncomingPartitions(std::string node_id, absl::Duration abandon_after, HandoffMetrics& metrics);

  // A new ring is about to become current. `previous` is null for the node's first ring (a
  // restarted node holds no history, so nothing of that ring is waited for).
  void OnRing(const Ring* previous, const Ring& current, absl::Time now);

  // A Transfer from node `source_id` began for `partitions`, listing `topics` (those the source
  // holds there).
  void OnBegin(const std::string& source_id, absl::Span<const uint32_t> partitions,
               absl::Span<const std::string> topics, absl::Time now);
  // A listed topic's snapshot arrived (its copy exists now), or some transfer progress.
  void OnTopicArrived(std::string_view topic, absl::Time now);
  // The transfer of `partitions` completed: they are settled.
  void OnTransferDone(absl::Span<const uint32_t> partitions);
  // The transfer of `partitions` broke with the copies of `unfinished` discarded: they wait again
  // (for a new begin, or abandonment `abandon_after` from now).
  void OnTransferBroken(absl::Span<const uint32_t> partitions,
                        absl::Span<const std::string> unfinished, absl::Time now);

  // The node that holds `partition`'s history while the partition waits for it: the source of
  // the transfer that began for it, else its owner under the previous ring (it still appends
  // the topics it is copying here).
  std::optional<Member> PreviousOwner(uint32_t partition) const;

  // The previous owner of `partition` when the begun transfer listed `topic` and its snapshot
  // has not arrived: that node still appends the topic (until it seals it, after the copy).
  std::optional<Member> ListedSource(std::string_view topic, uint32_t partition) const;

  // Whether this node may create `topic` of `partition` now (it holds no copy of it).
  bool MayCreate(std::string_view topic, uint32_t partition, absl::Time now);

  // Whether this node lost `partition` while it waited for its history (see above).
  bool LostWhileWaiting(uint32_t partition, absl::Time now) const;

  // Abandons partitions that waited `abandon_after` with no transfer activity (see above);
  // called periodically, and by MayCreate.
  void Expire(absl::Time now);


 private:
  struct Waiting {
    absl::Time since;  // when the ring or a transfer last touched it
    bool begun = false;
    Member previous_owner;
  };
  void AbandonStale(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CountWaiting() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string node_id_;
  const absl::Duration abandon_after_;
  HandoffMetrics& metrics_;
  std::atomic<size_t> waiting_count_{0};

  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint32_t, Waiting> waiting_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> pending_topics_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint32_t, absl::Time> lost_while_waiting_ ABSL_GUARDED_BY(mu_);
  // Every member of the rings seen, by id (a transfer's source may have left the ring).
  absl::flat_hash_map<std::string, Member> known_members_ ABSL_GUARDED_BY(mu_);
  absl::Time last_transfer_activity_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace ringcast::node
