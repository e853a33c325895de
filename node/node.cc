// node.cc — wiring a node together, and its orderly start and stop (see node.h).
#include "node/node.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <grpcpp/server_builder.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ring/ring_proto.h"
#include "sse/serving.h"

namespace ringcast::node {

namespace asio = boost::asio;

namespace {

// The ring followed from a ring source, kept under state_dir: a serialized v1::RingSnapshot.
constexpr const char* kSavedRingFile = "ring.binpb";

// Writes `ring` to `<dir>/ring.binpb` through a temporary file and a rename, so a crash leaves
// either the old or the new ring, never half of one.
absl::Status SaveRing(const std::string& dir, const Ring& ring) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  const std::filesystem::path path = std::filesystem::path(dir) / kSavedRingFile;
  const std::filesystem::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!RingToProto(ring).SerializeToOstream(&out) || !out.flush()) {
      return absl::InternalError(absl::StrCat("cannot write ", temporary.string()));
    }
  }
  std::filesystem::rename(temporary, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot rename to ", path.string()));
  return absl::OkStatus();
}

absl::StatusOr<Ring> LoadSavedRing(const std::string& dir) {
  const std::filesystem::path path = std::filesystem::path(dir) / kSavedRingFile;
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("no saved ring at ", path.string()));
  v1::RingSnapshot snapshot;
  if (!snapshot.ParseFromIstream(&in)) {
    return absl::DataLossError(absl::StrCat(path.string(), " is not a ring snapshot"));
  }
  return RingFromProto(snapshot);
}

}  // namespace

Node::Node(NodeOptions options) : options_(std::move(options)) {}

Node::~Node() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Node>> Node::Start(NodeOptions options) {
  if (absl::Status s = Validate(options); !s.ok()) return s;
  std::unique_ptr<Node> node(new Node(std::move(options)));
  if (absl::Status s = node->StartServing(); !s.ok()) return s;
  return node;
}

absl::Status Node::StartServing() {
  const size_t worker_count = options_.worker_threads > 0
                                  ? static_cast<size_t>(options_.worker_threads)
                                  : std::max(1u, std::thread::hardware_concurrency());
  topics_ = std::make_unique<TopicRegistry>(
      BufferLimits{options_.buffer_max_events, options_.buffer_max_bytes,
                   options_.buffer_max_age, options_.max_producers_per_topic},
      worker_count, this);

  // HTTP: every worker listens on the same port (SO_REUSEPORT); the first one picks it.
  absl::StatusOr<asio::ip::tcp::endpoint> endpoint = sse::ParseEndpoint(options_.http_listen);
  if (!endpoint.ok()) return endpoint.status();
  // A followed ring arrives before anything serves. A static ring is filled below, once the
  // addresses are known; workers read it only after they start, and publishes before then find
  // no ring.
  ring_ = std::make_unique<RingHolder>(nullptr);
  handoff_metrics_ = std::make_unique<HandoffMetrics>(metrics_.registry());
  incoming_ = std::make_unique<IncomingPartitions>(options_.node_id, options_.handoff_abandon_after,
                                                   *handoff_metrics_);
  // NOTE: the source moves nothing before the workers exist: it holds no topic until they serve.
  {
    absl::MutexLock lock(&apply_ring_mu_);
    handoff_source_ = std::make_unique<HandoffSource>(
        options_, *topics_, *ring_, *incoming_, *handoff_metrics_,
        [this](const std::shared_ptr<Topic>& topic) { EndTopicStreams(topic); });
  }
  if (!options_.ring_source.empty()) {
    if (absl::Status s = FollowRingSource(); !s.ok()) return s;
  }
  for (size_t i = 0; i < worker_count; ++i) {
    workers_.push_back(std::make_unique<Worker>(
        i, NodeContext{options_, *topics_, *ring_, metrics_, *incoming_, connections_, streams_}));
    absl::StatusOr<asio::ip::tcp::endpoint> bound = workers_.back()->Listen(*endpoint);
    if (!bound.ok()) return bound.status();
    *endpoint = *bound;
  }
  http_address_ = sse::FormatEndpoint(*endpoint);

  publisher_ = std::make_unique<PublisherService>(options_, *topics_, *ring_, *incoming_, metrics_,
                                                  *handoff_metrics_);
  handoff_target_ = std::make_unique<HandoffTarget>(
      options_, *topics_, *ring_, *incoming_, *handoff_metrics_,
      [this](const std::shared_ptr<Topic>& topic) { EndTopicStreams(topic); });
  int grpc_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.grpc_listen, grpc::InsecureServerCredentials(), &grpc_port);
  publisher_server_ = std::make_unique<PublisherServer>(*publisher_, options_,
                                                        *handoff_metrics_);
  publisher_server_->Register(builder);
  builder.RegisterService(handoff_target_.get());
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr || grpc_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", options_.grpc_listen));
  }
  publisher_server_->Start();
  grpc_address_ = absl::StrCat(options_.grpc_listen.substr(0, options_.grpc_listen.rfind(':')),
                               ":", grpc_port);

  if (options_.ring_source.empty()) {
    if (absl::Status s = LoadStaticRing(); !s.ok()) return s;
  }

  for (auto& worker : workers_) worker->Start();
  workers_.front()->RunEvery(absl::Seconds(1), [this] {
    topics_->Sweep(absl::Now());
    incoming_->Expire(absl::Now());
  });
  if (!options_.ring_source.empty()) {
    health_reporter_ = std::make_unique<HealthReporter>(
        options_.ring_source, [this] { return SampleHealth(); }, [this] { return TakeMoves(); });
  }
  return absl::OkStatus();
}

absl::Status Node::LoadStaticRing() {
  const Member self{.id = options_.node_id,
                    .http_address = http_address_,
                    .grpc_address = grpc_address_,
                    .public_url = options_.public_url};
  absl::StatusOr<Ring> ring =
      options_.ring_file.empty() ? Ring::Build({self}) : LoadRingFile(options_.ring_file);
  if (!ring.ok()) return ring.status();
  if (ring->FindMember(options_.node_id) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("node_id '", options_.node_id, "' is not a member of the ring"));
  }
  ApplyRing(std::make_shared<const Ring>(*std::move(ring)));
  return absl::OkStatus();
}

void Node::ApplyRing(std::shared_ptr<const Ring> ring) {
  absl::MutexLock lock(&apply_ring_mu_);
  const std::shared_ptr<const Ring> previous = ring_->Load();
  if (previous != nullptr && previous->version() >= ring->version()) return;
  // Partitions gained start waiting for their history before anyone can route to them here.
  incoming_->OnRing(previous.get(), *ring, absl::Now());
  ring_->Publish(ring).IgnoreError();  // newer, checked above
  if (handoff_source_ != nullptr) handoff_source_->OnRing(previous.get(), *ring);
}

std::vector<v1::MoveProgress> Node::TakeMoves() {
  absl::MutexLock lock(&apply_ring_mu_);
  if (handoff_source_ == nullptr) return {};
  return handoff_source_->TakeProgress();
}

void Node::EndTopicStreams(const std::shared_ptr<Topic>& topic) {
  for (auto& worker : workers_) worker->EndTopicStreams(topic);
}

absl::Status Node::FollowRingSource() {
  // NOTE: a node that is not (yet) a member is fine: it owns nothing and redirects every
  // subscriber and refuses every publish until the router adds it.
  watched_ring_ = std::make_unique<RingHolder>(nullptr);
  ring_watcher_ = std::make_unique<client::RingWatcher>(
      options_.ring_source, *watched_ring_, client::RingWatcherOptions{},
      [this](const std::shared_ptr<const Ring>& ring) {
        ApplyRing(ring);
        std::cerr << "ringcast-node: ring version " << ring->version() << " ("
                  << ring->members().size() << " members) from " << options_.ring_source
                  << (ring->FindMember(options_.node_id) == nullptr ? "; not a member" : "")
                  << "\n";
        if (options_.state_dir.empty()) return;
        if (absl::Status s = SaveRing(options_.state_dir, *ring); !s.ok()) {
          std::cerr << "ringcast-node: " << s << "\n";
        }
      });
  const absl::Time deadline = absl::Now() + options_.ring_wait;
  const absl::Status waited = ring_watcher_->WaitForRing(deadline);
  if (waited.ok()) {
    // The watcher's callback applies the ring right after the watcher stored it.
    while (ring_->Load() == nullptr && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
    if (ring_->Load() != nullptr) return absl::OkStatus();
  }
  if (!options_.state_dir.empty()) {
    absl::StatusOr<Ring> saved = LoadSavedRing(options_.state_dir);
    if (saved.ok()) {
      std::cerr << "ringcast-node: " << waited.message() << "; starting from the saved ring "
                << "version " << saved->version() << " and following " << options_.ring_source
                << "\n";
      // NOTE: does nothing if the watcher got a (newer) ring meanwhile.
      ApplyRing(std::make_shared<const Ring>(*std::move(saved)));
      return absl::OkStatus();
    }
  }
  return absl::UnavailableError(absl::StrCat("--ring_source=", options_.ring_source,
                                             ": no ring within --ring_wait_ms: ",
                                             std::string(waited.message())));
}

v1::NodeHealth Node::SampleHealth() const {
  v1::NodeHealth health;
  health.set_node_id(options_.node_id);
  health.set_connections(static_cast<uint64_t>(streams_.load(std::memory_order_relaxed)));
  health.set_topics(static_cast<uint64_t>(topics_->stats().topics.load(std::memory_order_relaxed)));
  health.set_ring_version(ring_->Load()->version());
  return health;
}

void Node::Deliver(size_t worker, const std::shared_ptr<Topic>& topic, uint64_t offset,
                   const sse::Frame& frame) {
  workers_[worker]->Deliver(topic, offset, frame);
}

void Node::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // Moves in flight stop first (a topic not yet activated elsewhere stays here).
  std::unique_ptr<HandoffSource> source;
  {
    absl::MutexLock lock(&apply_ring_mu_);
    source = std::move(handoff_source_);
  }
  source.reset();
  if (health_reporter_ != nullptr) health_reporter_->ReportDraining();
  if (publisher_ != nullptr) publisher_->StartDraining();
  if (handoff_target_ != nullptr) handoff_target_->StartDraining();
  for (auto& worker : workers_) worker->Stop();
  const absl::Time deadline = absl::Now() + options_.shutdown_grace;
  auto open_streams = [this] {
    int64_t total = 0;
    for (auto& worker : workers_) total += worker->stream_count();
    return total;
  };
  while (open_streams() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  if (grpc_server_ != nullptr) {
    grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  if (publisher_server_ != nullptr) publisher_server_->Stop();
  for (auto& worker : workers_) worker->Join();
  health_reporter_.reset();
  ring_watcher_.reset();
}

}  // namespace ringcast::node
