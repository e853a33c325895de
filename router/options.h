// options.h — every setting of a ringcast-router, with its default and the trade-off it makes.
// Mirrors ringcast.v1.RouterConfig (config.proto): flags and the optional config file (text
// format) fill this struct; nothing else reads flags. Constant after start-up; safe to read from
// any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ring/ring.h"

namespace ringcast::router {

struct RouterOptions {
  // Identity and addresses.
  std::string router_id = "router-1";          // for logs, metrics and the ready line
  std::string http_listen = "127.0.0.1:8000";  // subscribes, /healthz, /metrics; port 0 = any
  std::string grpc_listen = "127.0.0.1:9000";  // the Cluster service; port 0 = any

  // How subscribes reach their owner: proxied through the router (the client's connection
  // survives handoffs; costs router CPU) or 307 to the owner's public URL (cheaper; the client
  // reconnects itself). Multi-topic streams are always proxied.
  enum class Mode { kProxy, kRedirect };
  Mode mode = Mode::kProxy;

  // Where the ring comes from. A coordinator (ring_source empty) persists every committed ring
  // under state_dir; a persisted ring wins over ring_file / seed_nodes, which only seed a new
  // cluster. Exactly one source must provide the first ring.
  std::string state_dir;    // "" = ring in memory only (tests, `ringcast up`)
  std::string ring_file;    // seed from a ringcast.v1.RingFile (text format)
  std::string ring_source;  // host:port of the coordinator to follow; "" = be the coordinator
  uint32_t partition_count = 16384;  // Q of a ring seeded from seed_nodes; fixed for life
  std::vector<Member> seed_nodes;    // --seed_nodes=ID=HTTP_ADDR=GRPC_ADDR[=WEIGHT],...

  std::vector<std::string> cors_allowed_origins;  // Origins allowed by CORS; "*" allows any
  int worker_threads = 0;  // threads serving HTTP; 0 = one per core

  // Health. Nodes report every health_report_interval; one silent for node_down_after is DOWN.
  // Lower detects crashes sooner; too low marks slow-but-alive nodes DOWN.
  absl::Duration health_report_interval = absl::Seconds(1);
  absl::Duration node_down_after = absl::Seconds(5);

  // Limits (RouterLimits in config.proto). Each violation is answered and counted.
  // Request line + headers. Larger gets 431. Bigger allows long cookies; costs memory per request.
  size_t max_request_header_bytes = 8192;
  // Time for a request head to arrive. Shorter resists slowloris; longer tolerates slow links.
  absl::Duration header_timeout = absl::Seconds(10);
  // Topic length in bytes, 1..256; must equal the nodes' setting.
  size_t max_topic_bytes = 256;
  // Open client connections. More get 503. Keep under the process's file limit.
  size_t max_connections = 100000;
  // Unsent bytes per proxied stream before a slow consumer is cut. Larger tolerates stalls.
  size_t max_queue_bytes_per_connection = 256 * 1024;
  // Comment heartbeat on idle streams; below the idle timeout of any proxy in front.
  absl::Duration heartbeat_interval = absl::Seconds(15);
  // The retry: hint sent to clients.
  absl::Duration retry = absl::Seconds(2);
  // Streams end (with retry:) after this long, so clients re-resolve; 0 = never.
  absl::Duration max_stream_lifetime = absl::ZeroDuration();
  // topic= parameters in one GET /v1/events. More gets 400.
  size_t max_topics_per_stream = 64;
  // How long a proxied stream stays open while the router resumes its upstream elsewhere.
  absl::Duration upstream_resume_timeout = absl::Seconds(10);
  // Time to connect to a node before the owner counts as unreachable (503 + Retry-After).
  // Shorter fails fast on dead nodes; too short fails on a busy network.
  absl::Duration upstream_connect_timeout = absl::Seconds(2);
  // How long SIGTERM waits for streams to flush their final retry: before exiting.
  absl::Duration shutdown_grace = absl::Seconds(5);
};

// Fills `options` from a ringcast.v1.RouterConfig text-format file. Fields not set in the file
// keep their current values. NOT_FOUND for an unreadable file; INVALID_ARGUMENT with the
// parser's message (line:column) for a bad one.
absl::Status ApplyConfigFile(const std::string& path, RouterOptions& options);

// Parses --seed_nodes: comma-separated `ID=HTTP_ADDR=GRPC_ADDR` with an optional `=WEIGHT`, e.g.
// "n1=127.0.0.1:8081=127.0.0.1:9091,n2=127.0.0.1:8082=127.0.0.1:9092=2". Empty text = none.
// INVALID_ARGUMENT naming the bad entry.
absl::StatusOr<std::vector<Member>> ParseSeedNodes(std::string_view text);

// "proxy" / "redirect". INVALID_ARGUMENT otherwise.
absl::StatusOr<RouterOptions::Mode> ParseMode(std::string_view text);

// OK if `value` is `host:port`: host a DNS name, an IPv4 literal or a bracketed IPv6 literal;
// port 1..65535 (0 too when `allow_any_port`, for listen addresses). INVALID_ARGUMENT naming
// `what` otherwise.
absl::Status ValidateHostPort(std::string_view what, std::string_view value,
                              bool allow_any_port = false);

// Checks every setting and the relations between them (e.g. exactly one ring source).
// INVALID_ARGUMENT naming the flag.
absl::Status Validate(const RouterOptions& options);

}  // namespace ringcast::router
