// publish_hold_test.cc — the hold queue (docs/rebalancing.md "Hold queue") with real router and
// nodes on loopback. A publish naming a ring version the node has not received yet is held
// (the hold-queue gauges show it) instead of refused: once the ring change arrives, the held
// publishes of a topic are handled in arrival order. With a short --handoff_hold_ms, a held
// publish is answered UNAVAILABLE `ring_behind` when the bound passes, and nothing of it is
// appended. (Holds of sealed topics are exercised by rebalance_test and handoff_faults_test,
// whose publishers must see no error.)
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/publisher_client.h"
#include "client/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/rebalance/rebalance_cluster.h"
#include "tests/support/status_matchers.h"

namespace ringcast {
namespace {

using ::ringcast::testing::IsOk;
using ::ringcast::testing::Metric;
using ::ringcast::testing::NodeProcess;
using ::ringcast::testing::RouterCluster;

constexpr absl::Duration kTimeout = absl::Seconds(20);

// Waits until `node`'s metric `name` reaches `at_least`.
bool AwaitGauge(const NodeProcess& node, const std::string& name, double at_least) {
  return testing::AwaitMetric(node, name, "", at_least, kTimeout) >= at_least;
}

TEST(PublishHoldTest, PublishesNamingANewerRingWaitForItAndKeepTheirOrder) {
  absl::StatusOr<RouterCluster> cluster = testing::StartRouterCluster(
      "publish_hold", {.node_count = 2, .partition_count = 16, .nodes_follow_router = true});
  ASSERT_THAT(cluster, IsOk());
  absl::StatusOr<NodeProcess> spare = testing::StartSpareNode(*cluster, "node-3");
  ASSERT_THAT(spare, IsOk());
  absl::StatusOr<Ring> ring = cluster->CurrentRing();
  ASSERT_THAT(ring, IsOk());
  const std::string topic = testing::TopicOwnedBy(*ring, "node-1", "held");
  ASSERT_FALSE(topic.empty());
  const NodeProcess& owner = cluster->nodes[0];

  // Given two publishes to the owner naming the next ring version, which it does not have...
  client::PublisherClient client(owner.grpc_address);
  const auto publish = [&](uint64_t sequence) {
    return client.Publish({.topic = topic,
                           .data = absl::StrCat("held-", sequence),
                           .ring_version = ring->version() + 1,
                           .producer_id = "hold-test",
                           .sequence = sequence,
                           .deadline = absl::Now() + kTimeout});
  };
  absl::StatusOr<client::PublishResult> first;
  absl::StatusOr<client::PublishResult> second;
  std::thread first_publisher([&] { first = publish(1); });
  ASSERT_TRUE(AwaitGauge(owner, "ringcast_handoff_hold_queue_publishes", 1));
  std::thread second_publisher([&] { second = publish(2); });
  ASSERT_TRUE(AwaitGauge(owner, "ringcast_handoff_hold_queue_publishes", 2));
  EXPECT_GT(Metric(owner, "ringcast_handoff_hold_queue_bytes"), 0);

  // ...when the ring changes (node-3 joins)...
  absl::StatusOr<v1::AddNodeResponse> added =
      testing::AddNode(cluster->router.grpc_address, "node-3", *spare);
  ASSERT_THAT(added, IsOk());
  first_publisher.join();
  second_publisher.join();

  // ...both are answered under it, in the order they arrived: appended as 1 and 2 if node-1
  // still owns the topic, else both sent on to the new owner.
  absl::StatusOr<Ring> changed = RingFromProto(added->ring());
  ASSERT_THAT(changed, IsOk());
  if (changed->Lookup(topic).id == "node-1") {
    ASSERT_THAT(first, IsOk());
    ASSERT_THAT(second, IsOk());
    EXPECT_EQ(first->offset, 1u);
    EXPECT_EQ(second->offset, 2u);
    EXPECT_EQ(first->ring_version, changed->version());
  } else {
    EXPECT_TRUE(absl::IsFailedPrecondition(first.status())) << first.status();
    EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  }
  EXPECT_EQ(Metric(owner, "ringcast_handoff_hold_queue_publishes"), 0);
  EXPECT_EQ(Metric(owner, "ringcast_handoff_hold_queue_bytes"), 0);
  EXPECT_EQ(Metric(owner, "ringcast_handoff_publishes_held_total"), 2);
}

TEST(PublishHoldTest, APublishHeldPastTheBoundIsRefusedAndNotAppended) {
  absl::StatusOr<RouterCluster> cluster = testing::StartRouterCluster(
      "publish_hold_bound", {.node_count = 1,
                             .partition_count = 16,
                             .node_flags = {"--handoff_hold_ms=300"},
                             .nodes_follow_router = true});
  ASSERT_THAT(cluster, IsOk());
  absl::StatusOr<Ring> ring = cluster->CurrentRing();
  ASSERT_THAT(ring, IsOk());
  const NodeProcess& node = cluster->nodes[0];
  client::PublisherClient client(node.grpc_address);

  // Given a publish naming a ring version that never comes...
  absl::StatusOr<client::PublishResult> refused =
      client.Publish({.topic = "bound", .data = "late", .ring_version = ring->version() + 5,
                      .deadline = absl::Now() + kTimeout});

  // ...expect UNAVAILABLE with reason ring_behind once the bound passed...
  ASSERT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
  std::optional<v1::RetryInfo> retry = client::RetryInfoOf(refused.status());
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->reason(), "ring_behind");
  EXPECT_EQ(Metric(node, "ringcast_handoff_hold_queue_publishes"), 0);

  // ...and nothing appended: the next publish is the topic's first event.
  absl::StatusOr<client::PublishResult> next = client.Publish({.topic = "bound", .data = "next"});
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->offset, 1u);
}

}  // namespace
}  // namespace ringcast
