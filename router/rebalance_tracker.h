// rebalance_tracker.h — the coordinator's view of partition moves (Cluster.GetRebalanceStatus in
// cluster.proto): every committed ring change adds its moves (PENDING, from the change's diff),
// the sources' health reports advance them, and a source silent for `node_down_after` has its
// unfinished moves ABANDONED (its target starts their topics afresh after its
// --handoff_abandon_after_ms, docs/rebalancing.md).
//
//   RebalanceTracker tracker(absl::Seconds(5), store);         // store may be null
//   tracker.Restore(1, absl::Now());                           // once, at startup
//   tracker.OnCommit(2, diff_moves, absl::Now());              // under the change lock
//   tracker.OnReport("node-1", report.moves(), absl::Now());   // every ReportHealth
//   v1::GetRebalanceStatusResponse status = tracker.Status(2, "", absl::Now());
//
// Rules:
//   - A reported move matches the tracked move of the same partition, from_node and to_node with
//     the newest ring_version not above the reported one (a source reports the ring version it
//     began the transfer at, which may be newer than the change). Unmatched reports are ignored.
//   - States only advance (cluster.proto's order); DONE and ABANDONED are final. The counters and
//     update_time are taken from reports whose state is not behind the tracked one.
//   - A newer change that moves a partition again abandons its older move unless that move was
//     already ACTIVE (the topics follow the newer move).
//   - A source is silent when neither a report from it nor the move's creation is within
//     `node_down_after`: this also covers a node that never reported since the router started.
//   - When the cluster is settled (every move DONE or ABANDONED), the next change replaces the
//     listed moves; until then every change's moves stay listed.
// Persistence: with a RingStore, the listed moves are written to `<state_dir>/rebalance.pb`
// (RingStore::SaveRebalance, atomic) on every commit and whenever a move's state changes; a
// report that only advances counters is not written (the state change that follows, at the
// latest DONE, carries them). OnReport returns once its state change is written, so a report
// lost to a crash is never acknowledged: its node sends it again (node/health_reporter.h).
// Restore lists the moves again after a restart, each as if created then: its source has
// `node_down_after` from the restart to report before the move is ABANDONED. A change committed
// just before a crash may miss its moves (the ring is written first). Without a store, moves
// live in memory only and a restarted router lists none.
//
// Thread safety: every method is thread-safe. The moves are under one lock; writes to the store
// are serialised by a second one, taken first, and never hold the first across the I/O.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/repeated_ptr_field.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ring/ring.h"
#include "ringcast/v1/cluster.pb.h"
#include "router/ring_store.h"

namespace ringcast::router {

class RebalanceTracker {
 public:
  // `store` may be null (moves in memory only); it must outlive the tracker.
  RebalanceTracker(absl::Duration node_down_after, RingStore* store)
      : node_down_after_(node_down_after), store_(store) {}

  // Lists the moves the store holds (none without a store or a file), created at `now`, except
  // those of ring versions above `ring_version` (the current ring's). Call once, before the
  // other methods. DATA_LOSS (RingStore::LoadRebalance) when the file is unusable: nothing is
  // listed then, and the next write replaces the file.
  absl::Status Restore(uint64_t ring_version, absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  // Ring `version` was committed and moves `moves` (its diff from the previous version).
  void OnCommit(uint64_t version, const std::vector<PartitionMove>& moves, absl::Time now)
      ABSL_LOCKS_EXCLUDED(persist_mu_, mu_);

  // `reporter` sent a health report carrying `moves`.
  void OnReport(const std::string& reporter,
                const google::protobuf::RepeatedPtrField<v1::MoveProgress>& moves,
                absl::Time now) ABSL_LOCKS_EXCLUDED(persist_mu_, mu_);

  // The reply of GetRebalanceStatus at ring `ring_version`: the listed moves from or to
  // `node_id` (all when empty), sorted by ring_version then partition. `settled` is about every
  // listed move, whatever the filter.
  v1::GetRebalanceStatusResponse Status(uint64_t ring_version, const std::string& node_id,
                                        absl::Time now) ABSL_LOCKS_EXCLUDED(persist_mu_, mu_);

 private:
  struct TrackedMove {
    v1::MoveProgress progress;
    absl::Time created;
  };
  // Keyed by (partition, ring_version), so a partition's moves are one range.
  using MoveKey = std::pair<uint32_t, uint64_t>;

  static bool IsFinal(v1::MoveState state);
  bool SettledLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The tracked move a reported one updates, or null.
  TrackedMove* MatchLocked(const v1::MoveProgress& reported) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OnCommit's changes to the moves.
  void AddCommitLocked(uint64_t version, const std::vector<PartitionMove>& moves, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OnReport's changes to the moves; whether a move's state changed.
  bool ApplyReportLocked(const std::string& reporter,
                         const google::protobuf::RepeatedPtrField<v1::MoveProgress>& moves,
                         absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Status's reply once silent sources are dealt with.
  v1::GetRebalanceStatusResponse StatusLocked(uint64_t ring_version,
                                              const std::string& node_id) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Unfinished moves whose source is silent become ABANDONED; whether any did.
  bool AbandonSilentSourcesLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void Abandon(TrackedMove& move, absl::Time now);
  // Writes the listed moves to the store (if any); an I/O error is logged on stderr, and the
  // next write tries again.
  void Persist() ABSL_LOCKS_EXCLUDED(persist_mu_, mu_);

  // Constant after construction.
  const absl::Duration node_down_after_;
  RingStore* const store_;

  // Serialises Persist, so the file only ever moves to a newer state.
  absl::Mutex persist_mu_ ABSL_ACQUIRED_BEFORE(mu_);

  mutable absl::Mutex mu_;
  uint64_t last_commit_version_ ABSL_GUARDED_BY(mu_) = 0;  // RebalanceSnapshot.ring_version
  std::map<MoveKey, TrackedMove> moves_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::Time> last_report_ ABSL_GUARDED_BY(mu_);  // by node id
};

}  // namespace ringcast::router
