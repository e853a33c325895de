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
//                   Retry-After with a plain-text reason.
//   one ends later  (its topic moved: the node ends it with a short retry:; the node shuts
//                   down; the connection breaks) the router resumes that upstream itself: it
//                   looks the topic's owner up in its current ring and reopens the upstream
//                   there from Upstream::last_event_id(), so the node replays exactly what
//                   followed (or sends its ringcast.reset, relayed as is). Attempts follow a
//                   backoff: the first after the retry: the node ended with (else
//                   kFirstResumeDelay), doubling up to kMaxResumeDelay; a 503 (history still
//                   arriving), a refused connection or a 307 loop just means another attempt.
//                   Meanwhile the client's stream stays open (heartbeats go on) and the other
//                   topics keep flowing; a multi-topic cursor keeps every position (a resumed
//                   topic that had none takes its node's Ringcast-Position, announced with an
//                   id-only message). Only when no attempt succeeded within
//                   resume_timeout does the client's stream end with retry:.
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
#include <boost/asio/steady_timer.hpp>

#include "absl/status/status.h"
#include "absl/time/time.h"
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
  // How long an upstream that ended mid-stream may take to resume before the client's stream
  // ends (--upstream_resume_timeout_ms). An attempt under way then still ends by itself, within
  // upstream.connect_timeout.
  absl::Duration resume_timeout = absl::Seconds(10);
};

// The http_address of a topic's owner in the router's current ring.
using OwnerResolver = std::function<std::string(const std::string& topic)>;

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
  // Backoff between attempts to resume an upstream.
  static constexpr absl::Duration kFirstResumeDelay = absl::Milliseconds(50);
  static constexpr absl::Duration kMaxResumeDelay = absl::Seconds(1);

  // `owner_of` is asked again whenever an upstream resumes; it is called on the executor.
  ProxyStream(boost::asio::any_io_executor executor, const ProxySettings& settings,
              HttpMetrics& metrics, std::shared_ptr<sse::HttpSession> session,
              ProxyRequest request, OwnerResolver owner_of,
              std::function<void(ProxyStream*)> on_done);

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
  // A topic's upstream being resumed after it ended mid-stream.
  struct Resume {
    explicit Resume(const boost::asio::any_io_executor& executor) : timer(executor) {}
    bool active = false;  // from the upstream's end until a new one answers 200
    absl::Time deadline;  // resume_timeout after the end
    absl::Duration delay;  // before the next attempt
    boost::asio::steady_timer timer;
  };

  sse::Frame Relay(size_t topic_index, const sse::ParsedEvent& event);
  // Multi-topic: gives the upstream's topic, if it has no position, its node's start position.
  // Whether it did.
  bool PlaceFromStartPosition(const Upstream& upstream);
  // A resumed upstream answered 200: its events continue on the client's stream.
  void OnResumed(Upstream& upstream);
  // The upstream of topic `index` ended mid-stream (`status`), or an attempt to resume it
  // failed: schedules the next attempt, or ends the client's stream after resume_timeout.
  void ScheduleResume(size_t index, const absl::Status& status,
                      std::optional<uint32_t> node_retry_ms);
  // Opens a new upstream for topic `index` at its current owner, from where the last one was.
  void ResumeUpstream(size_t index);
  // Ends the client's stream with retry: after an upstream could not be resumed.
  void EndForUpstream();
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
  const OwnerResolver owner_of_;
  std::function<void(ProxyStream*)> on_done_;
  std::vector<std::shared_ptr<Upstream>> upstreams_;  // one per topic, replaced on resume
  std::vector<std::unique_ptr<Resume>> resumes_;      // per topic, made at its first resume
  bool upstreams_closed_ = false;  // the stream is ending: nothing reopens
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
