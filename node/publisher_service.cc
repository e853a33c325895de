// publisher_service.cc — the handling of one publish request (see publisher_service.h and
// proto/ringcast/v1/publisher.proto for every status code and its details).
#include "node/publisher_service.h"

#include <google/protobuf/duration.pb.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/support/status.h"
#include "sse/event.h"
#include "sse/request.h"

namespace ringcast::node {
namespace {

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    default: return absl::StrCat(static_cast<int>(code));
  }
}

v1::RpcStatus Error(grpc::StatusCode code, std::string message) {
  v1::RpcStatus status;
  status.set_code(code);
  status.set_message(std::move(message));
  return status;
}

v1::RpcStatus InvalidField(std::string_view field, std::string_view reason) {
  v1::RpcStatus status = Error(grpc::StatusCode::INVALID_ARGUMENT,
                               absl::StrCat(std::string(field), ": ", std::string(reason)));
  v1::FieldViolation violation;
  violation.set_field(std::string(field));
  violation.set_description(std::string(reason));
  status.add_details()->PackFrom(violation);
  return status;
}

bool IsProducerIdByte(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("._~:@-/").find(c) != std::string_view::npos;
}

}  // namespace

PublisherService::PublisherService(const NodeOptions& options, TopicRegistry& topics,
                                   RingHolder& ring, IncomingPartitions& incoming,
                                   NodeMetrics& metrics, HandoffMetrics& handoff_metrics)
    : options_(options),
      topics_(topics),
      ring_(ring),
      incoming_(incoming),
      metrics_(metrics),
      handoff_metrics_(handoff_metrics) {}

std::optional<v1::RpcStatus> PublisherService::Validate(const v1::PublishRequest& request) const {
  if (absl::Status s = sse::ValidateTopic(request.topic(), options_.max_topic_bytes); !s.ok()) {
    return InvalidField("topic", std::string(s.message()));
  }
  if (absl::Status s = sse::ValidateEventType(request.type()); !s.ok()) {
    return InvalidField("type", std::string(s.message()));
  }
  if (request.producer_id().empty() != (request.sequence() == 0)) {
    return InvalidField(request.producer_id().empty() ? "sequence" : "producer_id",
                        "producer_id and sequence (>= 1) must be set together");
  }
  if (request.producer_id().size() > 128 ||
      !std::all_of(request.producer_id().begin(), request.producer_id().end(),
                   IsProducerIdByte)) {
    return InvalidField("producer_id", "must be 1-128 bytes of A-Z a-z 0-9 . _ ~ : @ - /");
  }
  if (!sse::IsValidUtf8(request.data())) return InvalidField("data", "is not valid UTF-8");
  if (request.data().size() > options_.max_event_bytes) {
    v1::RpcStatus status = Error(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("data is ", request.data().size(), " bytes; max_event_bytes is ",
                     options_.max_event_bytes));
    v1::LimitExceeded limit;
    limit.set_limit("max_event_bytes");
    limit.set_limit_value(options_.max_event_bytes);
    limit.set_actual(request.data().size());
    status.add_details()->PackFrom(limit);
    return status;
  }
  return std::nullopt;
}

v1::RpcStatus PublisherService::RefuseHeld(const std::string& topic) {
  v1::RpcStatus status = HandoffHoldStatus(topic);
  metrics_.CountPublish(CodeName(grpc::StatusCode::UNAVAILABLE));
  return status;
}

v1::RpcStatus PublisherService::HandoffHoldStatus(const std::string& topic) {
  handoff_metrics_.CountPublishRefused();
  v1::RpcStatus status = Error(
      grpc::StatusCode::UNAVAILABLE,
      absl::StrCat("topic '", topic, "' is being handed off between nodes; retry shortly"));
  v1::RetryInfo retry;
  retry.set_reason("handoff_hold");
  retry.mutable_retry_delay()->set_nanos(20'000'000);
  status.add_details()->PackFrom(retry);
  return status;
}

v1::RpcStatus PublisherService::WrongOwner(uint64_t ring_version, const std::string& topic,
                                           uint32_t partition, const Member& owner) {
  v1::RpcStatus status =
      Error(grpc::StatusCode::FAILED_PRECONDITION,
            absl::StrCat("topic '", topic, "' is owned by node ", owner.id,
                         " under ring version ", ring_version));
  v1::WrongOwner wrong_owner;
  wrong_owner.set_ring_version(ring_version);
  wrong_owner.set_topic(topic);
  wrong_owner.set_partition(partition);
  wrong_owner.mutable_owner()->set_id(owner.id);
  wrong_owner.mutable_owner()->set_weight(owner.weight);
  wrong_owner.mutable_owner()->set_http_address(owner.http_address);
  wrong_owner.mutable_owner()->set_grpc_address(owner.grpc_address);
  status.add_details()->PackFrom(wrong_owner);
  return status;
}

v1::RpcStatus PublisherService::RefuseRingBehind(uint64_t ring_version) {
  v1::RpcStatus status = Error(
      grpc::StatusCode::UNAVAILABLE,
      absl::StrCat("ring version ", ring_version, " has not reached this node (it has ",
                   ring_.Load()->version(), "); retry shortly"));
  v1::RetryInfo retry;
  retry.set_reason("ring_behind");
  retry.mutable_retry_delay()->set_nanos(20'000'000);
  status.add_details()->PackFrom(retry);
  metrics_.CountPublish(CodeName(grpc::StatusCode::UNAVAILABLE));
  return status;
}

std::optional<v1::RpcStatus> PublisherService::Draining() const {
  if (!draining_.load(std::memory_order_relaxed)) return std::nullopt;
  v1::RpcStatus status = Error(grpc::StatusCode::UNAVAILABLE, "node is shutting down");
  v1::RetryInfo retry;
  retry.set_reason("draining");
  retry.mutable_retry_delay()->set_seconds(1);
  status.add_details()->PackFrom(retry);
  return status;
}

std::variant<PublisherService::Answer, PublisherService::Held> PublisherService::Handle(
    const v1::PublishRequest& request, OnHandoff on_handoff) {
  std::variant<Answer, Held> outcome = [&]() -> std::variant<Answer, Held> {
    if (std::optional<v1::RpcStatus> invalid = Validate(request)) return *invalid;
    if (std::optional<v1::RpcStatus> draining = Draining()) return *draining;
    if (request.ring_version() > ring_.Load()->version()) return Held{};
    return Append(request);
  }();
  if (std::holds_alternative<Held>(outcome)) {
    if (on_handoff == OnHandoff::kHold) return outcome;
    return RefuseRingBehind(request.ring_version());
  }
  const Answer& answer = std::get<Answer>(outcome);
  metrics_.CountPublish(std::holds_alternative<v1::RpcStatus>(answer)
                            ? CodeName(static_cast<grpc::StatusCode>(
                                  std::get<v1::RpcStatus>(answer).code()))
                            : "OK");
  return outcome;
}

PublisherService::Answer PublisherService::Append(const v1::PublishRequest& request) {
  const std::shared_ptr<const Ring> ring = ring_.Load();
  const uint32_t partition = ring->PartitionOf(request.topic());
  const Member& owner = ring->OwnerOf(partition);
  const bool owned = owner.id == options_.node_id;
  const absl::Time now = absl::Now();
  if (owned && !incoming_.MayCreate(request.topic(), partition, now) &&
      topics_.Find(request.topic()) == nullptr) {
    // Listed by the previous owner's transfer: that node appends it until the seal, which comes
    // after its snapshot got here.
    if (std::optional<Member> source = incoming_.ListedSource(request.topic(), partition)) {
      return WrongOwner(ring->version(), request.topic(), partition, *source);
    }
    return HandoffHoldStatus(request.topic());  // its history may still arrive
  }
  // A topic this node no longer owns still takes appends while it holds it (until the move
  // seals it); otherwise the owner is named.
  absl::StatusOr<AppendResult> result = topics_.Append(
      request.topic(),
      AppendRequest{request.type(), request.data(), request.producer_id(), request.sequence()},
      now, /*create=*/owned);
  if (absl::IsUnavailable(result.status()) && owned) {
    // Still being copied here: its source appends it until the seal, so send the publisher
    // there (it comes back once the topic is active here).
    if (std::optional<Member> source = incoming_.PreviousOwner(partition)) {
      return WrongOwner(ring->version(), request.topic(), partition, *source);
    }
  }
  // Sealed here (activation at the new owner follows), or an owner's tombstone. NOTE: not held:
  // holding these made handoff_faults_test's racing subscriber see a reset
  // (docs/rebalancing.md, "Limits").
  if (absl::IsUnavailable(result.status()) ||
      (owned && absl::IsFailedPrecondition(result.status()))) {
    return HandoffHoldStatus(request.topic());
  }
  if (!result.ok()) return WrongOwner(ring->version(), request.topic(), partition, owner);
  const AppendResult& appended = *result;
  if (appended.expected_sequence != 0) {
    v1::RpcStatus status = Error(
        grpc::StatusCode::OUT_OF_RANGE,
        absl::StrCat("sequence ", request.sequence(), " of producer '", request.producer_id(),
                     "' skips ahead; expected ", appended.expected_sequence));
    v1::SequenceGap gap;
    gap.set_producer_id(request.producer_id());
    gap.set_topic(request.topic());
    gap.set_expected_sequence(appended.expected_sequence);
    gap.set_actual_sequence(request.sequence());
    status.add_details()->PackFrom(gap);
    return status;
  }
  v1::PublishResponse response;
  if (appended.id.offset != 0) {
    response.set_event_id(appended.id.ToString());
    response.set_epoch(appended.id.epoch);
    response.set_offset(appended.id.offset);
  }
  response.set_duplicate(appended.duplicate);
  response.set_ring_version(ring->version());
  if (appended.duplicate) metrics_.CountDuplicate();
  return response;
}

v1::PublishStreamResponse PublisherService::ToStreamResponse(const v1::PublishRequest& request,
                                                             Answer answer) {
  v1::PublishStreamResponse response;
  response.set_request_id(request.request_id());
  if (auto* accepted = std::get_if<v1::PublishResponse>(&answer)) {
    *response.mutable_ok() = std::move(*accepted);
  } else {
    *response.mutable_error() = std::move(std::get<v1::RpcStatus>(answer));
  }
  return response;
}

std::optional<v1::RpcStatus> PublisherService::CheckBatch(const v1::PublishBatchRequest& request) {
  std::optional<v1::RpcStatus> refused = Draining();
  if (!refused && request.events().empty()) {
    refused = InvalidField("events", "a batch needs at least one event");
  }
  if (!refused && static_cast<size_t>(request.events_size()) > options_.max_batch_events) {
    refused = Error(grpc::StatusCode::INVALID_ARGUMENT,
                    absl::StrCat("batch has ", request.events_size(),
                                 " events; max_batch_events is ", options_.max_batch_events));
    v1::LimitExceeded limit;
    limit.set_limit("max_batch_events");
    limit.set_limit_value(options_.max_batch_events);
    limit.set_actual(request.events_size());
    refused->add_details()->PackFrom(limit);
  }
  if (refused) metrics_.CountPublish(CodeName(static_cast<grpc::StatusCode>(refused->code())));
  return refused;
}

}  // namespace ringcast::node
