// rebalance_status_test.cc — Cluster.GetRebalanceStatus and `ringcast ring show` while a ring
// change moves topics (issue 7): the real router and nodes on loopback. Adding a node while
// topics exist lists the diff's moves at once and ends settled with every move DONE, the topics
// each source moved counted; `ring show` prints the moves per (from -> to) in text and JSON. A
// source that never reports (no process behind it) has its moves ABANDONED once it counts as
// DOWN, and the status settles.
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cli/ring.h"
#include "client/routing_publisher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ring/ring_proto.h"
#include "tests/client/real_node.h"
#include "tests/router/router_fixture.h"
#include "tests/support/status_matchers.h"

namespace ringcast {
namespace {

using ::ringcast::testing::ClusterStub;
using ::ringcast::testing::IsOk;
using ::ringcast::testing::NodeProcess;
using ::ringcast::testing::RouterCluster;
using ::ringcast::testing::StartNode;
using ::ringcast::testing::StartRouter;
using ::ringcast::testing::StartRouterCluster;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr int kTopics = 200;
constexpr absl::Duration kSettleTimeout = absl::Seconds(15);

using MoveKey = std::tuple<uint32_t, std::string, std::string>;  // partition, from, to

absl::StatusOr<v1::GetRebalanceStatusResponse> RebalanceStatus(const std::string& router,
                                                               const std::string& node_id = "") {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::GetRebalanceStatusRequest request;
  request.set_node_id(node_id);
  v1::GetRebalanceStatusResponse response;
  grpc::Status status = ClusterStub(router)->GetRebalanceStatus(&context, request, &response);
  if (!status.ok()) return absl::UnavailableError(status.error_message());
  return response;
}

// Polls GetRebalanceStatus until it is settled; the last answer (settled or not).
absl::StatusOr<v1::GetRebalanceStatusResponse> AwaitSettled(const std::string& router) {
  const absl::Time deadline = absl::Now() + kSettleTimeout;
  while (true) {
    absl::StatusOr<v1::GetRebalanceStatusResponse> status = RebalanceStatus(router);
    if (!status.ok() || status->settled() || absl::Now() >= deadline) return status;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

std::set<MoveKey> KeysOf(const v1::RingDiff& diff) {
  std::set<MoveKey> keys;
  for (const v1::PartitionMove& move : diff.moves()) {
    keys.insert({move.partition(), move.from_node(), move.to_node()});
  }
  return keys;
}

std::set<MoveKey> KeysOf(const v1::GetRebalanceStatusResponse& status) {
  std::set<MoveKey> keys;
  for (const v1::MoveProgress& move : status.moves()) {
    keys.insert({move.partition(), move.from_node(), move.to_node()});
  }
  return keys;
}

std::string TopicName(int i) { return absl::StrCat("status/", i); }

// `ringcast ring show` against `router`; its output (stderr appended on failure).
std::string RingShow(const std::string& router, cli::OutputFormat format) {
  cli::RingShowOptions options;
  options.call.router = router;
  options.format = format;
  std::ostringstream out;
  std::ostringstream err;
  const int code = cli::RunRingShow(options, out, err);
  return code == 0 ? out.str() : absl::StrCat("exit ", code, ": ", err.str());
}

TEST(RebalanceStatusTest, AddingANodeListsItsMovesUntilTheyAreAllDone) {
  absl::StatusOr<RouterCluster> cluster = StartRouterCluster(
      "rebalance_status", {.node_count = 3, .partition_count = 64, .nodes_follow_router = true});
  ASSERT_THAT(cluster, IsOk());
  absl::StatusOr<NodeProcess> fourth =
      StartNode({"--node_id=node-4", "--ring_source=" + cluster->router.grpc_address});
  ASSERT_THAT(fourth, IsOk());
  const std::string& router = cluster->router.grpc_address;

  // Given topics on the three nodes and a settled status before any change...
  absl::StatusOr<std::unique_ptr<client::RoutingPublisher>> publisher =
      client::RoutingPublisher::Connect(router, {});
  ASSERT_THAT(publisher, IsOk());
  for (int t = 0; t < kTopics; ++t) {
    ASSERT_THAT((*publisher)->Publish({.topic = TopicName(t), .data = "x"}), IsOk());
  }
  absl::StatusOr<v1::GetRebalanceStatusResponse> before = RebalanceStatus(router);
  ASSERT_THAT(before, IsOk());
  EXPECT_TRUE(before->settled());
  EXPECT_EQ(before->moves_size(), 0);
  EXPECT_THAT(RingShow(router, cli::OutputFormat::kText), HasSubstr("rebalance: settled\n"));

  // ...when node-4 is added...
  absl::StatusOr<Ring> old_ring = cluster->CurrentRing();
  ASSERT_THAT(old_ring, IsOk());
  v1::AddNodeRequest add;
  *add.mutable_member() =
      MemberToProto(Member{"node-4", 1, fourth->http_address, fourth->grpc_address});
  v1::AddNodeResponse added;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(ClusterStub(router)->AddNode(&context, add, &added).ok());
  }
  const uint64_t version = added.ring().version();

  // ...expect its moves listed at once, exactly the diff, at the new version...
  absl::StatusOr<v1::GetRebalanceStatusResponse> at_once = RebalanceStatus(router);
  ASSERT_THAT(at_once, IsOk());
  EXPECT_EQ(at_once->ring_version(), version);
  EXPECT_EQ(KeysOf(*at_once), KeysOf(added.diff()));
  for (const v1::MoveProgress& move : at_once->moves()) EXPECT_EQ(move.ring_version(), version);

  // ...then settled, every move DONE, and each source's moved topics counted.
  absl::StatusOr<v1::GetRebalanceStatusResponse> settled = AwaitSettled(router);
  ASSERT_THAT(settled, IsOk());
  ASSERT_TRUE(settled->settled()) << settled->DebugString();
  EXPECT_EQ(KeysOf(*settled), KeysOf(added.diff()));
  for (const v1::MoveProgress& move : settled->moves()) {
    EXPECT_EQ(move.state(), v1::MOVE_STATE_DONE) << move.DebugString();
  }
  absl::StatusOr<Ring> new_ring = RingFromProto(added.ring());
  ASSERT_THAT(new_ring, IsOk());
  std::map<std::string, int> topics_from;  // by source, topics node-4 took over
  for (int t = 0; t < kTopics; ++t) {
    if (new_ring->Lookup(TopicName(t)).id == "node-4") {
      ++topics_from[old_ring->Lookup(TopicName(t)).id];
    }
  }
  ASSERT_FALSE(topics_from.empty());

  // `ring show` prints them per pair, and the JSON carries the status.
  const std::string table = RingShow(router, cli::OutputFormat::kText);
  EXPECT_THAT(table, HasSubstr(absl::StrCat("rebalance: settled (", added.diff().moves_size(),
                                            " partition moves, ring version ", version, ")")));
  std::map<std::string, int> partitions_from;
  for (const v1::PartitionMove& move : added.diff().moves()) ++partitions_from[move.from_node()];
  for (const auto& [from, partitions] : partitions_from) {
    const int topics = topics_from.contains(from) ? topics_from[from] : 0;
    EXPECT_THAT(table, AllOf(HasSubstr(absl::StrCat(from, " -> node-4  partitions: ", partitions,
                                                    " DONE")),
                             HasSubstr(absl::StrCat("topics ", topics, "/", topics))))
        << table;
  }
  EXPECT_THAT(RingShow(router, cli::OutputFormat::kJson),
              AllOf(HasSubstr("\"rebalance\":{"), HasSubstr("\"settled\":true"),
                    HasSubstr("\"state\":\"MOVE_STATE_DONE\""), HasSubstr("\"to_node\":\"node-4\"")));

  // A filter by node keeps only that node's moves.
  absl::StatusOr<v1::GetRebalanceStatusResponse> of_node_1 = RebalanceStatus(router, "node-1");
  ASSERT_THAT(of_node_1, IsOk());
  EXPECT_EQ(of_node_1->moves_size(), partitions_from["node-1"]);
  for (const v1::MoveProgress& move : of_node_1->moves()) EXPECT_EQ(move.from_node(), "node-1");
}

TEST(RebalanceStatusTest, MovesOfASourceThatNeverReportsEndAbandoned) {
  // Given a ring of two nodes with no process behind them and a short --node_down_after_ms...
  absl::StatusOr<testing::RouterProcess> router = StartRouter(
      {"--partition_count=64", "--node_down_after_ms=300",
       "--seed_nodes=node-1=127.0.0.1:1=127.0.0.1:2,node-2=127.0.0.1:3=127.0.0.1:4"});
  ASSERT_THAT(router, IsOk());
  // ...when node-3 (not running either) is added...
  v1::AddNodeRequest add;
  *add.mutable_member() = MemberToProto(Member{"node-3", 1, "127.0.0.1:5", "127.0.0.1:6"});
  v1::AddNodeResponse added;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(ClusterStub(router->grpc_address)->AddNode(&context, add, &added).ok());
  }
  // ...expect its moves to end ABANDONED, settled, still listed.
  absl::StatusOr<v1::GetRebalanceStatusResponse> settled = AwaitSettled(router->grpc_address);
  ASSERT_THAT(settled, IsOk());
  ASSERT_TRUE(settled->settled()) << settled->DebugString();
  EXPECT_EQ(KeysOf(*settled), KeysOf(added.diff()));
  for (const v1::MoveProgress& move : settled->moves()) {
    EXPECT_EQ(move.state(), v1::MOVE_STATE_ABANDONED) << move.DebugString();
  }
  EXPECT_THAT(RingShow(router->grpc_address, cli::OutputFormat::kText),
              HasSubstr(" ABANDONED"));
}

}  // namespace
}  // namespace ringcast
