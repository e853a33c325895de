// cluster_service.h — the ring control plane, ringcast.v1.Cluster (proto/ringcast/v1/
// cluster.proto documents every RPC and status code), as a router serves it.
//
// Two roles:
//   - Coordinator (the router has no ring_source): RingCoordinator holds the rules — membership
//     changes are compare-and-set on the ring version, persisted (RingStore) before they are
//     answered and published to the router's RingHolder; health reports are kept per node.
//   - Follower (ring_source set): the router's RingHolder is filled by a client::RingWatcher of
//     the coordinator; GetRing/WatchRing are answered from it, every other RPC is relayed to the
//     coordinator (UNAVAILABLE `no_coordinator` when it cannot be reached).
// In both, WatchRing streams are callback reactors (no thread per watcher): each has at most one
// write in flight and, when it completes, sends the newest snapshot if it is newer than the last
// sent — a slow watcher skips versions rather than queueing them.
//
// Errors cross module boundaries as absl::Status carrying the ringcast.v1.RpcStatus (with its
// typed details) as payload (client/status.h); the gRPC edge turns them into grpc::Status with
// `grpc-status-details-bin`. Every answer is counted in
// ringcast_cluster_requests_total{method, code}.
//
// Thread safety: every public method is thread-safe. gRPC runs the handlers on its callback
// threads; none blocks except a coordinator's commit, which holds the change lock across the
// fsync of the new snapshot (NOTE: a few milliseconds, and membership changes are rare).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ring/ring.h"
#include "ring/ring_holder.h"
#include "ringcast/v1/cluster.grpc.pb.h"
#include "router/options.h"
#include "router/rebalance_tracker.h"
#include "router/ring_store.h"

namespace ringcast::router {

// The coordinator's rules, without gRPC. Each change runs under one lock: read the current
// ring, check the request, compute the next ring (ring/ring.h), persist it, publish it to
// `ring`, then call `on_commit`. On any error the ring and its version stay as they were.
class RingCoordinator {
 public:
  // `ring` must hold the cluster's ring already; `store` may be null (ring and moves in memory
  // only). The moves `store` persisted are listed again (RebalanceTracker::Restore; an unusable
  // file is reported on stderr and lists none).
  RingCoordinator(const RouterOptions& options, RingHolder& ring, RingStore* store,
                  std::function<void(std::shared_ptr<const Ring>)> on_commit);

  // The errors of cluster.proto: INVALID_ARGUMENT with one FieldViolation per bad field,
  // ALREADY_EXISTS (id or an address taken; checked before the version, so a retried AddNode
  // that had succeeded gets it), FAILED_PRECONDITION (expected_version), RESOURCE_EXHAUSTED
  // with LimitExceeded `partition_count`, INTERNAL when the snapshot cannot be persisted.
  absl::StatusOr<v1::AddNodeResponse> AddNode(const v1::AddNodeRequest& request);
  // INVALID_ARGUMENT, NOT_FOUND (before the version check), FAILED_PRECONDITION (version, or the
  // last member), INTERNAL.
  absl::StatusOr<v1::RemoveNodeResponse> RemoveNode(const v1::RemoveNodeRequest& request);
  // INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION (version), INTERNAL. The current weight
  // commits nothing and answers the current ring with an empty diff.
  absl::StatusOr<v1::SetWeightResponse> SetWeight(const v1::SetWeightRequest& request);

  // Members (UNKNOWN until their first report, DOWN after node_down_after without one) and
  // non-members that reported within node_down_after, sorted by id. NOT_FOUND for a `node_id`
  // that is neither.
  absl::StatusOr<v1::GetHealthResponse> GetHealth(const v1::GetHealthRequest& request,
                                                  absl::Time now) const;
  // Keeps the report as the node's latest and advances the moves it carries (RebalanceTracker).
  // INVALID_ARGUMENT for a missing or malformed node id or a state other than SERVING/DRAINING.
  absl::StatusOr<v1::ReportHealthResponse> ReportHealth(const v1::ReportHealthRequest& request,
                                                        absl::Time now);
  // The moves of the changes since the cluster last settled (rebalance_tracker.h has the rules).
  v1::GetRebalanceStatusResponse GetRebalanceStatus(const v1::GetRebalanceStatusRequest& request,
                                                    absl::Time now);

 private:
  struct HealthRecord {
    v1::NodeHealth report;
    absl::Time received;
  };

  // Checks `expected_version` against `current`: FAILED_PRECONDITION naming both on mismatch.
  static absl::Status CheckVersion(const Ring& current, uint64_t expected_version);
  // Persists and publishes `next` (a successor of `current`); the reply of a change (AddNode,
  // RemoveNode, SetWeight): the committed ring and its diff from `current`.
  template <typename Response>
  absl::StatusOr<Response> Commit(const Ring& current, Ring next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  v1::NodeHealth HealthOf(const std::string& id, bool member, absl::Time now) const
      ABSL_SHARED_LOCKS_REQUIRED(health_mu_);

  // Constant after construction.
  const RouterOptions& options_;
  RingHolder& ring_;
  RingStore* const store_;
  const std::function<void(std::shared_ptr<const Ring>)> on_commit_;

  // Serialises changes (read current, check, persist, publish).
  absl::Mutex change_mu_;

  mutable absl::Mutex health_mu_;
  absl::flat_hash_map<std::string, HealthRecord> health_ ABSL_GUARDED_BY(health_mu_);

  // Self-synchronised.
  RebalanceTracker moves_;
};

class WatchHub;  // the open WatchRing streams (cluster_service.cc)

class ClusterService final : public v1::Cluster::CallbackService {
 public:
  // A coordinator over `ring`, which must already hold the cluster's ring. `store` may be null.
  static std::unique_ptr<ClusterService> Coordinator(const RouterOptions& options,
                                                     RingHolder& ring, RingStore* store,
                                                     prometheus::Registry& registry);
  // A follower of the coordinator at `options.ring_source`. `ring` may be empty until the
  // caller's RingWatcher fills it; the caller then passes each new ring to RingChanged().
  static std::unique_ptr<ClusterService> Follower(const RouterOptions& options, RingHolder& ring,
                                                  prometheus::Registry& registry);
  ~ClusterService() override;

  // Sends `ring` to every WatchRing stream (if newer than what the service has).
  void RingChanged(std::shared_ptr<const Ring> ring);

  // Ends every WatchRing stream with UNAVAILABLE `draining` and answers every later call so.
  void StartDraining();

  // ringcast.v1.Cluster
  grpc::ServerUnaryReactor* GetRing(grpc::CallbackServerContext* context,
                                    const v1::GetRingRequest* request,
                                    v1::RingSnapshot* response) override;
  grpc::ServerWriteReactor<v1::RingSnapshot>* WatchRing(
      grpc::CallbackServerContext* context, const v1::WatchRingRequest* request) override;
  grpc::ServerUnaryReactor* AddNode(grpc::CallbackServerContext* context,
                                    const v1::AddNodeRequest* request,
                                    v1::AddNodeResponse* response) override;
  grpc::ServerUnaryReactor* RemoveNode(grpc::CallbackServerContext* context,
                                       const v1::RemoveNodeRequest* request,
                                       v1::RemoveNodeResponse* response) override;
  grpc::ServerUnaryReactor* SetWeight(grpc::CallbackServerContext* context,
                                      const v1::SetWeightRequest* request,
                                      v1::SetWeightResponse* response) override;
  grpc::ServerUnaryReactor* GetHealth(grpc::CallbackServerContext* context,
                                      const v1::GetHealthRequest* request,
                                      v1::GetHealthResponse* response) override;
  grpc::ServerUnaryReactor* ReportHealth(grpc::CallbackServerContext* context,
                                         const v1::ReportHealthRequest* request,
                                         v1::ReportHealthResponse* response) override;
  grpc::ServerUnaryReactor* GetRebalanceStatus(
      grpc::CallbackServerContext* context, const v1::GetRebalanceStatusRequest* request,
      v1::GetRebalanceStatusResponse* response) override;

 private:
  ClusterService(const RouterOptions& options, RingHolder& ring, RingStore* store,
                 prometheus::Registry& registry);

  // The async stub method that relays one RPC to the coordinator.
  template <typename Request, typename Response>
  using AsyncCall = void (v1::Cluster::Stub::async::*)(grpc::ClientContext*, const Request*,
                                                       Response*,
                                                       std::function<void(grpc::Status)>);

  // Answers a call here: `compute()` (an absl::StatusOr<Response>) unless draining; counted.
  template <typename Response, typename Compute>
  grpc::ServerUnaryReactor* Local(grpc::CallbackServerContext* context, const char* method,
                                  Response* response, Compute compute);
  // Forwards a call to the coordinator without blocking; counted. A reply carrying a ring (a
  // committed change) is adopted at once.
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Relay(grpc::CallbackServerContext* context, const char* method,
                                  const Request* request, Response* response,
                                  std::type_identity_t<AsyncCall<Request, Response>> call);
  // A follower takes the ring of a relayed change's reply at once (read-your-writes).
  void Adopt(const v1::RingSnapshot& snapshot);
  // Adopt(response.ring()) for replies that carry a ring (AddNode, RemoveNode, SetWeight).
  template <typename Response>
  void AdoptRingOf(const Response& response);
  // UNAVAILABLE `draining` once StartDraining ran.
  absl::Status Refusal() const;
  void Count(const char* method, grpc::StatusCode code);

  // Constant after construction.
  const RouterOptions& options_;
  RingHolder& ring_;
  std::unique_ptr<RingCoordinator> coordinator_;         // null in a follower
  std::unique_ptr<v1::Cluster::Stub> coordinator_stub_;  // null in a coordinator
  std::unique_ptr<WatchHub> hub_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Gauge& ring_version_;

  // Self-synchronised.
  std::atomic<bool> draining_{false};
};

}  // namespace ringcast::router
