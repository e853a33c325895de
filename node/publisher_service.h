// publisher_service.h — what the node does with one ringcast.v1.PublishRequest, for Publish,
// PublishStream and PublishBatch alike (PublisherServer serves the RPCs): validates it in the
// order publisher.proto documents, checks ownership against the node's ring, appends to the topic
// and answers with the event id or a status with RpcStatus details. A request that names a ring
// version newer than the node's is answered `Held`: the server holds it and asks again
// (docs/rebalancing.md "Hold queue").
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

  // The answer to one request: the response, or the error status with details.
  using Answer = std::variant<v1::PublishResponse, v1::RpcStatus>;
  // Hold the request and handle it again shortly: (ring_behind) it names a ring version this
  // node has not received yet. Topics between owners are answered UNAVAILABLE `handoff_hold`
  // at once for now (docs/rebalancing.md "Limits").
  struct Held {};
  // What to do with a request that would be held.
  enum class OnHandoff {
    kHold,    // answer Held
    kRefuse,  // answer UNAVAILABLE `ring_behind` (the hold bound passed)
  };

  // One request, as every RPC handles it.
  std::variant<Answer, Held> Handle(const v1::PublishRequest& request, OnHandoff on_handoff);

  // UNAVAILABLE `handoff_hold` for a request that cannot be held (its bound passed, or the hold
  // queue is full); counted.
  v1::RpcStatus RefuseHeld(const std::string& topic);

  // The error status of a whole PublishBatch (empty, too many events, draining), counted, if it
  // is refused before any event is handled.
  std::optional<v1::RpcStatus> CheckBatch(const v1::PublishBatchRequest& request);

  // One request's answer as a PublishStream (and PublishBatch) carries it.
  static v1::PublishStreamResponse ToStreamResponse(const v1::PublishRequest& request,
                                                    Answer answer);

 private:
  std::optional<v1::RpcStatus> Validate(const v1::PublishRequest& request) const;
  std::optional<v1::RpcStatus> Draining() const;
  // UNAVAILABLE `handoff_hold`, counted as a handoff refusal only.
  v1::RpcStatus HandoffHoldStatus(const std::string& topic);
  // UNAVAILABLE `ring_behind`: the request's ring version did not arrive in time; counted.
  v1::RpcStatus RefuseRingBehind(uint64_t ring_version);
  // Ownership, handoff state and the append itself.
  Answer Append(const v1::PublishRequest& request);
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
