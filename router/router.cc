// router.cc — wiring a router together, and its orderly start and stop (see router.h).
#include "router/router.h"

#include <chrono>
#include <iostream>

#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "ring/ring_proto.h"

namespace ringcast::router {

Router::Router(RouterOptions options)
    : options_(std::move(options)), registry_(std::make_shared<prometheus::Registry>()) {}

Router::~Router() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Router>> Router::Start(RouterOptions options) {
  if (absl::Status s = Validate(options); !s.ok()) return s;
  std::unique_ptr<Router> router(new Router(std::move(options)));
  if (absl::Status s = router->StartServing(); !s.ok()) return s;
  return router;
}

absl::StatusOr<Ring> Router::InitialRing() {
  if (!options_.state_dir.empty()) {
    absl::StatusOr<std::unique_ptr<RingStore>> store = RingStore::Open(options_.state_dir);
    if (!store.ok()) return store.status();
    store_ = *std::move(store);
    absl::StatusOr<std::optional<Ring>> persisted = store_->Load();
    if (!persisted.ok()) return persisted.status();
    if (persisted->has_value()) {
      if (!options_.ring_file.empty() || !options_.seed_nodes.empty()) {
        std::cerr << "ringcast-router: using the persisted ring version " << (*persisted)->version()
                  << " from " << store_->path() << "; --ring_file/--seed_nodes only seed a new "
                  << "cluster\n";
      }
      return **std::move(persisted);
    }
  }
  if (options_.ring_file.empty() && options_.seed_nodes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state_dir ", options_.state_dir,
        " holds no ring yet: seed a new cluster with --ring_file or --seed_nodes"));
  }
  absl::StatusOr<Ring> seed = options_.ring_file.empty()
                                  ? Ring::Build(options_.seed_nodes, options_.partition_count)
                                  : LoadRingFile(options_.ring_file);
  if (!seed.ok()) return seed.status();
  if (store_ != nullptr) {
    if (absl::Status s = store_->Save(*seed); !s.ok()) return s;
  }
  return seed;
}

absl::Status Router::StartGrpc() {
  int grpc_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.grpc_listen, grpc::InsecureServerCredentials(), &grpc_port);
  builder.RegisterService(cluster_.get());
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr || grpc_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", options_.grpc_listen));
  }
  grpc_address_ = absl::StrCat(options_.grpc_listen.substr(0, options_.grpc_listen.rfind(':')),
                               ":", grpc_port);
  return absl::OkStatus();
}

absl::Status Router::StartServing() {
  if (options_.ring_source.empty()) {
    absl::StatusOr<Ring> ring = InitialRing();
    if (!ring.ok()) return ring.status();
    if (absl::Status s = ring_.Publish(std::make_shared<const Ring>(*std::move(ring))); !s.ok()) {
      return s;
    }
    cluster_ = ClusterService::Coordinator(options_, ring_, store_.get(), *registry_);
  } else {
    cluster_ = ClusterService::Follower(options_, ring_, *registry_);
  }
  if (absl::Status s = StartGrpc(); !s.ok()) return s;
  if (!options_.ring_source.empty()) {
    watcher_ = std::make_unique<client::RingWatcher>(
        options_.ring_source, ring_, client::RingWatcherOptions{},
        [this](std::shared_ptr<const Ring> ring) { cluster_->RingChanged(std::move(ring)); });
  }
  absl::StatusOr<std::unique_ptr<HttpFrontend>> http =
      HttpFrontend::Start(options_, ring_, registry_);
  if (!http.ok()) return http.status();
  http_ = *std::move(http);
  return absl::OkStatus();
}

void Router::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (cluster_ != nullptr) cluster_->StartDraining();
  if (http_ != nullptr) http_->Shutdown();
  watcher_.reset();  // before the service it feeds
  if (grpc_server_ != nullptr) {
    grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
}

}  // namespace ringcast::router
