// publisher_server.h — serves ringcast.v1.Publisher over gRPC's completion-queue (async) API on
// one thread of its own: that thread polls the sockets, runs PublisherService inline for every
// request (Publish, PublishStream and PublishBatch) and writes the answers, so a publish costs
// no hand-off between threads.
//
// Holding. A request PublisherService answers `Held` (it names a ring the node does not have
// yet) waits in a PublishHoldQueue, and so does every later request for that topic; the first
// waiter of a topic asks again every millisecond (a grpc::Alarm on the queue) until it is
// answered or `options.handoff_hold` passes (then UNAVAILABLE). A held Publish or
// PublishBatch finishes later; a PublishStream reads nothing more until its held request is
// answered, so its requests keep their order.
//
// Why not the callback API: gRPC 1.51's callback server moves every message between its polling
// and executor threads. Measured with bench/ringcast-pubload (node pinned to one core): ~125 µs
// of node CPU per event at 2,000 events/s and ~12 µs flat out, mostly context switches; this
// server's figures are in BENCHMARKS.md.
//
// Lifecycle: Register before the grpc::ServerBuilder builds the server, Start after, and
// Stop after grpc::Server::Shutdown (which cancels the calls; this thread completes them). Stop
// has the server's own thread shut the completion queue down, so no call starts an operation
// on a queue that is shut.
//
// Thread safety: Register/Start/Stop from one thread; everything else runs on the server's
// own thread.
#pragma once

#include <memory>
#include <thread>

#include "grpcpp/alarm.h"
#include "grpcpp/server_builder.h"
#include "node/handoff_metrics.h"
#include "node/options.h"
#include "node/publish_hold_queue.h"
#include "node/publisher_service.h"
#include "ringcast/v1/publisher.grpc.pb.h"

namespace ringcast::node {

class PublisherServer {
 public:
  PublisherServer(PublisherService& service, const NodeOptions& options,
                  HandoffMetrics& handoff_metrics)
      : service_(service),
        hold_bound_(options.handoff_hold),
        holds_(options.handoff_hold_max_bytes, handoff_metrics) {}
  PublisherServer(const PublisherServer&) = delete;
  PublisherServer& operator=(const PublisherServer&) = delete;
  ~PublisherServer() { Stop(); }

  void Register(grpc::ServerBuilder& builder);
  void Start();
  // Shuts the completion queue down, completes what is left and joins the thread.
  void Stop();

 private:
  void Run();

  PublisherService& service_;
  const absl::Duration hold_bound_;
  PublishHoldQueue holds_;  // only touched by thread_
  v1::Publisher::AsyncService async_service_;
  std::unique_ptr<grpc::ServerCompletionQueue> queue_;
  std::thread thread_;
  grpc::Alarm stop_alarm_;  // fires stop_tag_ on the queue: Run shuts the queue down
  int stop_tag_ = 0;
  bool stopping_ = false;  // only touched by thread_
  bool stopped_ = false;
};

}  // namespace ringcast::node
