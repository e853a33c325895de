// proxy_stream.h — one client's event stream proxied by the router: one Upstream per topic to
// the topic's owner, and the client's SseStream that their events are relayed into as they
// arrive (single-topic: id, type and data unchanged; multi-topic: framed per multi_topic.h).
//
// Life of a ProxyStream:
//   Open()          every upstream connects to its owner; the client's HTTP session waits.
//   all answer 200  the client gets 200 and its first bytes (stream-open comment, retry:) at
//                   once, then whatever the upstreams sent meanwhile (their replay), then live
//                   events. One Flush per batch of reads, so events queued together leave in
//                   one gather write. Single-topic: the node's Ringcast-Position header is
//                   passed on. Multi-topic: each topic without a position ("-") takes its
//                   node's Ringcast-Position, and the first bytes end with an id-only message
//                   (`id: m1...`) so the client's Last-Event-ID covers every topic at once.
//   one fails       before the 200: every upstream is closed and the client gets 503 +
//                   Retry-After with a plain-text reason. After it: the client's stream ends
//                   with retry: (the client resumes with Last-Event-ID; issue 7 will resume the
//                   upstream in place instead, from Upstream::last_event_id()).
//   client gone     every upstream is closed at once.
// The owner calls `on_done` exactly once, when the ProxyStream has nothing left running.
//
// Thread safety: not thread-safe; everything runs on the worker's executor.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "ring/ring.h"
#include "router/http_metrics.h"
#include "router/multi_topic.h"
#include "router/upstream.h"
#include "sse/http_session.h"
#include "sse/sse_stream.h"

namespace ringcast::router {

// What every ProxyStream of a frontend shares. Constant after start-up.
struct ProxySettings {
  sse::Frame open_frame;       // the stream-open comment
  sse::Frame retry_frame;      // "retry: <ms>": opens and ends streams
  int retry_after_seconds = 2;  // Retry-After of the 503s
  size_t max_queue_bytes = 256 * 1024;
  Upstream::Options upstream;
};

// What a client asked for, resolved against the ring.
struct ProxyRequest {
  struct Topic {
    std::string name;
    std::string owner_address;  // the owner's http_address
    std::string target;         // the path (and query) to request there
    std::optional<std::string> last_event_id;  // sent upstream as Last-Event-ID
  };
  std::vector<Topic> topics;
  // Set for /v1/events: the cursor that frames events and ids; unset for a single topic,
  // whose events pass through unchanged.
  std::optional<MultiTopicCursor> cursor;
  std::vector<sse::HttpSession::Header> cors;  // added to the 200 or 503
};

class ProxyStream final : public std::enable_shared_from_this<ProxyStream>,
                          public Upstream::Listener,
                          public sse::SseStream::Observer {
 public:
  ProxyStream(boost::asio::any_io_executor executor, const ProxySettings& settings,
              HttpMetrics& metrics, std::shared_ptr<sse::HttpSession> session,
              ProxyRequest request, std::function<void(ProxyStream*)> on_done);

  // Opens every upstream.
  void Open();

  // Ends the stream: with retry: and `cause` when the client's stream is open; with 503
  // ("shutting_down") while still opening.
  void Stop(StreamEnd cause);

  // The client's stream once it is open, else null (for heartbeats and lifetimes).
  sse::SseStream* client_stream() const { return stream_.get(); }

  // Heartbeat bookkeeping of the worker's tick.
  int idle_ticks = 0;

  // Events relayed since the last call (the worker adds them to the metrics on its tick).
  uint64_t TakeRelayed() { return std::exchange(relayed_, 0); }

  // Upstream::Listener
  void OnUpstreamOpen(Upstream& upstream) override;
  void OnUpstreamEvent(Upstream& upstream, const sse::ParsedEvent& event) override;
  void OnUpstreamEnded(Upstream& upstream, const absl::Status& status) override;
  // sse::SseStream::Observer
  void OnStreamClosed(sse::SseStream& stream, sse::SseStream::CloseReason reason) override;

 private:
  sse::Frame Relay(size_t topic_index, const sse::ParsedEvent& event);
  // Multi-topic: gives the upstream's topic, if it has no position, its node's start position.
  void PlaceFromStartPosition(const Upstream& upstream);
  void StartClientStream();
  void FailOpen(Unavailable reason, const std::string& detail);
  void CloseUpstreams();
  void ScheduleFlush();
  void Finish();

  // Constant after construction.
  const boost::asio::any_io_executor executor_;
  const ProxySettings& settings_;
  HttpMetrics& metrics_;

  std::shared_ptr<sse::HttpSession> session_;  // until the client's stream starts or a 503
  ProxyRequest request_;
  std::function<void(ProxyStream*)> on_done_;
  std::vector<std::shared_ptr<Upstream>> upstreams_;
  size_t upstreams_open_ = 0;      // upstreams that answered 200
  std::vector<sse::Frame> early_;  // events that arrived before every upstream answered
  bool positions_placed_ = false;  // a topic took its start position: announce the new id
  std::shared_ptr<sse::SseStream> stream_;
  StreamEnd end_cause_ = StreamEnd::kClientGone;  // set when the router ends the stream
  bool flush_posted_ = false;
  bool done_ = false;
  uint64_t relayed_ = 0;
};

}  // namespace ringcast::router
