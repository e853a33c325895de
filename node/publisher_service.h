// publisher_service.h — what the node does with one ringcast.v1.PublishRequest, for Publish and
// PublishStream alike (PublisherServer serves the RPCs): validates it in the order
// publisher.proto documents, checks ownership against the node's ring, appends to the topic and
// answers with the event id or a status with RpcStatus details.
//
// Thread safety: Handle may run on any thread; shared state is the thread-safe registry, ring
// holder and metrics. Nothing in it blocks.
#pragma once

#include <atomic>
#include <optional>
#include <variant>

#include "node/handoff_metrics.h"
#include "node/incoming_partitions.h"
#include "node/metrics.h"
#include "node/options.h"
#include "node/topic.h"
#include "ring/ring_holder.h"
#include "ringcast/v1/errors.pb.h"
#include "ringcast/v1/publisher.pb.h"

namespace ringcast::node {

class PublisherService {
 public:
  PublisherService(const NodeOptions& options, TopicRegistry& topics, RingHolder& ring,
                   IncomingPartitions& incoming, NodeMetrics& metrics,
                   HandoffMetrics& handoff_metrics);

  // After this, requests are answered UNAVAILABLE ("draining").
  void StartDraining() { draining_.store(true, std::memory_order_relaxed); }

  // One request, as both RPCs handle it: the response, or the error status with details.
  std::variant<v1::PublishResponse, v1::RpcStatus> Handle(const v1::PublishRequest& request);

  // A PublishBatch: every event handled in order as Handle would, or the error status of the
  // whole call (empty, too many events, draining) with nothing appended.
  std::variant<v1::PublishBatchResponse, v1::RpcStatus> HandleBatch(
      const v1::PublishBatchRequest& request);

  // One request's answer as a PublishStream (and PublishBatch) carries it.
  v1::PublishStreamResponse HandleForStream(const v1::PublishRequest& request);

 private:
  std::optional<v1::RpcStatus> Validate(const v1::PublishRequest& request) const;
  std::optional<v1::RpcStatus> Draining() const;
  // UNAVAILABLE `handoff_hold`: the topic is between owners (docs/rebalancing.md).
  v1::RpcStatus HandoffHold(const std::string& topic);
  // FAILED_PRECONDITION with WrongOwner naming `owner`, the node that appends the topic now:
  // its owner under the ring, or the source that still appends a topic being copied here.
  static v1::RpcStatus WrongOwner(uint64_t ring_version, const std::string& topic,
                                  uint32_t partition, const Member& owner);

  const NodeOptions& options_;
  TopicRegistry& topics_;
  RingHolder& ring_;
  IncomingPartitions& incoming_;
  NodeMetrics& metrics_;
  HandoffMetrics& handoff_metrics_;
  std::atomic<bool> draining_{false};
};

}  // namespace ringcast::node
