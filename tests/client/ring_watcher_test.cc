// ring_watcher_test.cc — client::RingWatcher and FetchRing against the real ringcast-router:
// the first ring, following AddNode, keeping the last ring while the router is away and catching
// up after it restarts (same port, ring kept in its state dir), and the errors of an address
// where nothing listens.
#include "client/ring_watcher.h"

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ring/ring_proto.h"
#include "tests/router/router_fixture.h"
#include "tests/support/status_matchers.h"

namespace ringcast::client {
namespace {

using ::ringcast::testing::ClusterStub;
using ::ringcast::testing::FreeLoopbackPort;
using ::ringcast::testing::IsOk;
using ::ringcast::testing::RouterProcess;
using ::ringcast::testing::StartRouter;
using ::ringcast::testing::StatusIs;
using ::ringcast::testing::WriteRingFile;

// Two members at addresses where nothing needs to listen: the Cluster service only holds them.
std::vector<Member> TwoMembers() {
  return {{"node-1", 1, "127.0.0.1:1001", "127.0.0.1:2001"},
          {"node-2", 1, "127.0.0.1:1002", "127.0.0.1:2002"}};
}

class RingWatcherTest : public ::testing::Test {
 protected:
  // Starts a router seeded with TwoMembers(); `extra` flags go last (they win).
  RouterProcess StartSeededRouter(std::vector<std::string> extra = {}) {
    const std::string ring_file =
        absl::StrCat(::testing::TempDir(), "/ring_watcher_", ::getpid(), ".textproto");
    EXPECT_THAT(WriteRingFile(ring_file, 64, TwoMembers()), IsOk());
    std::vector<std::string> flags = {"--ring_file=" + ring_file};
    flags.insert(flags.end(), extra.begin(), extra.end());
    absl::StatusOr<RouterProcess> router = StartRouter(std::move(flags));
    EXPECT_THAT(router, IsOk());
    return router.ok() ? *std::move(router) : RouterProcess{};
  }

  // AddNode "node-3" through the router's Cluster service.
  static grpc::Status AddThirdNode(const std::string& router_grpc) {
    v1::AddNodeRequest request;
    *request.mutable_member() = MemberToProto({"node-3", 1, "127.0.0.1:1003", "127.0.0.1:2003"});
    v1::AddNodeResponse response;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return ClusterStub(router_grpc)->AddNode(&context, request, &response);
  }

  static bool Await(const std::function<bool()>& condition) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!condition()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return true;
  }
};

TEST_F(RingWatcherTest, FirstRingThenEveryChange) {
  // Given a router seeded with 2 members, expect version 1 at once, then version 2 (3 members)
  // after AddNode, each passed to on_ring exactly once.
  RouterProcess router = StartSeededRouter();
  ASSERT_NE(router.process, nullptr);
  RingHolder holder(nullptr);
  absl::Mutex mu;
  std::vector<uint64_t> seen;
  RingWatcher watcher(router.grpc_address, holder, {}, [&](std::shared_ptr<const Ring> ring) {
    absl::MutexLock lock(&mu);
    seen.push_back(ring->version());
  });
  ASSERT_THAT(watcher.WaitForRing(absl::Now() + absl::Seconds(10)), IsOk());
  EXPECT_EQ(holder.Load()->version(), 1u);
  EXPECT_EQ(holder.Load()->members().size(), 2u);
  EXPECT_TRUE(Await([&] { return watcher.connected(); }));

  ASSERT_TRUE(AddThirdNode(router.grpc_address).ok());
  ASSERT_THAT(watcher.WaitForVersion(2, absl::Now() + absl::Seconds(10)), IsOk());
  EXPECT_EQ(holder.Load()->members().size(), 3u);
  EXPECT_NE(holder.Load()->FindMember("node-3"), nullptr);
  absl::MutexLock lock(&mu);
  EXPECT_THAT(seen, ::testing::ElementsAre(1u, 2u));
}

TEST_F(RingWatcherTest, KeepsTheRingWhileTheRouterIsAwayAndCatchesUp) {
  // Given a router with a state dir on a fixed port, killed and restarted, expect the watcher
  // to keep version 1 meanwhile, reconnect by itself, and follow a later AddNode (version 2).
  absl::StatusOr<int> port = FreeLoopbackPort();
  ASSERT_THAT(port, IsOk());
  const std::string grpc = absl::StrCat("127.0.0.1:", *port);
  const std::string state_dir =
      absl::StrCat(::testing::TempDir(), "/ring_watcher_state_", ::getpid());
  std::vector<std::string> fixed = {"--grpc_listen=" + grpc, "--state_dir=" + state_dir};
  RouterProcess router = StartSeededRouter(fixed);
  ASSERT_NE(router.process, nullptr);

  RingHolder holder(nullptr);
  RingWatcher watcher(grpc, holder, {.initial_backoff = absl::Milliseconds(20),
                                     .max_backoff = absl::Milliseconds(200)});
  ASSERT_THAT(watcher.WaitForRing(absl::Now() + absl::Seconds(10)), IsOk());
  ASSERT_TRUE(Await([&] { return watcher.connected(); }));

  ASSERT_THAT(router.process->Signal(SIGKILL), IsOk());
  ASSERT_THAT(router.process->Wait(absl::Seconds(10)), IsOk());
  EXPECT_TRUE(Await([&] { return !watcher.connected(); }));
  EXPECT_EQ(holder.Load()->version(), 1u);

  RouterProcess restarted = StartSeededRouter(fixed);
  ASSERT_NE(restarted.process, nullptr);
  EXPECT_TRUE(Await([&] { return watcher.connected(); }));
  ASSERT_TRUE(AddThirdNode(grpc).ok());
  EXPECT_THAT(watcher.WaitForVersion(2, absl::Now() + absl::Seconds(10)), IsOk());
}

TEST_F(RingWatcherTest, NothingListeningIsADeadlineAndUnavailable) {
  // Given an address where nothing listens, expect WaitForRing to time out naming it, and
  // FetchRing to fail UNAVAILABLE; destroying the watcher returns promptly.
  absl::StatusOr<int> port = FreeLoopbackPort();
  ASSERT_THAT(port, IsOk());
  const std::string nowhere = absl::StrCat("127.0.0.1:", *port);
  RingHolder holder(nullptr);
  {
    RingWatcher watcher(nowhere, holder, {.initial_backoff = absl::Milliseconds(10),
                                          .max_backoff = absl::Milliseconds(50)});
    EXPECT_THAT(watcher.WaitForRing(absl::Now() + absl::Milliseconds(300)),
                StatusIs(absl::StatusCode::kDeadlineExceeded, ::testing::HasSubstr(nowhere)));
    EXPECT_FALSE(watcher.connected());
  }
  EXPECT_EQ(holder.Load(), nullptr);
  EXPECT_THAT(FetchRing(nowhere, absl::Now() + absl::Seconds(5)),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(RingWatcherTest, FetchRingReadsTheRoutersRing) {
  // Given a seeded router, expect GetRing's ring: version 1, Q 64, node-1 and node-2.
  RouterProcess router = StartSeededRouter();
  ASSERT_NE(router.process, nullptr);
  absl::StatusOr<Ring> ring = FetchRing(router.grpc_address, absl::Now() + absl::Seconds(10));
  ASSERT_THAT(ring, IsOk());
  EXPECT_EQ(ring->version(), 1u);
  EXPECT_EQ(ring->partition_count(), 64u);
  ASSERT_EQ(ring->members().size(), 2u);
  EXPECT_EQ(ring->members()[0].id, "node-1");
  EXPECT_EQ(ring->members()[1].grpc_address, "127.0.0.1:2002");
}

}  // namespace
}  // namespace ringcast::client
