// main.cc — the ringcast-node binary: flags (or --config, a ringcast.v1.NodeConfig text file)
// into NodeOptions, start, print the ready line, and stop cleanly on SIGTERM or SIGINT.
//
// Ready line (one line on stdout, for operators and test launchers):
//   ringcast-node ready node_id=<id> http=<host:port> grpc=<host:port> pid=<pid>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "node/node.h"
#include "sse/server_main.h"

using ringcast::node::NodeOptions;

namespace {
const NodeOptions kDefaults;
}  // namespace

ABSL_FLAG(std::string, config, "", "ringcast.v1.NodeConfig text file; flags given override it");
ABSL_FLAG(std::string, node_id, kDefaults.node_id, "this node's id in the ring");
ABSL_FLAG(std::string, http_listen, kDefaults.http_listen, "host:port for HTTP; port 0 = any");
ABSL_FLAG(std::string, grpc_listen, kDefaults.grpc_listen, "host:port for gRPC; port 0 = any");
ABSL_FLAG(std::string, ring_file, "",
          "ringcast.v1.RingFile text file (a static cluster); empty = --ring_source, or this "
          "node alone");
ABSL_FLAG(std::string, ring_source, "",
          "host:port of a router's gRPC Cluster service: follow its ring (WatchRing) and report "
          "health to it; excludes --ring_file");
ABSL_FLAG(uint32_t, ring_wait_ms, 10000,
          "with --ring_source: how long start-up waits for the first ring");
ABSL_FLAG(std::string, state_dir, "",
          "directory keeping the last ring from --ring_source, to start from while the router "
          "is down; empty = nothing on disk");
ABSL_FLAG(int, worker_threads, 0, "HTTP worker threads; 0 = one per core");
ABSL_FLAG(std::string, cors_allowed_origins, "",
          "comma-separated Origins allowed by CORS; * allows any");
ABSL_FLAG(uint32_t, max_request_header_bytes, kDefaults.max_request_header_bytes,
          "request line + headers; larger gets 431");
ABSL_FLAG(uint32_t, header_timeout_ms, 10000, "time for a request head to arrive (slowloris)");
ABSL_FLAG(uint32_t, max_topic_bytes, kDefaults.max_topic_bytes, "topic length, at most 256");
ABSL_FLAG(uint32_t, max_event_bytes, kDefaults.max_event_bytes,
          "event data bytes; larger gets RESOURCE_EXHAUSTED");
ABSL_FLAG(uint32_t, max_batch_events, kDefaults.max_batch_events,
          "events per PublishBatch call; more gets INVALID_ARGUMENT");
ABSL_FLAG(uint32_t, buffer_max_events, kDefaults.buffer_max_events, "replay events per topic");
ABSL_FLAG(uint64_t, buffer_max_bytes, kDefaults.buffer_max_bytes, "replay bytes per topic");
ABSL_FLAG(uint32_t, buffer_max_age_seconds, 3600, "replay age per topic");
ABSL_FLAG(uint32_t, max_connections, kDefaults.max_connections,
          "open connections; more get 503");
ABSL_FLAG(uint32_t, max_queue_bytes_per_connection, kDefaults.max_queue_bytes_per_connection,
          "unsent bytes per stream before it is cut as a slow consumer");
ABSL_FLAG(uint32_t, heartbeat_interval_ms, 15000, "comment heartbeat on idle streams");
ABSL_FLAG(uint32_t, retry_ms, 2000, "the retry: hint sent to clients");
ABSL_FLAG(uint32_t, max_stream_lifetime_seconds, 0,
          "end streams (with retry:) after this long; 0 = never");
ABSL_FLAG(uint32_t, max_producers_per_topic, kDefaults.max_producers_per_topic,
          "producer sequence marks kept per topic");
ABSL_FLAG(uint32_t, shutdown_grace_ms, 5000, "how long SIGTERM waits for streams to flush");
ABSL_FLAG(int32_t, handoff_concurrency, kDefaults.handoff_concurrency,
          "handoff transfers (one per target node) run at once");
ABSL_FLAG(uint32_t, handoff_hold_ms, 5000,
          "how long a handoff message naming a newer ring waits for it (then UNAVAILABLE "
          "ring_behind), and how long a publish naming a newer ring is held for it (then "
          "UNAVAILABLE ring_behind)");
ABSL_FLAG(uint64_t, handoff_hold_max_bytes, kDefaults.handoff_hold_max_bytes,
          "most bytes of publishes held at once (hold queue); more are answered UNAVAILABLE "
          "handoff_hold at once (0 = hold nothing)");
ABSL_FLAG(uint32_t, handoff_tombstone_seconds, 60,
          "how long a moved topic's tombstone names the new owner to late publishers");
ABSL_FLAG(uint32_t, handoff_abandon_after_ms, 10000,
          "how long a gained partition waits for its previous owner's transfer before its topics "
          "start afresh (new epoch)");
ABSL_FLAG(uint32_t, handoff_retry_ms, 100,
          "retry: sent when a stream ends because its topic moved (how soon clients resume)");

namespace {

using ringcast::sse::OverrideIfGiven;
using ringcast::sse::OverrideListIfGiven;
using ringcast::sse::OverrideMillisecondsIfGiven;
using ringcast::sse::OverrideSecondsIfGiven;

// Flags override the config file where given.
void ApplyFlags(NodeOptions& o) {
  OverrideIfGiven(FLAGS_node_id, o.node_id);
  OverrideIfGiven(FLAGS_http_listen, o.http_listen);
  OverrideIfGiven(FLAGS_grpc_listen, o.grpc_listen);
  OverrideIfGiven(FLAGS_ring_file, o.ring_file);
  OverrideIfGiven(FLAGS_ring_source, o.ring_source);
  OverrideMillisecondsIfGiven(FLAGS_ring_wait_ms, o.ring_wait);
  OverrideIfGiven(FLAGS_state_dir, o.state_dir);
  OverrideIfGiven(FLAGS_worker_threads, o.worker_threads);
  OverrideListIfGiven(FLAGS_cors_allowed_origins, o.cors_allowed_origins);
  OverrideIfGiven(FLAGS_max_request_header_bytes, o.max_request_header_bytes);
  OverrideMillisecondsIfGiven(FLAGS_header_timeout_ms, o.header_timeout);
  OverrideIfGiven(FLAGS_max_topic_bytes, o.max_topic_bytes);
  OverrideIfGiven(FLAGS_max_event_bytes, o.max_event_bytes);
  OverrideIfGiven(FLAGS_max_batch_events, o.max_batch_events);
  OverrideIfGiven(FLAGS_buffer_max_events, o.buffer_max_events);
  OverrideIfGiven(FLAGS_buffer_max_bytes, o.buffer_max_bytes);
  OverrideSecondsIfGiven(FLAGS_buffer_max_age_seconds, o.buffer_max_age);
  OverrideIfGiven(FLAGS_max_connections, o.max_connections);
  OverrideIfGiven(FLAGS_max_queue_bytes_per_connection, o.max_queue_bytes_per_connection);
  OverrideMillisecondsIfGiven(FLAGS_heartbeat_interval_ms, o.heartbeat_interval);
  OverrideMillisecondsIfGiven(FLAGS_retry_ms, o.retry);
  OverrideSecondsIfGiven(FLAGS_max_stream_lifetime_seconds, o.max_stream_lifetime);
  OverrideIfGiven(FLAGS_max_producers_per_topic, o.max_producers_per_topic);
  OverrideMillisecondsIfGiven(FLAGS_shutdown_grace_ms, o.shutdown_grace);
  OverrideIfGiven(FLAGS_handoff_concurrency, o.handoff_concurrency);
  OverrideMillisecondsIfGiven(FLAGS_handoff_hold_ms, o.handoff_hold);
  OverrideIfGiven(FLAGS_handoff_hold_max_bytes, o.handoff_hold_max_bytes);
  OverrideSecondsIfGiven(FLAGS_handoff_tombstone_seconds, o.handoff_tombstone);
  OverrideMillisecondsIfGiven(FLAGS_handoff_abandon_after_ms, o.handoff_abandon_after);
  OverrideMillisecondsIfGiven(FLAGS_handoff_retry_ms, o.handoff_retry);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "ringcast-node: an SSE node. Subscribe at GET /v1/topics/{topic}/events; publish over "
      "gRPC ringcast.v1.Publisher.");
  absl::ParseCommandLine(argc, argv);
  ringcast::sse::SkipMutexDeadlockDetectionWhenOptimised();

  NodeOptions options;
  if (const std::string config = absl::GetFlag(FLAGS_config); !config.empty()) {
    if (absl::Status s = ringcast::node::ApplyConfigFile(config, options); !s.ok()) {
      std::cerr << "ringcast-node: " << s << "\n";
      return 2;
    }
  }
  ApplyFlags(options);

  if (absl::Status s = ringcast::sse::CatchStopSignals(); !s.ok()) {
    std::cerr << "ringcast-node: " << s << "\n";
    return 1;
  }

  absl::StatusOr<std::unique_ptr<ringcast::node::Node>> node =
      ringcast::node::Node::Start(options);
  if (!node.ok()) {
    std::cerr << "ringcast-node: " << node.status() << "\n";
    return 1;
  }
  ringcast::sse::PrintReadyLine("ringcast-node", "node_id", options.node_id,
                                (*node)->http_address(), (*node)->grpc_address());

  const int received = ringcast::sse::WaitForStopSignal();
  std::cerr << "ringcast-node: signal " << received << ", shutting down\n";
  (*node)->Shutdown();
  return 0;
}
