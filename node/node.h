// node.h — one ringcast-node: HTTP workers serving event streams, the gRPC Publisher, the
// topic registry with its replay buffers, and the ring that says which topics are this node's.
//
// Life cycle: Start() gets the ring (from --ring_source: waits up to ring_wait for the router's
// first snapshot, or starts from the one saved under state_dir; else from the ring file or a
// ring of this node alone), binds both listeners (port 0 picks a free port) and starts serving.
// With a ring source the node keeps following the router's WatchRing (keeping its last ring
// while the router is away) and reports its health to it. Shutdown() reports DRAINING, stops
// accepting, refuses new publishes (UNAVAILABLE "draining"), ends every stream with a final
// retry:, waits up to shutdown_grace for them to flush, and stops.
// Ring changes move topics (docs/rebalancing.md): every ring goes through ApplyRing, which tells
// the incoming partitions what to wait for before the ring becomes current, then lets the
// handoff source move what this node no longer owns; the Handoff service takes what it gains.
// Thread safety: Start/Shutdown from one controlling thread; the rest is internal.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/server.h>

#include "absl/status/statusor.h"
#include "client/ring_watcher.h"
#include "node/handoff_metrics.h"
#include "node/handoff_source.h"
#include "node/handoff_target.h"
#include "node/health_reporter.h"
#include "node/incoming_partitions.h"
#include "node/metrics.h"
#include "node/options.h"
#include "node/publisher_server.h"
#include "node/publisher_service.h"
#include "node/topic.h"
#include "node/worker.h"
#include "ring/ring_holder.h"

namespace ringcast::node {

class Node final : public FanOut {
 public:
  static absl::StatusOr<std::unique_ptr<Node>> Start(NodeOptions options);
  ~Node() override;

  // host:port actually bound (the port is real even when 0 was asked for).
  const std::string& http_address() const { return http_address_; }
  const std::string& grpc_address() const { return grpc_address_; }

  void Shutdown();

  // FanOut
  void Deliver(size_t worker, const std::shared_ptr<Topic>& topic, uint64_t offset,
               const sse::Frame& frame) override;

 private:
  explicit Node(NodeOptions options);
  absl::Status StartServing();
  // Follows options_.ring_source until the first ring is in ring_ (or the saved one is).
  absl::Status FollowRingSource();
  // The ring of a node without a ring source: the ring file's, or one of this node alone.
  absl::Status LoadStaticRing();
  // Makes `ring` current (if newer), in the order the handoff needs (see the file comment).
  void ApplyRing(std::shared_ptr<const Ring> ring);
  // Ends `topic`'s streams on every worker.
  void EndTopicStreams(const std::shared_ptr<Topic>& topic);
  // What the health reports say about this node (state aside).
  v1::NodeHealth SampleHealth() const;
  // The handoff source's progress for the next health report (none once it is stopped).
  std::vector<v1::MoveProgress> TakeMoves() ABSL_LOCKS_EXCLUDED(apply_ring_mu_);

  const NodeOptions options_;
  NodeMetrics metrics_;
  std::atomic<int64_t> connections_{0};
  std::atomic<int64_t> streams_{0};
  std::unique_ptr<TopicRegistry> topics_;
  std::unique_ptr<RingHolder> ring_;
  std::unique_ptr<HandoffMetrics> handoff_metrics_;
  std::unique_ptr<IncomingPartitions> incoming_;
  // Orders ApplyRing calls; Shutdown takes handoff_source_ away under it, so ApplyRing and the
  // health reporter never use a source being stopped.
  absl::Mutex apply_ring_mu_;
  // With a ring source: the watcher's copy; each new one goes through ApplyRing into ring_.
  std::unique_ptr<RingHolder> watched_ring_;
  // With a ring source: fills ring_ (declared after it, so it stops first).
  std::unique_ptr<client::RingWatcher> ring_watcher_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<PublisherService> publisher_;
  std::unique_ptr<HandoffTarget> handoff_target_;
  // Moves topics away; uses workers_ and topics_, so it is stopped first. Null once stopped.
  std::unique_ptr<HandoffSource> handoff_source_ ABSL_GUARDED_BY(apply_ring_mu_);
  // Declared before the server: its completion queue outlives the server.
  std::unique_ptr<PublisherServer> publisher_server_;
  std::unique_ptr<grpc::Server> grpc_server_;
  // With a ring source: reads topics_, ring_ and streams_, so it is declared after them.
  std::unique_ptr<HealthReporter> health_reporter_;
  std::string http_address_;
  std::string grpc_address_;
  bool shut_down_ = false;
};

}  // namespace ringcast::node
