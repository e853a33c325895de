// cluster_test.cc — the ring control plane (ringcast.v1.Cluster) of a real ringcast-router:
// membership changes and their errors, WatchRing, persistence across restarts, a follower
// router, health reports, and startup errors. Real router processes on loopback, real gRPC
// stubs. The members' addresses are never dialled here, so they need no processes behind them.
#include <signal.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ring/ring_proto.h"
#include "ringcast/v1/errors.pb.h"
#include "tests/router/router_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/status_matchers.h"

namespace ringcast::testing {
namespace {

using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// Two members, a and b, of a 64-partition ring.
constexpr char kSeedAB[] = "--seed_nodes=a=127.0.0.1:1081=127.0.0.1:1091,b=127.0.0.1:1082=127.0.0.1:1092";

v1::Member MemberProto(const std::string& id, int port) {
  v1::Member member;
  member.set_id(id);
  member.set_http_address(absl::StrCat("127.0.0.1:", port));
  member.set_grpc_address(absl::StrCat("127.0.0.1:", port + 10));
  return member;
}

std::vector<std::string> MemberIds(const v1::RingSnapshot& ring) {
  std::vector<std::string> ids;
  for (const v1::Member& m : ring.members()) ids.push_back(m.id());
  return ids;
}

// The value of the sample `key` (name{labels}) in a /metrics body; -1 when absent.
double Sample(const std::string& body, const std::string& key) {
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    double value = 0;
    if (absl::StartsWith(line, key + " ") && absl::SimpleAtod(line.substr(key.size() + 1), &value)) {
      return value;
    }
  }
  return -1;
}

class ClusterTest : public ::testing::Test {
 protected:
  // Starts a router (seeded with a and b unless `flags` say otherwise) and connects to it.
  RouterProcess& StartRouterWith(std::vector<std::string> flags = {kSeedAB, "--partition_count=64"}) {
    absl::StatusOr<RouterProcess> router = StartRouter(std::move(flags));
    EXPECT_THAT(router, IsOk());
    routers_.push_back(router.ok() ? *std::move(router) : RouterProcess{});
    return routers_.back();
  }

  // A unary Cluster call to `router`; errors as client/status.h decodes them.
  template <typename Response, typename Request, typename Method>
  absl::StatusOr<Response> Call(const RouterProcess& router, Method method,
                                const Request& request) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    Response response;
    std::unique_ptr<v1::Cluster::Stub> stub = ClusterStub(router.grpc_address);
    const grpc::Status status = (stub.get()->*method)(&context, request, &response);
    if (!status.ok()) return client::FromGrpcStatus(status);
    return response;
  }

  absl::StatusOr<v1::RingSnapshot> GetRing(const RouterProcess& router) {
    return Call<v1::RingSnapshot>(router, &v1::Cluster::Stub::GetRing, v1::GetRingRequest());
  }

  absl::StatusOr<v1::AddNodeResponse> AddNode(const RouterProcess& router, v1::Member member,
                                              uint64_t expected_version = 0) {
    v1::AddNodeRequest request;
    *request.mutable_member() = std::move(member);
    request.set_expected_version(expected_version);
    return Call<v1::AddNodeResponse>(router, &v1::Cluster::Stub::AddNode, request);
  }

  absl::StatusOr<v1::RemoveNodeResponse> RemoveNode(const RouterProcess& router,
                                                    const std::string& id,
                                                    uint64_t expected_version = 0) {
    v1::RemoveNodeRequest request;
    request.set_node_id(id);
    request.set_expected_version(expected_version);
    return Call<v1::RemoveNodeResponse>(router, &v1::Cluster::Stub::RemoveNode, request);
  }

  absl::StatusOr<v1::ReportHealthResponse> Report(const RouterProcess& router,
                                                  const std::string& id,
                                                  v1::NodeState state = v1::NODE_STATE_SERVING) {
    v1::ReportHealthRequest request;
    request.mutable_health()->set_node_id(id);
    request.mutable_health()->set_state(state);
    request.mutable_health()->set_connections(7);
    return Call<v1::ReportHealthResponse>(router, &v1::Cluster::Stub::ReportHealth, request);
  }

  absl::StatusOr<v1::GetHealthResponse> Health(const RouterProcess& router,
                                               const std::string& id = "") {
    v1::GetHealthRequest request;
    request.set_node_id(id);
    return Call<v1::GetHealthResponse>(router, &v1::Cluster::Stub::GetHealth, request);
  }

  // Waits until `router` serves a ring of at least `version`; returns the last ring read.
  v1::RingSnapshot AwaitRingVersion(const RouterProcess& router, uint64_t version) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    absl::StatusOr<v1::RingSnapshot> ring = GetRing(router);
    while ((!ring.ok() || ring->version() < version) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
      ring = GetRing(router);
    }
    EXPECT_THAT(ring, IsOk());
    return ring.ok() ? *ring : v1::RingSnapshot();
  }

  // Expects `router` to serve exactly `before` (same version, members and owners).
  void ExpectRingUnchanged(const RouterProcess& router, const v1::RingSnapshot& before) {
    absl::StatusOr<v1::RingSnapshot> after = GetRing(router);
    ASSERT_THAT(after, IsOk());
    EXPECT_EQ(after->SerializeAsString(), before.SerializeAsString());
  }

  // SIGTERMs `router` and expects a clean exit.
  void Stop(RouterProcess& router) {
    ASSERT_NE(router.process, nullptr);
    ASSERT_THAT(router.process->Signal(SIGTERM), IsOk());
    EXPECT_THAT(router.process->Wait(absl::Seconds(20)), IsOkAndHolds(0));
  }

  // A state directory of this test alone.
  std::string StateDir() {
    const std::string dir = absl::StrCat(::testing::TempDir(), "/router_state_", ::getpid(), "_",
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    return dir;
  }

  std::deque<RouterProcess> routers_;  // a deque: references stay valid as it grows
};

TEST_F(ClusterTest, AddNodeCommitsANewVersionThatGetRingShows) {
  // Given a ring {a, b} at version 1, adding c gives version 2 where c took partitions.
  RouterProcess& router = StartRouterWith();
  absl::StatusOr<v1::AddNodeResponse> added = AddNode(router, MemberProto("c", 1083));
  ASSERT_THAT(added, IsOk());
  EXPECT_EQ(added->ring().version(), 2u);
  EXPECT_THAT(MemberIds(added->ring()), ElementsAre("a", "b", "c"));
  EXPECT_EQ(added->diff().from_version(), 1u);
  EXPECT_EQ(added->diff().to_version(), 2u);
  ASSERT_GT(added->diff().moves_size(), 0);
  for (const v1::PartitionMove& move : added->diff().moves()) EXPECT_EQ(move.to_node(), "c");
  ExpectRingUnchanged(router, added->ring());
}

TEST_F(ClusterTest, RemoveNodeGivesItsPartitionsToTheOthers) {
  // Given {a, b}, removing b leaves {a} owning everything at version 2.
  RouterProcess& router = StartRouterWith();
  absl::StatusOr<v1::RemoveNodeResponse> removed = RemoveNode(router, "b");
  ASSERT_THAT(removed, IsOk());
  EXPECT_EQ(removed->ring().version(), 2u);
  EXPECT_THAT(MemberIds(removed->ring()), ElementsAre("a"));
  for (const v1::PartitionMove& move : removed->diff().moves()) {
    EXPECT_EQ(move.from_node(), "b");
    EXPECT_EQ(move.to_node(), "a");
  }
  ExpectRingUnchanged(router, removed->ring());
}

TEST_F(ClusterTest, AdminErrorsLeaveRingAndVersionUnchanged) {
  // Given {a, b} at version 1, every refused change leaves version 1 exactly as it was.
  RouterProcess& router = StartRouterWith();
  absl::StatusOr<v1::RingSnapshot> before = GetRing(router);
  ASSERT_THAT(before, IsOk());

  EXPECT_THAT(RemoveNode(router, "nobody"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(AddNode(router, MemberProto("a", 1500)),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("id 'a'")));
  v1::Member same_address = MemberProto("c", 1500);
  same_address.set_http_address("127.0.0.1:1082");  // b's
  EXPECT_THAT(AddNode(router, same_address),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("127.0.0.1:1082")));
  EXPECT_THAT(AddNode(router, MemberProto("c", 1083), /*expected_version=*/7),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("current version is 1")));
  EXPECT_THAT(RemoveNode(router, "a", /*expected_version=*/2),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  v1::Member bad = MemberProto("no spaces", 1083);
  bad.set_grpc_address("nowhere");
  absl::StatusOr<v1::AddNodeResponse> invalid = AddNode(router, bad);
  EXPECT_THAT(invalid, StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<std::string> fields;
  for (const v1::FieldViolation& v : client::FieldViolationsOf(invalid.status())) {
    fields.push_back(v.field());
  }
  EXPECT_THAT(fields, ElementsAre("member.id", "member.grpc_address"));
  ExpectRingUnchanged(router, *before);

  // Each refusal is counted by method and code.
  absl::StatusOr<HttpResponse> metrics = HttpGet(router.http_address, "/metrics");
  ASSERT_THAT(metrics, IsOk());
  EXPECT_EQ(Sample(metrics->body, "ringcast_cluster_requests_total{code=\"NOT_FOUND\","
                                 "method=\"RemoveNode\"}"),
            1);
  EXPECT_EQ(Sample(metrics->body, "ringcast_cluster_requests_total{code=\"ALREADY_EXISTS\","
                                 "method=\"AddNode\"}"),
            2);
}

TEST_F(ClusterTest, RemovingTheLastMemberIsRefused) {
  // Given a ring of a alone, removing a would leave its partitions without an owner.
  RouterProcess& router = StartRouterWith({"--seed_nodes=a=127.0.0.1:1081=127.0.0.1:1091"});
  absl::StatusOr<v1::RingSnapshot> before = GetRing(router);
  ASSERT_THAT(before, IsOk());
  EXPECT_THAT(RemoveNode(router, "a"), StatusIs(absl::StatusCode::kFailedPrecondition));
  ExpectRingUnchanged(router, *before);
}

TEST_F(ClusterTest, WatchRingSendsTheCurrentSnapshotThenEachChange) {
  // Given a watcher of {a, b} v1, adding c and removing a reach it as v2 and v3.
  RouterProcess& router = StartRouterWith();
  std::unique_ptr<v1::Cluster::Stub> stub = ClusterStub(router.grpc_address);
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::RingSnapshot>> watch =
      stub->WatchRing(&context, v1::WatchRingRequest());
  v1::RingSnapshot snapshot;
  ASSERT_TRUE(watch->Read(&snapshot));
  EXPECT_EQ(snapshot.version(), 1u);

  ASSERT_THAT(AddNode(router, MemberProto("c", 1083)), IsOk());
  ASSERT_TRUE(watch->Read(&snapshot));
  EXPECT_EQ(snapshot.version(), 2u);
  EXPECT_THAT(MemberIds(snapshot), ElementsAre("a", "b", "c"));

  ASSERT_THAT(RemoveNode(router, "a"), IsOk());
  ASSERT_TRUE(watch->Read(&snapshot));
  EXPECT_EQ(snapshot.version(), 3u);
  EXPECT_THAT(MemberIds(snapshot), ElementsAre("b", "c"));

  // On shutdown the stream ends UNAVAILABLE `draining`.
  Stop(router);
  EXPECT_FALSE(watch->Read(&snapshot));
  const absl::Status ended = client::FromGrpcStatus(watch->Finish());
  EXPECT_THAT(ended, StatusIs(absl::StatusCode::kUnavailable));
  std::optional<v1::RetryInfo> retry = client::RetryInfoOf(ended);
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->reason(), "draining");
}

TEST_F(ClusterTest, RestartWithTheSameStateDirKeepsTheRing) {
  // Given a coordinator with a state dir at v2, a restart (seed flags ignored) serves that v2.
  const std::string state_dir = StateDir();
  RouterProcess& first = StartRouterWith({kSeedAB, "--partition_count=64", "--state_dir=" + state_dir});
  absl::StatusOr<v1::AddNodeResponse> added = AddNode(first, MemberProto("c", 1083));
  ASSERT_THAT(added, IsOk());
  Stop(first);

  RouterProcess& second =
      StartRouterWith({kSeedAB, "--partition_count=64", "--state_dir=" + state_dir});
  ExpectRingUnchanged(second, added->ring());
  Stop(second);

  // The state dir alone is enough, and versions go on growing from there.
  RouterProcess& third = StartRouterWith({"--state_dir=" + state_dir});
  ExpectRingUnchanged(third, added->ring());
  absl::StatusOr<v1::RemoveNodeResponse> removed = RemoveNode(third, "a");
  ASSERT_THAT(removed, IsOk());
  EXPECT_EQ(removed->ring().version(), 3u);
}

TEST_F(ClusterTest, ACorruptStateFileIsAStartupError) {
  // Given a state dir whose ring.pb is garbage, the router refuses to start (exit code 2).
  const std::string state_dir = StateDir();
  std::filesystem::create_directories(state_dir);
  std::ofstream(state_dir + "/ring.pb") << "this is not a RingSnapshot";
  absl::StatusOr<std::unique_ptr<ChildProcess>> router =
      ChildProcess::Start(RouterBinaryPath(), {"--http_listen=127.0.0.1:0",
                                               "--grpc_listen=127.0.0.1:0",
                                               "--state_dir=" + state_dir, kSeedAB});
  ASSERT_THAT(router, IsOk());
  EXPECT_THAT((*router)->Wait(absl::Seconds(20)), IsOkAndHolds(2));
}

TEST_F(ClusterTest, AFollowerServesTheSameRingAndRelaysChanges) {
  // Given a coordinator {a, b} and a follower of it, the follower serves v1; an AddNode sent to
  // the follower commits v2 at the coordinator, which both then serve.
  RouterProcess& coordinator = StartRouterWith();
  RouterProcess& follower = StartRouterWith({"--ring_source=" + coordinator.grpc_address,
                                             "--router_id=router-2"});
  const v1::RingSnapshot v1_ring = AwaitRingVersion(follower, 1);
  ExpectRingUnchanged(coordinator, v1_ring);

  absl::StatusOr<v1::AddNodeResponse> added = AddNode(follower, MemberProto("c", 1083));
  ASSERT_THAT(added, IsOk());
  EXPECT_EQ(added->ring().version(), 2u);
  ExpectRingUnchanged(coordinator, added->ring());
  ExpectRingUnchanged(follower, added->ring());

  // Errors come back from the coordinator with their code.
  EXPECT_THAT(RemoveNode(follower, "nobody"), StatusIs(absl::StatusCode::kNotFound));
  // Health reports are relayed too.
  ASSERT_THAT(Report(follower, "a"), IsOk());
  absl::StatusOr<v1::GetHealthResponse> health = Health(coordinator, "a");
  ASSERT_THAT(health, IsOk());
  EXPECT_EQ(health->nodes(0).state(), v1::NODE_STATE_SERVING);
}

TEST_F(ClusterTest, AFollowerWithoutItsCoordinatorSaysWhy) {
  // Given a follower of an address where nothing listens: no ring yet, and no coordinator.
  absl::StatusOr<int> port = FreeLoopbackPort();
  ASSERT_THAT(port, IsOk());
  RouterProcess& follower = StartRouterWith({absl::StrCat("--ring_source=127.0.0.1:", *port)});
  absl::StatusOr<v1::RingSnapshot> ring = GetRing(follower);
  EXPECT_THAT(ring, StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_TRUE(client::RetryInfoOf(ring.status()).has_value());
  EXPECT_EQ(client::RetryInfoOf(ring.status())->reason(), "no_ring");

  absl::StatusOr<v1::AddNodeResponse> added = AddNode(follower, MemberProto("c", 1083));
  EXPECT_THAT(added, StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_TRUE(client::RetryInfoOf(added.status()).has_value());
  EXPECT_EQ(client::RetryInfoOf(added.status())->reason(), "no_coordinator");
}

TEST_F(ClusterTest, ANodeThatStopsReportingBecomesDown) {
  // Given node_down_after 2 s: a reports, b never does, x (not a member) reports; a then
  // falls silent and turns DOWN.
  RouterProcess& router =
      StartRouterWith({kSeedAB, "--partition_count=64", "--node_down_after_ms=2000",
                       "--health_report_interval_ms=100"});
  absl::StatusOr<v1::ReportHealthResponse> reply = Report(router, "a");
  ASSERT_THAT(reply, IsOk());
  EXPECT_EQ(reply->report_interval().nanos(), 100'000'000);
  EXPECT_EQ(reply->ring_version(), 1u);
  ASSERT_THAT(Report(router, "x", v1::NODE_STATE_DRAINING), IsOk());

  absl::StatusOr<v1::GetHealthResponse> health = Health(router);
  ASSERT_THAT(health, IsOk());
  ASSERT_THAT(health->nodes(), SizeIs(3));
  // Sorted by id.
  EXPECT_EQ(health->nodes(0).node_id(), "a");
  EXPECT_TRUE(health->nodes(0).member());
  EXPECT_EQ(health->nodes(0).connections(), 7u);
  EXPECT_EQ(health->nodes(1).node_id(), "b");
  EXPECT_EQ(health->nodes(1).state(), v1::NODE_STATE_UNKNOWN);
  EXPECT_EQ(health->nodes(2).node_id(), "x");
  EXPECT_FALSE(health->nodes(2).member());

  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  v1::NodeState state = v1::NODE_STATE_SERVING;
  while (state != v1::NODE_STATE_DOWN && absl::Now() < deadline) {
    absl::StatusOr<v1::GetHealthResponse> a = Health(router, "a");
    ASSERT_THAT(a, IsOk());
    state = a->nodes(0).state();
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(state, v1::NODE_STATE_DOWN);

  EXPECT_THAT(Health(router, "nobody"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Report(router, "a", v1::NODE_STATE_DOWN),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ClusterTest, RebalanceStatusListsTheMovesOfAChange) {
  // Given node c added to a and b (no process behind any of them), expect the diff's moves
  // listed at version 2, each PENDING or (once its silent source counts as DOWN) ABANDONED, and
  // settled exactly when all are ABANDONED. Moving topics is rebalance_status_test's.
  RouterProcess& router = StartRouterWith();
  absl::StatusOr<v1::AddNodeResponse> added = AddNode(router, MemberProto("c", 1083));
  ASSERT_THAT(added, IsOk());
  absl::StatusOr<v1::GetRebalanceStatusResponse> status =
      Call<v1::GetRebalanceStatusResponse>(router, &v1::Cluster::Stub::GetRebalanceStatus,
                                           v1::GetRebalanceStatusRequest());
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(status->ring_version(), 2u);
  ASSERT_EQ(status->moves_size(), added->diff().moves_size());
  bool all_abandoned = true;
  for (int i = 0; i < status->moves_size(); ++i) {
    const v1::MoveProgress& move = status->moves(i);
    EXPECT_EQ(move.ring_version(), 2u);
    EXPECT_EQ(move.partition(), added->diff().moves(i).partition());
    EXPECT_EQ(move.from_node(), added->diff().moves(i).from_node());
    EXPECT_EQ(move.to_node(), "c");
    EXPECT_THAT(move.state(), AnyOf(v1::MOVE_STATE_PENDING, v1::MOVE_STATE_ABANDONED));
    all_abandoned = all_abandoned && move.state() == v1::MOVE_STATE_ABANDONED;
  }
  EXPECT_EQ(status->settled(), all_abandoned);
}

TEST(RouterClusterTest, NodesFollowTheRouterAndReportTheirHealth) {
  // Given a router and two real nodes following it, both report SERVING at version 1; after
  // node-2 is removed, node-1 reports version 2 and node-1 owns every topic.
  absl::StatusOr<RouterCluster> cluster =
      StartRouterCluster("follow", {.node_count = 2, .nodes_follow_router = true});
  ASSERT_THAT(cluster, IsOk());
  EXPECT_NE(cluster->TopicOwnedBy("node-2"), "");
  std::unique_ptr<v1::Cluster::Stub> admin = ClusterStub(cluster->router.grpc_address);

  // Waits until every member reports SERVING at `version` or later.
  auto await_health = [&](uint64_t version, size_t members) {
    const absl::Time deadline = absl::Now() + absl::Seconds(15);
    v1::GetHealthResponse health;
    while (absl::Now() < deadline) {
      grpc::ClientContext context;
      health.Clear();
      ASSERT_TRUE(admin->GetHealth(&context, v1::GetHealthRequest(), &health).ok());
      size_t ready = 0;
      for (const v1::NodeHealth& node : health.nodes()) {
        if (node.member() && node.state() == v1::NODE_STATE_SERVING &&
            node.ring_version() >= version) {
          ++ready;
        }
      }
      if (ready == members) return;
      absl::SleepFor(absl::Milliseconds(20));
    }
    FAIL() << "members not SERVING at version " << version << ": " << health.DebugString();
  };
  await_health(1, 2);

  grpc::ClientContext context;
  v1::RemoveNodeRequest remove;
  remove.set_node_id("node-2");
  v1::RemoveNodeResponse removed;
  ASSERT_TRUE(admin->RemoveNode(&context, remove, &removed).ok());
  EXPECT_EQ(removed.ring().version(), 2u);
  await_health(2, 1);
  EXPECT_EQ(cluster->TopicOwnedBy("node-1", "after"), "after-0");
}

TEST(RouterStartupTest, BadFlagsFailWithExitCode2) {
  // Given each bad configuration, the router prints why on stderr and exits 2.
  const std::vector<std::vector<std::string>> bad = {
      {"--mode=sideways", kSeedAB},
      {"--partition_count=3", kSeedAB},
      {"--seed_nodes=a=127.0.0.1:1081"},
      {"--seed_nodes=a=127.0.0.1:1081=nowhere"},
      {kSeedAB, "--ring_file=/nonexistent"},
      {kSeedAB, "--ring_source=127.0.0.1:9"},
      {},  // no ring at all
      {"--ring_file=/nonexistent/ring.textproto"},
      {"--config=/nonexistent/router.textproto", kSeedAB},
  };
  for (const std::vector<std::string>& flags : bad) {
    std::vector<std::string> args = {"--http_listen=127.0.0.1:0", "--grpc_listen=127.0.0.1:0"};
    args.insert(args.end(), flags.begin(), flags.end());
    absl::StatusOr<std::unique_ptr<ChildProcess>> router =
        ChildProcess::Start(RouterBinaryPath(), args);
    ASSERT_THAT(router, IsOk());
    EXPECT_THAT((*router)->Wait(absl::Seconds(20)), IsOkAndHolds(2))
        << absl::StrJoin(flags, " ");
  }
}

}  // namespace
}  // namespace ringcast::testing
