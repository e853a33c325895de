// fake_publisher.h — an in-process ringcast.v1.Publisher on 127.0.0.1:0 that answers by topic,
// with the codes and details of publisher.proto, so the client and the CLI can be tested
// without a node:
//   "wrong/owner"  FAILED_PRECONDITION + WrongOwner{ring_version 7, owner node-2 @ 10.0.0.2:9090}
//   "full"         RESOURCE_EXHAUSTED + LimitExceeded{max_event_bytes, 65536, data size}
//   "busy"         UNAVAILABLE + RetryInfo{250 ms, "handoff_hold"}
//   "drain"        (PublishStream) ends the stream with UNAVAILABLE `draining`, unanswered
//   anything else  OK: id "5:<n>" with n counting that topic's events from 1, ring_version 3;
//                  a (producer_id, sequence) seen before answers duplicate = true.
// Thread safety: the service is thread-safe (gRPC calls it from its own threads).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/any.pb.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "ringcast/v1/errors.pb.h"
#include "ringcast/v1/publisher.grpc.pb.h"

namespace ringcast::testing {

class FakePublisher final : public v1::Publisher::Service {
 public:
  grpc::Status Publish(grpc::ServerContext* /*context*/, const v1::PublishRequest* request,
                       v1::PublishResponse* response) override {
    return Decide(*request, response);
  }

  grpc::Status PublishStream(
      grpc::ServerContext* /*context*/,
      grpc::ServerReaderWriter<v1::PublishStreamResponse, v1::PublishRequest>* stream) override {
    v1::PublishRequest request;
    while (stream->Read(&request)) {
      if (request.topic() == "drain") {
        return ErrorWith(grpc::StatusCode::UNAVAILABLE, "node is draining",
                         RetryInfo(100, "draining"));
      }
      v1::PublishStreamResponse answer;
      answer.set_request_id(request.request_id());
      grpc::Status status = Decide(request, answer.mutable_ok());
      if (!status.ok()) answer.mutable_error()->ParseFromString(status.error_details());
      stream->Write(answer);
    }
    return grpc::Status::OK;
  }

  // Every request received, in arrival order.
  std::vector<v1::PublishRequest> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

  static v1::RetryInfo RetryInfo(int ms, std::string reason) {
    v1::RetryInfo info;
    info.mutable_retry_delay()->set_nanos(ms * 1000000);
    info.set_reason(std::move(reason));
    return info;
  }

  // A gRPC error carrying RpcStatus{code, message, [detail]} in its details, as a node sends.
  template <typename Detail>
  static grpc::Status ErrorWith(grpc::StatusCode code, const std::string& message,
                                const Detail& detail) {
    v1::RpcStatus rpc;
    rpc.set_code(code);
    rpc.set_message(message);
    rpc.add_details()->PackFrom(detail);
    return grpc::Status(code, message, rpc.SerializeAsString());
  }

 private:
  grpc::Status Decide(const v1::PublishRequest& request, v1::PublishResponse* response) {
    absl::MutexLock lock(&mu_);
    requests_.push_back(request);
    if (request.topic() == "wrong/owner") {
      v1::WrongOwner wrong;
      wrong.set_ring_version(7);
      wrong.set_topic(request.topic());
      wrong.set_partition(12);
      wrong.mutable_owner()->set_id("node-2");
      wrong.mutable_owner()->set_grpc_address("10.0.0.2:9090");
      return ErrorWith(grpc::StatusCode::FAILED_PRECONDITION, "not the owner", wrong);
    }
    if (request.topic() == "full") {
      v1::LimitExceeded limit;
      limit.set_limit("max_event_bytes");
      limit.set_limit_value(65536);
      limit.set_actual(request.data().size());
      return ErrorWith(grpc::StatusCode::RESOURCE_EXHAUSTED, "event too large", limit);
    }
    if (request.topic() == "busy") {
      return ErrorWith(grpc::StatusCode::UNAVAILABLE, "topic in handoff",
                       RetryInfo(250, "handoff_hold"));
    }
    response->set_ring_version(3);
    response->set_epoch(5);
    if (!request.producer_id().empty() &&
        !seen_.insert({request.producer_id(), request.sequence()}).second) {
      response->set_duplicate(true);
      return grpc::Status::OK;
    }
    const uint64_t offset = ++offsets_[request.topic()];
    response->set_offset(offset);
    response->set_event_id(absl::StrCat(5, ":", offset));
    return grpc::Status::OK;
  }

  mutable absl::Mutex mu_;
  std::vector<v1::PublishRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> offsets_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<std::string, uint64_t>> seen_ ABSL_GUARDED_BY(mu_);
};

// A FakePublisher served on 127.0.0.1:<port chosen by the kernel>.
class FakeNode {
 public:
  FakeNode() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~FakeNode() { server_->Shutdown(); }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  FakePublisher& service() { return service_; }

 private:
  FakePublisher service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace ringcast::testing
