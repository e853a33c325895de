// random_rebalance_test.cc — issue 7's "repeat with random add/remove sequences (fixed seeds,
// bounded time)" against real processes. Per fixed seed (std::mt19937; the seed is in the test
// name and in every failure message): a router, three member nodes and two spare nodes running
// outside the ring; steady publishing through the client library (producer_id, sequence) to 100
// topics, followed directly at the nodes, through the router, and on one multi-topic stream
// through the router; then a random sequence of 4-6 ring changes — a spare (or earlier removed)
// node added or a member removed, never below two members — each waiting for GetRebalanceStatus
// to say settled. At the end, as in
// rebalance_test: every publish was accepted (after the client's retries), every follower's
// per-topic sequence runs contiguously from its first event to the last published, the router's
// followers kept their one connection, and each topic continues at its owner under the final ring.
// Removed nodes keep running (they redirect); the cluster's destruction stops them all.
//
// DISABLED_Overlapping runs the same seeds with a third of the changes following the previous
// one at once, without waiting for it to settle. It fails on a known bug (docs/rebalancing.md,
// "Limits"): with overlapping changes a topic's history can miss the node that gains it, which
// then starts the topic afresh (new epoch, ringcast.reset). Run it with
// --gtest_also_run_disabled_tests.
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/rebalance/rebalance_cluster.h"
#include "tests/support/status_matchers.h"

namespace ringcast {
namespace {

using ::ringcast::testing::Follower;
using ::ringcast::testing::IsOk;
using ::ringcast::testing::NodeProcess;
using ::ringcast::testing::RouterCluster;
using ::ringcast::testing::TopicSet;

// Smaller under the sanitizers (debug-asan), where every process runs several times slower.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kTopics = 40;
#else
constexpr int kTopics = 100;
#endif
constexpr int kRouterSubscribers = kTopics / 4;  // topics also followed through the router
constexpr int kMultiTopics = kTopics / 5;        // topics of the one multi-topic stream
constexpr int kMembers = 3;                      // node-1..node-3 start in the ring...
constexpr int kSpares = 2;                       // ...node-4 and node-5 outside it
constexpr absl::Duration kSettleTimeout = absl::Seconds(20);

// One ring change; `await_settled` false means the next change follows at once.
struct RingChange {
  bool add = false;
  std::string node_id;
  bool await_settled = true;

  std::string Describe() const {
    return absl::StrCat(add ? "+" : "-", node_id, await_settled ? "" : " (no wait)");
  }
};

// 4-6 changes drawn from `rng`, starting from members node-1..node-<kMembers>: an add of a
// node outside the ring or a removal of a member, never below two members. With `overlapping`,
// a third of them (never the last) are not waited for.
std::vector<RingChange> RandomChanges(std::mt19937& rng, bool overlapping) {
  std::vector<std::string> members;
  std::vector<std::string> outside;
  for (int i = 1; i <= kMembers + kSpares; ++i) {
    (i <= kMembers ? members : outside).push_back(absl::StrCat("node-", i));
  }
  auto pick = [&rng](std::vector<std::string>& from) {
    const size_t i = std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng);
    std::string id = from[i];
    from.erase(from.begin() + i);
    return id;
  };
  std::vector<RingChange> changes(std::uniform_int_distribution<int>(4, 6)(rng));
  for (RingChange& change : changes) {
    const bool can_remove = members.size() > 2;
    change.add = !outside.empty() && (!can_remove || rng() % 2 == 0);
    change.node_id = change.add ? pick(outside) : pick(members);
    (change.add ? members : outside).push_back(change.node_id);
    change.await_settled = rng() % 3 != 0 || !overlapping;
  }
  changes.back().await_settled = true;
  return changes;
}

std::string Describe(const std::vector<RingChange>& changes) {
  std::vector<std::string> parts;
  for (const RingChange& change : changes) parts.push_back(change.Describe());
  return absl::StrJoin(parts, ", ");
}

// The members after `changes`.
std::set<std::string> FinalMembers(const std::vector<RingChange>& changes) {
  std::set<std::string> members;
  for (int i = 1; i <= kMembers; ++i) members.insert(absl::StrCat("node-", i));
  for (const RingChange& change : changes) {
    if (change.add) {
      members.insert(change.node_id);
    } else {
      members.erase(change.node_id);
    }
  }
  return members;
}

// The router, node-1..node-<kMembers> as members and the spares, each process by its id.
struct Cluster {
  RouterCluster routed;
  std::map<std::string, NodeProcess> spares;  // by id: node-<kMembers + 1>...

  const NodeProcess& node(const std::string& id) const {
    for (size_t i = 0; i < routed.members.size(); ++i) {
      if (routed.members[i].id == id) return routed.nodes[i];
    }
    return spares.at(id);
  }
  std::vector<const NodeProcess*> all() const {
    std::vector<const NodeProcess*> nodes;
    for (const NodeProcess& n : routed.nodes) nodes.push_back(&n);
    for (const auto& [id, n] : spares) nodes.push_back(&n);
    return nodes;
  }
};

absl::StatusOr<Cluster> StartCluster(uint32_t seed) {
  Cluster cluster;
  // Nodes report their moves to the router every 200 ms, so GetRebalanceStatus trails less.
  absl::StatusOr<RouterCluster> routed = testing::StartRouterCluster(
      absl::StrCat("random_rebalance_", seed),
      {.node_count = kMembers, .partition_count = 64,
       .router_flags = {"--health_report_interval_ms=200"}, .nodes_follow_router = true});
  if (!routed.ok()) return routed.status();
  cluster.routed = *std::move(routed);
  for (int i = kMembers + 1; i <= kMembers + kSpares; ++i) {
    const std::string id = absl::StrCat("node-", i);
    absl::StatusOr<NodeProcess> spare = testing::StartSpareNode(cluster.routed, id);
    if (!spare.ok()) return spare.status();
    cluster.spares.emplace(id, *std::move(spare));
  }
  return cluster;
}

// Every topic at a member node (which redirects to the owner), some through the router, and
// one multi-topic stream through the router.
std::vector<Follower> FollowAll(const RouterCluster& routed, const TopicSet& topics) {
  std::vector<Follower> followers;
  const std::string& router = routed.router.http_address;
  for (int t = 0; t < topics.size(); ++t) {
    followers.push_back(testing::FollowTopic(routed.nodes[t % kMembers].http_address, topics, t,
                                             /*via_router=*/false));
    if (t < kRouterSubscribers) {
      followers.push_back(testing::FollowTopic(router, topics, t, /*via_router=*/true));
    }
  }
  std::vector<int> multi;
  for (int k = 0; k < kMultiTopics; ++k) multi.push_back((k * 7 + 3) % topics.size());
  followers.push_back(testing::FollowTopicsViaRouter(router, topics, std::move(multi)));
  return followers;
}

// Applies `change` through the router's Cluster service.
absl::Status Apply(const Cluster& cluster, const RingChange& change) {
  const std::string& router = cluster.routed.router.grpc_address;
  if (!change.add) return testing::RemoveNode(router, change.node_id).status();
  return testing::AddNode(router, change.node_id, cluster.node(change.node_id)).status();
}

// Waits until GetRebalanceStatus is settled and no node has a topic in a move.
bool AwaitSettled(const Cluster& cluster) {
  absl::StatusOr<v1::GetRebalanceStatusResponse> status =
      testing::AwaitRebalanceSettled(cluster.routed.router.grpc_address, kSettleTimeout);
  return status.ok() && status->settled() &&
         testing::AwaitHandoffsSettled(cluster.all(), 0, kSettleTimeout);
}

struct RandomRun {
  uint32_t seed;
  bool overlapping;  // some changes not waited for
};

class RandomRebalanceTest : public ::testing::TestWithParam<RandomRun> {};

TEST_P(RandomRebalanceTest, RandomRingChangesUnderLoadLoseNothing) {
  const uint32_t seed = GetParam().seed;
  std::mt19937 rng(seed);
  const std::vector<RingChange> changes = RandomChanges(rng, GetParam().overlapping);
  SCOPED_TRACE(absl::StrCat("seed ", seed, ": ", Describe(changes)));
  std::cout << "seed " << seed << ": " << Describe(changes) << std::endl;

  absl::StatusOr<Cluster> cluster = StartCluster(seed);
  ASSERT_THAT(cluster, IsOk());
  const RouterCluster& routed = cluster->routed;
  const TopicSet topics(absl::StrCat("random/", seed), kTopics);
  std::vector<Follower> followers = FollowAll(routed, topics);
  for (Follower& f : followers) ASSERT_THAT(f.subscriber->Poll(absl::Milliseconds(1)), IsOk());
  testing::FollowerPool pool(followers, 3);

  absl::StatusOr<std::unique_ptr<client::RoutingPublisher>> publisher =
      testing::ConnectProducer(routed.router.grpc_address, absl::StrCat("random-", seed));
  ASSERT_THAT(publisher, IsOk());
  testing::SteadyPublisher load(**publisher, topics);
  load.AwaitMore(kTopics);

  for (const RingChange& change : changes) {
    ASSERT_THAT(Apply(*cluster, change), IsOk()) << change.Describe();
    if (!change.await_settled) continue;
    ASSERT_TRUE(AwaitSettled(*cluster)) << change.Describe() << " did not settle";
    load.AwaitMore(kTopics);
  }
  const int checked = testing::ExpectEveryEventDelivered(load, pool, followers, topics);
  EXPECT_EQ(checked, kTopics + kRouterSubscribers + kMultiTopics);

  absl::StatusOr<Ring> ring = routed.CurrentRing();
  ASSERT_THAT(ring, IsOk());
  std::set<std::string> members;
  for (const Member& m : ring->members()) members.insert(m.id);
  EXPECT_EQ(members, FinalMembers(changes));
  EXPECT_THAT(testing::FinalOwnerProblems(*ring, topics, load), ::testing::IsEmpty());
  EXPECT_GT(testing::Total(cluster->all(), "ringcast_handoff_topics_total", "direction=\"in\""), 0)
      << "no topic moved";
}

std::string SeedName(const ::testing::TestParamInfo<RandomRun>& param) {
  return absl::StrCat("seed_", param.param.seed);
}

INSTANTIATE_TEST_SUITE_P(Settled, RandomRebalanceTest,
                         ::testing::Values(RandomRun{9, false}, RandomRun{13, false},
                                           RandomRun{24, false}),
                         SeedName);
INSTANTIATE_TEST_SUITE_P(DISABLED_Overlapping, RandomRebalanceTest,
                         ::testing::Values(RandomRun{9, true}, RandomRun{13, true},
                                           RandomRun{24, true}),
                         SeedName);

}  // namespace
}  // namespace ringcast
