// publisher_server.cc — the completion-queue loop and one state machine per call (see
// publisher_server.h). Every tag on the queue is a Call::Step; a call deletes itself when its
// last operation has completed.
#include "node/publisher_server.h"

#include <deque>
#include <utility>
#include <variant>

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

  enum class Kind { kAccepted, kRead, kWrite, kFinished };
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
  Step steps_[4] = {{this, Kind::kAccepted}, {this, Kind::kRead}, {this, Kind::kWrite},
                    {this, Kind::kFinished}};
};

struct CallContext {
  PublisherService& service;
  v1::Publisher::AsyncService& async_service;
  grpc::ServerCompletionQueue& queue;
  const bool& stopping;  // the queue is shutting down: start no operation
};

// A unary RPC (Publish, PublishBatch): accept, handle, finish. `request_next` asks gRPC for
// the method's next call, `handle` is the PublisherService method that answers it.
template <class Request, class Response>
class UnaryCall final : public Call {
 public:
  using Responder = grpc::ServerAsyncResponseWriter<Response>;
  using RequestNext = void (v1::Publisher::AsyncService::*)(grpc::ServerContext*, Request*,
                                                            Responder*, grpc::CompletionQueue*,
                                                            grpc::ServerCompletionQueue*, void*);
  using Handle = std::variant<Response, v1::RpcStatus> (PublisherService::*)(const Request&);

  UnaryCall(CallContext context, RequestNext request_next, Handle handle)
      : context_(context),
        request_next_(request_next),
        handle_(handle),
        responder_(&server_context_) {
    (context_.async_service.*request_next_)(&server_context_, &request_, &responder_,
                                            &context_.queue, &context_.queue,
                                            Tag(Kind::kAccepted));
  }

 private:
  void OnComplete(Kind kind, bool ok) override {
    // Finished, or the server is shutting down.
    if (kind != Kind::kAccepted || !ok || context_.stopping) return;
    new UnaryCall(context_, request_next_, handle_);  // take the next call meanwhile
    auto outcome = (context_.service.*handle_)(request_);
    if (auto* response = std::get_if<Response>(&outcome)) {
      responder_.Finish(*response, grpc::Status::OK, Tag(Kind::kFinished));
    } else {
      responder_.FinishWithError(ToGrpc(std::get<v1::RpcStatus>(outcome)), Tag(Kind::kFinished));
    }
  }

  CallContext context_;
  const RequestNext request_next_;
  const Handle handle_;
  grpc::ServerContext server_context_;
  Request request_;
  Responder responder_;
};

using PublishCall = UnaryCall<v1::PublishRequest, v1::PublishResponse>;
using PublishBatchCall = UnaryCall<v1::PublishBatchRequest, v1::PublishBatchResponse>;

// A PublishStream: reads requests one after another (so a stream's requests are appended in
// order), answers each, and keeps at most one write in flight with the rest queued. Reading
// pauses while too many answers wait, so a client that stops reading stops our reads too.
class StreamCall final : public Call {
 public:
  explicit StreamCall(CallContext context) : context_(context), stream_(&server_context_) {
    context_.async_service.RequestPublishStream(&server_context_, &stream_, &context_.queue,
                                                &context_.queue, Tag(Kind::kAccepted));
  }

 private:
  static constexpr size_t kMaxQueuedResponses = 256;

  void OnComplete(Kind kind, bool ok) override {
    if (context_.stopping) return;  // the queue is shutting down: every call just ends
    switch (kind) {
      case Kind::kAccepted:
        if (!ok) return;  // the server is shutting down
        new StreamCall(context_);
        stream_.Read(&request_, Tag(Kind::kRead));
        return;
      case Kind::kRead: return OnRead(ok);
      case Kind::kWrite: return OnWrite(ok);
      case Kind::kFinished: return;
    }
  }

  void OnRead(bool ok) {
    if (!ok) {  // the client half-closed, or the call ended
      reads_done_ = true;
      return MaybeFinish();
    }
    responses_.push_back(context_.service.HandleForStream(request_));
    if (!writing_) StartNextWrite();
    if (responses_.size() > kMaxQueuedResponses) {
      read_paused_ = true;
      return;
    }
    stream_.Read(&request_, Tag(Kind::kRead));
  }

  void OnWrite(bool ok) {
    writing_ = false;
    responses_.pop_front();
    if (!ok) {
      // The client is gone: nothing more can be delivered; the pending read fails too.
      responses_.clear();
      broken_ = true;
    } else if (!responses_.empty()) {
      StartNextWrite();
    }
    if (read_paused_ && !broken_ && responses_.size() <= kMaxQueuedResponses / 2) {
      read_paused_ = false;
      stream_.Read(&request_, Tag(Kind::kRead));
    }
    MaybeFinish();
  }

  void StartNextWrite() {
    writing_ = true;
    stream_.Write(responses_.front(), Tag(Kind::kWrite));
  }

  void MaybeFinish() {
    if (finishing_ || writing_ || !responses_.empty()) return;
    if (!reads_done_ && !broken_) return;
    if (broken_ && !reads_done_ && !read_paused_) return;  // wait for the failed read
    finishing_ = true;
    stream_.Finish(grpc::Status::OK, Tag(Kind::kFinished));
  }

  CallContext context_;
  grpc::ServerContext server_context_;
  grpc::ServerAsyncReaderWriter<v1::PublishStreamResponse, v1::PublishRequest> stream_;
  v1::PublishRequest request_;  // filled by the read in flight
  std::deque<v1::PublishStreamResponse> responses_;  // front() is being written
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
  const CallContext context{service_, async_service_, *queue_, stopping_};
  new PublishCall(context, &v1::Publisher::AsyncService::RequestPublish,
                  &PublisherService::Handle);
  new PublishBatchCall(context, &v1::Publisher::AsyncService::RequestPublishBatch,
                       &PublisherService::HandleBatch);
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
