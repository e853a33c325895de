// worker.h — one thread of a node serving HTTP (the thread, listener, accept loop and tick timer
// are sse::ServingWorker's): the sessions and event streams it accepted, and the subscribers of
// each topic among them.
//
// Fan-out: a topic hands each event to a worker once (Deliver); the worker then walks its own
// subscribers of that topic, queueing the shared frame on each, and flushes the queued streams
// once after the hand-offs already waiting, so that under load each stream gets one gather write
// for many events. The worker's tick drives heartbeats and stream lifetimes; Stop() ends every
// stream with a final retry:.
//
// Thread safety: Deliver(), RunEvery() and Stop() may be called from any thread; they post to
// the worker. Everything else runs on the worker's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "absl/container/flat_hash_map.h"
#include "node/incoming_partitions.h"
#include "node/metrics.h"
#include "node/options.h"
#include "node/topic.h"
#include "ring/ring_holder.h"
#include "sse/http_session.h"
#include "sse/serving_worker.h"
#include "sse/sse_stream.h"

namespace ringcast::node {

// What all workers of a node share. Constant after start-up or self-synchronised.
struct NodeContext {
  const NodeOptions& options;
  TopicRegistry& topics;
  RingHolder& ring;
  NodeMetrics& metrics;
  IncomingPartitions& incoming;  // partitions whose history is on its way here
  std::atomic<int64_t>& connections;  // open HTTP connections, streams included
  std::atomic<int64_t>& streams;      // open event streams
};

// Listen(), Start(), Stop() and Join() are sse::ServingWorker's.
class Worker final : public sse::ServingWorker, public sse::SseStream::Observer {
 public:
  Worker(size_t index, NodeContext context);
  ~Worker() override;

  // Hands one appended event to this worker's subscribers of `topic`. Any thread.
  void Deliver(const std::shared_ptr<Topic>& topic, uint64_t offset, const sse::Frame& frame);

  // Ends this worker's streams of `topic` with a short retry: (the topic moved to another node,
  // or its incoming copy was discarded), so their clients resume wherever it is now. Any thread.
  void EndTopicStreams(const std::shared_ptr<Topic>& topic);

  // Open streams on this worker (approximate when read from another thread).
  int64_t stream_count() const { return stream_count_.load(std::memory_order_relaxed); }

  // Runs `task` every `period` on this worker's thread (the node's buffer sweep). One task per
  // worker: a second call replaces the first.
  void RunEvery(absl::Duration period, std::function<void()> task);

 private:
  struct Subscriber {
    std::shared_ptr<sse::SseStream> stream;
    std::shared_ptr<Topic> topic;
    uint64_t last_offset = 0;  // the newest offset sent; older hand-offs are skipped
    size_t index_in_topic = 0;
    int idle_ticks = 0;
    bool flush_pending = false;  // in to_flush_
    StreamEnd end_cause = StreamEnd::kClientGone;  // set when the server ends the stream
  };

  // sse::SseStream::Observer
  void OnStreamClosed(sse::SseStream& stream, sse::SseStream::CloseReason reason) override;
  // sse::ServingWorker
  void OnConnectionRefused() override;
  void CountRefusal(Refusal refusal) override;
  // Counts every response by status.
  void Respond(const std::shared_ptr<sse::HttpSession>& session,
               boost::beast::http::status status, std::string body, Headers headers) override;
  void ServeMetrics(const std::shared_ptr<sse::HttpSession>& session) override;
  // Redirects to the owner, or subscribes.
  void ServeStream(const std::shared_ptr<sse::HttpSession>& session,
                   const sse::HttpSession::Request& request, const sse::Target& target,
                   Headers cors) override;
  void OnStop() override;
  void OnTick() override;

  void Subscribe(const std::shared_ptr<sse::HttpSession>& session,
                 const sse::HttpSession::Request& request, const std::string& topic,
                 std::optional<std::string> resume);
  std::vector<sse::HttpSession::Header> CorsHeaders(const sse::HttpSession::Request& request) const;
  std::string StreamHead(const sse::HttpSession::Request& request,
                         const sse::EventId& position) const;
  void DeliverHere(const Topic* topic, uint64_t offset, const sse::Frame& frame);
  void FlushQueued();
  void EndStream(Subscriber& subscriber, StreamEnd cause);
  // False while the topic's history is on its way to this node and no copy of it is here yet.
  bool MayServe(const std::string& topic_name);
  void SchedulePeriodic();

  // Constant after construction.
  const size_t index_;
  const NodeContext context_;
  const sse::Frame retry_frame_;      // "retry: <ms>": opens and ends streams
  const sse::Frame open_frame_;       // the first comment, so proxies see the stream open
  const sse::Frame handoff_retry_frame_;  // short retry: ending the streams of a moved topic

  boost::asio::steady_timer periodic_timer_{io()};
  std::atomic<int64_t> stream_count_{0};

  // Worker-thread only.
  absl::flat_hash_map<const sse::SseStream*, std::unique_ptr<Subscriber>> subscribers_;
  absl::flat_hash_map<const Topic*, std::vector<Subscriber*>> by_topic_;
  std::vector<std::shared_ptr<sse::SseStream>> to_flush_;  // queued frames, write pending
  bool flush_posted_ = false;
  absl::Duration periodic_period_;
  std::function<void()> periodic_task_;
  uint64_t frames_sent_ = 0;  // not yet added to the metrics
  uint64_t heartbeats_sent_ = 0;
};

}  // namespace ringcast::node
