// publisher_service.h — the node's gRPC ringcast.v1.Publisher (callback API): validates each
// request in the order publisher.proto documents, checks ownership against the node's ring,
// appends to the topic and answers with the event id or a status with RpcStatus details.
//
// Thread safety: reactors run on gRPC's threads; shared state is the thread-safe registry, ring
// holder and metrics. Nothing blocks inside a reaction.
#pragma once

#include <atomic>
#include <variant>

#include "node/metrics.h"
#include "node/options.h"
#include "node/topic.h"
#include "ring/ring_holder.h"
#include "ringcast/v1/errors.pb.h"
#include "ringcast/v1/publisher.grpc.pb.h"

namespace ringcast::node {

class PublisherService final : public v1::Publisher::CallbackService {
 public:
  PublisherService(const NodeOptions& options, TopicRegistry& topics, RingHolder& ring,
                   NodeMetrics& metrics);

  // After this, requests are answered UNAVAILABLE ("draining").
  void StartDraining() { draining_.store(true, std::memory_order_relaxed); }

  // One request, as both RPCs handle it: the response, or the error status with details.
  std::variant<v1::PublishResponse, v1::RpcStatus> Handle(const v1::PublishRequest& request);

 private:
  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const v1::PublishRequest* request,
                                    v1::PublishResponse* response) override;
  grpc::ServerBidiReactor<v1::PublishRequest, v1::PublishStreamResponse>* PublishStream(
      grpc::CallbackServerContext* context) override;

  std::optional<v1::RpcStatus> Validate(const v1::PublishRequest& request) const;

  const NodeOptions& options_;
  TopicRegistry& topics_;
  RingHolder& ring_;
  NodeMetrics& metrics_;
  std::atomic<bool> draining_{false};
};

}  // namespace ringcast::node
