// main.cc — the ringcast-router binary: flags (or --config, a ringcast.v1.RouterConfig text
// file) into RouterOptions, start, print the ready line, and stop cleanly on SIGTERM or SIGINT.
// Any startup error is one line on stderr and exit code 2.
//
// Ready line (one line on stdout, for operators and test launchers):
//   ringcast-router ready router_id=<id> http=<host:port> grpc=<host:port> pid=<pid>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "router/router.h"
#include "sse/server_main.h"

using ringcast::router::RouterOptions;

namespace {
const RouterOptions kDefaults;
constexpr int kStartupError = 2;
}  // namespace

ABSL_FLAG(std::string, config, "", "ringcast.v1.RouterConfig text file; flags given override it");
ABSL_FLAG(std::string, router_id, kDefaults.router_id, "this router's name (logs, metrics)");
ABSL_FLAG(std::string, http_listen, kDefaults.http_listen,
          "host:port for HTTP subscribes, /healthz, /metrics; port 0 = any");
ABSL_FLAG(std::string, grpc_listen, kDefaults.grpc_listen,
          "host:port for the Cluster gRPC service; port 0 = any");
ABSL_FLAG(std::string, mode, "proxy",
          "proxy (stream through the router) or redirect (307 to the owner)");
ABSL_FLAG(std::string, state_dir, "",
          "directory where the coordinator persists the ring; a persisted ring wins over "
          "--ring_file/--seed_nodes; empty = in memory only");
ABSL_FLAG(std::string, ring_file, "", "ringcast.v1.RingFile text file seeding a new cluster");
ABSL_FLAG(std::string, ring_source, "",
          "host:port of the coordinating router to follow; empty = be the coordinator");
ABSL_FLAG(uint32_t, partition_count, kDefaults.partition_count,
          "partitions of a ring seeded from --seed_nodes (power of two, 1..1048576)");
ABSL_FLAG(std::string, seed_nodes, "",
          "members seeding a new cluster: ID=HTTP_ADDR=GRPC_ADDR[=WEIGHT],...");
ABSL_FLAG(std::string, cors_allowed_origins, "",
          "comma-separated Origins allowed by CORS; * allows any");
ABSL_FLAG(int, worker_threads, 0, "HTTP worker threads; 0 = one per core");
ABSL_FLAG(uint32_t, health_report_interval_ms, 1000, "how often nodes are asked to report health");
ABSL_FLAG(uint32_t, node_down_after_ms, 5000, "a node silent this long is DOWN");
ABSL_FLAG(uint32_t, max_request_header_bytes, kDefaults.max_request_header_bytes,
          "request line + headers; larger gets 431");
ABSL_FLAG(uint32_t, header_timeout_ms, 10000, "time for a request head to arrive (slowloris)");
ABSL_FLAG(uint32_t, max_topic_bytes, kDefaults.max_topic_bytes,
          "topic length, at most 256; must equal the nodes'");
ABSL_FLAG(uint32_t, max_connections, kDefaults.max_connections,
          "open client connections; more get 503");
ABSL_FLAG(uint32_t, max_queue_bytes_per_connection, kDefaults.max_queue_bytes_per_connection,
          "unsent bytes per proxied stream before it is cut as a slow consumer");
ABSL_FLAG(uint32_t, heartbeat_interval_ms, 15000, "comment heartbeat on idle streams");
ABSL_FLAG(uint32_t, retry_ms, 2000, "the retry: hint sent to clients");
ABSL_FLAG(uint32_t, max_stream_lifetime_seconds, 0,
          "end streams (with retry:) after this long; 0 = never");
ABSL_FLAG(uint32_t, max_topics_per_stream, kDefaults.max_topics_per_stream,
          "topic= parameters in one GET /v1/events; more get 400");
ABSL_FLAG(uint32_t, upstream_resume_timeout_ms, 10000,
          "how long a proxied stream waits while its upstream is resumed elsewhere");
ABSL_FLAG(uint32_t, upstream_connect_timeout_ms, 2000,
          "time to connect to a node before its topics get 503");
ABSL_FLAG(uint32_t, shutdown_grace_ms, 5000, "how long SIGTERM waits for streams to flush");

namespace {

using ringcast::sse::FlagGiven;
using ringcast::sse::OverrideIfGiven;
using ringcast::sse::OverrideListIfGiven;
using ringcast::sse::OverrideMillisecondsIfGiven;
using ringcast::sse::OverrideSecondsIfGiven;

// Flags override the config file where given.
absl::StatusOr<RouterOptions> ApplyFlags(RouterOptions o) {
  OverrideIfGiven(FLAGS_router_id, o.router_id);
  OverrideIfGiven(FLAGS_http_listen, o.http_listen);
  OverrideIfGiven(FLAGS_grpc_listen, o.grpc_listen);
  if (FlagGiven(FLAGS_mode)) {
    absl::StatusOr<RouterOptions::Mode> mode = ringcast::router::ParseMode(absl::GetFlag(FLAGS_mode));
    if (!mode.ok()) return mode.status();
    o.mode = *mode;
  }
  OverrideIfGiven(FLAGS_state_dir, o.state_dir);
  OverrideIfGiven(FLAGS_ring_file, o.ring_file);
  OverrideIfGiven(FLAGS_ring_source, o.ring_source);
  OverrideIfGiven(FLAGS_partition_count, o.partition_count);
  if (FlagGiven(FLAGS_seed_nodes)) {
    absl::StatusOr<std::vector<ringcast::Member>> seeds =
        ringcast::router::ParseSeedNodes(absl::GetFlag(FLAGS_seed_nodes));
    if (!seeds.ok()) return seeds.status();
    o.seed_nodes = *std::move(seeds);
  }
  OverrideListIfGiven(FLAGS_cors_allowed_origins, o.cors_allowed_origins);
  OverrideIfGiven(FLAGS_worker_threads, o.worker_threads);
  OverrideMillisecondsIfGiven(FLAGS_health_report_interval_ms, o.health_report_interval);
  OverrideMillisecondsIfGiven(FLAGS_node_down_after_ms, o.node_down_after);
  OverrideIfGiven(FLAGS_max_request_header_bytes, o.max_request_header_bytes);
  OverrideMillisecondsIfGiven(FLAGS_header_timeout_ms, o.header_timeout);
  OverrideIfGiven(FLAGS_max_topic_bytes, o.max_topic_bytes);
  OverrideIfGiven(FLAGS_max_connections, o.max_connections);
  OverrideIfGiven(FLAGS_max_queue_bytes_per_connection, o.max_queue_bytes_per_connection);
  OverrideMillisecondsIfGiven(FLAGS_heartbeat_interval_ms, o.heartbeat_interval);
  OverrideMillisecondsIfGiven(FLAGS_retry_ms, o.retry);
  OverrideSecondsIfGiven(FLAGS_max_stream_lifetime_seconds, o.max_stream_lifetime);
  OverrideIfGiven(FLAGS_max_topics_per_stream, o.max_topics_per_stream);
  OverrideMillisecondsIfGiven(FLAGS_upstream_resume_timeout_ms, o.upstream_resume_timeout);
  OverrideMillisecondsIfGiven(FLAGS_upstream_connect_timeout_ms, o.upstream_connect_timeout);
  OverrideMillisecondsIfGiven(FLAGS_shutdown_grace_ms, o.shutdown_grace);
  return o;
}

// The options from --config and the flags, or the first error.
absl::StatusOr<RouterOptions> LoadOptions() {
  RouterOptions options;
  if (const std::string config = absl::GetFlag(FLAGS_config); !config.empty()) {
    if (absl::Status s = ringcast::router::ApplyConfigFile(config, options); !s.ok()) return s;
  }
  return ApplyFlags(std::move(options));
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "ringcast-router: routes subscribers (GET /v1/topics/{topic}/events, GET /v1/events) to "
      "the node that owns each topic, and serves the ring's control plane (ringcast.v1.Cluster).");
  absl::ParseCommandLine(argc, argv);
  ringcast::sse::SkipMutexDeadlockDetectionWhenOptimised();

  absl::StatusOr<RouterOptions> options = LoadOptions();
  if (!options.ok()) {
    std::cerr << "ringcast-router: " << options.status().message() << "\n";
    return kStartupError;
  }

  if (absl::Status s = ringcast::sse::CatchStopSignals(); !s.ok()) {
    std::cerr << "ringcast-router: " << s.message() << "\n";
    return kStartupError;
  }

  absl::StatusOr<std::unique_ptr<ringcast::router::Router>> router =
      ringcast::router::Router::Start(*options);
  if (!router.ok()) {
    std::cerr << "ringcast-router: " << router.status().message() << "\n";
    return kStartupError;
  }
  ringcast::sse::PrintReadyLine("ringcast-router", "router_id", options->router_id,
                                (*router)->http_address(), (*router)->grpc_address());

  const int received = ringcast::sse::WaitForStopSignal();
  std::cerr << "ringcast-router: signal " << received << ", shutting down\n";
  (*router)->Shutdown();
  return 0;
}
