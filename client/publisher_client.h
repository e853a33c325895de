// publisher_client.h — the publisher client of one ringcast node: unary Publish and a streaming
// PublishStream over one gRPC channel (DESIGN.md "Publish"; the contract is
// proto/ringcast/v1/publisher.proto).
//
//   PublisherClient client("127.0.0.1:9090");
//   absl::StatusOr<PublishResult> result = client.Publish({.topic = "orders/42", .data = "hi"});
//   if (result.ok()) std::cout << result->event_id << "\n";   // "1732500000000000:1"
//
//   absl::StatusOr<std::unique_ptr<PublishStream>> stream = client.OpenStream();
//   for (...) (*stream)->Send({.topic = "t", .data = "..."});   // returns request ids 1, 2, ...
//   absl::StatusOr<std::vector<StreamResult>> results = (*stream)->Finish();
//
// Errors are absl::Status with the gRPC code and the server's message, and the server's
// ringcast.v1.RpcStatus as payload: read its details with WrongOwnerOf() etc. (client/status.h).
//
// This client talks to the node it was given and never retries: routing by the ring and the
// idempotent retry rules (same producer_id/sequence after DEADLINE_EXCEEDED, UNAVAILABLE, ...)
// belong to a routing layer above it.
//
// Thread safety: PublisherClient is thread-safe (any number of concurrent Publish calls and
// streams share its channel). A PublishStream is used by one thread at a time; its on_result
// callback runs on the stream's reader thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/status.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/sync_stream.h"
#include "ringcast/v1/publisher.grpc.pb.h"

namespace ringcast::client {

// One event to publish; the fields of v1::PublishRequest.
struct PublishOptions {
  std::string topic;  // 1-256 bytes of A-Z a-z 0-9 . _ ~ : @ - /
  std::string type;   // "" (= "message") or 1-64 bytes of A-Z a-z 0-9 . _ -
  std::string data;   // UTF-8 text, possibly multi-line
  // The ring version the caller used to pick this node; 0 = not checked.
  uint64_t ring_version = 0;
  // De-duplication of retries: both empty/0, or both set (sequence >= 1, per producer and topic).
  std::string producer_id;
  uint64_t sequence = 0;
  // Deadline of a unary Publish (ignored by PublishStream::Send, whose stream has its own).
  absl::Time deadline = absl::InfiniteFuture();
};

// What the node answered for an accepted (or de-duplicated) event; see v1::PublishResponse.
struct PublishResult {
  std::string event_id;  // "<epoch>:<offset>"; empty for a duplicate whose id the node forgot
  uint64_t epoch = 0;
  uint64_t offset = 0;
  bool duplicate = false;     // nothing was appended: the (producer_id, sequence) already was
  uint64_t ring_version = 0;  // the node's ring version (newer than the request's: refresh)
};

// The answer to one PublishStream::Send.
struct StreamResult {
  uint64_t request_id = 0;
  absl::StatusOr<PublishResult> result;
};

// Checks `options` against the field rules of v1::PublishRequest that the client can check on
// its own (topic and type syntax, producer_id/sequence pairing, UTF-8): INVALID_ARGUMENT naming
// the field. A node still applies its own (possibly stricter) limits. Invalid UTF-8 matters
// most: C++ protobuf would send it and the node could only answer INTERNAL.
absl::Status ValidatePublishOptions(const PublishOptions& options);

struct PublisherClientOptions {
  // Check each request with ValidatePublishOptions before sending it. Turn off only to test a
  // node's own validation.
  bool validate_requests = true;
};

struct PublishStreamOptions {
  // Deadline of the whole stream (DEADLINE_EXCEEDED for every unanswered request after it).
  absl::Time deadline = absl::InfiniteFuture();

  // At most this many requests sent and not yet answered; Send blocks until one is answered.
  // Bounds the node's work queue and this client's bookkeeping; 0 = only gRPC flow control.
  // Larger values raise throughput over long round trips at the cost of latency under load.
  size_t max_in_flight = 1024;

  // If set, each result is passed here (on the stream's reader thread, in arrival order; at
  // Finish, on the caller's thread, for requests the stream ended without answering) instead of
  // being collected, so Finish returns an empty vector and memory stays bounded by the requests
  // in flight. Must not call back into the stream.
  std::function<void(StreamResult)> on_result;
};

// A bidirectional PublishStream to one node. Responses for one topic come in send order; for
// different topics in any order: correlate by request_id.
class PublishStream {
 public:
  PublishStream(const PublishStream&) = delete;
  PublishStream& operator=(const PublishStream&) = delete;
  // Cancels the stream if Finish was not called (unanswered requests: outcome unknown).
  ~PublishStream();

  // Sends one event and returns its request id (1, 2, 3, ... in send order). Blocks while
  // `max_in_flight` requests are unanswered, or on gRPC flow control. INVALID_ARGUMENT from
  // validation (nothing sent, no id used); FAILED_PRECONDITION after Finish; UNAVAILABLE when
  // the stream has already ended (Finish then tells why). `options.deadline` is ignored.
  absl::StatusOr<uint64_t> Send(const PublishOptions& options);

  // Half-closes, waits for every answer and the end of the stream, and returns one StreamResult
  // per request sent (none with on_result): answered ones in arrival order, then those the
  // stream ended without answering, in send order, carrying the stream's final status (e.g.
  // UNAVAILABLE `draining`: not appended; DEADLINE_EXCEEDED: outcome unknown).
  // NOTE: a stream that ends with an error still returns OK here, with the error in the
  // unanswered results and in stream_status(); FAILED_PRECONDITION only when called twice.
  absl::StatusOr<std::vector<StreamResult>> Finish();

  // The stream's final status; OK until Finish has returned.
  absl::Status stream_status() const;

 private:
  friend class PublisherClient;
  PublishStream(std::shared_ptr<grpc::Channel> channel, v1::Publisher::Stub& stub,
                PublishStreamOptions options, bool validate);

  void ReadLoop();

  // Constant after construction. The channel is held so that a stream may outlive its client.
  const std::shared_ptr<grpc::Channel> channel_;
  const PublishStreamOptions options_;
  const bool validate_;

  // Self-synchronised: gRPC allows one writer thread and one reader thread on a stream.
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::PublishRequest, v1::PublishStreamResponse>> stream_;
  std::thread reader_;

  // Used only by the thread calling Send/Finish.
  uint64_t next_request_id_ = 1;
  bool finished_ = false;

  // Guarded by mu_.
  mutable absl::Mutex mu_;
  absl::flat_hash_set<uint64_t> in_flight_ ABSL_GUARDED_BY(mu_);
  std::vector<StreamResult> results_ ABSL_GUARDED_BY(mu_);
  bool reader_done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status stream_status_ ABSL_GUARDED_BY(mu_);
};

class PublisherClient {
 public:
  // Dials `address` ("host:port", insecure channel). Connects lazily: an unreachable node shows
  // as UNAVAILABLE on the first call.
  explicit PublisherClient(std::string_view address, PublisherClientOptions options = {});
  // Uses an existing channel (tests, in-process servers).
  explicit PublisherClient(std::shared_ptr<grpc::Channel> channel,
                           PublisherClientOptions options = {});

  // Publishes one event: the node's answer, or its error as described in status.h.
  absl::StatusOr<PublishResult> Publish(const PublishOptions& options) const;

  // Publishes `events` in one PublishBatch call (at most the node's max_batch_events): one
  // result per event, in order (request_id = position + 1), or the status of the whole call
  // (nothing appended, except that a broken connection leaves the outcome unknown). With
  // validation on, an invalid event fails the call with INVALID_ARGUMENT naming its position,
  // before anything is sent. `deadline` bounds the whole call.
  absl::StatusOr<std::vector<StreamResult>> PublishBatch(
      const std::vector<PublishOptions>& events, absl::Time deadline = absl::InfiniteFuture()) const;

  // Opens a PublishStream. Opening does not wait for the node; a node that cannot be reached
  // makes Send return UNAVAILABLE and Finish report why.
  absl::StatusOr<std::unique_ptr<PublishStream>> OpenStream(PublishStreamOptions options = {});

 private:
  // Constant after construction; the stub is thread-safe.
  const PublisherClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Publisher::Stub> stub_;
};

// The request a PublishOptions becomes (request_id 0).
v1::PublishRequest ToRequest(const PublishOptions& options);
// The PublishResult of a response.
PublishResult FromResponse(const v1::PublishResponse& response);

}  // namespace ringcast::client
