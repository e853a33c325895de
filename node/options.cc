// options.cc — reading a NodeConfig file into NodeOptions, and checking the result.
#include "node/options.h"

#include "ringcast/v1/config.pb.h"
#include "sse/server_main.h"

namespace ringcast::node {
namespace {

void ApplyLimits(const v1::NodeLimits& limits, NodeOptions& o) {
  sse::ApplyServingLimits(limits, o);
  if (limits.has_max_event_bytes()) o.max_event_bytes = limits.max_event_bytes();
  if (limits.has_max_batch_events()) o.max_batch_events = limits.max_batch_events();
  if (limits.has_buffer_max_events()) o.buffer_max_events = limits.buffer_max_events();
  if (limits.has_buffer_max_bytes()) o.buffer_max_bytes = limits.buffer_max_bytes();
  if (limits.has_buffer_max_age_seconds()) {
    o.buffer_max_age = absl::Seconds(limits.buffer_max_age_seconds());
  }
  if (limits.has_max_producers_per_topic()) {
    o.max_producers_per_topic = limits.max_producers_per_topic();
  }
  if (limits.has_handoff_concurrency()) o.handoff_concurrency = limits.handoff_concurrency();
  if (limits.has_handoff_hold_ms()) o.handoff_hold = absl::Milliseconds(limits.handoff_hold_ms());
  if (limits.has_handoff_hold_max_bytes()) {
    o.handoff_hold_max_bytes = limits.handoff_hold_max_bytes();
  }
  if (limits.has_handoff_tombstone_seconds()) {
    o.handoff_tombstone = absl::Seconds(limits.handoff_tombstone_seconds());
  }
  if (limits.has_handoff_abandon_after_ms()) {
    o.handoff_abandon_after = absl::Milliseconds(limits.handoff_abandon_after_ms());
  }
  if (limits.has_handoff_retry_ms()) o.handoff_retry = absl::Milliseconds(limits.handoff_retry_ms());
}

}  // namespace

absl::Status ApplyConfigFile(const std::string& path, NodeOptions& options) {
  v1::NodeConfig config;
  if (absl::Status s = sse::ReadConfigFile(path, config); !s.ok()) return s;
  if (!config.node_id().empty()) options.node_id = config.node_id();
  if (!config.http_listen().empty()) options.http_listen = config.http_listen();
  if (!config.grpc_listen().empty()) options.grpc_listen = config.grpc_listen();
  if (!config.public_url().empty()) options.public_url = config.public_url();
  if (!config.ring_file().empty()) options.ring_file = config.ring_file();
  if (!config.ring_source().empty()) options.ring_source = config.ring_source();
  if (!config.state_dir().empty()) options.state_dir = config.state_dir();
  if (config.has_ring_wait_ms()) options.ring_wait = absl::Milliseconds(config.ring_wait_ms());
  if (config.has_shutdown_grace_ms()) {
    options.shutdown_grace = absl::Milliseconds(config.shutdown_grace_ms());
  }
  if (config.worker_threads() != 0) options.worker_threads = static_cast<int>(config.worker_threads());
  if (config.cors_allowed_origins_size() > 0) {
    options.cors_allowed_origins.assign(config.cors_allowed_origins().begin(),
                                        config.cors_allowed_origins().end());
  }
  ApplyLimits(config.limits(), options);
  return absl::OkStatus();
}

absl::Status Validate(const NodeOptions& o) {
  auto invalid = [](std::string_view what) {
    return absl::InvalidArgumentError(std::string(what));
  };
  if (o.node_id.empty()) return invalid("node_id must not be empty");
  if (o.worker_threads < 0) return invalid("worker_threads must be >= 0");
  if (o.max_topic_bytes < 1 || o.max_topic_bytes > 256) {
    return invalid("max_topic_bytes must be 1..256");
  }
  if (o.max_request_header_bytes < 256) return invalid("max_request_header_bytes must be >= 256");
  if (o.buffer_max_events < 1) return invalid("buffer_max_events must be >= 1");
  if (o.max_event_bytes < 1) return invalid("max_event_bytes must be >= 1");
  if (o.max_batch_events < 1) return invalid("max_batch_events must be >= 1");
  if (o.heartbeat_interval <= absl::ZeroDuration()) {
    return invalid("heartbeat_interval_ms must be > 0");
  }
  if (o.header_timeout <= absl::ZeroDuration()) return invalid("header_timeout_ms must be > 0");
  if (o.max_connections < 1) return invalid("max_connections must be >= 1");
  if (!o.ring_file.empty() && !o.ring_source.empty()) {
    return invalid("ring_file and ring_source exclude each other: give at most one");
  }
  if (o.ring_wait <= absl::ZeroDuration()) return invalid("ring_wait_ms must be > 0");
  if (o.handoff_concurrency < 1) return invalid("handoff_concurrency must be >= 1");
  return absl::OkStatus();
}

}  // namespace ringcast::node
