// rebalance_test.cc — issue 7's promise against real processes (one router, three nodes, then a
// fourth): under steady publishing to 500 topics, with subscribers on every topic (direct to the
// nodes, through the proxying router, and on multi-topic streams), adding a node and then
// removing one of the first three moves topics with their buffers. Every subscriber's sequence
// of each topic stays contiguous to the last event published (no gap, no duplicate, no reset,
// the epoch unchanged), every publish succeeds through the client library's retries, and the
// final owners hold what the ring says. Streams through the router never reconnect: the router
// resumes their upstreams at the new owners itself.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/rebalance/rebalance_cluster.h"
#include "tests/support/status_matchers.h"

namespace ringcast {
namespace {

using ::ringcast::testing::AwaitHandoffsSettled;
using ::ringcast::testing::Follower;
using ::ringcast::testing::IsOk;
using ::ringcast::testing::NodeProcess;
using ::ringcast::testing::RouterCluster;
using ::ringcast::testing::TopicSet;

constexpr int kTopics = 500;
constexpr int kRouterSubscribers = 100;    // topics also followed through the router
constexpr int kMultiStreams = 5;           // multi-topic streams through the router...
constexpr int kTopicsPerMultiStream = 20;  // ...of this many topics each

TEST(RebalanceTest, AddThenRemoveUnderLoadLosesNothing) {
  absl::StatusOr<RouterCluster> cluster = testing::StartRouterCluster(
      "rebalance", {.node_count = 3, .partition_count = 256, .nodes_follow_router = true});
  ASSERT_THAT(cluster, IsOk());
  absl::StatusOr<NodeProcess> fourth = testing::StartSpareNode(*cluster, "node-4");
  ASSERT_THAT(fourth, IsOk());
  std::vector<const NodeProcess*> all_nodes = {&cluster->nodes[0], &cluster->nodes[1],
                                               &cluster->nodes[2], &*fourth};
  const std::string& router = cluster->router.grpc_address;

  // Subscribers: every topic direct (at node-1, which redirects to the owner), some through the
  // router, and multi-topic streams through the router.
  const TopicSet topics("rebalance", kTopics);
  std::vector<Follower> followers;
  for (int t = 0; t < kTopics; ++t) {
    followers.push_back(testing::FollowTopic(cluster->nodes[0].http_address, topics, t, false));
    if (t < kRouterSubscribers) {
      followers.push_back(testing::FollowTopic(cluster->router.http_address, topics, t, true));
    }
  }
  for (int m = 0; m < kMultiStreams; ++m) {
    std::vector<int> multi;
    for (int k = 0; k < kTopicsPerMultiStream; ++k) multi.push_back((m * 97 + k * 13) % kTopics);
    followers.push_back(
        testing::FollowTopicsViaRouter(cluster->router.http_address, topics, std::move(multi)));
  }
  for (Follower& f : followers) ASSERT_THAT(f.subscriber->Poll(absl::Milliseconds(1)), IsOk());
  testing::FollowerPool pool(followers, 3);

  absl::StatusOr<std::unique_ptr<client::RoutingPublisher>> publisher =
      testing::ConnectProducer(router, "rebalance");
  ASSERT_THAT(publisher, IsOk());
  testing::SteadyPublisher load(**publisher, topics);
  load.AwaitMore(2 * kTopics);

  // Add node-4, then remove node-1, each while publishing goes on.
  ASSERT_THAT(testing::AddNode(router, "node-4", *fourth), IsOk());
  ASSERT_TRUE(AwaitHandoffsSettled(all_nodes, 1, absl::Seconds(20))) << "add did not settle";
  const double moved_by_add =
      testing::Total(all_nodes, "ringcast_handoff_topics_total", "direction=\"in\"");
  load.AwaitMore(2 * kTopics);

  ASSERT_THAT(testing::RemoveNode(router, "node-1"), IsOk());
  ASSERT_TRUE(AwaitHandoffsSettled(all_nodes, moved_by_add + 1, absl::Seconds(20)))
      << "remove did not settle";
  load.AwaitMore(2 * kTopics);

  // Every publish accepted; per follower and topic, every event from the first received to the
  // last published, in order; the router's followers never reconnected.
  const int checked = testing::ExpectEveryEventDelivered(load, pool, followers, topics);
  EXPECT_EQ(checked, kTopics + kRouterSubscribers + kMultiStreams * kTopicsPerMultiStream);
  NodeProcess router_http;
  router_http.http_address = cluster->router.http_address;
  EXPECT_GT(testing::Metric(router_http, "ringcast_router_upstream_resumes_total",
                            "result=\"ok\""),
            0);

  // The topics are where the final ring says: one more event published straight to each
  // topic's owner (no routing, no retry) continues its offsets in the same epoch.
  absl::StatusOr<Ring> ring = cluster->CurrentRing();
  ASSERT_THAT(ring, IsOk());
  EXPECT_EQ(ring->FindMember("node-1"), nullptr);
  EXPECT_GT(moved_by_add, 0);
  EXPECT_THAT(testing::FinalOwnerProblems(*ring, topics, load), ::testing::IsEmpty());
  EXPECT_EQ(testing::Metric(cluster->nodes[0], "ringcast_handoff_topics_moving"), 0);
}

}  // namespace
}  // namespace ringcast
