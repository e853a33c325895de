// publisher_server.cc — the completion-queue loop and one state machine per call (see
// publisher_server.h). Every tag on the queue is a Call::Step; a call deletes itself when its
// last operation (hold alarms included) has completed.
#include "node/publisher_server.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <variant>

#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "grpcpp/completion_queue.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_stream.h"
#include "grpcpp/support/async_unary_call.h"

namespace ringcast::node {
namespace {

grpc::Status ToGrpc(const v1::RpcStatus& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message(),
                      status.SerializeAsString());
}

// One RPC. Its operations are tagged with Step objects it owns; the loop hands each completed
// step back to its call.
class Call {
 public:
  virtual ~Call() = default;

  enum class Kind { kAccepted, kRead, kWrite, kFinished, kAlarm };
  struct Step {
    Call* call;
    Kind kind;
  };

  // Runs on the queue's thread when `kind` completed with `ok`.
  void Complete(Kind kind, bool ok) {
    --pending_;
    OnComplete(kind, ok);
    if (pending_ == 0) delete this;
  }

 protected:
  // Tag for the next operation of `kind`; counts it as pending until Complete.
  void* Tag(Kind kind) {
    ++pending_;
    return &steps_[static_cast<int>(kind)];
  }

  virtual void OnComplete(Kind kind, bool ok) = 0;

 private:
  int pending_ = 0;
  Step steps_[5] = {{this, Kind::kAccepted}, {this, Kind::kRead}, {this, Kind::kWrite},
                    {this, Kind::kFinished}, {this, Kind::kAlarm}};
};

struct CallContext {
  PublisherService& service;
  v1::Publisher::AsyncService& async_service;
  grpc::ServerCompletionQueue& queue;
  PublishHoldQueue& holds;
  absl::Duration hold_bound;
  const bool& stopping;  // the queue is shutting down: start no operation
};

using Answer = PublisherService::Answer;
using OnHandoff = PublisherService::OnHandoff;

// A call that handles PublishRequests one at a time and holds one while its topic is between
// owners (see publisher_server.h).
class PublishingCall : public Call, private PublishHoldQueue::Waiter {
 protected:
  explicit PublishingCall(CallContext context) : context_(context) {}

  // Handles `request`: its answer now, or none when it is held; then `request` must stay valid
  // until Answered is called with its answer.
  std::optional<Answer> Submit(const v1::PublishRequest& request) {
    if (!context_.holds.HasWaiting(request.topic())) {
      auto outcome = context_.service.Handle(request, OnHandoff::kHold);
      if (auto* answer = std::get_if<Answer>(&outcome)) return std::move(*answer);
    }
    if (!context_.holds.Enter(request.topic(), request.ByteSizeLong(), this)) {
      return context_.service.RefuseHeld(request.topic());  // the hold queue is full
    }
    held_ = &request;
    hold_until_ = absl::Now() + context_.hold_bound;
    ArmAlarm();
    return std::nullopt;
  }

  bool holding() const { return held_ != nullptr; }

  // The answer to the held request.
  virtual void Answered(Answer answer) = 0;
  // Every completion but the hold alarm's.
  virtual void OnCallStep(Kind kind, bool ok) = 0;

  CallContext context_;

 private:
  static constexpr absl::Duration kPollInterval = absl::Milliseconds(1);

  void OnComplete(Kind kind, bool ok) final {
    if (kind == Kind::kAlarm) return OnAlarm();
    OnCallStep(kind, ok);
  }

  void Wake() override { alarm_->Cancel(); }

  void ArmAlarm() {
    const bool first = context_.holds.IsFirst(held_->topic(), this);
    const absl::Time when = first ? std::min(absl::Now() + kPollInterval, hold_until_)
                                  : hold_until_;  // woken when it becomes first
    alarm_ = std::make_unique<grpc::Alarm>();
    alarm_->Set(&context_.queue, absl::ToChronoTime(when), Tag(Kind::kAlarm));
  }

  // The alarm fired or was cancelled (Wake).
  void OnAlarm() {
    if (context_.stopping) return Leave();  // every call just ends
    const bool expired = absl::Now() >= hold_until_;
    if (context_.holds.IsFirst(held_->topic(), this)) {
      auto outcome =
          context_.service.Handle(*held_, expired ? OnHandoff::kRefuse : OnHandoff::kHold);
      if (auto* answer = std::get_if<Answer>(&outcome)) {
        Leave();
        return Answered(std::move(*answer));
      }
      return ArmAlarm();
    }
    if (!expired) return ArmAlarm();
    const std::string topic = held_->topic();
    Leave();
    Answered(context_.service.RefuseHeld(topic));
  }

  void Leave() {
    const v1::PublishRequest* held = std::exchange(held_, nullptr);
    context_.holds.Leave(held->topic(), this);
  }

  const v1::PublishRequest* held_ = nullptr;
  absl::Time hold_until_;
  std::unique_ptr<grpc::Alarm> alarm_;  // set while held_, replaced after each firing
};

// A Publish: accept, handle (possibly held), finish.
class PublishCall final : public PublishingCall {
 public:
  explicit PublishCall(CallContext context)
      : PublishingCall(context), responder_(&server_context_) {
    context_.async_service.RequestPublish(&server_context_, &request_, &responder_,
                                          &context_.queue, &context_.queue,
                                          Tag(Kind::kAccepted));
  }

 private:
  void OnCallStep(Kind kind, bool ok) override {
    // Finished, or the server is shutting down.
    if (kind != Kind::kAccepted || !ok || context_.stopping) return;
    new PublishCall(context_);  // take the next call meanwhile
    if (std::optional<Answer> answer = Submit(request_)) Answered(*std::move(answer));
  }

  void Answered(Answer answer) override {
    if (auto* response = std::get_if<v1::PublishResponse>(&answer)) {
      responder_.Finish(*response, grpc::Status::OK, Tag(Kind::kFinished));
    } else {
      responder_.FinishWithError(ToGrpc(std::get<v1::RpcStatus>(answer)), Tag(Kind::kFinished));
    }
  }

  grpc::ServerContext server_context_;
  v1::PublishRequest request_;
  grpc::ServerAsyncResponseWriter<v1::PublishResponse> responder_;
};

// A PublishBatch: refused as a whole, or every event handled in order (a held event holds the
// rest of the batch behind it); then finish with every event's result.
class PublishBatchCall final : public PublishingCall {
 public:
  explicit PublishBatchCall(CallContext context)
      : PublishingCall(context), responder_(&server_context_) {
    context_.async_service.RequestPublishBatch(&server_context_, &request_, &responder_,
                                               &context_.queue, &context_.queue,
                                               Tag(Kind::kAccepted));
  }

 private:
  void OnCallStep(Kind kind, bool ok) override {
    if (kind != Kind::kAccepted || !ok || context_.stopping) return;
    new PublishBatchCall(context_);
    if (std::optional<v1::RpcStatus> refused = context_.service.CheckBatch(request_)) {
      return responder_.FinishWithError(ToGrpc(*refused), Tag(Kind::kFinished));
    }
    response_.mutable_results()->Reserve(request_.events_size());
    HandleEvents();
  }

  // Handles the events not answered yet, until one is held or all are answered.
  void HandleEvents() {
    while (response_.results_size() < request_.events_size()) {
      std::optional<Answer> answer = Submit(request_.events(response_.results_size()));
      if (!answer) return;  // held: Answered continues
      AddResult(*std::move(answer));
    }
    responder_.Finish(response_, grpc::Status::OK, Tag(Kind::kFinished));
  }

  void AddResult(Answer answer) {
    const v1::PublishRequest& event = request_.events(response_.results_size());
    *response_.add_results() = PublisherService::ToStreamResponse(event, std::move(answer));
  }

  void Answered(Answer answer) override {
    AddResult(std::move(answer));
    HandleEvents();
  }

  grpc::ServerContext server_context_;
  v1::PublishBatchRequest request_;
  v1::PublishBatchResponse response_;
  grpc::ServerAsyncResponseWriter<v1::PublishBatchResponse> responder_;
};

// A PublishStream: reads requests one after another (so a stream's requests are appended in
// order), answers each, and keeps at most one write in flight with the rest queued. Reading
// pauses while too many answers wait, so a client that stops reading stops our reads too, and
// while a request is held.
class StreamCall final : public PublishingCall {
 public:
  explicit StreamCall(CallContext context) : PublishingCall(context), stream_(&server_context_) {
    context_.async_service.RequestPublishStream(&server_context_, &stream_, &context_.queue,
                                                &context_.queue, Tag(Kind::kAccepted));
  }

 private:
  static constexpr size_t kMaxQueuedResponses = 256;

  void OnCallStep(Kind kind, bool ok) override {
    if (context_.stopping) return;  // the queue is shutting down: every call just ends
    switch (kind) {
      case Kind::kAccepted:
        if (!ok) return;  // the server is shutting down
        new StreamCall(context_);
        return ReadNext();
      case Kind::kRead: return OnRead(ok);
      case Kind::kWrite: return OnWrite(ok);
      case Kind::kFinished:
      case Kind::kAlarm: return;
    }
  }

  void ReadNext() {
    reading_ = true;
    stream_.Read(&request_, Tag(Kind::kRead));
  }

  void OnRead(bool ok) {
    reading_ = false;
    if (!ok) {  // the client half-closed, or the call ended
      reads_done_ = true;
      return MaybeFinish();
    }
    // Held: the next read waits for Answered.
    if (std::optional<Answer> answer = Submit(request_)) Answered(*std::move(answer));
  }

  void Answered(Answer answer) override {
    if (broken_) return MaybeFinish();
    responses_.push_back(PublisherService::ToStreamResponse(request_, std::move(answer)));
    if (!writing_) StartNextWrite();
    if (responses_.size() > kMaxQueuedResponses) {
      read_paused_ = true;
      return;
    }
    ReadNext();
  }

  void OnWrite(bool ok) {
    writing_ = false;
    responses_.pop_front();
    if (!ok) {
      // The client is gone: nothing more can be delivered; a pending read fails too.
      responses_.clear();
      broken_ = true;
    } else if (!responses_.empty()) {
      StartNextWrite();
    }
    if (read_paused_ && !broken_ && responses_.size() <= kMaxQueuedResponses / 2) {
      read_paused_ = false;
      ReadNext();
    }
    MaybeFinish();
  }

  void StartNextWrite() {
    writing_ = true;
    stream_.Write(responses_.front(), Tag(Kind::kWrite));
  }

  // Finishes once nothing is in flight or held and every answer is written (or the client is
  // gone).
  void MaybeFinish() {
    if (finishing_ || writing_ || reading_ || holding()) return;
    if (!broken_ && !(reads_done_ && responses_.empty())) return;
    finishing_ = true;
    stream_.Finish(grpc::Status::OK, Tag(Kind::kFinished));
  }

  grpc::ServerContext server_context_;
  grpc::ServerAsyncReaderWriter<v1::PublishStreamResponse, v1::PublishRequest> stream_;
  v1::PublishRequest request_;  // filled by the read in flight, or held
  std::deque<v1::PublishStreamResponse> responses_;  // front() is being written
  bool reading_ = false;
  bool writing_ = false;
  bool reads_done_ = false;
  bool read_paused_ = false;
  bool broken_ = false;
  bool finishing_ = false;
};

}  // namespace

void PublisherServer::Register(grpc::ServerBuilder& builder) {
  builder.RegisterService(&async_service_);
  queue_ = builder.AddCompletionQueue();
}

void PublisherServer::Start() {
  const CallContext context{service_, async_service_, *queue_, holds_, hold_bound_, stopping_};
  new PublishCall(context);
  new PublishBatchCall(context);
  new StreamCall(context);
  thread_ = std::thread([this] { Run(); });
}

void PublisherServer::Run() {
  void* tag = nullptr;
  bool ok = false;
  while (queue_->Next(&tag, &ok)) {
    if (tag == &stop_tag_) {
      // Shut the queue down from this thread, between two completions, so that no call can
      // start an operation on it afterwards; what is in flight still drains through Next.
      stopping_ = true;
      holds_.WakeAll();  // held calls end at once
      queue_->Shutdown();
      continue;
    }
    auto* step = static_cast<Call::Step*>(tag);
    step->call->Complete(step->kind, ok);
  }
}

void PublisherServer::Stop() {
  if (stopped_ || queue_ == nullptr) return;
  stopped_ = true;
  if (!thread_.joinable()) {
    queue_->Shutdown();  // never started: nothing is in flight
    return;
  }
  stop_alarm_.Set(queue_.get(), gpr_now(GPR_CLOCK_MONOTONIC), &stop_tag_);
  thread_.join();
}

}  // namespace ringcast::node
