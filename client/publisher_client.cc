// publisher_client.cc — unary Publish and PublishStream over the sync gRPC API. A stream keeps
// one reader thread that collects answers while the caller's thread writes; the set of request
// ids in flight is the only per-request state, so memory follows max_in_flight, not the total
// sent (unless the caller asks Finish to collect every result).
#include "client/publisher_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "sse/event.h"
#include "sse/request.h"

namespace ringcast::client {
namespace {

constexpr size_t kMaxProducerIdBytes = 128;

bool IsProducerIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '~' || c == ':' || c == '@' || c == '-' || c == '/';
}

absl::Status Prefixed(std::string_view field, const absl::Status& status) {
  // The sse validators already name the field ("topic is empty", "event type is ..."); keep
  // their words and add which request field was checked when they do not.
  const std::string message(status.message());
  if (message.rfind(field, 0) == 0) return absl::InvalidArgumentError(message);
  return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": ", message));
}

void ApplyDeadline(grpc::ClientContext& context, absl::Time deadline) {
  if (deadline != absl::InfiniteFuture()) context.set_deadline(absl::ToChronoTime(deadline));
}

StreamResult ToStreamResult(const v1::PublishStreamResponse& response) {
  StreamResult result{.request_id = response.request_id(), .result = PublishResult{}};
  switch (response.result_case()) {
    case v1::PublishStreamResponse::kOk:
      result.result = FromResponse(response.ok());
      break;
    case v1::PublishStreamResponse::kError:
      result.result = FromRpcStatus(response.error());
      break;
    default:
      result.result = absl::UnknownError("the node answered with neither a result nor an error");
      break;
  }
  return result;
}

}  // namespace

absl::Status ValidatePublishOptions(const PublishOptions& options) {
  if (absl::Status topic = sse::ValidateTopic(options.topic); !topic.ok()) {
    return Prefixed("topic", topic);
  }
  if (absl::Status type = sse::ValidateEventType(options.type); !type.ok()) {
    return Prefixed("type", type);
  }
  if (!sse::IsValidUtf8(options.data)) {
    return absl::InvalidArgumentError("data: must be valid UTF-8 text");
  }
  if (options.producer_id.empty() != (options.sequence == 0)) {
    return absl::InvalidArgumentError(
        "producer_id and sequence: set both (sequence >= 1) or neither");
  }
  if (options.producer_id.size() > kMaxProducerIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("producer_id: is ", options.producer_id.size(),
                                                   " bytes; the limit is ", kMaxProducerIdBytes));
  }
  if (!std::all_of(options.producer_id.begin(), options.producer_id.end(), IsProducerIdChar)) {
    return absl::InvalidArgumentError("producer_id: may hold only A-Z a-z 0-9 . _ ~ : @ - /");
  }
  return absl::OkStatus();
}

v1::PublishRequest ToRequest(const PublishOptions& options) {
  v1::PublishRequest request;
  request.set_topic(options.topic);
  request.set_type(options.type);
  request.set_data(options.data);
  request.set_ring_version(options.ring_version);
  request.set_producer_id(options.producer_id);
  request.set_sequence(options.sequence);
  return request;
}

PublishResult FromResponse(const v1::PublishResponse& response) {
  return PublishResult{.event_id = response.event_id(),
                       .epoch = response.epoch(),
                       .offset = response.offset(),
                       .duplicate = response.duplicate(),
                       .ring_version = response.ring_version()};
}

// ---------------------------------------------------------------------------------------------
// PublisherClient

PublisherClient::PublisherClient(std::string_view address, PublisherClientOptions options)
    : PublisherClient(grpc::CreateChannel(std::string(address), grpc::InsecureChannelCredentials()),
                      options) {}

PublisherClient::PublisherClient(std::shared_ptr<grpc::Channel> channel,
                                 PublisherClientOptions options)
    : options_(options), channel_(std::move(channel)), stub_(v1::Publisher::NewStub(channel_)) {}

absl::StatusOr<PublishResult> PublisherClient::Publish(const PublishOptions& options) const {
  if (options_.validate_requests) {
    if (absl::Status valid = ValidatePublishOptions(options); !valid.ok()) return valid;
  }
  grpc::ClientContext context;
  ApplyDeadline(context, options.deadline);
  v1::PublishResponse response;
  grpc::Status status = stub_->Publish(&context, ToRequest(options), &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return FromResponse(response);
}

absl::StatusOr<std::vector<StreamResult>> PublisherClient::PublishBatch(
    const std::vector<PublishOptions>& events, absl::Time deadline) const {
  v1::PublishBatchRequest request;
  request.mutable_events()->Reserve(static_cast<int>(events.size()));
  for (size_t i = 0; i < events.size(); ++i) {
    if (options_.validate_requests) {
      if (absl::Status valid = ValidatePublishOptions(events[i]); !valid.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("events[", i, "]: ", std::string(valid.message())));
      }
    }
    v1::PublishRequest* event = request.add_events();
    *event = ToRequest(events[i]);
    event->set_request_id(i + 1);
  }
  grpc::ClientContext context;
  ApplyDeadline(context, deadline);
  v1::PublishBatchResponse response;
  grpc::Status status = stub_->PublishBatch(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  std::vector<StreamResult> results;
  results.reserve(response.results_size());
  for (const v1::PublishStreamResponse& result : response.results()) {
    results.push_back(ToStreamResult(result));
  }
  return results;
}

absl::StatusOr<std::unique_ptr<PublishStream>> PublisherClient::OpenStream(
    PublishStreamOptions options) {
  return std::unique_ptr<PublishStream>(
      new PublishStream(channel_, *stub_, std::move(options), options_.validate_requests));
}

// ---------------------------------------------------------------------------------------------
// PublishStream

PublishStream::PublishStream(std::shared_ptr<grpc::Channel> channel, v1::Publisher::Stub& stub,
                             PublishStreamOptions options, bool validate)
    : channel_(std::move(channel)), options_(std::move(options)), validate_(validate) {
  ApplyDeadline(context_, options_.deadline);
  stream_ = stub.PublishStream(&context_);
  reader_ = std::thread([this] { ReadLoop(); });
}

PublishStream::~PublishStream() {
  if (finished_) return;
  context_.TryCancel();
  if (reader_.joinable()) reader_.join();
  // NOTE: gRPC's sync streams must be finished before they are destroyed, even when cancelled.
  stream_->Finish();
}

void PublishStream::ReadLoop() {
  v1::PublishStreamResponse response;
  while (stream_->Read(&response)) {
    StreamResult result = ToStreamResult(response);
    const uint64_t id = result.request_id;
    if (options_.on_result) options_.on_result(std::move(result));
    absl::MutexLock lock(&mu_);
    if (!options_.on_result) results_.push_back(std::move(result));
    in_flight_.erase(id);
  }
  absl::MutexLock lock(&mu_);
  reader_done_ = true;
}

absl::StatusOr<uint64_t> PublishStream::Send(const PublishOptions& options) {
  if (finished_) return absl::FailedPreconditionError("Send after Finish");
  if (validate_) {
    if (absl::Status valid = ValidatePublishOptions(options); !valid.ok()) return valid;
  }
  const uint64_t id = next_request_id_;
  {
    absl::MutexLock lock(&mu_);
    if (options_.max_in_flight > 0) {
      auto has_room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return reader_done_ || in_flight_.size() < options_.max_in_flight;
      };
      mu_.Await(absl::Condition(&has_room));
    }
    if (reader_done_) {
      return absl::UnavailableError("the stream has ended; Finish() reports why");
    }
    // NOTE: registered before the write: the answer can arrive before Write returns.
    in_flight_.insert(id);
  }
  v1::PublishRequest request = ToRequest(options);
  request.set_request_id(id);
  if (!stream_->Write(request)) {
    absl::MutexLock lock(&mu_);
    in_flight_.erase(id);
    return absl::UnavailableError("the stream has ended; Finish() reports why");
  }
  ++next_request_id_;
  return id;
}

absl::StatusOr<std::vector<StreamResult>> PublishStream::Finish() {
  if (finished_) return absl::FailedPreconditionError("Finish called twice");
  finished_ = true;
  stream_->WritesDone();
  reader_.join();
  absl::Status final_status = FromGrpcStatus(stream_->Finish());

  std::vector<uint64_t> unanswered;
  std::vector<StreamResult> results;
  {
    absl::MutexLock lock(&mu_);
    stream_status_ = final_status;
    unanswered.assign(in_flight_.begin(), in_flight_.end());
    in_flight_.clear();
    results = std::move(results_);
    results_.clear();
  }
  std::sort(unanswered.begin(), unanswered.end());
  const absl::Status unanswered_status =
      final_status.ok() ? absl::UnknownError("the stream ended OK without answering this request")
                        : final_status;
  for (uint64_t id : unanswered) {
    StreamResult result{.request_id = id, .result = unanswered_status};
    if (options_.on_result) {
      options_.on_result(std::move(result));
    } else {
      results.push_back(std::move(result));
    }
  }
  return results;
}

absl::Status PublishStream::stream_status() const {
  absl::MutexLock lock(&mu_);
  return stream_status_;
}

}  // namespace ringcast::client
