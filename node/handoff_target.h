// handoff_target.h — the target side of topic handoffs: serves ringcast.v1.Handoff (handoff.proto)
// on the node's gRPC port. For each Transfer it creates the listed topics' copies (kIncoming,
// with the source's epoch, offsets and producer marks), appends the source's events in order,
// and activates each topic at its seal, after which this node appends and serves it.
//
// Simplifications (documented in docs/rebalancing.md): an interrupted transfer is not resumed
// from a partial copy — when its stream breaks (or a new `begin` comes) the copies not yet
// activated are discarded (their subscribers' streams end with retry:) and their topics wait
// again, for the source to send them anew or for the partitions' abandonment; topics already
// activated are reported ACTIVE in `ready`.
//
// Thread safety: gRPC's synchronous server runs each stream on a thread of its own; shared state
// is the thread-safe registry, ring holder, incoming partitions and metrics.
#pragma once

#include <functional>
#include <memory>

#include "node/handoff_metrics.h"
#include "node/incoming_partitions.h"
#include "node/options.h"
#include "node/topic.h"
#include "ring/ring_holder.h"
#include "ringcast/v1/handoff.grpc.pb.h"

namespace ringcast::node {

// Ends every subscriber stream of a topic on this node (with a short retry:).
using EndTopicStreams = std::function<void(const std::shared_ptr<Topic>&)>;

class HandoffTarget final : public v1::Handoff::Service {
 public:
  HandoffTarget(const NodeOptions& options, TopicRegistry& topics, const RingHolder& ring,
                IncomingPartitions& incoming, HandoffMetrics& metrics,
                EndTopicStreams end_streams);

  // After this, transfers are refused with UNAVAILABLE (`draining`).
  void StartDraining() { draining_.store(true, std::memory_order_relaxed); }

  grpc::Status Transfer(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::TransferResponse, v1::TransferRequest>* stream) override;
  grpc::Status Abort(grpc::ServerContext* context, const v1::AbortRequest* request,
                     v1::AbortResponse* response) override;

 private:
  class TransferSession;

  // This node's ring once it is at least `version`, waiting up to options.handoff_hold for it;
  // UNAVAILABLE (`ring_behind`) past that.
  absl::StatusOr<std::shared_ptr<const Ring>> RingAtLeast(uint64_t version) const;
  // Discards an incoming copy that will not be completed.
  void Discard(const std::shared_ptr<Topic>& topic);

  const NodeOptions& options_;
  TopicRegistry& topics_;
  const RingHolder& ring_;
  IncomingPartitions& incoming_;
  HandoffMetrics& metrics_;
  const EndTopicStreams end_streams_;
  std::atomic<bool> draining_{false};
};

}  // namespace ringcast::node
