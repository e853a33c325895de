// worker.h — one thread of a node serving HTTP: its own io_context, its own listening socket on
// the shared port (SO_REUSEPORT, so the kernel spreads connections), the sessions and event
// streams it accepted, and the subscribers of each topic among them.
//
// Fan-out: a topic hands each event to a worker once (Deliver); the worker then walks its own
// subscribers of that topic, queueing the shared frame on each, and flushes the queued streams
// once after the hand-offs already waiting, so that under load each stream gets one gather write
// for many events. One timer per worker drives heartbeats and stream lifetimes.
//
// Thread safety: Deliver() and Stop() may be called from any thread; they post to the worker.
// Everything else runs on the worker's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "node/metrics.h"
#include "node/options.h"
#include "node/topic.h"
#include "ring/ring_holder.h"
#include "sse/http_session.h"
#include "sse/sse_stream.h"

namespace ringcast::node {

// What all workers of a node share. Constant after start-up or self-synchronised.
struct NodeContext {
  const NodeOptions& options;
  TopicRegistry& topics;
  RingHolder& ring;
  NodeMetrics& metrics;
  std::atomic<int64_t>& connections;  // open HTTP connections, streams included
  std::atomic<int64_t>& streams;      // open event streams
};

class Worker final : public sse::HttpSession::Handler, public sse::SseStream::Observer {
 public:
  Worker(size_t index, NodeContext context);
  ~Worker() override;

  // Opens this worker's listening socket on `endpoint` (SO_REUSEPORT). Returns the bound
  // endpoint, so a first worker can bind port 0 and the others the port it got.
  absl::StatusOr<boost::asio::ip::tcp::endpoint> Listen(
      const boost::asio::ip::tcp::endpoint& endpoint);

  // Starts the thread.
  void Start();

  // Hands one appended event to this worker's subscribers of `topic`. Any thread.
  void Deliver(const std::shared_ptr<Topic>& topic, uint64_t offset, const sse::Frame& frame);

  // Stops accepting and ends every stream with a final retry:. Any thread.
  void Stop();

  // Stops the event loop and joins the thread.
  void Join();

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

  // sse::HttpSession::Handler
  void OnRequest(const std::shared_ptr<sse::HttpSession>& session,
                 sse::HttpSession::Request request) override;
  void OnRejected(sse::HttpSession::Rejection rejection) override;
  // sse::SseStream::Observer
  void OnStreamClosed(sse::SseStream& stream, sse::SseStream::CloseReason reason) override;

  void DoAccept();
  void RefuseConnection(boost::asio::ip::tcp::socket socket);
  void Respond(const std::shared_ptr<sse::HttpSession>& session,
               boost::beast::http::status status, std::string body,
               std::vector<sse::HttpSession::Header> headers = {});
  void Reject(const std::shared_ptr<sse::HttpSession>& session, HttpRejection rejection,
              boost::beast::http::status status, std::string body,
              std::vector<sse::HttpSession::Header> headers = {});
  void Subscribe(const std::shared_ptr<sse::HttpSession>& session,
                 const sse::HttpSession::Request& request, const std::string& topic,
                 std::optional<std::string> resume);
  std::vector<sse::HttpSession::Header> CorsHeaders(const sse::HttpSession::Request& request) const;
  std::string StreamHead(const sse::HttpSession::Request& request) const;
  void DeliverHere(const Topic* topic, uint64_t offset, const sse::Frame& frame);
  void FlushQueued();
  void EndStream(Subscriber& subscriber, StreamEnd cause);
  void ScheduleTick();
  void OnTick();
  void SchedulePeriodic();

  // Constant after construction.
  const size_t index_;
  const NodeContext context_;
  const sse::Frame retry_frame_;      // "retry: <ms>": opens and ends streams
  const sse::Frame open_frame_;       // the first comment, so proxies see the stream open
  const sse::Frame heartbeat_frame_;  // idle-stream comment

  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  boost::asio::steady_timer tick_timer_{io_};
  boost::asio::steady_timer periodic_timer_{io_};
  std::thread thread_;
  std::atomic<int64_t> stream_count_{0};

  // Worker-thread only.
  absl::flat_hash_map<const sse::SseStream*, std::unique_ptr<Subscriber>> subscribers_;
  absl::flat_hash_map<const Topic*, std::vector<Subscriber*>> by_topic_;
  bool stopping_ = false;
  std::vector<std::shared_ptr<sse::SseStream>> to_flush_;  // queued frames, write pending
  bool flush_posted_ = false;
  absl::Duration periodic_period_;
  std::function<void()> periodic_task_;
  uint64_t frames_sent_ = 0;  // not yet added to the metrics
  uint64_t heartbeats_sent_ = 0;
};

}  // namespace ringcast::node
