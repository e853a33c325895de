// router.h — one ringcast-router process: the ring (loaded, seeded or followed), the gRPC server
// with the Cluster control plane, and the HTTP frontend that routes subscribers by the ring.
//
// Where the first ring comes from (RouterOptions):
//   coordinator: the ring persisted under state_dir if there is one, else ring_file or
//                seed_nodes (version 1, persisted at once when state_dir is set);
//   follower:    the coordinator at ring_source, through a client::RingWatcher (the router
//                serves 503 `no_ring` / UNAVAILABLE `no_ring` until the first ring arrives).
//
// Life cycle: Start() binds both listeners (port 0 picks a free port) and serves; Shutdown()
// ends WatchRing streams (UNAVAILABLE `draining`), refuses new Cluster calls, ends subscriber
// streams with a final retry: (up to shutdown_grace), and stops the gRPC server.
// Thread safety: Start/Shutdown from one controlling thread; ring() may be read from any.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/server.h>
#include <prometheus/registry.h>

#include "absl/status/statusor.h"
#include "client/ring_watcher.h"
#include "ring/ring_holder.h"
#include "router/cluster_service.h"
#include "router/http_frontend.h"
#include "router/options.h"
#include "router/ring_store.h"

namespace ringcast::router {

class Router {
 public:
  // Errors: INVALID_ARGUMENT for bad options or seed rings, DATA_LOSS for a corrupt persisted
  // ring, FAILED_PRECONDITION for a state_dir in use, UNAVAILABLE when a port cannot be bound.
  static absl::StatusOr<std::unique_ptr<Router>> Start(RouterOptions options);
  ~Router();

  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // host:port actually bound (the port is real even when 0 was asked for).
  const std::string& http_address() const { return http_->http_address(); }
  const std::string& grpc_address() const { return grpc_address_; }

  const RingHolder& ring() const { return ring_; }

  void Shutdown();

 private:
  explicit Router(RouterOptions options);
  absl::Status StartServing();
  // The coordinator's first ring: persisted, else seeded; persisted when new.
  absl::StatusOr<Ring> InitialRing();
  absl::Status StartGrpc();

  // Constant after construction.
  const RouterOptions options_;
  const std::shared_ptr<prometheus::Registry> registry_;

  RingHolder ring_{nullptr};
  std::unique_ptr<RingStore> store_;         // coordinator with a state_dir only
  std::unique_ptr<ClusterService> cluster_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<client::RingWatcher> watcher_;  // follower only; feeds ring_ and cluster_
  std::unique_ptr<HttpFrontend> http_;
  std::string grpc_address_;
  bool shut_down_ = false;
};

}  // namespace ringcast::router
