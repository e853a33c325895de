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
                   NodeMetrics& metrics);

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

  const NodeOptions& options_;
  TopicRegistry& topics_;
  RingHolder& ring_;
  NodeMetrics& metrics_;
  std::atomic<bool> draining_{false};
};

}  // namespace ringcast::node
