// http_frontend.h — the router's HTTP side (docs/router.md "Subscribing through the router"):
// GET /v1/topics/{topic}/events proxied to the topic's owner (or 307 to it with
// --mode=redirect), GET /v1/events?topic=a&topic=b merged from every owner into one stream
// (router/multi_topic.h), /healthz and /metrics (the router's whole registry). Routing reads
// `ring`; until it holds a ring, subscribes get 503 + Retry-After ("no_ring").
//
// Structure (as the node's): one HttpWorker per thread, each with its own io_context and its
// own SO_REUSEPORT listener on the one port; a client's stream and all its upstreams live on the
// worker that accepted it.
//
// Thread safety: Start, http_address and Shutdown from one controlling thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/registry.h>

#include "absl/status/statusor.h"
#include "ring/ring_holder.h"
#include "router/http_metrics.h"
#include "router/http_worker.h"
#include "router/options.h"
#include "router/proxy_stream.h"

namespace ringcast::router {

class HttpFrontend {
 public:
  // Binds options.http_listen (port 0 = any) and serves. `options`, `ring` and `registry` must
  // outlive the frontend. UNAVAILABLE when the address cannot be bound, INVALID_ARGUMENT when
  // it is not host:port.
  static absl::StatusOr<std::unique_ptr<HttpFrontend>> Start(
      const RouterOptions& options, const RingHolder& ring,
      std::shared_ptr<prometheus::Registry> registry);

  ~HttpFrontend();
  HttpFrontend(const HttpFrontend&) = delete;
  HttpFrontend& operator=(const HttpFrontend&) = delete;

  // host:port actually bound.
  const std::string& http_address() const { return http_address_; }

  // Stops accepting, ends every stream with a final retry: (closing its upstreams), waits up to
  // shutdown_grace for them to flush, then stops the workers. Idempotent.
  void Shutdown();

 private:
  HttpFrontend(const RouterOptions& options, const RingHolder& ring,
               std::shared_ptr<prometheus::Registry> registry);
  absl::Status Listen();

  // Constant after construction.
  const RouterOptions& options_;
  const RingHolder& ring_;
  const std::shared_ptr<prometheus::Registry> registry_;
  HttpMetrics metrics_;
  const ProxySettings proxy_;

  std::atomic<int64_t> connections_{0};
  std::vector<std::unique_ptr<HttpWorker>> workers_;
  std::string http_address_;
  bool shut_down_ = false;
};

}  // namespace ringcast::router
