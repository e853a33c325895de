// handoff_source.h — the source side of topic handoffs (handoff.proto, docs/rebalancing.md).
// A planner thread compares what this node holds with its current ring: every topic of a
// partition the ring gives to another node, and every partition this node lost since the previous
// ring (so the gaining node learns there is nothing more to wait for), moves to its new owner
// over one Transfer stream per target node, at most `handoff_concurrency` at a time.
//
// One transfer: begin (partitions and topics) -> for each topic its snapshot and buffered events
// while the topic keeps appending (kCopying; appends are tailed to the target) -> seal every topic
// (kSealed: publishes get UNAVAILABLE `handoff_hold` and are retried by clients) -> the target
// activates each -> the topic becomes a tombstone (kMoved: publishes get FAILED_PRECONDITION
// naming the new owner), its subscribers' streams end with a short retry: so they resume at the
// new owner, and after `handoff_tombstone` it is forgotten. A transfer that fails before a topic
// was sealed returns it to kOwned; a sealed topic waits for the target's Abort reply (or for the
// target to leave the ring) before it appends again, so two nodes never append to one topic.
//
// Thread safety: OnRing may be called from any thread; the rest runs on the planner's and the
// transfers' own threads.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/client_context.h"
#include "node/handoff_metrics.h"
#include "node/handoff_target.h"
#include "node/incoming_partitions.h"
#include "node/options.h"
#include "node/topic.h"
#include "ring/ring_holder.h"
#include "ringcast/v1/cluster.pb.h"

namespace ringcast::node {

class HandoffSource {
 public:
  // `incoming` tells which lost partitions still wait for their history here (none of those is
  // handed over empty; see IncomingPartitions).
  HandoffSource(const NodeOptions& options, TopicRegistry& topics, const RingHolder& ring,
                const IncomingPartitions& incoming, HandoffMetrics& metrics,
                EndTopicStreams end_streams);
  ~HandoffSource();  // stops the planner and waits for running transfers

  // A ring became current; `previous` is the one before it (null for the node's first ring).
  void OnRing(const Ring* previous, const Ring& current);

  // Topics copying or sealed right now.
  size_t topics_moving() const;

  // The moves this node runs as source that are not final, plus those that became final since
  // the previous call (as ReportHealthRequest.moves wants them): one entry per partition, its
  // counters those of the partition's own topics.
  std::vector<v1::MoveProgress> TakeProgress();

 private:
  struct Move;            // one transfer to one target
  class TransferStream;   // its Transfer stream

  // The counters of one partition of a move (MoveProgress counts per partition).
  struct PartitionCounts {
    uint64_t topics_total = 0;
    uint64_t topics_moved = 0;
    uint64_t bytes_moved = 0;
  };
  // Where one target's move stands, for TakeProgress.
  struct MoveStatus {
    std::string target;
    uint64_t ring_version = 0;
    v1::MoveState state = v1::MOVE_STATE_PENDING;
    std::map<uint32_t, PartitionCounts> partitions;  // every partition of the move
    absl::Time updated;
  };
  void UpdateStatus(const Move& move, const std::function<void(MoveStatus&)>& change);

  bool Stopping() const;
  // A transfer's call starts (`active`) or ends; calls are cancelled when the source stops.
  void Track(grpc::ClientContext* context, bool active);
  void Run();
  // The moves the current ring calls for, by target id.
  absl::flat_hash_map<std::string, std::shared_ptr<Move>> Plan() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartMoves() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunMove(const std::shared_ptr<Move>& move);
  // The move's topics that were activated at the target: tombstones from now on.
  void Moved(const std::shared_ptr<Topic>& topic);
  void JoinFinished() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ForgetExpiredTombstones(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const NodeOptions& options_;
  TopicRegistry& topics_;
  const RingHolder& ring_;
  const IncomingPartitions& incoming_;
  HandoffMetrics& metrics_;
  const EndTopicStreams end_streams_;

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool replan_ ABSL_GUARDED_BY(mu_) = true;
  // Partitions this node owned and lost, whose new owner has not yet had a transfer for them.
  absl::flat_hash_set<uint32_t> owed_partitions_ ABSL_GUARDED_BY(mu_);
  // The thread of each target's running transfer, and the targets whose thread has ended.
  absl::flat_hash_map<std::string, std::thread> running_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> finished_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<absl::Time, std::shared_ptr<Topic>>> tombstones_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<grpc::ClientContext*> active_contexts_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, MoveStatus> statuses_ ABSL_GUARDED_BY(mu_);  // by Move::serial
  uint64_t next_move_serial_ ABSL_GUARDED_BY(mu_) = 1;
  std::atomic<size_t> topics_moving_{0};
  std::thread planner_;
};

}  // namespace ringcast::node
