// publisher_service.cc — Publish and PublishStream (see publisher_service.h and
// proto/ringcast/v1/publisher.proto for every status code and its details).
#include "node/publisher_service.h"

#include <deque>

#include <google/protobuf/duration.pb.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
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

grpc::Status ToGrpc(const v1::RpcStatus& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message(),
                      status.SerializeAsString());
}

}  // namespace

PublisherService::PublisherService(const NodeOptions& options, TopicRegistry& topics,
                                   RingHolder& ring, NodeMetrics& metrics)
    : options_(options), topics_(topics), ring_(ring), metrics_(metrics) {}

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

std::variant<v1::PublishResponse, v1::RpcStatus> PublisherService::Handle(
    const v1::PublishRequest& request) {
  std::variant<v1::PublishResponse, v1::RpcStatus> outcome = [&]()
      -> std::variant<v1::PublishResponse, v1::RpcStatus> {
    if (std::optional<v1::RpcStatus> invalid = Validate(request)) return *invalid;
    if (draining_.load(std::memory_order_relaxed)) {
      v1::RpcStatus status = Error(grpc::StatusCode::UNAVAILABLE, "node is shutting down");
      v1::RetryInfo retry;
      retry.set_reason("draining");
      retry.mutable_retry_delay()->set_seconds(1);
      status.add_details()->PackFrom(retry);
      return status;
    }
    const std::shared_ptr<const Ring> ring = ring_.Load();
    const uint32_t partition = ring->PartitionOf(request.topic());
    const Member& owner = ring->OwnerOf(partition);
    if (owner.id != options_.node_id) {
      v1::RpcStatus status =
          Error(grpc::StatusCode::FAILED_PRECONDITION,
                absl::StrCat("topic '", request.topic(), "' is owned by node ", owner.id,
                             " under ring version ", ring->version()));
      v1::WrongOwner wrong_owner;
      wrong_owner.set_ring_version(ring->version());
      wrong_owner.set_topic(request.topic());
      wrong_owner.set_partition(partition);
      wrong_owner.mutable_owner()->set_id(owner.id);
      wrong_owner.mutable_owner()->set_weight(owner.weight);
      wrong_owner.mutable_owner()->set_http_address(owner.http_address);
      wrong_owner.mutable_owner()->set_grpc_address(owner.grpc_address);
      status.add_details()->PackFrom(wrong_owner);
      return status;
    }
    const AppendResult appended = topics_.Append(
        request.topic(),
        AppendRequest{request.type(), request.data(), request.producer_id(), request.sequence()},
        absl::Now());
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
  }();
  metrics_.CountPublish(std::holds_alternative<v1::RpcStatus>(outcome)
                            ? CodeName(static_cast<grpc::StatusCode>(
                                  std::get<v1::RpcStatus>(outcome).code()))
                            : "OK");
  return outcome;
}

grpc::ServerUnaryReactor* PublisherService::Publish(grpc::CallbackServerContext* context,
                                                    const v1::PublishRequest* request,
                                                    v1::PublishResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto outcome = Handle(*request);
  if (auto* ok = std::get_if<v1::PublishResponse>(&outcome)) {
    *response = std::move(*ok);
    reactor->Finish(grpc::Status::OK);
  } else {
    reactor->Finish(ToGrpc(std::get<v1::RpcStatus>(outcome)));
  }
  return reactor;
}

namespace {

// One PublishStream: reads requests one after another (so a stream's requests are appended in
// order), answers each, and keeps at most one write in flight with the rest queued. gRPC's flow
// control bounds the queue: a reader that stops reading stops our reads too.
class PublishStreamReactor final
    : public grpc::ServerBidiReactor<v1::PublishRequest, v1::PublishStreamResponse> {
 public:
  explicit PublishStreamReactor(PublisherService& service) : service_(service) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      absl::MutexLock lock(&mu_);
      reads_done_ = true;
      MaybeFinish();
      return;
    }
    v1::PublishStreamResponse response;
    response.set_request_id(request_.request_id());
    auto outcome = service_.Handle(request_);
    if (auto* accepted = std::get_if<v1::PublishResponse>(&outcome)) {
      *response.mutable_ok() = std::move(*accepted);
    } else {
      *response.mutable_error() = std::move(std::get<v1::RpcStatus>(outcome));
    }
    {
      absl::MutexLock lock(&mu_);
      responses_.push_back(std::move(response));
      if (!writing_) {
        writing_ = true;
        StartWrite(&responses_.front());
      }
      // Hold reading while many answers wait for the client to read them.
      if (responses_.size() > kMaxQueuedResponses) {
        read_paused_ = true;
        return;
      }
    }
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    bool resume_read = false;
    {
      absl::MutexLock lock(&mu_);
      responses_.pop_front();
      writing_ = false;
      if (!ok) {
        // The client is gone; gRPC ends the call, OnDone follows.
        return;
      }
      if (!responses_.empty()) {
        writing_ = true;
        StartWrite(&responses_.front());
      }
      if (read_paused_ && responses_.size() <= kMaxQueuedResponses / 2) {
        read_paused_ = false;
        resume_read = true;
      }
      MaybeFinish();
    }
    if (resume_read) StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  static constexpr size_t kMaxQueuedResponses = 256;

  void MaybeFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reads_done_ && !writing_ && responses_.empty() && !finished_) {
      finished_ = true;
      Finish(grpc::Status::OK);
    }
  }

  PublisherService& service_;
  v1::PublishRequest request_;  // only touched between StartRead and OnReadDone
  absl::Mutex mu_;
  std::deque<v1::PublishStreamResponse> responses_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerBidiReactor<v1::PublishRequest, v1::PublishStreamResponse>*
PublisherService::PublishStream(grpc::CallbackServerContext* /*context*/) {
  return new PublishStreamReactor(*this);
}

}  // namespace ringcast::node
