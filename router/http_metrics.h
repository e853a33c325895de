// http_metrics.h — the Prometheus metrics of the router's subscribe side (docs/router.md
// "Subscribing through the router"), registered in the router's shared registry: streams and
// upstreams open, events relayed, redirects, every 503 by reason, every refused request by
// reason, why streams closed (slow consumers included), and upstreams resumed mid-stream.
//
// Thread safety: prometheus-cpp counters and gauges are thread-safe. Per-event counts are kept
// by each worker and added here on its heartbeat tick, so the hot path touches no shared atomic.
#pragma once

#include <memory>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace ringcast::router {

// Why a subscribe got 503 (label `reason` of ringcast_router_unavailable_total).
enum class Unavailable {
  kNoRing,              // no ring received yet
  kOwnerUnreachable,    // connect refused, reset, or upstream_connect_timeout passed
  kOwnerError,          // the owner answered neither 200 nor 307
  kRedirectLoop,        // the owner's 307 pointed to a node that redirected again
  kTooManyConnections,  // max_connections
  kShuttingDown,        // the router is stopping
  kCount,
};

// Why a request was refused with a 4xx or closed (label `reason` of
// ringcast_router_rejected_total).
enum class Rejection {
  kHeaderTooLarge,  // 431
  kHeaderTimeout,   // closed
  kMalformed,       // 400: not parseable HTTP
  kBadRequest,      // 400: bad topic, topic list or query
  kHttpVersion,     // 400: event streams need HTTP/1.1
  kMethod,          // 405
  kNotFound,        // 404
  kCount,
};

// Why a client's stream closed (label `cause` of ringcast_router_streams_closed_total).
enum class StreamEnd {
  kClientGone,
  kSlowConsumer,
  kWriteError,
  kUpstreamEnded,  // an upstream could not be resumed in upstream_resume_timeout: retry:
  kLifetime,       // max_stream_lifetime
  kShutdown,
  kCount,
};

// What became of one attempt to resume an upstream that ended mid-stream (label `result` of
// ringcast_router_upstream_resumes_total).
enum class UpstreamResume {
  kOk,       // the owner answered 200: the topic's events continue on the client's stream
  kRetry,    // the attempt failed (unreachable, 503, ...): another follows after a backoff
  kTimeout,  // upstream_resume_timeout passed: the client's stream ended with retry:
  kCount,
};

class HttpMetrics {
 public:
  explicit HttpMetrics(prometheus::Registry& registry);

  void CountUnavailable(Unavailable reason) { unavailable_[static_cast<int>(reason)]->Increment(); }
  void CountRejection(Rejection reason) { rejected_[static_cast<int>(reason)]->Increment(); }
  void CountStreamEnd(StreamEnd cause) { stream_ends_[static_cast<int>(cause)]->Increment(); }
  void CountUpstreamResume(UpstreamResume result) {
    upstream_resumes_[static_cast<int>(result)]->Increment();
  }
  void CountRedirect() { redirects_.Increment(); }
  void CountUpstreamRedirect() { upstream_redirects_.Increment(); }
  void CountStreamOpened() { streams_opened_.Increment(); }
  void AddRelayed(double events) { relayed_.Increment(events); }
  void AddHeartbeats(double count) { heartbeats_.Increment(count); }
  void AddStreams(double delta) { streams_.Increment(delta); }
  void AddUpstreams(double delta) { upstreams_.Increment(delta); }
  void SetConnections(double value) { connections_.Set(value); }

 private:
  prometheus::Counter* unavailable_[static_cast<int>(Unavailable::kCount)];
  prometheus::Counter* rejected_[static_cast<int>(Rejection::kCount)];
  prometheus::Counter* stream_ends_[static_cast<int>(StreamEnd::kCount)];
  prometheus::Counter* upstream_resumes_[static_cast<int>(UpstreamResume::kCount)];
  prometheus::Counter& redirects_;
  prometheus::Counter& upstream_redirects_;
  prometheus::Counter& streams_opened_;
  prometheus::Counter& relayed_;
  prometheus::Counter& heartbeats_;
  prometheus::Gauge& streams_;
  prometheus::Gauge& upstreams_;
  prometheus::Gauge& connections_;
};

}  // namespace ringcast::router
