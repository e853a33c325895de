// metrics.cc — metric names, help texts and labels of the node (see metrics.h).
#include "node/metrics.h"

#include <prometheus/text_serializer.h>

namespace ringcast::node {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;

constexpr const char* kRejectionNames[] = {
    "header_too_large", "header_timeout", "malformed", "bad_topic", "bad_query",
    "http_version",     "method",         "not_found", "too_many_connections"};
constexpr const char* kStreamEndNames[] = {"client_gone", "slow_consumer", "write_error",
                                           "lifetime", "shutdown", "handoff"};
static_assert(std::size(kRejectionNames) == static_cast<size_t>(HttpRejection::kCount));
static_assert(std::size(kStreamEndNames) == static_cast<size_t>(StreamEnd::kCount));

}  // namespace

NodeMetrics::NodeMetrics()
    : http_responses_(BuildCounter()
                          .Name("ringcast_http_responses_total")
                          .Help("HTTP responses and stream openings by status code")
                          .Register(*registry_)),
      rejected_(BuildCounter()
                    .Name("ringcast_http_rejected_total")
                    .Help("HTTP requests refused, by reason")
                    .Register(*registry_)),
      stream_ends_(BuildCounter()
                       .Name("ringcast_streams_closed_total")
                       .Help("Event streams closed, by cause")
                       .Register(*registry_)),
      resets_(BuildCounter()
                  .Name("ringcast_resets_total")
                  .Help("ringcast.reset events sent: resume points that could not be honoured")
                  .Register(*registry_)),
      publishes_(BuildCounter()
                     .Name("ringcast_publish_requests_total")
                     .Help("Publish requests (unary and streamed) by gRPC status code")
                     .Register(*registry_)),
      evicted_(BuildCounter()
                   .Name("ringcast_buffer_evicted_events_total")
                   .Help("Events evicted from replay buffers, by limit")
                   .Register(*registry_)),
      redirects_(BuildCounter()
                     .Name("ringcast_redirects_total")
                     .Help("307 redirects to the topic's owner")
                     .Register(*registry_)
                     .Add({})),
      streams_opened_(BuildCounter()
                          .Name("ringcast_streams_opened_total")
                          .Help("Event streams opened")
                          .Register(*registry_)
                          .Add({})),
      duplicates_(BuildCounter()
                      .Name("ringcast_publish_duplicates_total")
                      .Help("Publishes recognised as producer retries (not appended again)")
                      .Register(*registry_)
                      .Add({})),
      delivered_(BuildCounter()
                     .Name("ringcast_frames_written_total")
                     .Help("Frames (events, heartbeats, control) written to streams")
                     .Register(*registry_)
                     .Add({})),
      heartbeats_(BuildCounter()
                      .Name("ringcast_heartbeats_total")
                      .Help("Heartbeat comments queued on idle streams")
                      .Register(*registry_)
                      .Add({})),
      connections_(BuildGauge()
                       .Name("ringcast_connections")
                       .Help("Open HTTP connections, streams included")
                       .Register(*registry_)
                       .Add({})),
      streams_(BuildGauge()
                   .Name("ringcast_streams")
                   .Help("Open event streams (subscribers)")
                   .Register(*registry_)
                   .Add({})),
      topics_(BuildGauge()
                  .Name("ringcast_topics")
                  .Help("Topics held (with subscribers or buffered events)")
                  .Register(*registry_)
                  .Add({})),
      buffer_events_(BuildGauge()
                         .Name("ringcast_buffer_events")
                         .Help("Events held in replay buffers")
                         .Register(*registry_)
                         .Add({})),
      buffer_bytes_(BuildGauge()
                        .Name("ringcast_buffer_bytes")
                        .Help("Bytes of encoded events held in replay buffers")
                        .Register(*registry_)
                        .Add({})) {
  for (size_t i = 0; i < std::size(kRejectionNames); ++i) {
    rejections_[i] = &rejected_.Add({{"reason", kRejectionNames[i]}});
  }
  for (size_t i = 0; i < std::size(kStreamEndNames); ++i) {
    stream_end_counters_[i] = &stream_ends_.Add({{"cause", kStreamEndNames[i]}});
  }
  evicted_by_[0] = &evicted_.Add({{"limit", "events"}});
  evicted_by_[1] = &evicted_.Add({{"limit", "bytes"}});
  evicted_by_[2] = &evicted_.Add({{"limit", "age"}});
}

void NodeMetrics::CountHttpResponse(int status) {
  http_responses_.Add({{"code", std::to_string(status)}}).Increment();
}

void NodeMetrics::CountRejection(HttpRejection rejection) {
  rejections_[static_cast<int>(rejection)]->Increment();
}

void NodeMetrics::CountStreamEnd(StreamEnd cause) {
  stream_end_counters_[static_cast<int>(cause)]->Increment();
}

void NodeMetrics::CountReset(sse::ResetReason reason) {
  resets_.Add({{"reason", std::string(sse::ResetReasonName(reason))}}).Increment();
}

void NodeMetrics::CountPublish(const std::string& grpc_code) {
  publishes_.Add({{"code", grpc_code}}).Increment();
}

std::string NodeMetrics::Render(const BufferStats& stats) {
  absl::MutexLock lock(&render_mu_);
  topics_.Set(static_cast<double>(stats.topics.load(std::memory_order_relaxed)));
  buffer_events_.Set(static_cast<double>(stats.events.load(std::memory_order_relaxed)));
  buffer_bytes_.Set(static_cast<double>(stats.bytes.load(std::memory_order_relaxed)));
  const double evicted[3] = {
      static_cast<double>(stats.evicted_by_count.load(std::memory_order_relaxed)),
      static_cast<double>(stats.evicted_by_bytes.load(std::memory_order_relaxed)),
      static_cast<double>(stats.evicted_by_age.load(std::memory_order_relaxed))};
  for (int i = 0; i < 3; ++i) {
    evicted_by_[i]->Increment(evicted[i] - evicted_seen_[i]);
    evicted_seen_[i] = evicted[i];
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace ringcast::node
