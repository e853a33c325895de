// cli_up_test.cc — `ringcast up` as a user runs it: the real `ringcast` binary starts a real
// router and three real nodes on loopback; an event published to the owning node reaches a
// subscriber connected through the printed router address; SIGINT stops every child it printed;
// a child that dies brings the rest down with exit 1; bad usage and missing binaries are refused.
#include <signal.h>

#include <cerrno>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "client/publisher_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ring/ring_proto.h"
#include "tests/router/router_fixture.h"
#include "tests/support/status_matchers.h"

namespace ringcast::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr std::string_view kUpReadyPrefix = "ringcast up ready ";

std::string CliBinaryPath() { return RINGCAST_CLI_BINARY; }

// A running `ringcast up` and what its ready line says.
struct UpProcess {
  std::unique_ptr<ChildProcess> process;
  std::string router_http;  // host:port
  std::string router_grpc;  // host:port
  std::vector<int> pids;    // router first, then node-1..node-N
};

// Runs `ringcast up` with the router on free ports and `flags`, and waits for its ready line.
absl::StatusOr<UpProcess> StartUp(std::vector<std::string> flags) {
  absl::StatusOr<int> http_port = FreeLoopbackPort();
  absl::StatusOr<int> grpc_port = FreeLoopbackPort();
  if (!http_port.ok()) return http_port.status();
  if (!grpc_port.ok()) return grpc_port.status();
  std::vector<std::string> args = {"up", absl::StrCat("--http_port=", *http_port),
                                   absl::StrCat("--grpc_port=", *grpc_port)};
  args.insert(args.end(), flags.begin(), flags.end());
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start(CliBinaryPath(), std::move(args));
  if (!child.ok()) return child.status();
  absl::StatusOr<std::string> line = (*child)->WaitForLine(kUpReadyPrefix, absl::Seconds(60));
  if (!line.ok()) return line.status();
  std::map<std::string, std::string> fields = ParseReadyLine(*line);
  UpProcess up;
  up.router_http = fields["router_http"];
  up.router_grpc = fields["router_grpc"];
  for (absl::string_view pid : absl::StrSplit(fields["pids"], ',', absl::SkipEmpty())) {
    int value = 0;
    if (!absl::SimpleAtoi(pid, &value) || value <= 0) {
      return absl::InternalError(absl::StrCat("bad pids= in \"", *line, "\""));
    }
    up.pids.push_back(value);
  }
  up.process = *std::move(child);
  return up;
}

// Whether `pid` names no process any more (kill(pid, 0) fails with ESRCH), within `timeout`.
bool AwaitGone(int pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (::kill(pid, 0) == 0 || errno != ESRCH) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// Subscribes to `topic` through the router until it answers 200 (the nodes may still be taking
// their first ring from the router when `up` reports ready).
std::unique_ptr<SseConnection> SubscribeThroughRouter(const std::string& router_http,
                                                      const std::string& topic) {
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (absl::Now() < deadline) {
    absl::StatusOr<std::unique_ptr<SseConnection>> connection = SseConnection::Open(
        router_http, absl::StrCat("/v1/topics/", EncodeTopic(topic), "/events"));
    if (connection.ok() && (*connection)->status() == 200) return *std::move(connection);
    absl::SleepFor(absl::Milliseconds(50));
  }
  ADD_FAILURE() << "no 200 for " << topic << " through " << router_http;
  return nullptr;
}

// Publishes one event to the node that the router's ring names, retrying while that node has
// not applied the ring yet. Returns the event id.
absl::StatusOr<std::string> PublishToOwner(const std::string& router_grpc, const std::string& topic,
                                           const std::string& data) {
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  absl::Status last = absl::DeadlineExceededError("no attempt");
  while (absl::Now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::RingSnapshot snapshot;
    grpc::Status got = ClusterStub(router_grpc)->GetRing(&context, {}, &snapshot);
    if (!got.ok()) return absl::UnavailableError(got.error_message());
    absl::StatusOr<Ring> ring = RingFromProto(snapshot);
    if (!ring.ok()) return ring.status();
    client::PublisherClient publisher(ring->Lookup(topic).grpc_address);
    absl::StatusOr<client::PublishResult> result = publisher.Publish(
        {.topic = topic, .data = data, .deadline = absl::Now() + absl::Seconds(5)});
    if (result.ok()) return result->event_id;
    last = result.status();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return last;
}

TEST(UpTest, ServesThroughTheRouterAndStopsEveryChildOnSigint) {
  // Given `ringcast up --nodes=3`, expect four pids, an event published to the owner arriving
  // through the router, and after SIGINT exit 0 with every printed pid gone.
  absl::StatusOr<UpProcess> up = StartUp({"--nodes=3"});
  ASSERT_THAT(up, IsOk());
  ASSERT_THAT(up->pids, SizeIs(4));
  EXPECT_THAT(up->process->output(), HasSubstr(absl::StrCat("curl -N http://", up->router_http,
                                                            "/v1/topics/demo/events")));
  EXPECT_THAT(up->process->output(),
              HasSubstr(absl::StrCat("publish --router=", up->router_grpc, " --topic=demo")));

  std::unique_ptr<SseConnection> subscriber = SubscribeThroughRouter(up->router_http, "demo");
  ASSERT_NE(subscriber, nullptr);
  absl::StatusOr<std::string> id = PublishToOwner(up->router_grpc, "demo", "hello");
  ASSERT_THAT(id, IsOk());
  absl::StatusOr<sse::ParsedEvent> event = subscriber->Next(absl::Seconds(10));
  ASSERT_THAT(event, IsOk());
  EXPECT_EQ(event->data, "hello");
  EXPECT_EQ(event->id, *id);
  subscriber.reset();

  ASSERT_THAT(up->process->Signal(SIGINT), IsOk());
  EXPECT_THAT(up->process->Wait(absl::Seconds(30)), IsOkAndHolds(0));
  for (int pid : up->pids) EXPECT_TRUE(AwaitGone(pid, absl::Seconds(10))) << "pid " << pid;
}

TEST(UpTest, AChildThatDiesStopsTheRestWithExitOne) {
  // Given a node SIGKILLed behind `up`'s back, expect `up` to stop the others and exit 1.
  absl::StatusOr<UpProcess> up = StartUp({"--nodes=2"});
  ASSERT_THAT(up, IsOk());
  ASSERT_THAT(up->pids, SizeIs(3));
  ASSERT_EQ(::kill(up->pids[2], SIGKILL), 0);
  EXPECT_THAT(up->process->Wait(absl::Seconds(30)), IsOkAndHolds(1));
  for (int pid : up->pids) EXPECT_TRUE(AwaitGone(pid, absl::Seconds(10))) << "pid " << pid;
}

TEST(UpTest, BadUsageExitsTwoAndMissingBinariesExitOne) {
  // Given --nodes=0, expect exit 2; given a --bin_dir without the binaries, expect exit 1.
  absl::StatusOr<std::unique_ptr<ChildProcess>> zero =
      ChildProcess::Start(CliBinaryPath(), {"up", "--nodes=0"});
  ASSERT_THAT(zero, IsOk());
  EXPECT_THAT((*zero)->Wait(absl::Seconds(10)), IsOkAndHolds(2));
  absl::StatusOr<std::unique_ptr<ChildProcess>> nowhere = ChildProcess::Start(
      CliBinaryPath(), {"up", absl::StrCat("--bin_dir=", ::testing::TempDir(), "/no-such-dir")});
  ASSERT_THAT(nowhere, IsOk());
  EXPECT_THAT((*nowhere)->Wait(absl::Seconds(10)), IsOkAndHolds(1));
}

}  // namespace
}  // namespace ringcast::testing
