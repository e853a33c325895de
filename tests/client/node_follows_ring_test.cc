// node_follows_ring_test.cc — ringcast-node with --ring_source against the real router: a topic
// that AddNode moves gets 307 and FAILED_PRECONDITION (WrongOwner) from its old owner; nodes
// report SERVING, then DRAINING on SIGTERM; start-up waits for the first ring (failing after
// --ring_wait_ms without one) and starts from the ring saved under --state_dir while the router
// is down.
#include <signal.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/publisher_client.h"
#include "client/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/real_node.h"
#include "tests/router/router_fixture.h"
#include "tests/support/status_matchers.h"

namespace ringcast {
namespace {

using ::ringcast::testing::ClusterStub;
using ::ringcast::testing::ClusterWithSpare;
using ::ringcast::testing::DrainHoldFlags;
using ::ringcast::testing::EncodeTopic;
using ::ringcast::testing::FreeLoopbackPort;
using ::ringcast::testing::HoldDraining;
using ::ringcast::testing::HttpGet;
using ::ringcast::testing::HttpResponse;
using ::ringcast::testing::IsOk;
using ::ringcast::testing::NodeProcess;
using ::ringcast::testing::RouterCluster;
using ::ringcast::testing::SseConnection;
using ::ringcast::testing::StartClusterWithSpare;
using ::ringcast::testing::StartNode;
using ::ringcast::testing::StartRouterCluster;
using ::ringcast::testing::StatusIs;
using ::ringcast::testing::SubscribeTo;

bool Await(const std::function<bool()>& condition, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// The router's health entry for `node_id`, if it has one.
std::optional<v1::NodeHealth> HealthOf(const RouterCluster& cluster, const std::string& node_id) {
  v1::GetHealthRequest request;
  request.set_node_id(node_id);
  v1::GetHealthResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  if (!ClusterStub(cluster.router.grpc_address)->GetHealth(&context, request, &response).ok() ||
      response.nodes_size() == 0) {
    return std::nullopt;
  }
  return response.nodes(0);
}

absl::StatusOr<HttpResponse> SubscribeOnce(const NodeProcess& node, const std::string& topic) {
  return HttpGet(node.http_address, absl::StrCat("/v1/topics/", EncodeTopic(topic), "/events"),
                 {}, absl::Seconds(5));
}

TEST(NodeFollowsRingTest, MovedTopicIsRedirectedAndRefusedByItsOldOwner) {
  // Given 3 nodes following a router and a fourth added with AddNode, expect a topic that moved
  // to node-4 to get 307 to node-4 and FAILED_PRECONDITION (owner node-4, version 2) from its
  // old owner, and to be served and accepted by node-4.
  absl::StatusOr<ClusterWithSpare> setup = StartClusterWithSpare("follow_move");
  ASSERT_THAT(setup, IsOk());
  const NodeProcess& fourth = setup->spare;
  const std::string& topic = setup->topic;
  NodeProcess& old_owner = *setup->cluster.node(setup->old_owner);

  // Before: the old owner serves it, node-4 (not a member yet) redirects it there.
  absl::StatusOr<std::unique_ptr<SseConnection>> open = SubscribeTo(old_owner, topic);
  ASSERT_THAT(open, IsOk());
  EXPECT_EQ((*open)->status(), 200);
  absl::StatusOr<HttpResponse> from_fourth = SubscribeOnce(fourth, topic);
  ASSERT_THAT(from_fourth, IsOk());
  EXPECT_EQ(from_fourth->status, 307);

  absl::StatusOr<v1::AddNodeResponse> added = setup->cluster.AddMember(setup->spare_member);
  ASSERT_THAT(added, IsOk());
  ASSERT_EQ(added->ring().version(), 2u);

  const std::string location =
      absl::StrCat("http://", fourth.http_address, "/v1/topics/", EncodeTopic(topic), "/events");
  EXPECT_TRUE(Await([&] {
    absl::StatusOr<HttpResponse> r = SubscribeOnce(old_owner, topic);
    return r.ok() && r->status == 307 && r->header("Location") == location;
  })) << "the old owner never redirected to " << location;
  // The topic (held for its subscriber) moves to node-4: its stream at the old owner ends.
  EXPECT_TRUE((*open)->WaitClosed(absl::Seconds(10)));

  client::PublisherClient to_old(old_owner.grpc_address);
  absl::StatusOr<client::PublishResult> refused = to_old.Publish({.topic = topic, .data = "x"});
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition));
  std::optional<v1::WrongOwner> wrong = client::WrongOwnerOf(refused.status());
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->ring_version(), 2u);
  EXPECT_EQ(wrong->owner().id(), "node-4");
  EXPECT_EQ(wrong->owner().grpc_address(), fourth.grpc_address);

  client::PublisherClient to_fourth(fourth.grpc_address);
  absl::StatusOr<client::PublishResult> accepted = to_fourth.Publish({.topic = topic, .data = "y"});
  ASSERT_THAT(accepted, IsOk());
  EXPECT_EQ(accepted->ring_version, 2u);
  absl::StatusOr<HttpResponse> served = HttpGet(fourth.http_address, "/healthz");
  ASSERT_THAT(served, IsOk());
  EXPECT_EQ(served->status, 200);
}

TEST(NodeFollowsRingTest, NodesReportServingThenDraining) {
  // Given one node following a router, expect the router to see it SERVING at ring version 1,
  // and DRAINING while it shuts down.
  absl::StatusOr<RouterCluster> cluster = StartRouterCluster(
      "follow_health", {.node_count = 1, .node_flags = DrainHoldFlags(),
                        .nodes_follow_router = true});
  ASSERT_THAT(cluster, IsOk());
  EXPECT_TRUE(Await([&] {
    std::optional<v1::NodeHealth> health = HealthOf(*cluster, "node-1");
    return health.has_value() && health->state() == v1::NODE_STATE_SERVING &&
           health->ring_version() == 1;
  }));
  absl::StatusOr<std::unique_ptr<SseConnection>> stalled = HoldDraining(cluster->nodes[0]);
  ASSERT_THAT(stalled, IsOk());
  EXPECT_TRUE(Await([&] {
    std::optional<v1::NodeHealth> health = HealthOf(*cluster, "node-1");
    return health.has_value() && health->state() == v1::NODE_STATE_DRAINING;
  }));
  (*stalled)->Close();
  EXPECT_THAT(cluster->nodes[0].process->Wait(absl::Seconds(15)), IsOk());
}

TEST(NodeFollowsRingTest, StartWaitsForTheFirstRing) {
  // Given --ring_source where nothing listens and --ring_wait_ms=200, expect the node to exit
  // with an error naming the source instead of serving without a ring.
  absl::StatusOr<int> port = FreeLoopbackPort();
  ASSERT_THAT(port, IsOk());
  const std::string nowhere = absl::StrCat("127.0.0.1:", *port);
  absl::StatusOr<NodeProcess> node =
      StartNode({"--ring_source=" + nowhere, "--ring_wait_ms=200"}, absl::Seconds(10));
  EXPECT_THAT(node, StatusIs(absl::StatusCode::kNotFound));

  absl::StatusOr<NodeProcess> both = StartNode(
      {"--ring_source=" + nowhere, "--ring_file=/nonexistent"}, absl::Seconds(10));
  EXPECT_THAT(both, StatusIs(absl::StatusCode::kNotFound));
}

TEST(NodeFollowsRingTest, StartsFromTheSavedRingWhileTheRouterIsDown) {
  // Given a node that followed a router with --state_dir, restarted after the router died,
  // expect it to start from the saved ring (version 1, its topics served) after --ring_wait_ms.
  absl::StatusOr<RouterCluster> cluster =
      StartRouterCluster("follow_saved", {.node_count = 1, .nodes_follow_router = true});
  ASSERT_THAT(cluster, IsOk());
  const std::string state_dir =
      absl::StrCat(::testing::TempDir(), "/follow_saved_", ::getpid());
  const Member& member = cluster->members[0];
  std::vector<std::string> flags = {"--node_id=node-1", "--http_listen=" + member.http_address,
                                    "--grpc_listen=" + member.grpc_address,
                                    "--ring_source=" + cluster->router.grpc_address,
                                    "--state_dir=" + state_dir, "--ring_wait_ms=300"};
  // Replace the fixture's node by one with a state dir.
  ASSERT_THAT(cluster->nodes[0].process->Signal(SIGTERM), IsOk());
  ASSERT_THAT(cluster->nodes[0].process->Wait(absl::Seconds(15)), IsOk());
  absl::StatusOr<NodeProcess> saving = StartNode(flags);
  ASSERT_THAT(saving, IsOk());
  ASSERT_THAT(saving->process->Signal(SIGTERM), IsOk());
  ASSERT_THAT(saving->process->Wait(absl::Seconds(15)), IsOk());

  ASSERT_THAT(cluster->router.process->Signal(SIGKILL), IsOk());
  ASSERT_THAT(cluster->router.process->Wait(absl::Seconds(10)), IsOk());
  absl::StatusOr<NodeProcess> restarted = StartNode(flags);
  ASSERT_THAT(restarted, IsOk());
  absl::StatusOr<std::unique_ptr<SseConnection>> sub = SubscribeTo(*restarted, "any-topic");
  ASSERT_THAT(sub, IsOk());
  EXPECT_EQ((*sub)->status(), 200);
}

}  // namespace
}  // namespace ringcast
