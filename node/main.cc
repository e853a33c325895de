// main.cc — the ringcast-node binary: flags (or --config, a ringcast.v1.NodeConfig text file)
// into NodeOptions, start, print the ready line, and stop cleanly on SIGTERM or SIGINT.
//
// Ready line (one line on stdout, for operators and test launchers):
//   ringcast-node ready node_id=<id> http=<host:port> grpc=<host:port> pid=<pid>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <cstdio>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_split.h"
#include "node/node.h"

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

namespace {

// Written by the SIGTERM/SIGINT handler (one byte: the signal number), read by main.
int g_stop_pipe[2] = {-1, -1};

void OnStopSignal(int signal_number) {
  const auto byte = static_cast<unsigned char>(signal_number);
  [[maybe_unused]] const ssize_t written = write(g_stop_pipe[1], &byte, 1);
}

// NOTE: Debian's abseil keeps IsSpecifiedOnCommandLine() private, so "given" means "differs
// from its default": a flag set to its default value does not override the config file.
template <typename T>
bool Given(const absl::Flag<T>& flag) {
  const absl::CommandLineFlag& handle = absl::GetFlagReflectionHandle(flag);
  return handle.CurrentValue() != handle.DefaultValue();
}

// Flags override the config file where given.
NodeOptions ApplyFlags(NodeOptions o) {
  if (Given(FLAGS_node_id)) o.node_id = absl::GetFlag(FLAGS_node_id);
  if (Given(FLAGS_http_listen)) o.http_listen = absl::GetFlag(FLAGS_http_listen);
  if (Given(FLAGS_grpc_listen)) o.grpc_listen = absl::GetFlag(FLAGS_grpc_listen);
  if (Given(FLAGS_ring_file)) o.ring_file = absl::GetFlag(FLAGS_ring_file);
  if (Given(FLAGS_ring_source)) o.ring_source = absl::GetFlag(FLAGS_ring_source);
  if (Given(FLAGS_ring_wait_ms)) {
    o.ring_wait = absl::Milliseconds(absl::GetFlag(FLAGS_ring_wait_ms));
  }
  if (Given(FLAGS_state_dir)) o.state_dir = absl::GetFlag(FLAGS_state_dir);
  if (Given(FLAGS_worker_threads)) o.worker_threads = absl::GetFlag(FLAGS_worker_threads);
  if (Given(FLAGS_cors_allowed_origins)) {
    o.cors_allowed_origins =
        absl::StrSplit(absl::GetFlag(FLAGS_cors_allowed_origins), ',', absl::SkipEmpty());
  }
  if (Given(FLAGS_max_request_header_bytes)) {
    o.max_request_header_bytes = absl::GetFlag(FLAGS_max_request_header_bytes);
  }
  if (Given(FLAGS_header_timeout_ms)) {
    o.header_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_header_timeout_ms));
  }
  if (Given(FLAGS_max_topic_bytes)) o.max_topic_bytes = absl::GetFlag(FLAGS_max_topic_bytes);
  if (Given(FLAGS_max_event_bytes)) o.max_event_bytes = absl::GetFlag(FLAGS_max_event_bytes);
  if (Given(FLAGS_max_batch_events)) o.max_batch_events = absl::GetFlag(FLAGS_max_batch_events);
  if (Given(FLAGS_buffer_max_events)) o.buffer_max_events = absl::GetFlag(FLAGS_buffer_max_events);
  if (Given(FLAGS_buffer_max_bytes)) o.buffer_max_bytes = absl::GetFlag(FLAGS_buffer_max_bytes);
  if (Given(FLAGS_buffer_max_age_seconds)) {
    o.buffer_max_age = absl::Seconds(absl::GetFlag(FLAGS_buffer_max_age_seconds));
  }
  if (Given(FLAGS_max_connections)) o.max_connections = absl::GetFlag(FLAGS_max_connections);
  if (Given(FLAGS_max_queue_bytes_per_connection)) {
    o.max_queue_bytes_per_connection = absl::GetFlag(FLAGS_max_queue_bytes_per_connection);
  }
  if (Given(FLAGS_heartbeat_interval_ms)) {
    o.heartbeat_interval = absl::Milliseconds(absl::GetFlag(FLAGS_heartbeat_interval_ms));
  }
  if (Given(FLAGS_retry_ms)) o.retry = absl::Milliseconds(absl::GetFlag(FLAGS_retry_ms));
  if (Given(FLAGS_max_stream_lifetime_seconds)) {
    o.max_stream_lifetime = absl::Seconds(absl::GetFlag(FLAGS_max_stream_lifetime_seconds));
  }
  if (Given(FLAGS_max_producers_per_topic)) {
    o.max_producers_per_topic = absl::GetFlag(FLAGS_max_producers_per_topic);
  }
  if (Given(FLAGS_shutdown_grace_ms)) {
    o.shutdown_grace = absl::Milliseconds(absl::GetFlag(FLAGS_shutdown_grace_ms));
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "ringcast-node: an SSE node. Subscribe at GET /v1/topics/{topic}/events; publish over "
      "gRPC ringcast.v1.Publisher.");
  absl::ParseCommandLine(argc, argv);
#ifdef NDEBUG
  // Debian builds abseil without NDEBUG, so its Mutex checks every lock order against a global
  // graph (a tenth of the publish path's CPU). Optimised builds skip that; debug builds and the
  // clang-tsa preset keep checking.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif

  NodeOptions options;
  if (const std::string config = absl::GetFlag(FLAGS_config); !config.empty()) {
    if (absl::Status s = ringcast::node::ApplyConfigFile(config, options); !s.ok()) {
      std::cerr << "ringcast-node: " << s << "\n";
      return 2;
    }
  }
  options = ApplyFlags(std::move(options));

  // NOTE: a handler rather than a blocked mask and sigwait: a thread that a library starts
  // before main (or with its own mask) could otherwise take SIGTERM with the default action.
  if (pipe(g_stop_pipe) != 0) {
    std::perror("ringcast-node: pipe");
    return 1;
  }
  struct sigaction on_stop = {};
  on_stop.sa_handler = OnStopSignal;
  sigemptyset(&on_stop.sa_mask);
  sigaction(SIGTERM, &on_stop, nullptr);
  sigaction(SIGINT, &on_stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<ringcast::node::Node>> node =
      ringcast::node::Node::Start(options);
  if (!node.ok()) {
    std::cerr << "ringcast-node: " << node.status() << "\n";
    return 1;
  }
  std::printf("ringcast-node ready node_id=%s http=%s grpc=%s pid=%d\n", options.node_id.c_str(),
              (*node)->http_address().c_str(), (*node)->grpc_address().c_str(), getpid());
  std::fflush(stdout);

  unsigned char received = 0;
  while (read(g_stop_pipe[0], &received, 1) < 0 && errno == EINTR) {
  }
  std::fprintf(stderr, "ringcast-node: signal %d, shutting down\n", received);
  (*node)->Shutdown();
  return 0;
}
