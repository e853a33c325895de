// cli_publish_test.cc — `ringcast publish` (RunPublish) against real ringcast-node processes on
// loopback: ids printed, what subscribers receive, stdin mode with producer sequences, generated
// mode and its summary, the node's errors (wrong owner, limits, draining) on stderr, and
// publishing through a real router's ring (--router).
#include <sstream>
#include <string>
#include <vector>

#include "cli/publish.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/real_node.h"
#include "tests/router/router_fixture.h"
#include "tests/support/status_matchers.h"

namespace ringcast::cli {
namespace {

using ::ringcast::testing::DrainHoldFlags;
using ::ringcast::testing::HoldDraining;
using ::ringcast::testing::IsOk;
using ::ringcast::testing::IsOkAndHolds;
using ::ringcast::testing::NodeProcess;
using ::ringcast::testing::RouterCluster;
using ::ringcast::testing::StartRouterCluster;
using ::ringcast::testing::SseConnection;
using ::ringcast::testing::StartNode;
using ::ringcast::testing::StartTwoNodeRing;
using ::ringcast::testing::SubscribeTo;
using ::ringcast::testing::TwoNodeRing;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

// The command's verbs against a node the test starts.
class PublishCommandTest : public ::testing::Test {
 protected:
  void StartNodeWith(std::vector<std::string> flags) {
    absl::StatusOr<NodeProcess> node = StartNode(std::move(flags));
    ASSERT_THAT(node, IsOk());
    node_ = *std::move(node);
  }

  PublishCommandOptions Options(std::string topic) {
    PublishCommandOptions options;
    options.node = node_.grpc_address;
    options.topic = std::move(topic);
    return options;
  }

  int Run(const PublishCommandOptions& options, const std::string& input = "") {
    std::istringstream in(input);
    out_.str("");
    err_.str("");
    return RunPublish(options, in, out_, err_);
  }

  std::unique_ptr<SseConnection> Subscribe(const std::string& topic) {
    absl::StatusOr<std::unique_ptr<SseConnection>> connection = SubscribeTo(node_, topic);
    EXPECT_THAT(connection, IsOk());
    if (!connection.ok()) return nullptr;
    EXPECT_EQ((*connection)->status(), 200);
    return *std::move(connection);
  }

  NodeProcess node_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(PublishCommandTest, OneEventPrintsItsId) {
  // Given --topic=t --data=hi --type=greeting, expect "<epoch>:1", exit 0, and the event live.
  StartNodeWith({});
  std::unique_ptr<SseConnection> subscriber = Subscribe("t");
  ASSERT_NE(subscriber, nullptr);
  PublishCommandOptions options = Options("t");
  options.data = "hi";
  options.type = "greeting";
  EXPECT_EQ(Run(options), 0) << err_.str();
  EXPECT_THAT(out_.str(), MatchesRegex("[0-9]+:1\n"));
  EXPECT_EQ(err_.str(), "");

  absl::StatusOr<sse::ParsedEvent> event = subscriber->Next(absl::Seconds(10));
  ASSERT_THAT(event, IsOk());
  EXPECT_EQ(event->id + "\n", out_.str());
  EXPECT_EQ(event->type, "greeting");
  EXPECT_EQ(event->data, "hi");
}

TEST_F(PublishCommandTest, WrongOwnerPrintsTheOwnerAndFails) {
  // Given a topic a two-node ring gives to b, sent to a, expect exit 1 and b's address on stderr.
  absl::StatusOr<TwoNodeRing> ring = StartTwoNodeRing("cli_wrong_owner");
  ASSERT_THAT(ring, IsOk());
  const std::string topic = ring->TopicOwnedBy("b");
  ASSERT_FALSE(topic.empty());
  PublishCommandOptions options;
  options.node = ring->a.grpc_address;
  options.topic = topic;
  EXPECT_EQ(Run(options), 1);
  EXPECT_EQ(out_.str(), "");
  EXPECT_THAT(err_.str(),
              AllOf(StartsWith("ringcast publish: FAILED_PRECONDITION: topic '" + topic +
                               "' is owned by node b under ring version 1"),
                    HasSubstr("is owned by b at " + ring->b.grpc_address + " (ring version 1)")));

  options.node = ring->b.grpc_address;
  EXPECT_EQ(Run(options), 0) << err_.str();
  EXPECT_THAT(out_.str(), MatchesRegex("[0-9]+:1\n"));
}

TEST_F(PublishCommandTest, StdinPublishesOneEventPerLine) {
  // Given 3 lines, --producer_id=p1 --first_sequence=7, expect 3 events; a rerun, duplicates.
  StartNodeWith({});
  std::unique_ptr<SseConnection> subscriber = Subscribe("t");
  ASSERT_NE(subscriber, nullptr);
  PublishCommandOptions options = Options("t");
  options.from_stdin = true;
  options.producer_id = "p1";
  options.first_sequence = 7;
  EXPECT_EQ(Run(options, "a\nb\r\nc\n"), 0) << err_.str();
  const std::string ids = out_.str();
  const std::string epoch = ids.substr(0, ids.find(':'));
  EXPECT_EQ(ids, absl::StrCat(epoch, ":1\n", epoch, ":2\n", epoch, ":3\n"));

  absl::StatusOr<std::vector<sse::ParsedEvent>> events = subscriber->NextN(3, absl::Seconds(10));
  ASSERT_THAT(events, IsOk());
  EXPECT_EQ((*events)[0].data, "a");
  EXPECT_EQ((*events)[1].data, "b");
  EXPECT_EQ((*events)[2].data, "c");
  EXPECT_EQ((*events)[2].id, epoch + ":3");

  // The node keeps a producer's last sequence and its id, so older duplicates print "-".
  EXPECT_EQ(Run(options, "a\nb\r\nc\n"), 0) << err_.str();
  EXPECT_EQ(out_.str(), absl::StrCat("-\n-\n", epoch, ":3\n"));
  EXPECT_THAT(err_.str(), HasSubstr("sequence 7 was already appended (duplicate)"));
  EXPECT_THAT(err_.str(), HasSubstr("sequence 9 was already appended (duplicate)"));

  options.first_sequence = 11;
  EXPECT_EQ(Run(options, "d\n"), 1);
  EXPECT_THAT(err_.str(), AllOf(HasSubstr("OUT_OF_RANGE"),
                                HasSubstr("producer p1 topic \"t\" expected sequence 10, got 11")));
}

TEST_F(PublishCommandTest, GeneratedEventsPrintASummary) {
  // Given --count=50 (no rate limit), expect 50 numbered events received and a clean summary.
  StartNodeWith({});
  std::unique_ptr<SseConnection> subscriber = Subscribe("t");
  ASSERT_NE(subscriber, nullptr);
  PublishCommandOptions options = Options("t");
  options.count = 50;
  EXPECT_EQ(Run(options), 0) << err_.str();
  EXPECT_THAT(out_.str(), StartsWith("accepted=50 duplicates=0 errors=0 elapsed_s="));
  absl::StatusOr<std::vector<sse::ParsedEvent>> events = subscriber->NextN(50, absl::Seconds(10));
  ASSERT_THAT(events, IsOk());
  EXPECT_THAT((*events)[0].data, MatchesRegex(R"(\{"seq":1,"sent_us":[0-9]+\})"));
  EXPECT_THAT((*events)[49].data, MatchesRegex(R"(\{"seq":50,"sent_us":[0-9]+\})"));
}

TEST_F(PublishCommandTest, GeneratedErrorsAreCountedByCode) {
  // Given --max_event_bytes=16 on the node, expect 5 RESOURCE_EXHAUSTED counted and exit 1.
  StartNodeWith({"--max_event_bytes=16"});
  PublishCommandOptions options = Options("t");
  options.count = 5;
  options.rate = 1000;
  EXPECT_EQ(Run(options), 1);
  EXPECT_THAT(out_.str(), StartsWith("accepted=0 duplicates=0 errors=5 (RESOURCE_EXHAUSTED=5)"));
  EXPECT_THAT(err_.str(), HasSubstr("request 1: RESOURCE_EXHAUSTED: data is "));
  EXPECT_THAT(err_.str(), HasSubstr("limit exceeded: max_event_bytes is 16, request reached "));
}

TEST_F(PublishCommandTest, DrainingNodeFailsWithItsRetryHint) {
  // Given a node draining after SIGTERM, expect exit 1 and UNAVAILABLE with its retry hint.
  StartNodeWith(DrainHoldFlags());
  absl::StatusOr<std::unique_ptr<SseConnection>> stalled = HoldDraining(node_);
  ASSERT_THAT(stalled, IsOk());
  PublishCommandOptions options = Options("t");
  options.data = "late";
  EXPECT_EQ(Run(options), 1);
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(err_.str(),
            "ringcast publish: UNAVAILABLE: node is shutting down\n"
            "  retry: reason draining, after 1000 ms\n");
  (*stalled)->Close();
  EXPECT_THAT(node_.process->Wait(absl::Seconds(15)), IsOkAndHolds(0));
}

TEST_F(PublishCommandTest, ThroughARouterEachEventReachesItsOwner) {
  // Given a router and 3 nodes, expect --router to publish one event to node-2's topic (its id
  // printed, the event at node-2), 20 generated events with a producer to node-3's topic, and
  // --node with --router to be a usage error.
  absl::StatusOr<RouterCluster> cluster = StartRouterCluster("cli_publish_router");
  ASSERT_THAT(cluster, IsOk());
  const std::string topic = cluster->TopicOwnedBy("node-2");
  ASSERT_FALSE(topic.empty());
  absl::StatusOr<std::unique_ptr<SseConnection>> subscriber =
      SubscribeTo(*cluster->node("node-2"), topic);
  ASSERT_THAT(subscriber, IsOk());
  ASSERT_EQ((*subscriber)->status(), 200);

  PublishCommandOptions options;
  options.node = "";
  options.router = cluster->router.grpc_address;
  options.topic = topic;
  options.data = "routed";
  EXPECT_EQ(Run(options), 0) << err_.str();
  EXPECT_THAT(out_.str(), MatchesRegex("[0-9]+:1\n"));
  absl::StatusOr<sse::ParsedEvent> event = (*subscriber)->Next(absl::Seconds(10));
  ASSERT_THAT(event, IsOk());
  EXPECT_EQ(event->id + "\n", out_.str());
  EXPECT_EQ(event->data, "routed");

  options.topic = cluster->TopicOwnedBy("node-3");
  options.data = "";
  options.count = 20;
  options.producer_id = "cli-router";
  EXPECT_EQ(Run(options), 0) << err_.str();
  EXPECT_THAT(out_.str(), StartsWith("accepted=20 duplicates=0 errors=0 "));
  EXPECT_EQ(::ringcast::testing::AwaitMetric(*cluster->node("node-3"),
                                             "ringcast_publish_requests_total", "code=\"OK\"", 20),
            20);

  options.node = "127.0.0.1:9090";
  EXPECT_EQ(Run(options), 1);
  EXPECT_THAT(err_.str(), HasSubstr("give one of --node"));
}

}  // namespace
}  // namespace ringcast::cli
