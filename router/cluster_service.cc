// cluster_service.cc — the Cluster control plane: the coordinator's rules, the WatchRing
// streams, the follower's relay and the gRPC edge (see cluster_service.h and cluster.proto).
#include "router/cluster_service.h"

#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <iostream>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/status.h"
#include "ring/ring_proto.h"
#include "ringcast/v1/errors.pb.h"

namespace ringcast::router {
namespace {

// How long a follower waits for the coordinator when the caller set no earlier deadline.
constexpr std::chrono::seconds kRelayTimeout(10);
// The retry hint of UNAVAILABLE answers.
constexpr absl::Duration kRetryDelay = absl::Seconds(1);

// An error carrying a ringcast.v1.RpcStatus with `details` (client/status.h), for the edge.
absl::Status ErrorWith(absl::StatusCode code, std::string message,
                       std::initializer_list<const google::protobuf::Message*> details = {}) {
  v1::RpcStatus rpc;
  rpc.set_code(static_cast<int>(code));
  rpc.set_message(std::move(message));
  for (const google::protobuf::Message* detail : details) rpc.add_details()->PackFrom(*detail);
  return client::FromRpcStatus(rpc);
}

v1::FieldViolation Violation(std::string field, std::string description) {
  v1::FieldViolation violation;
  violation.set_field(std::move(field));
  violation.set_description(std::move(description));
  return violation;
}

// INVALID_ARGUMENT with one FieldViolation per entry; the message lists them all.
absl::Status InvalidFields(const std::vector<v1::FieldViolation>& violations) {
  v1::RpcStatus rpc;
  rpc.set_code(static_cast<int>(absl::StatusCode::kInvalidArgument));
  std::vector<std::string> parts;
  for (const v1::FieldViolation& violation : violations) {
    parts.push_back(absl::StrCat(violation.field(), ": ", violation.description()));
    rpc.add_details()->PackFrom(violation);
  }
  rpc.set_message(absl::StrJoin(parts, "; "));
  return client::FromRpcStatus(rpc);
}

absl::Status Unavailable(std::string reason, std::string message) {
  v1::RetryInfo retry;
  retry.set_reason(std::move(reason));
  retry.mutable_retry_delay()->set_seconds(absl::ToInt64Seconds(kRetryDelay));
  return ErrorWith(absl::StatusCode::kUnavailable, std::move(message), {&retry});
}

// The edge: code, message, and the RpcStatus as `grpc-status-details-bin`.
grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  v1::RpcStatus rpc = client::RpcStatusOf(status).value_or(v1::RpcStatus());
  rpc.set_code(static_cast<int>(status.code()));
  rpc.set_message(std::string(status.message()));
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), rpc.message(),
                      rpc.SerializeAsString());
}

// `id` is a valid member id. NOTE: a member with nothing but the id set fails MemberFromProto
// only for its id, so the ring library's rule is the one applied here.
absl::Status CheckMemberId(const std::string& id) {
  v1::Member probe;
  probe.set_id(id);
  return MemberFromProto(probe).status();
}

// Every field of an AddNode member that breaks cluster.proto's rules.
std::vector<v1::FieldViolation> MemberViolations(const v1::Member& member) {
  std::vector<v1::FieldViolation> violations;
  if (absl::Status s = CheckMemberId(member.id()); !s.ok()) {
    violations.push_back(Violation("member.id", std::string(s.message())));
  }
  if (member.weight() < 0 || member.weight() > Ring::kMaxWeight) {
    violations.push_back(Violation("member.weight", "must be 0-65535 (0 means 1)"));
  }
  for (const auto& [field, address] :
       {std::pair{"member.http_address", member.http_address()},
        std::pair{"member.grpc_address", member.grpc_address()}}) {
    if (absl::Status s = ValidateHostPort(field, address); !s.ok()) {
      violations.push_back(Violation(field, std::string(s.message())));
    }
  }
  if (!member.http_address().empty() && member.http_address() == member.grpc_address()) {
    violations.push_back(Violation("member.grpc_address", "must differ from http_address"));
  }
  // With a valid id and weight, MemberFromProto can only object to the public_url.
  if (violations.empty()) {
    if (absl::Status s = MemberFromProto(member).status(); !s.ok()) {
      violations.push_back(Violation("member.public_url", std::string(s.message())));
    }
  }
  return violations;
}

// ALREADY_EXISTS when a member of `ring` has `m`'s id, one of its addresses or its public URL.
absl::Status CheckNewMemberUnique(const Ring& ring, const Member& m) {
  for (const Member& existing : ring.members()) {
    if (existing.id == m.id) {
      return absl::AlreadyExistsError(absl::StrCat("a member already has id '", m.id, "'"));
    }
    for (const std::string& address : {m.http_address, m.grpc_address}) {
      if (address == existing.http_address || address == existing.grpc_address) {
        return absl::AlreadyExistsError(
            absl::StrCat("member '", existing.id, "' already uses address '", address, "'"));
      }
    }
    if (PublicUrlOf(existing) == PublicUrlOf(m)) {
      return absl::AlreadyExistsError(absl::StrCat("member '", existing.id,
                                                   "' already has public_url '",
                                                   PublicUrlOf(m), "'"));
    }
  }
  return absl::OkStatus();
}

v1::RingDiff DiffToProto(uint64_t from_version, uint64_t to_version,
                         const std::vector<PartitionMove>& moves) {
  v1::RingDiff diff;
  diff.set_from_version(from_version);
  diff.set_to_version(to_version);
  for (const PartitionMove& move : moves) {
    v1::PartitionMove* proto = diff.add_moves();
    proto->set_partition(move.partition);
    proto->set_from_node(move.from);
    proto->set_to_node(move.to);
  }
  return diff;
}

void SetTimestamp(absl::Time time, google::protobuf::Timestamp& out) {
  const int64_t nanos = absl::ToUnixNanos(time);
  out.set_seconds(nanos / 1'000'000'000);
  out.set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
}

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// RingCoordinator

RingCoordinator::RingCoordinator(const RouterOptions& options, RingHolder& ring, RingStore* store,
                                 std::function<void(std::shared_ptr<const Ring>)> on_commit)
    : options_(options),
      ring_(ring),
      store_(store),
      on_commit_(std::move(on_commit)),
      moves_(options.node_down_after, store) {
  if (absl::Status s = moves_.Restore(ring.Load()->version(), absl::Now()); !s.ok()) {
    std::cerr << "ringcast-router: " << s.message() << "; listing no rebalance moves\n";
  }
}

absl::Status RingCoordinator::CheckVersion(const Ring& current, uint64_t expected_version) {
  if (expected_version == 0 || expected_version == current.version()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("expected ring version ", expected_version, " but the current version is ",
                   current.version(), "; read the ring again and decide again"));
}

template <typename Response>
absl::StatusOr<Response> RingCoordinator::Commit(const Ring& current, Ring next) {
  absl::StatusOr<std::vector<PartitionMove>> moves = Diff(current, next);
  if (!moves.ok()) return moves.status();
  if (store_ != nullptr) {
    if (absl::Status s = store_->Save(next); !s.ok()) {
      return absl::InternalError(absl::StrCat("ring version ", next.version(),
                                              " not committed: cannot persist it: ", s.message()));
    }
  }
  auto committed = std::make_shared<const Ring>(std::move(next));
  if (absl::Status s = ring_.Publish(committed); !s.ok()) return s;
  on_commit_(committed);
  moves_.OnCommit(committed->version(), *moves, absl::Now());
  Response response;
  *response.mutable_ring() = RingToProto(*committed);
  *response.mutable_diff() = DiffToProto(current.version(), committed->version(), *moves);
  return response;
}

absl::StatusOr<v1::AddNodeResponse> RingCoordinator::AddNode(const v1::AddNodeRequest& request) {
  if (std::vector<v1::FieldViolation> violations = MemberViolations(request.member());
      !violations.empty()) {
    return InvalidFields(violations);
  }
  absl::StatusOr<Member> member = MemberFromProto(request.member());
  if (!member.ok()) return member.status();
  absl::MutexLock lock(&change_mu_);
  const std::shared_ptr<const Ring> current = ring_.Load();
  if (absl::Status s = CheckNewMemberUnique(*current, *member); !s.ok()) return s;
  if (absl::Status s = CheckVersion(*current, request.expected_version()); !s.ok()) return s;
  if (current->members().size() >= current->partition_count()) {
    v1::LimitExceeded limit;
    limit.set_limit("partition_count");
    limit.set_limit_value(current->partition_count());
    limit.set_actual(current->members().size() + 1);
    return ErrorWith(absl::StatusCode::kResourceExhausted,
                     absl::StrCat("the ring already has partition_count (",
                                  current->partition_count(), ") members"),
                     {&limit});
  }
  absl::StatusOr<Ring> next = current->WithNodeAdded(*std::move(member));
  if (!next.ok()) return next.status();
  return Commit<v1::AddNodeResponse>(*current, *std::move(next));
}

absl::StatusOr<v1::RemoveNodeResponse> RingCoordinator::RemoveNode(
    const v1::RemoveNodeRequest& request) {
  if (absl::Status s = CheckMemberId(request.node_id()); !s.ok()) {
    return InvalidFields({Violation("node_id", std::string(s.message()))});
  }
  absl::MutexLock lock(&change_mu_);
  const std::shared_ptr<const Ring> current = ring_.Load();
  if (current->FindMember(request.node_id()) == nullptr) {
    return absl::NotFoundError(absl::StrCat("no member '", request.node_id(),
                                            "' in ring version ", current->version()));
  }
  if (absl::Status s = CheckVersion(*current, request.expected_version()); !s.ok()) return s;
  absl::StatusOr<Ring> next = current->WithNodeRemoved(request.node_id());
  if (!next.ok()) return next.status();
  return Commit<v1::RemoveNodeResponse>(*current, *std::move(next));
}

absl::StatusOr<v1::SetWeightResponse> RingCoordinator::SetWeight(
    const v1::SetWeightRequest& request) {
  std::vector<v1::FieldViolation> violations;
  if (absl::Status s = CheckMemberId(request.node_id()); !s.ok()) {
    violations.push_back(Violation("node_id", std::string(s.message())));
  }
  if (request.weight() < 1 || request.weight() > Ring::kMaxWeight) {
    violations.push_back(Violation("weight", "must be 1-65535 (use RemoveNode to drain)"));
  }
  if (!violations.empty()) return InvalidFields(violations);
  absl::MutexLock lock(&change_mu_);
  const std::shared_ptr<const Ring> current = ring_.Load();
  const Member* member = current->FindMember(request.node_id());
  if (member == nullptr) {
    return absl::NotFoundError(absl::StrCat("no member '", request.node_id(),
                                            "' in ring version ", current->version()));
  }
  if (absl::Status s = CheckVersion(*current, request.expected_version()); !s.ok()) return s;
  if (member->weight == request.weight()) {
    v1::SetWeightResponse unchanged;
    *unchanged.mutable_ring() = RingToProto(*current);
    *unchanged.mutable_diff() = DiffToProto(current->version(), current->version(), {});
    return unchanged;
  }
  absl::StatusOr<Ring> next = current->WithWeight(request.node_id(), request.weight());
  if (!next.ok()) return next.status();
  return Commit<v1::SetWeightResponse>(*current, *std::move(next));
}

v1::NodeHealth RingCoordinator::HealthOf(const std::string& id, bool member,
                                         absl::Time now) const {
  v1::NodeHealth health;
  if (auto it = health_.find(id); it != health_.end()) {
    health = it->second.report;
    SetTimestamp(it->second.received, *health.mutable_last_seen());
    if (now - it->second.received >= options_.node_down_after) {
      health.set_state(v1::NODE_STATE_DOWN);
    }
  } else {
    health.set_state(v1::NODE_STATE_UNKNOWN);
  }
  health.set_node_id(id);
  health.set_member(member);
  return health;
}

absl::StatusOr<v1::GetHealthResponse> RingCoordinator::GetHealth(
    const v1::GetHealthRequest& request, absl::Time now) const {
  const std::shared_ptr<const Ring> ring = ring_.Load();
  std::map<std::string, v1::NodeHealth> nodes;  // sorted by id
  {
    absl::ReaderMutexLock lock(&health_mu_);
    for (const Member& m : ring->members()) nodes[m.id] = HealthOf(m.id, true, now);
    for (const auto& [id, record] : health_) {
      if (!nodes.contains(id) && now - record.received < options_.node_down_after) {
        nodes[id] = HealthOf(id, false, now);
      }
    }
  }
  v1::GetHealthResponse response;
  response.set_ring_version(ring->version());
  if (request.node_id().empty()) {
    for (auto& [id, health] : nodes) *response.add_nodes() = std::move(health);
    return response;
  }
  auto it = nodes.find(request.node_id());
  if (it == nodes.end()) {
    return absl::NotFoundError(absl::StrCat("node '", request.node_id(),
                                            "' is neither a member nor reported recently"));
  }
  *response.add_nodes() = std::move(it->second);
  return response;
}

absl::StatusOr<v1::ReportHealthResponse> RingCoordinator::ReportHealth(
    const v1::ReportHealthRequest& request, absl::Time now) {
  std::vector<v1::FieldViolation> violations;
  if (absl::Status s = CheckMemberId(request.health().node_id()); !s.ok()) {
    violations.push_back(Violation("health.node_id", std::string(s.message())));
  }
  if (request.health().state() != v1::NODE_STATE_SERVING &&
      request.health().state() != v1::NODE_STATE_DRAINING) {
    violations.push_back(Violation("health.state", "nodes report SERVING or DRAINING"));
  }
  if (!violations.empty()) return InvalidFields(violations);
  const std::shared_ptr<const Ring> ring = ring_.Load();
  {
    absl::MutexLock lock(&health_mu_);
    HealthRecord& record = health_[request.health().node_id()];
    record.report = request.health();
    record.report.clear_last_seen();
    record.report.clear_member();
    record.received = now;
    // Forget non-members that stopped reporting, so stray reporters cannot grow the table.
    absl::erase_if(health_, [&](const auto& entry) {
      return ring->FindMember(entry.first) == nullptr &&
             now - entry.second.received >= options_.node_down_after;
    });
  }
  moves_.OnReport(request.health().node_id(), request.moves(), now);
  v1::ReportHealthResponse response;
  const int64_t interval_ms = absl::ToInt64Milliseconds(options_.health_report_interval);
  response.mutable_report_interval()->set_seconds(interval_ms / 1000);
  response.mutable_report_interval()->set_nanos(static_cast<int32_t>(interval_ms % 1000) *
                                                1'000'000);
  response.set_ring_version(ring->version());
  return response;
}

v1::GetRebalanceStatusResponse RingCoordinator::GetRebalanceStatus(
    const v1::GetRebalanceStatusRequest& request, absl::Time now) {
  return moves_.Status(ring_.Load()->version(), request.node_id(), now);
}

// ---------------------------------------------------------------------------------------------
// WatchRing streams

class RingWatchReactor;

// The open WatchRing streams and the newest snapshot they should all end up with.
// Lock order: WatchHub::mu_ before RingWatchReactor::mu_. Every call into a reactor from outside
// gRPC's reactions happens under WatchHub::mu_, and a reactor leaves the hub (Remove, under
// mu_) before it deletes itself, so a reactor is never called after its OnDone.
class WatchHub {
 public:
  WatchHub(prometheus::Gauge& watchers, std::function<void(grpc::StatusCode)> on_end)
      : watchers_gauge_(watchers), on_end_(std::move(on_end)) {}

  // Makes `snapshot` the newest if it is newer, and offers it to every stream.
  void Publish(std::shared_ptr<const v1::RingSnapshot> snapshot) ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<const v1::RingSnapshot> Latest() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return latest_;
  }
  // A new stream: it gets the newest snapshot (once there is one), then every newer one.
  grpc::ServerWriteReactor<v1::RingSnapshot>* Watch() ABSL_LOCKS_EXCLUDED(mu_);
  // Ends every stream, and every later one at once, with UNAVAILABLE `draining`.
  void Drain() ABSL_LOCKS_EXCLUDED(mu_);
  // Called by a stream's OnDone with the status it finished with.
  void Remove(RingWatchReactor* watcher, grpc::StatusCode code) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  prometheus::Gauge& watchers_gauge_;
  const std::function<void(grpc::StatusCode)> on_end_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const v1::RingSnapshot> latest_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<RingWatchReactor*> watchers_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

// One WatchRing stream: at most one write in flight; when it completes, the newest snapshot
// offered meanwhile (if newer than the last sent) goes next, the ones in between are skipped.
class RingWatchReactor final : public grpc::ServerWriteReactor<v1::RingSnapshot> {
 public:
  explicit RingWatchReactor(WatchHub& hub) : hub_(hub) {}

  void Offer(std::shared_ptr<const v1::RingSnapshot> snapshot) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (ended_ || snapshot->version() <= NewestVersion()) return;
    next_ = std::move(snapshot);
    if (in_flight_ == nullptr) WriteNext();
  }

  // Finishes the stream with `status` once the write in flight (if any) is done.
  void End(grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    EndLocked(std::move(status));
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    sent_version_ = in_flight_->version();
    in_flight_.reset();
    if (!ok) EndLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the watcher went away"));
    if (pending_finish_.has_value()) {
      FinishNow(*std::move(pending_finish_));
    } else if (next_ != nullptr) {
      WriteNext();
    }
  }

  void OnCancel() override { End(grpc::Status::CANCELLED); }

  void OnDone() override {
    grpc::StatusCode code;
    {
      absl::MutexLock lock(&mu_);
      code = final_code_;
    }
    hub_.Remove(this, code);
    delete this;
  }

 private:
  uint64_t NewestVersion() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (next_ != nullptr) return next_->version();
    if (in_flight_ != nullptr) return in_flight_->version();
    return sent_version_;
  }

  void WriteNext() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    in_flight_ = std::move(next_);
    StartWrite(in_flight_.get());
  }

  void EndLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (ended_) return;
    ended_ = true;
    next_.reset();
    if (in_flight_ == nullptr) {
      FinishNow(std::move(status));
    } else {
      pending_finish_ = std::move(status);
    }
  }

  void FinishNow(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    pending_finish_.reset();
    final_code_ = status.error_code();
    Finish(std::move(status));
  }

  WatchHub& hub_;

  absl::Mutex mu_;
  // The snapshot being written (kept alive until OnWriteDone), and the newest one waiting.
  std::shared_ptr<const v1::RingSnapshot> in_flight_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const v1::RingSnapshot> next_ ABSL_GUARDED_BY(mu_);
  uint64_t sent_version_ ABSL_GUARDED_BY(mu_) = 0;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;  // End ran: nothing more is written
  std::optional<grpc::Status> pending_finish_ ABSL_GUARDED_BY(mu_);
  grpc::StatusCode final_code_ ABSL_GUARDED_BY(mu_) = grpc::StatusCode::OK;
};

void WatchHub::Publish(std::shared_ptr<const v1::RingSnapshot> snapshot) {
  absl::MutexLock lock(&mu_);
  if (latest_ != nullptr && snapshot->version() <= latest_->version()) return;
  latest_ = std::move(snapshot);
  for (RingWatchReactor* watcher : watchers_) watcher->Offer(latest_);
}

grpc::ServerWriteReactor<v1::RingSnapshot>* WatchHub::Watch() {
  auto* watcher = new RingWatchReactor(*this);
  absl::MutexLock lock(&mu_);
  if (draining_) {
    watcher->End(ToGrpcStatus(Unavailable("draining", "the router is shutting down")));
    return watcher;
  }
  watchers_.insert(watcher);
  watchers_gauge_.Set(static_cast<double>(watchers_.size()));
  if (latest_ != nullptr) watcher->Offer(latest_);
  return watcher;
}

void WatchHub::Drain() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  for (RingWatchReactor* watcher : watchers_) {
    watcher->End(ToGrpcStatus(Unavailable("draining", "the router is shutting down")));
  }
}

void WatchHub::Remove(RingWatchReactor* watcher, grpc::StatusCode code) {
  {
    absl::MutexLock lock(&mu_);
    watchers_.erase(watcher);
    watchers_gauge_.Set(static_cast<double>(watchers_.size()));
  }
  on_end_(code);
}

// ---------------------------------------------------------------------------------------------
// ClusterService

ClusterService::ClusterService(const RouterOptions& options, RingHolder& ring, RingStore* store,
                               prometheus::Registry& registry)
    : options_(options),
      ring_(ring),
      requests_(prometheus::BuildCounter()
                    .Name("ringcast_cluster_requests_total")
                    .Help("Cluster RPCs answered, by method and gRPC status code")
                    .Register(registry)),
      ring_version_(prometheus::BuildGauge()
                        .Name("ringcast_router_ring_version")
                        .Help("Version of the ring this router holds (0 = none yet)")
                        .Register(registry)
                        .Add({})) {
  prometheus::Gauge& watchers = prometheus::BuildGauge()
                                    .Name("ringcast_cluster_watchers")
                                    .Help("Open Cluster.WatchRing streams")
                                    .Register(registry)
                                    .Add({});
  hub_ = std::make_unique<WatchHub>(watchers,
                                    [this](grpc::StatusCode code) { Count("WatchRing", code); });
  if (options.ring_source.empty()) {
    coordinator_ = std::make_unique<RingCoordinator>(
        options, ring, store, [this](std::shared_ptr<const Ring> r) { RingChanged(r); });
  } else {
    coordinator_stub_ = v1::Cluster::NewStub(
        grpc::CreateChannel(options.ring_source, grpc::InsecureChannelCredentials()));
  }
  if (std::shared_ptr<const Ring> current = ring.Load(); current != nullptr) RingChanged(current);
}

ClusterService::~ClusterService() = default;

std::unique_ptr<ClusterService> ClusterService::Coordinator(const RouterOptions& options,
                                                            RingHolder& ring, RingStore* store,
                                                            prometheus::Registry& registry) {
  return std::unique_ptr<ClusterService>(new ClusterService(options, ring, store, registry));
}

std::unique_ptr<ClusterService> ClusterService::Follower(const RouterOptions& options,
                                                         RingHolder& ring,
                                                         prometheus::Registry& registry) {
  return std::unique_ptr<ClusterService>(new ClusterService(options, ring, nullptr, registry));
}

void ClusterService::RingChanged(std::shared_ptr<const Ring> ring) {
  hub_->Publish(std::make_shared<const v1::RingSnapshot>(RingToProto(*ring)));
  ring_version_.Set(static_cast<double>(hub_->Latest()->version()));
}

void ClusterService::StartDraining() {
  draining_.store(true, std::memory_order_release);
  hub_->Drain();
}

absl::Status ClusterService::Refusal() const {
  if (!draining_.load(std::memory_order_acquire)) return absl::OkStatus();
  return Unavailable("draining", "the router is shutting down");
}

void ClusterService::Count(const char* method, grpc::StatusCode code) {
  requests_.Add({{"method", method}, {"code", CodeName(code)}}).Increment();
}

void ClusterService::Adopt(const v1::RingSnapshot& snapshot) {
  absl::StatusOr<Ring> ring = RingFromProto(snapshot);
  if (!ring.ok()) return;  // the watcher will bring a valid one
  auto adopted = std::make_shared<const Ring>(*std::move(ring));
  if (ring_.Publish(adopted).ok()) RingChanged(adopted);
}

template <typename Response>
void ClusterService::AdoptRingOf(const Response& response) {
  if constexpr (requires { response.ring(); }) Adopt(response.ring());
}

template <typename Response, typename Compute>
grpc::ServerUnaryReactor* ClusterService::Local(grpc::CallbackServerContext* context,
                                                const char* method, Response* response,
                                                Compute compute) {
  const absl::Status refused = Refusal();
  absl::StatusOr<Response> result = refused.ok() ? compute() : absl::StatusOr<Response>(refused);
  if (result.ok()) *response = *std::move(result);
  const grpc::Status status = ToGrpcStatus(result.status());
  Count(method, status.error_code());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* ClusterService::Relay(
    grpc::CallbackServerContext* context, const char* method, const Request* request,
    Response* response, std::type_identity_t<AsyncCall<Request, Response>> call) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status refused = Refusal(); !refused.ok()) {
    const grpc::Status status = ToGrpcStatus(refused);
    Count(method, status.error_code());
    reactor->Finish(status);
    return reactor;
  }
  auto relay_context = std::make_shared<grpc::ClientContext>();
  relay_context->set_deadline(
      std::min(context->deadline(), std::chrono::system_clock::now() + kRelayTimeout));
  (coordinator_stub_->async()->*call)(
      relay_context.get(), request, response,
      [this, reactor, relay_context, method, response](grpc::Status status) {
        // gRPC's own UNAVAILABLE (no details): the coordinator could not be reached.
        if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
            status.error_details().empty()) {
          status = ToGrpcStatus(Unavailable(
              "no_coordinator", absl::StrCat("the coordinator ", options_.ring_source,
                                             " is unreachable: ", status.error_message())));
        }
        if (status.ok()) AdoptRingOf(*response);
        Count(method, status.error_code());
        reactor->Finish(status);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ClusterService::GetRing(grpc::CallbackServerContext* context,
                                                  const v1::GetRingRequest* /*request*/,
                                                  v1::RingSnapshot* response) {
  return Local(context, "GetRing", response, [this]() -> absl::StatusOr<v1::RingSnapshot> {
    std::shared_ptr<const v1::RingSnapshot> latest = hub_->Latest();
    if (latest == nullptr) {
      return Unavailable("no_ring", absl::StrCat("no ring yet from ", options_.ring_source));
    }
    return *latest;
  });
}

grpc::ServerWriteReactor<v1::RingSnapshot>* ClusterService::WatchRing(
    grpc::CallbackServerContext* /*context*/, const v1::WatchRingRequest* /*request*/) {
  return hub_->Watch();
}

grpc::ServerUnaryReactor* ClusterService::AddNode(grpc::CallbackServerContext* context,
                                                  const v1::AddNodeRequest* request,
                                                  v1::AddNodeResponse* response) {
  if (coordinator_ == nullptr) {
    return Relay(context, "AddNode", request, response, &v1::Cluster::Stub::async::AddNode);
  }
  return Local(context, "AddNode", response, [&] { return coordinator_->AddNode(*request); });
}

grpc::ServerUnaryReactor* ClusterService::RemoveNode(grpc::CallbackServerContext* context,
                                                     const v1::RemoveNodeRequest* request,
                                                     v1::RemoveNodeResponse* response) {
  if (coordinator_ == nullptr) {
    return Relay(context, "RemoveNode", request, response,
                 &v1::Cluster::Stub::async::RemoveNode);
  }
  return Local(context, "RemoveNode", response,
               [&] { return coordinator_->RemoveNode(*request); });
}

grpc::ServerUnaryReactor* ClusterService::SetWeight(grpc::CallbackServerContext* context,
                                                    const v1::SetWeightRequest* request,
                                                    v1::SetWeightResponse* response) {
  if (coordinator_ == nullptr) {
    return Relay(context, "SetWeight", request, response, &v1::Cluster::Stub::async::SetWeight);
  }
  return Local(context, "SetWeight", response, [&] { return coordinator_->SetWeight(*request); });
}

grpc::ServerUnaryReactor* ClusterService::GetHealth(grpc::CallbackServerContext* context,
                                                    const v1::GetHealthRequest* request,
                                                    v1::GetHealthResponse* response) {
  if (coordinator_ == nullptr) {
    return Relay(context, "GetHealth", request, response, &v1::Cluster::Stub::async::GetHealth);
  }
  return Local(context, "GetHealth", response,
               [&] { return coordinator_->GetHealth(*request, absl::Now()); });
}

grpc::ServerUnaryReactor* ClusterService::ReportHealth(grpc::CallbackServerContext* context,
                                                       const v1::ReportHealthRequest* request,
                                                       v1::ReportHealthResponse* response) {
  if (coordinator_ == nullptr) {
    return Relay(context, "ReportHealth", request, response,
                 &v1::Cluster::Stub::async::ReportHealth);
  }
  return Local(context, "ReportHealth", response,
               [&] { return coordinator_->ReportHealth(*request, absl::Now()); });
}

grpc::ServerUnaryReactor* ClusterService::GetRebalanceStatus(
    grpc::CallbackServerContext* context, const v1::GetRebalanceStatusRequest* request,
    v1::GetRebalanceStatusResponse* response) {
  if (coordinator_ == nullptr) {
    return Relay(context, "GetRebalanceStatus", request, response,
                 &v1::Cluster::Stub::async::GetRebalanceStatus);
  }
  return Local(context, "GetRebalanceStatus", response,
               [&]() -> absl::StatusOr<v1::GetRebalanceStatusResponse> {
                 return coordinator_->GetRebalanceStatus(*request, absl::Now());
               });
}

}  // namespace ringcast::router
