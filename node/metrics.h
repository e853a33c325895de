// metrics.h — the node's Prometheus metrics (prometheus-cpp), served at GET /metrics.
// Every rejected input and every limit that bites has a counter here (DESIGN.md "Limits").
//
// Thread safety: prometheus-cpp counters and gauges are thread-safe. Hot paths (per delivered
// frame) do not touch them: workers count locally and publish totals on their heartbeat tick.
#pragma once

#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "node/topic.h"

namespace ringcast::node {

// Why an HTTP request was refused (label `reason` of ringcast_http_rejected_total).
enum class HttpRejection {
  kHeaderTooLarge,     // 431
  kHeaderTimeout,      // closed: headers did not arrive in time (slowloris)
  kMalformed,          // 400: not parseable HTTP
  kBadTopic,           // 400: the topic breaks the rules
  kBadQuery,           // 400: bad percent-encoding in the query
  kHttpVersion,        // 400: event streams need HTTP/1.1
  kMethod,             // 405
  kNotFound,           // 404
  kTooManyConnections, // 503: max_connections
  kCount,
};

// Why a stream ended (label `cause` of ringcast_streams_closed_total).
// kHandoff: the topic moved to another node; the client resumes there.
enum class StreamEnd {
  kClientGone, kSlowConsumer, kWriteError, kLifetime, kShutdown, kHandoff, kCount
};

class NodeMetrics {
 public:
  NodeMetrics();

  void CountHttpResponse(int status);
  void CountRejection(HttpRejection rejection);
  void CountRedirect() { redirects_.Increment(); }
  void CountStreamOpened() { streams_opened_.Increment(); }
  void CountStreamEnd(StreamEnd cause);
  void CountReset(sse::ResetReason reason);
  void CountPublish(const std::string& grpc_code);  // "OK", "INVALID_ARGUMENT", ...
  void CountDuplicate() { duplicates_.Increment(); }
  void AddDelivered(double frames) { delivered_.Increment(frames); }
  void AddHeartbeats(double count) { heartbeats_.Increment(count); }
  void SetConnections(double value) { connections_.Set(value); }
  void SetStreams(double value) { streams_.Set(value); }

  // Where other parts of the node (the handoff) register their metrics.
  prometheus::Registry& registry() { return *registry_; }

  // The text exposition of every metric, with buffer gauges read from `stats` now.
  std::string Render(const BufferStats& stats);

 private:
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& http_responses_;
  prometheus::Family<prometheus::Counter>& rejected_;
  prometheus::Family<prometheus::Counter>& stream_ends_;
  prometheus::Family<prometheus::Counter>& resets_;
  prometheus::Family<prometheus::Counter>& publishes_;
  prometheus::Family<prometheus::Counter>& evicted_;
  prometheus::Counter& redirects_;
  prometheus::Counter& streams_opened_;
  prometheus::Counter& duplicates_;
  prometheus::Counter& delivered_;
  prometheus::Counter& heartbeats_;
  prometheus::Gauge& connections_;
  prometheus::Gauge& streams_;
  prometheus::Gauge& topics_;
  prometheus::Gauge& buffer_events_;
  prometheus::Gauge& buffer_bytes_;
  prometheus::Counter* rejections_[static_cast<int>(HttpRejection::kCount)];
  prometheus::Counter* stream_end_counters_[static_cast<int>(StreamEnd::kCount)];
  prometheus::Counter* evicted_by_[3];
  absl::Mutex render_mu_;
  double evicted_seen_[3] ABSL_GUARDED_BY(render_mu_) = {0, 0, 0};
};

}  // namespace ringcast::node
