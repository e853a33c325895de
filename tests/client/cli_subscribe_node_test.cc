// subscribe_node_test.cc — `ringcast subscribe` (RunSubscribe) against real ringcast-node
// processes on loopback: following a real 307 from one node to the topic's owner, resuming with
// Last-Event-ID after the node ends the stream, a ringcast.reset for a malformed resume point,
// JSON output, and giving up on the node's 400. Events are published with the client library.
#include <atomic>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/subscribe.h"
#include "client/publisher_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/real_node.h"
#include "tests/support/status_matchers.h"

namespace ringcast::cli {
namespace {

using ::ringcast::testing::AwaitMetric;
using ::ringcast::testing::IsOk;
using ::ringcast::testing::Metric;
using ::ringcast::testing::NodeProcess;
using ::ringcast::testing::StartNode;
using ::ringcast::testing::StartTwoNodeRing;
using ::ringcast::testing::TwoNodeRing;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Publishes one event at `grpc_address`; returns its id ("" after a failed expectation).
std::string Publish(const std::string& grpc_address, const std::string& topic,
                    const std::string& data, const std::string& type = "") {
  client::PublisherClient publisher(grpc_address);
  absl::StatusOr<client::PublishResult> result =
      publisher.Publish({.topic = topic, .type = type, .data = data});
  EXPECT_THAT(result, IsOk());
  return result.ok() ? result->event_id : "";
}

// RunSubscribe on a thread of its own, for tests that publish while it runs. The state is
// shared with the thread, so a test that gives up waiting can leave it behind safely.
class BackgroundSubscribe {
 public:
  explicit BackgroundSubscribe(SubscribeCommandOptions options)
      : state_(std::make_shared<State>()) {
    state_->options = std::move(options);
    thread_ = std::thread([state = state_] {
      state->code = RunSubscribe(state->options, state->out, state->err);
      state->done = true;
    });
  }
  ~BackgroundSubscribe() {
    if (thread_.joinable()) thread_.detach();
  }

  // Waits up to `timeout` for the command to return; false if it is still running.
  bool Wait(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!state_->done.load() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
    if (!state_->done.load()) return false;
    thread_.join();
    return true;
  }
  // After a successful Wait only.
  int code() const { return state_->code; }
  std::string out() const { return state_->out.str(); }
  std::string err() const { return state_->err.str(); }

 private:
  struct State {
    SubscribeCommandOptions options;
    std::ostringstream out;
    std::ostringstream err;
    int code = -1;
    std::atomic<bool> done{false};
  };
  std::shared_ptr<State> state_;
  std::thread thread_;
};

TEST(SubscribeNode, FollowsARealRedirectToTheOwner) {
  // Given a topic of b asked at a (two-node ring), expect a's 307 followed and b's replay printed.
  absl::StatusOr<TwoNodeRing> ring = StartTwoNodeRing("cli_redirect");
  ASSERT_THAT(ring, IsOk());
  const std::string topic = ring->TopicOwnedBy("b", "orders/");
  ASSERT_FALSE(topic.empty());
  const std::string first = Publish(ring->b.grpc_address, topic, "one");
  const std::string second = Publish(ring->b.grpc_address, topic, "two", "price");

  SubscribeCommandOptions options;
  options.url = "http://" + ring->a.http_address;
  options.topic = topic;
  options.last_event_id = first;
  options.count = 1;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunSubscribe(options, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), second + " price two\n");
  EXPECT_EQ(err.str(), "");
  EXPECT_EQ(Metric(ring->a, "ringcast_redirects_total"), 1);
  EXPECT_EQ(Metric(ring->a, "ringcast_streams_opened_total"), 0);
  EXPECT_EQ(Metric(ring->b, "ringcast_streams_opened_total"), 1);
}

TEST(SubscribeNode, ResumesWithLastEventIdAfterTheNodeEndsTheStream) {
  // Given a 1 s stream lifetime, expect events published while reconnecting replayed in order.
  absl::StatusOr<NodeProcess> node =
      StartNode({"--max_stream_lifetime_seconds=1", "--retry_ms=3000"});
  ASSERT_THAT(node, IsOk());
  SubscribeCommandOptions options;
  options.url = "http://" + node->http_address;
  options.topic = "chat";
  options.count = 4;
  BackgroundSubscribe subscribe(options);

  ASSERT_EQ(AwaitMetric(*node, "ringcast_streams", "", 1), 1);
  std::vector<std::string> ids = {Publish(node->grpc_address, "chat", "one"),
                                  Publish(node->grpc_address, "chat", "two")};
  // The lifetime ends the stream; the CLI waits the node's retry: (3 s) before resuming.
  ASSERT_EQ(AwaitMetric(*node, "ringcast_streams_closed_total", "cause=\"lifetime\"", 1), 1);
  ids.push_back(Publish(node->grpc_address, "chat", "three"));
  ids.push_back(Publish(node->grpc_address, "chat", "four"));
  EXPECT_EQ(Metric(*node, "ringcast_streams"), 0);  // published while no stream was open

  ASSERT_TRUE(subscribe.Wait(absl::Seconds(30))) << "still running";
  EXPECT_EQ(subscribe.code(), 0) << subscribe.err();
  EXPECT_EQ(subscribe.out(), absl::StrCat(ids[0], " message one\n", ids[1], " message two\n",
                                          ids[2], " message three\n", ids[3], " message four\n"));
  EXPECT_THAT(subscribe.err(),
              HasSubstr("the server ended the stream; reconnecting in 3000 ms from " + ids[1]));
  EXPECT_EQ(Metric(*node, "ringcast_streams_opened_total"), 2);
}

TEST(SubscribeNode, MalformedResumePointStartsWithReset) {
  // Given --last_event_id=not-an-id, expect the node's ringcast.reset first, then its buffer.
  absl::StatusOr<NodeProcess> node = StartNode({});
  ASSERT_THAT(node, IsOk());
  const std::string first = Publish(node->grpc_address, "t", "one");
  const std::string second = Publish(node->grpc_address, "t", "two");
  const std::string epoch = first.substr(0, first.find(':'));

  SubscribeCommandOptions options;
  options.url = "http://" + node->http_address;
  options.topic = "t";
  options.last_event_id = "not-an-id";
  options.count = 3;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunSubscribe(options, out, err), 0) << err.str();
  // The reset has no id: the line shows the id EventSource would still report, the one sent.
  EXPECT_EQ(out.str(), absl::StrCat("not-an-id ringcast.reset {\"reason\":\"malformed\","
                                    "\"requested\":\"not-an-id\",\"epoch\":",
                                    epoch, ",\"resume_offset\":1}\n", first, " message one\n",
                                    second, " message two\n"));
  EXPECT_EQ(Metric(*node, "ringcast_resets_total", "reason=\"malformed\""), 1);
}

TEST(SubscribeNode, SendsTheGivenResumePointAndPrintsJson) {
  // Given --last_event_id of the first of two events and --format=json, expect the second as JSON.
  absl::StatusOr<NodeProcess> node = StartNode({});
  ASSERT_THAT(node, IsOk());
  const std::string first = Publish(node->grpc_address, "t", "skipped");
  const std::string second = Publish(node->grpc_address, "t", "say \"hi\"", "greeting");
  SubscribeCommandOptions options;
  options.url = "http://" + node->http_address + "/";
  options.topic = "t";
  options.last_event_id = first;
  options.count = 1;
  options.format = OutputFormat::kJson;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunSubscribe(options, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), absl::StrCat(R"({"id":")", second,
                                    R"(","type":"greeting","data":"say \"hi\""})", "\n"));
}

TEST(SubscribeNode, GivesUpOnTheNodesBadRequest) {
  // Given a topic the node refuses (a space), expect exit 1 and the node's 400 reason on stderr.
  absl::StatusOr<NodeProcess> node = StartNode({});
  ASSERT_THAT(node, IsOk());
  SubscribeCommandOptions options;
  options.url = "http://" + node->http_address;
  options.topic = "a b";
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunSubscribe(options, out, err), 1);
  EXPECT_EQ(out.str(), "");
  EXPECT_THAT(err.str(),
              AllOf(StartsWith("ringcast subscribe: HTTP 400 Bad Request from http://" +
                               node->http_address + "/v1/topics/a%20b/events: topic may "),
                    HasSubstr("byte 0x20 at offset 1")));
  EXPECT_EQ(Metric(*node, "ringcast_http_rejected_total", "reason=\"bad_topic\""), 1);
}

}  // namespace
}  // namespace ringcast::cli
