// ring.cc — `ringcast ring show|add|remove` over the Cluster service: one unary call each (three for
// show), the reply rendered as a table, JSON, or a summary of the partitions a change moved.
#include "cli/ring.h"

#include <algorithm>
#include <map>
#include <memory>
#include <ostream>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/cli.h"
#include "cli/publish.h"
#include "client/status.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "ringcast/v1/cluster.grpc.pb.h"

namespace ringcast::cli {
namespace {

std::unique_ptr<v1::Cluster::Stub> ConnectCluster(const RouterCallOptions& options) {
  return v1::Cluster::NewStub(
      grpc::CreateChannel(options.router, grpc::InsecureChannelCredentials()));
}

void SetDeadline(const RouterCallOptions& options, grpc::ClientContext& context) {
  if (options.timeout > absl::ZeroDuration()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  }
}

// Rows of cells as columns padded to their widest cell, two spaces apart, no trailing blanks.
std::string FormatColumns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

// Partitions owned by each member (index into ring.members()); out-of-range owners are skipped.
std::vector<uint32_t> PartitionsPerMember(const v1::RingSnapshot& ring) {
  std::vector<uint32_t> counts(ring.members_size(), 0);
  for (uint32_t owner : ring.owners()) {
    if (owner < counts.size()) ++counts[owner];
  }
  return counts;
}

std::string Percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return "-";
  return absl::StrFormat("%.2f%%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

std::string StateName(v1::NodeState state) {
  switch (state) {
    case v1::NODE_STATE_SERVING:
      return "SERVING";
    case v1::NODE_STATE_DRAINING:
      return "DRAINING";
    case v1::NODE_STATE_DOWN:
      return "DOWN";
    default:
      return "UNKNOWN";
  }
}

std::string LastSeen(const v1::NodeHealth& health, absl::Time now) {
  if (!health.has_last_seen()) return "never";
  const absl::Time seen = absl::FromUnixSeconds(health.last_seen().seconds()) +
                          absl::Nanoseconds(health.last_seen().nanos());
  return absl::StrFormat("%.1fs ago", std::max(0.0, absl::ToDoubleSeconds(now - seen)));
}

// The two health cells of a node: state and last seen; "-" when there is no health to show.
std::vector<std::string> HealthCells(const v1::NodeHealth* health, absl::Time now) {
  if (health == nullptr) return {"-", "-"};
  return {StateName(health->state()), LastSeen(*health, now)};
}

// "DONE" for MOVE_STATE_DONE.
std::string MoveStateName(v1::MoveState state) {
  const std::string& name = v1::MoveState_Name(state);
  return absl::StartsWith(name, "MOVE_STATE_") ? name.substr(11) : name;
}

// The moves of one (from, to) pair: partitions per state, and their counters summed.
struct PairMoves {
  std::map<v1::MoveState, uint32_t> partitions;
  uint64_t topics_total = 0;
  uint64_t topics_moved = 0;
  uint64_t bytes = 0;
};

std::vector<std::string> PairCells(const std::pair<std::string, std::string>& pair,
                                   const PairMoves& moves) {
  std::vector<std::string> by_state;
  for (const auto& [state, count] : moves.partitions) {
    by_state.push_back(absl::StrCat(count, " ", MoveStateName(state)));
  }
  return {absl::StrCat("  ", pair.first, " -> ", pair.second),
          absl::StrCat("partitions: ", absl::StrJoin(by_state, ", ")),
          absl::StrCat("topics ", moves.topics_moved, "/", moves.topics_total),
          absl::StrCat("bytes ", moves.bytes)};
}

std::string JsonOf(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "null";
  return json;
}

// One optional call of `ring show` (`call` fills its reply); on failure says which part is
// missing and why on `err`. True when the call succeeded.
template <typename Call>
bool CallExtra(const RouterCallOptions& options, std::string_view what, std::ostream& err,
               Call call) {
  grpc::ClientContext context;
  SetDeadline(options, context);
  const grpc::Status status = call(context);
  if (!status.ok()) {
    err << "ringcast ring show: no " << what << ": "
        << FormatStatus(client::FromGrpcStatus(status)) << "\n";
  }
  return status.ok();
}

int Fail(std::string_view command, const absl::Status& status, std::ostream& err) {
  err << "ringcast " << command << ": " << FormatStatus(status) << "\n";
  return kExitFailure;
}

int UsageError(std::string_view command, const absl::Status& status, std::ostream& err) {
  err << "ringcast " << command << ": " << status.message() << " (see `ringcast " << command
      << " --help`)\n";
  return kExitUsage;
}

}  // namespace

absl::Status ValidateRingAdd(const RingAddOptions& options) {
  if (options.member.id.empty()) return absl::InvalidArgumentError("--id is required");
  if (options.member.http_address.empty()) {
    return absl::InvalidArgumentError("--http (the node's HTTP host:port) is required");
  }
  if (options.member.grpc_address.empty()) {
    return absl::InvalidArgumentError("--grpc (the node's gRPC host:port) is required");
  }
  return absl::OkStatus();
}

absl::Status ValidateRingRemove(const RingRemoveOptions& options) {
  if (options.id.empty()) return absl::InvalidArgumentError("--id is required");
  return absl::OkStatus();
}

std::string FormatRebalance(const v1::GetRebalanceStatusResponse& rebalance) {
  if (rebalance.moves().empty()) return "rebalance: settled\n";
  std::map<std::pair<std::string, std::string>, PairMoves> by_pair;
  uint64_t first_version = rebalance.moves(0).ring_version();
  uint64_t last_version = first_version;
  for (const v1::MoveProgress& move : rebalance.moves()) {
    PairMoves& pair = by_pair[{move.from_node(), move.to_node()}];
    ++pair.partitions[move.state()];
    // Counters are per partition (MoveProgress), so the pair's are their sum.
    pair.topics_total += move.topics_total();
    pair.topics_moved += move.topics_moved();
    pair.bytes += move.bytes_moved();
    first_version = std::min(first_version, move.ring_version());
    last_version = std::max(last_version, move.ring_version());
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [pair, moves] : by_pair) rows.push_back(PairCells(pair, moves));
  return absl::StrCat(
      "rebalance: ", rebalance.settled() ? "settled" : "in progress", " (",
      rebalance.moves_size(), " partition moves, ring version ", first_version,
      first_version == last_version ? "" : absl::StrCat("-", last_version), ")\n",
      FormatColumns(rows));
}

std::string FormatRingTable(const v1::RingSnapshot& ring, const v1::GetHealthResponse* health,
                            const v1::GetRebalanceStatusResponse* rebalance, absl::Time now) {
  std::map<std::string, const v1::NodeHealth*> health_by_id;
  if (health != nullptr) {
    for (const v1::NodeHealth& node : health->nodes()) health_by_id[node.node_id()] = &node;
  }
  const auto health_of = [&](const std::string& id) -> const v1::NodeHealth* {
    auto it = health_by_id.find(id);
    return it == health_by_id.end() ? nullptr : it->second;
  };

  std::vector<std::vector<std::string>> rows = {
      {"NODE", "HTTP", "GRPC", "WEIGHT", "PARTITIONS", "SHARE", "HEALTH", "LAST SEEN"}};
  const std::vector<uint32_t> partitions = PartitionsPerMember(ring);
  for (int i = 0; i < ring.members_size(); ++i) {
    const v1::Member& member = ring.members(i);
    std::vector<std::string> row = {member.id(),
                                    member.http_address(),
                                    member.grpc_address(),
                                    absl::StrCat(member.weight()),
                                    absl::StrCat(partitions[i]),
                                    Percent(partitions[i], ring.partition_count())};
    for (std::string& cell : HealthCells(health_of(member.id()), now)) {
      row.push_back(std::move(cell));
    }
    rows.push_back(std::move(row));
    health_by_id.erase(member.id());
  }
  for (const auto& [id, node] : health_by_id) {  // reporting, but not a member
    std::vector<std::string> row = {id, "(not a member)", "", "-", "-", "-"};
    for (std::string& cell : HealthCells(node, now)) row.push_back(std::move(cell));
    rows.push_back(std::move(row));
  }
  return absl::StrCat("ring version ", ring.version(), ", ", ring.partition_count(),
                      " partitions, ", ring.members_size(),
                      ring.members_size() == 1 ? " node" : " nodes", "\n",
                      rebalance == nullptr ? "" : FormatRebalance(*rebalance), "\n",
                      FormatColumns(rows));
}

std::string FormatRingJson(const v1::RingSnapshot& ring, const v1::GetHealthResponse* health,
                           const v1::GetRebalanceStatusResponse* rebalance) {
  return absl::StrCat("{\"ring\":", JsonOf(ring),
                      ",\"health\":", health == nullptr ? "null" : JsonOf(*health),
                      ",\"rebalance\":", rebalance == nullptr ? "null" : JsonOf(*rebalance),
                      "}\n");
}

std::string FormatRingChange(std::string_view what, const v1::RingSnapshot& ring,
                             const v1::RingDiff& diff) {
  std::map<std::pair<std::string, std::string>, uint32_t> moved_by_pair;
  for (const v1::PartitionMove& move : diff.moves()) {
    ++moved_by_pair[{move.from_node(), move.to_node()}];
  }
  std::vector<std::pair<uint32_t, std::pair<std::string, std::string>>> pairs;
  for (const auto& [pair, count] : moved_by_pair) pairs.push_back({count, pair});
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });

  std::string out = absl::StrCat(std::string(what), ": ring version ", diff.from_version(), " -> ",
                                 diff.to_version(), ", ", diff.moves_size(), " of ",
                                 ring.partition_count(), " partitions moved (",
                                 Percent(diff.moves_size(), ring.partition_count()), ")\n");
  std::vector<std::vector<std::string>> rows;
  for (const auto& [count, pair] : pairs) {
    rows.push_back({absl::StrCat("  ", pair.first, " -> ", pair.second), absl::StrCat(count)});
  }
  return absl::StrCat(out, FormatColumns(rows));
}

int RunRingShow(const RingShowOptions& options, std::ostream& out, std::ostream& err) {
  std::unique_ptr<v1::Cluster::Stub> cluster = ConnectCluster(options.call);
  v1::RingSnapshot ring;
  {
    grpc::ClientContext context;
    SetDeadline(options.call, context);
    grpc::Status status = cluster->GetRing(&context, v1::GetRingRequest(), &ring);
    if (!status.ok()) return Fail("ring show", client::FromGrpcStatus(status), err);
  }
  // The ring is what was asked for; health and moves are a bonus: say why one is missing, go on.
  v1::GetHealthResponse health;
  const bool has_health = CallExtra(
      options.call, "health", err, [&](grpc::ClientContext& context) {
        return cluster->GetHealth(&context, v1::GetHealthRequest(), &health);
      });
  v1::GetRebalanceStatusResponse rebalance;
  const bool has_rebalance = CallExtra(
      options.call, "rebalance status", err, [&](grpc::ClientContext& context) {
        return cluster->GetRebalanceStatus(&context, v1::GetRebalanceStatusRequest(), &rebalance);
      });
  const v1::GetHealthResponse* shown_health = has_health ? &health : nullptr;
  const v1::GetRebalanceStatusResponse* shown_rebalance = has_rebalance ? &rebalance : nullptr;
  out << (options.format == OutputFormat::kJson
              ? FormatRingJson(ring, shown_health, shown_rebalance)
              : FormatRingTable(ring, shown_health, shown_rebalance, absl::Now()))
      << std::flush;
  return kExitOk;
}

int RunRingAdd(const RingAddOptions& options, std::ostream& out, std::ostream& err) {
  if (absl::Status valid = ValidateRingAdd(options); !valid.ok()) {
    return UsageError("ring add", valid, err);
  }
  v1::AddNodeRequest request;
  v1::Member& member = *request.mutable_member();
  member.set_id(options.member.id);
  member.set_weight(options.member.weight);
  member.set_http_address(options.member.http_address);
  member.set_grpc_address(options.member.grpc_address);
  member.set_public_url(options.member.public_url);
  request.set_expected_version(options.expected_version);

  grpc::ClientContext context;
  SetDeadline(options.call, context);
  v1::AddNodeResponse response;
  grpc::Status status = ConnectCluster(options.call)->AddNode(&context, request, &response);
  if (!status.ok()) return Fail("ring add", client::FromGrpcStatus(status), err);
  out << FormatRingChange(absl::StrCat("added ", options.member.id), response.ring(),
                          response.diff())
      << std::flush;
  return kExitOk;
}

int RunRingRemove(const RingRemoveOptions& options, std::ostream& out, std::ostream& err) {
  if (absl::Status valid = ValidateRingRemove(options); !valid.ok()) {
    return UsageError("ring remove", valid, err);
  }
  v1::RemoveNodeRequest request;
  request.set_node_id(options.id);
  request.set_expected_version(options.expected_version);

  grpc::ClientContext context;
  SetDeadline(options.call, context);
  v1::RemoveNodeResponse response;
  grpc::Status status = ConnectCluster(options.call)->RemoveNode(&context, request, &response);
  if (!status.ok()) return Fail("ring remove", client::FromGrpcStatus(status), err);
  out << FormatRingChange(absl::StrCat("removed ", options.id), response.ring(), response.diff())
      << std::flush;
  return kExitOk;
}

}  // namespace ringcast::cli
