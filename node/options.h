// options.h — every setting of a ringcast-node, with its default and the trade-off it makes.
// Flags and the optional config file (ringcast.v1.NodeConfig, protobuf text format) fill this
// struct; nothing else reads flags. Constant after start-up; safe to read from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ringcast::node {

struct NodeOptions {
  // Identity and addresses.
  std::string node_id = "node-1";          // the node's id in the ring
  std::string http_listen = "127.0.0.1:8080";  // host:port of the SSE listener; port 0 = any
  std::string grpc_listen = "127.0.0.1:9090";  // host:port of the gRPC listener; port 0 = any
  std::string public_url;                  // base URL for redirects to this node; "" = http://<http>
  // Where the ring comes from: at most one of ring_file and ring_source; neither = a ring of
  // this node alone.
  std::string ring_file;    // a RingFile (text format): a static cluster
  std::string ring_source;  // host:port of a router's Cluster service: follow its WatchRing
  // With ring_source: how long start-up waits for the first ring before giving up (or, with
  // state_dir, starting from the last ring saved there). Longer tolerates a slow router start.
  absl::Duration ring_wait = absl::Seconds(10);
  // Directory for the last ring followed from ring_source, so the node can start while the
  // router is down; "" = keep nothing on disk.
  std::string state_dir;
  int worker_threads = 0;  // threads serving HTTP streams; 0 = one per core
  std::vector<std::string> cors_allowed_origins;  // Origins allowed by CORS; "*" allows any

  // Limits (DESIGN.md "Limits and bad input"). Each violation is answered and counted.
  // Request line + headers. Larger gets 431. Bigger allows long cookies; costs memory per request.
  size_t max_request_header_bytes = 8192;
  // Time for a request head to arrive. Shorter resists slowloris; longer tolerates slow links.
  absl::Duration header_timeout = absl::Seconds(10);
  // Topic length in bytes (at most 256, the protocol's bound).
  size_t max_topic_bytes = 256;
  // Event payload bytes. Larger gets RESOURCE_EXHAUSTED. Bigger events cost memory per buffer.
  size_t max_event_bytes = 64 * 1024;
  // Events per PublishBatch call. More gets INVALID_ARGUMENT. Larger batches hold the publish
  // thread longer per call.
  size_t max_batch_events = 1000;
  // Replay buffer per topic: events, bytes and age; the oldest events go first. More history
  // lets clients resume after longer gaps at the cost of memory.
  size_t buffer_max_events = 1000;
  size_t buffer_max_bytes = 1024 * 1024;
  absl::Duration buffer_max_age = absl::Hours(1);
  // Open connections (HTTP and streams). More gets 503. Keep under the process's file limit.
  size_t max_connections = 100000;
  // Unsent bytes per stream before a slow consumer is cut. Larger tolerates stalls, costs RAM.
  size_t max_queue_bytes_per_connection = 256 * 1024;
  // Comment heartbeat on idle streams. Must stay below proxies' idle timeouts (often 30-60 s).
  absl::Duration heartbeat_interval = absl::Seconds(15);
  // The retry: hint sent to clients: how long they wait before reconnecting.
  absl::Duration retry = absl::Seconds(2);
  // Streams end (with retry:) after this long, so clients re-resolve and load spreads; 0 = never.
  absl::Duration max_stream_lifetime = absl::ZeroDuration();
  // Producers whose sequence high-water marks are kept per topic; more are forgotten (oldest
  // first), after which their retries are no longer recognised as duplicates.
  size_t max_producers_per_topic = 1024;
  // Handoffs (docs/rebalancing.md). Transfers (one per target node) run at once; more finish a
  // rebalance sooner but take more CPU and bandwidth from serving.
  int handoff_concurrency = 4;
  // How long a target waits for a newer ring a source's message names before answering
  // UNAVAILABLE (`ring_behind`), and how long a publish naming a newer ring is held for it
  // before it is answered UNAVAILABLE (`ring_behind`).
  absl::Duration handoff_hold = absl::Seconds(5);
  // Most bytes of publishes held at once (all topics); a publish that does not fit is answered
  // UNAVAILABLE (`handoff_hold`) at once. 0 holds nothing.
  size_t handoff_hold_max_bytes = 16 * 1024 * 1024;
  // How long a moved topic's tombstone answers late publishers with the new owner.
  absl::Duration handoff_tombstone = absl::Seconds(60);
  // How long a gained partition waits for its previous owner's transfer (without any transfer
  // activity) before its topics start afresh with a new epoch. Longer rides out a slow source;
  // shorter gets a dead source's topics serving sooner (their history is lost either way).
  absl::Duration handoff_abandon_after = absl::Seconds(10);
  // The retry: sent when a stream ends because its topic moved: how soon clients resume at the
  // new owner.
  absl::Duration handoff_retry = absl::Milliseconds(100);
  // How long SIGTERM waits for streams to flush their final retry: before exiting.
  absl::Duration shutdown_grace = absl::Seconds(5);
};

// Fills `options` from a ringcast.v1.NodeConfig text-format file. Fields not set in the file
// keep their current values. INVALID_ARGUMENT with the parser's message for a bad file.
absl::Status ApplyConfigFile(const std::string& path, NodeOptions& options);

// Checks relations between settings. INVALID_ARGUMENT naming the setting.
absl::Status Validate(const NodeOptions& options);

}  // namespace ringcast::node
