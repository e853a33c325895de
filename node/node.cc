// node.cc — wiring a node together, and its orderly start and stop (see node.h).
#include "node/node.h"

#include <fstream>
#include <sstream>
#include <thread>

#include <google/protobuf/text_format.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ringcast/v1/config.pb.h"

namespace ringcast::node {

namespace asio = boost::asio;

namespace {

// "host:port" or "[v6]:port" with a literal address ("localhost" = 127.0.0.1).
absl::StatusOr<asio::ip::tcp::endpoint> ParseEndpoint(const std::string& text) {
  const size_t colon = text.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(text.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not host:port"));
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("'", host, "' is not an IP address"));
  return asio::ip::tcp::endpoint(address, static_cast<uint16_t>(port));
}

std::string FormatEndpoint(const asio::ip::tcp::endpoint& endpoint) {
  const std::string host = endpoint.address().to_string();
  return endpoint.address().is_v6() ? absl::StrCat("[", host, "]:", endpoint.port())
                                    : absl::StrCat(host, ":", endpoint.port());
}

}  // namespace

absl::StatusOr<Ring> LoadRingFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ring file ", path));
  std::stringstream text;
  text << in.rdbuf();
  v1::RingFile file;
  if (!google::protobuf::TextFormat::ParseFromString(text.str(), &file)) {
    return absl::InvalidArgumentError(absl::StrCat("ring file ", path, " is not a RingFile"));
  }
  std::vector<Member> members;
  for (const v1::Member& m : file.members()) {
    members.push_back({m.id(), m.weight() == 0 ? 1 : m.weight(), m.http_address(),
                       m.grpc_address()});
  }
  return Ring::Build(std::move(members), file.partition_count() == 0
                                             ? Ring::kDefaultPartitionCount
                                             : file.partition_count());
}

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
  absl::StatusOr<asio::ip::tcp::endpoint> endpoint = ParseEndpoint(options_.http_listen);
  if (!endpoint.ok()) return endpoint.status();
  // The ring holder is filled below, once the addresses are known; workers read it only after
  // they start.
  ring_ = std::make_unique<RingHolder>(nullptr);
  for (size_t i = 0; i < worker_count; ++i) {
    workers_.push_back(std::make_unique<Worker>(
        i, NodeContext{options_, *topics_, *ring_, metrics_, connections_, streams_}));
    absl::StatusOr<asio::ip::tcp::endpoint> bound = workers_.back()->Listen(*endpoint);
    if (!bound.ok()) return bound.status();
    *endpoint = *bound;
  }
  http_address_ = FormatEndpoint(*endpoint);

  publisher_ = std::make_unique<PublisherService>(options_, *topics_, *ring_, metrics_);
  int grpc_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.grpc_listen, grpc::InsecureServerCredentials(), &grpc_port);
  publisher_server_ = std::make_unique<PublisherServer>(*publisher_);
  publisher_server_->Register(builder);
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr || grpc_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", options_.grpc_listen));
  }
  publisher_server_->Start();
  grpc_address_ = absl::StrCat(options_.grpc_listen.substr(0, options_.grpc_listen.rfind(':')),
                               ":", grpc_port);

  absl::StatusOr<Ring> ring =
      options_.ring_file.empty()
          ? Ring::Build({{options_.node_id, 1, http_address_, grpc_address_}})
          : LoadRingFile(options_.ring_file);
  if (!ring.ok()) return ring.status();
  if (ring->FindMember(options_.node_id) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("node_id '", options_.node_id, "' is not a member of the ring"));
  }
  if (absl::Status s = ring_->Publish(std::make_shared<const Ring>(*std::move(ring))); !s.ok()) {
    return s;
  }

  for (auto& worker : workers_) worker->Start();
  workers_.front()->RunEvery(absl::Seconds(1), [this] { topics_->Sweep(absl::Now()); });
  return absl::OkStatus();
}

void Node::Deliver(size_t worker, const std::shared_ptr<Topic>& topic, uint64_t offset,
                   const sse::Frame& frame) {
  workers_[worker]->Deliver(topic, offset, frame);
}

void Node::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (publisher_ != nullptr) publisher_->StartDraining();
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
}

}  // namespace ringcast::node
