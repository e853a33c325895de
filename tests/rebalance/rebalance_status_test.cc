// rebalance_status_test.cc — Cluster.GetRebalanceStatus and `ringcast ring show` while a ring
// change moves topics (issue 7): the real router and nodes on loopback. Adding a node while
// topics exist lists the diff's moves at once and ends settled with every move DONE, the topics
// each source moved counted; `ring show` prints the moves per (from -> to) in text and JSON. A
// source that never reports (no process behind it) has its moves ABANDONED once it counts as
// DOWN, and the status settles. A router with a --state_dir killed right after the change lists
// the same moves when it comes back, and follows them to DONE; an unreadable rebalance.pb only
// lists no moves.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/ring.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/rebalance/rebalance_cluster.h"
#include "tests/support/status_matchers.h"

namespace ringcast {
namespace {

using ::ringcast::testing::AwaitRebalanceSettled;
using ::ringcast::testing::FreeLoopbackPort;
using ::ringcast::testing::IsOk;
using ::ringcast::testing::NodeProcess;
using ::ringcast::testing::RebalanceStatus;
using ::ringcast::testing::RouterCluster;
using ::ringcast::testing::StartRouter;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr int kTopics = 200;
constexpr absl::Duration kSettleTimeout = absl::Seconds(15);

using MoveKey = std::tuple<uint32_t, std::string, std::string>;  // partition, from, to

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

// Waits for `router`'s rebalance status to settle; expects exactly `diff`'s moves, all DONE.
void ExpectSettledWithEveryMoveDone(const std::string& router, const v1::RingDiff& diff) {
  absl::StatusOr<v1::GetRebalanceStatusResponse> settled =
      AwaitRebalanceSettled(router, kSettleTimeout);
  ASSERT_THAT(settled, IsOk());
  ASSERT_TRUE(settled->settled()) << settled->DebugString();
  EXPECT_EQ(KeysOf(*settled), KeysOf(diff));
  for (const v1::MoveProgress& move : settled->moves()) {
    EXPECT_EQ(move.state(), v1::MOVE_STATE_DONE) << move.DebugString();
  }
}

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

// The moves persisted in `state_dir` (empty when the file is missing or does not parse).
v1::RebalanceSnapshot PersistedMoves(const std::string& state_dir) {
  std::ifstream file(state_dir + "/rebalance.pb", std::ios::binary);
  v1::RebalanceSnapshot persisted;
  if (!persisted.ParseFromIstream(&file)) persisted.Clear();
  return persisted;
}

// Whether `snapshot` holds moves and all of them are DONE.
bool AllDone(const v1::RebalanceSnapshot& snapshot) {
  return snapshot.moves_size() > 0 &&
         std::all_of(snapshot.moves().begin(), snapshot.moves().end(),
                     [](const v1::MoveProgress& m) { return m.state() == v1::MOVE_STATE_DONE; });
}

// SIGKILLs `router` and starts another with `flags` in its place; returns once it answers
// GetRebalanceStatus (gRPC may first fail a call on a connection to the killed process).
absl::Status KillAndRestart(testing::RouterProcess& router, const std::vector<std::string>& flags) {
  if (absl::Status s = router.process->Signal(SIGKILL); !s.ok()) return s;
  if (absl::StatusOr<int> code = router.process->Wait(absl::Seconds(10)); !code.ok()) {
    return code.status();
  }
  absl::StatusOr<testing::RouterProcess> restarted = StartRouter(flags);
  if (!restarted.ok()) return restarted.status();
  router = *std::move(restarted);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  absl::Status answered = RebalanceStatus(router.grpc_address).status();
  while (!answered.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    answered = RebalanceStatus(router.grpc_address).status();
  }
  return answered;
}

TEST(RebalanceStatusTest, AddingANodeListsItsMovesUntilTheyAreAllDone) {
  absl::StatusOr<RouterCluster> cluster = testing::StartRouterCluster(
      "rebalance_status", {.node_count = 3, .partition_count = 64, .nodes_follow_router = true});
  ASSERT_THAT(cluster, IsOk());
  absl::StatusOr<NodeProcess> fourth = testing::StartSpareNode(*cluster, "node-4");
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
  absl::StatusOr<v1::AddNodeResponse> added = testing::AddNode(router, "node-4", *fourth);
  ASSERT_THAT(added, IsOk());
  const uint64_t version = added->ring().version();

  // ...expect its moves listed at once, exactly the diff, at the new version...
  absl::StatusOr<v1::GetRebalanceStatusResponse> at_once = RebalanceStatus(router);
  ASSERT_THAT(at_once, IsOk());
  EXPECT_EQ(at_once->ring_version(), version);
  EXPECT_EQ(KeysOf(*at_once), KeysOf(added->diff()));
  for (const v1::MoveProgress& move : at_once->moves()) EXPECT_EQ(move.ring_version(), version);

  // ...then settled, every move DONE, and each source's moved topics counted.
  ASSERT_NO_FATAL_FAILURE(ExpectSettledWithEveryMoveDone(router, added->diff()));
  absl::StatusOr<Ring> new_ring = RingFromProto(added->ring());
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
  EXPECT_THAT(table, HasSubstr(absl::StrCat("rebalance: settled (", added->diff().moves_size(),
                                            " partition moves, ring version ", version, ")")));
  std::map<std::string, int> partitions_from;
  for (const v1::PartitionMove& move : added->diff().moves()) ++partitions_from[move.from_node()];
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

TEST(RebalanceStatusTest, ARestartedRouterListsTheSameMovesAndFollowsThemToDone) {
  // Given nodes following a router with a state dir (on a fixed gRPC port, so they find it again
  // after its restart) and topics on them...
  absl::StatusOr<int> grpc_port = FreeLoopbackPort();
  ASSERT_THAT(grpc_port, IsOk());
  const std::string state_dir =
      absl::StrCat(::testing::TempDir(), "/rebalance_status_state_", ::getpid());
  std::filesystem::remove_all(state_dir);
  // A generous --node_down_after_ms: the nodes' reports reach the new process only once their
  // channels reconnect.
  const std::vector<std::string> router_flags = {
      "--state_dir=" + state_dir, absl::StrCat("--grpc_listen=127.0.0.1:", *grpc_port),
      "--node_down_after_ms=10000"};
  absl::StatusOr<RouterCluster> cluster = testing::StartRouterCluster(
      "rebalance_restart", {.node_count = 3, .partition_count = 64, .router_flags = router_flags,
                            .nodes_follow_router = true});
  ASSERT_THAT(cluster, IsOk());
  absl::StatusOr<NodeProcess> fourth = testing::StartSpareNode(*cluster, "node-4");
  ASSERT_THAT(fourth, IsOk());
  absl::StatusOr<std::unique_ptr<client::RoutingPublisher>> publisher =
      client::RoutingPublisher::Connect(cluster->router.grpc_address, {});
  ASSERT_THAT(publisher, IsOk());
  for (int t = 0; t < kTopics; ++t) {
    ASSERT_THAT((*publisher)->Publish({.topic = TopicName(t), .data = "x"}), IsOk());
  }

  // ...when node-4 is added and the router is killed right after...
  absl::StatusOr<v1::AddNodeResponse> added =
      testing::AddNode(cluster->router.grpc_address, "node-4", *fourth);
  ASSERT_THAT(added, IsOk());
  const uint64_t version = added->ring().version();
  ASSERT_THAT(KillAndRestart(cluster->router, router_flags), IsOk());

  // ...expect the restarted router (state dir only) to list that change's moves...
  const std::string& router = cluster->router.grpc_address;
  absl::StatusOr<v1::GetRebalanceStatusResponse> after_restart = RebalanceStatus(router);
  ASSERT_THAT(after_restart, IsOk());
  EXPECT_EQ(after_restart->ring_version(), version);
  EXPECT_EQ(KeysOf(*after_restart), KeysOf(added->diff()));
  for (const v1::MoveProgress& move : after_restart->moves()) {
    EXPECT_EQ(move.ring_version(), version);
  }

  // ...and to follow them to DONE from the nodes' reports.
  ASSERT_NO_FATAL_FAILURE(ExpectSettledWithEveryMoveDone(router, added->diff()));

  // Their final states are persisted too (the router answers a report once it is written; the
  // file may trail the answer to GetRebalanceStatus): another restart lists them settled at once.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!AllDone(PersistedMoves(state_dir)) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(AllDone(PersistedMoves(state_dir))) << PersistedMoves(state_dir).DebugString();
  ASSERT_THAT(KillAndRestart(cluster->router, router_flags), IsOk());
  absl::StatusOr<v1::GetRebalanceStatusResponse> after_second = RebalanceStatus(router);
  ASSERT_THAT(after_second, IsOk());
  EXPECT_TRUE(after_second->settled()) << after_second->DebugString();
  EXPECT_EQ(KeysOf(*after_second), KeysOf(added->diff()));
}

TEST(RebalanceStatusTest, ACorruptRebalanceFileListsNoMovesAndIsReplaced) {
  // Given a state dir whose rebalance.pb is garbage (members with no process behind them)...
  const std::string state_dir =
      absl::StrCat(::testing::TempDir(), "/rebalance_status_corrupt_", ::getpid());
  std::filesystem::remove_all(state_dir);
  std::filesystem::create_directories(state_dir);
  std::ofstream(state_dir + "/rebalance.pb") << "this is not a RebalanceSnapshot";
  // ...the router still starts, with no moves listed...
  absl::StatusOr<testing::RouterProcess> router =
      StartRouter({"--partition_count=64", "--state_dir=" + state_dir,
                   "--seed_nodes=node-1=127.0.0.1:1=127.0.0.1:2,node-2=127.0.0.1:3=127.0.0.1:4"});
  ASSERT_THAT(router, IsOk());
  absl::StatusOr<v1::GetRebalanceStatusResponse> status = RebalanceStatus(router->grpc_address);
  ASSERT_THAT(status, IsOk());
  EXPECT_TRUE(status->settled());
  EXPECT_EQ(status->moves_size(), 0);
  // ...and the next change replaces the file with its moves.
  absl::StatusOr<v1::AddNodeResponse> added = testing::AddMember(
      router->grpc_address, Member{"node-3", 1, "127.0.0.1:5", "127.0.0.1:6"});
  ASSERT_THAT(added, IsOk());
  const v1::RebalanceSnapshot persisted = PersistedMoves(state_dir);
  EXPECT_EQ(persisted.ring_version(), added->ring().version());
  EXPECT_EQ(persisted.moves_size(), added->diff().moves_size());
}

TEST(RebalanceStatusTest, MovesOfASourceThatNeverReportsEndAbandoned) {
  // Given a ring of two nodes with no process behind them and a short --node_down_after_ms...
  absl::StatusOr<testing::RouterProcess> router = StartRouter(
      {"--partition_count=64", "--node_down_after_ms=300",
       "--seed_nodes=node-1=127.0.0.1:1=127.0.0.1:2,node-2=127.0.0.1:3=127.0.0.1:4"});
  ASSERT_THAT(router, IsOk());
  // ...when node-3 (not running either) is added...
  absl::StatusOr<v1::AddNodeResponse> added = testing::AddMember(
      router->grpc_address, Member{"node-3", 1, "127.0.0.1:5", "127.0.0.1:6"});
  ASSERT_THAT(added, IsOk());
  // ...expect its moves to end ABANDONED, settled, still listed.
  absl::StatusOr<v1::GetRebalanceStatusResponse> settled =
      AwaitRebalanceSettled(router->grpc_address, kSettleTimeout);
  ASSERT_THAT(settled, IsOk());
  ASSERT_TRUE(settled->settled()) << settled->DebugString();
  EXPECT_EQ(KeysOf(*settled), KeysOf(added->diff()));
  for (const v1::MoveProgress& move : settled->moves()) {
    EXPECT_EQ(move.state(), v1::MOVE_STATE_ABANDONED) << move.DebugString();
  }
  EXPECT_THAT(RingShow(router->grpc_address, cli::OutputFormat::kText),
              HasSubstr(" ABANDONED"));
}

}  // namespace
}  // namespace ringcast
