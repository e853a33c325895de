// multi_topic_test.cc — GET /v1/events?topic=a&topic=b… through a real router in front of three
// real nodes: events of all topics merged into one stream, framed `topic\ndata`, and one
// Last-Event-ID resuming every topic with no gap and no duplicate; malformed ids reset every
// topic; limits and a dead owner give clear errors.
#include <signal.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tests/router/subscribe_fixture.h"

namespace ringcast::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class MultiTopicTest : public RouterSubscribeTest {
 protected:
  // Twenty topics spread over the three nodes (each node owns some).
  std::vector<std::string> TwentyTopics() const {
    std::vector<std::string> topics;
    for (int i = 0; i < 20; ++i) topics.push_back(absl::StrCat("room/", i));
    return topics;
  }

  static std::string EventsPath(const std::vector<std::string>& topics) {
    std::vector<std::string> params;
    for (const std::string& topic : topics) params.push_back("topic=" + EncodeTopic(topic));
    return "/v1/events?" + absl::StrJoin(params, "&");
  }

  // Publishes data "<first>".."<last>" to every topic, interleaved.
  void PublishRound(const std::vector<std::string>& topics, int first, int last) {
    for (int n = first; n <= last; ++n) {
      for (const std::string& topic : topics) Publish(topic, std::to_string(n), "chat");
    }
  }

  // Reads `count` events and splits each into (topic, data) by its first newline.
  std::vector<std::pair<std::string, std::string>> ReadSplit(SseConnection& stream,
                                                             size_t count) {
    absl::StatusOr<std::vector<sse::ParsedEvent>> events = stream.NextN(count, absl::Seconds(15));
    EXPECT_THAT(events, IsOk());
    std::vector<std::pair<std::string, std::string>> out;
    if (!events.ok()) return out;
    for (const sse::ParsedEvent& event : *events) {
      std::pair<std::string, std::string> split = absl::StrSplit(event.data, absl::MaxSplits('\n', 1));
      out.push_back(std::move(split));
      types_.push_back(event.type);
    }
    return out;
  }

  // Expects, per topic, the data first..last in order, and nothing else.
  static void ExpectPerTopic(const std::vector<std::pair<std::string, std::string>>& events,
                             const std::vector<std::string>& topics, int first, int last) {
    std::map<std::string, std::vector<std::string>> by_topic;
    for (const auto& [topic, data] : events) by_topic[topic].push_back(data);
    std::vector<std::string> expected;
    for (int n = first; n <= last; ++n) expected.push_back(std::to_string(n));
    EXPECT_EQ(by_topic.size(), topics.size());
    for (const std::string& topic : topics) EXPECT_EQ(by_topic[topic], expected) << topic;
  }

  std::vector<std::string> types_;  // event types read by ReadSplit
};

TEST_F(MultiTopicTest, TwentyTopicsOnThreeNodesResumeExactly) {
  // Given 20 topics on 3 nodes in one stream, 3 events each, a drop, 3 more each, expect the
  // resumed stream to carry exactly events 4..6 of every topic.
  StartCluster();
  const std::vector<std::string> topics = TwentyTopics();
  std::vector<int> per_node(3, 0);
  for (const std::string& topic : topics) ++per_node[OwnerIndex(topic)];
  ASSERT_GT(per_node[0] * per_node[1] * per_node[2], 0) << "every node should own a topic";

  std::unique_ptr<SseConnection> stream = SubscribeVia(EventsPath(topics));
  ASSERT_NE(stream, nullptr);
  ASSERT_EQ(stream->status(), 200) << stream->body();
  PublishRound(topics, 1, 3);
  ExpectPerTopic(ReadSplit(*stream, 60), topics, 1, 3);
  for (const std::string& type : types_) EXPECT_EQ(type, "chat");
  const std::string last_id = stream->last_event_id();
  EXPECT_THAT(last_id, StartsWith("m1."));
  stream->Close();

  PublishRound(topics, 4, 6);
  std::unique_ptr<SseConnection> resumed =
      SubscribeVia(EventsPath(topics), {{"Last-Event-ID", last_id}});
  ASSERT_NE(resumed, nullptr);
  ASSERT_EQ(resumed->status(), 200);
  ExpectPerTopic(ReadSplit(*resumed, 60), topics, 4, 6);

  // Live events after the replay, and the query form of the resume point.
  const std::string resumed_id = resumed->last_event_id();
  Publish(topics[7], "7", "chat");
  std::vector<std::pair<std::string, std::string>> live = ReadSplit(*resumed, 1);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0], std::make_pair(topics[7], std::string("7")));
  resumed->Close();
  std::unique_ptr<SseConnection> by_query =
      SubscribeVia(EventsPath(topics) + "&lastEventId=" + EncodeTopic(resumed_id));
  ASSERT_NE(by_query, nullptr);
  live = ReadSplit(*by_query, 1);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0], std::make_pair(topics[7], std::string("7")));
}

TEST_F(MultiTopicTest, TopicQuietBeforeTheDropResumesFromWhereTheStreamOpened) {
  // Given three topics on three nodes where "quiet" gets no event before the client drops and
  // three while it is away, expect the resume with the stream's last id to deliver those three
  // (no gap), each once (no duplicate), and nothing again of the other topics.
  StartCluster();
  const std::string loud = TopicOn(0, "loud");
  const std::string quiet = TopicOn(1, "quiet");
  const std::string idle = TopicOn(2, "idle");
  const std::vector<std::string> topics = {loud, quiet, idle};
  // NOTE: a topic with neither events nor subscribers is forgotten by its node's sweep, and
  // its next incarnation has a new epoch (the resume would then be a ringcast.reset "epoch"
  // with everything replayed). A direct subscriber keeps "quiet" alive, so the resume here
  // must be exact.
  absl::StatusOr<std::unique_ptr<SseConnection>> keep_alive =
      SseConnection::Open(cluster_.nodes[1].http_address, TopicPath(quiet));
  ASSERT_THAT(keep_alive, IsOk());
  ASSERT_EQ((*keep_alive)->status(), 200);

  std::unique_ptr<SseConnection> stream = SubscribeVia(EventsPath(topics));
  ASSERT_NE(stream, nullptr);
  ASSERT_EQ(stream->status(), 200) << stream->body();
  // The stream's first id arrives without an event (an id-only message) and names every topic.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (stream->last_event_id().empty() && absl::Now() < deadline) {
    EXPECT_THAT(stream->Next(absl::Milliseconds(50)),
                StatusIs(absl::StatusCode::kDeadlineExceeded));
  }
  EXPECT_THAT(stream->last_event_id(), StartsWith("m1."));
  EXPECT_THAT(stream->last_event_id(), Not(HasSubstr(".-")));
  Publish(loud, "1", "chat");
  ASSERT_EQ(ReadSplit(*stream, 1), (std::vector<std::pair<std::string, std::string>>{{loud, "1"}}));
  const std::string last_id = stream->last_event_id();
  stream->Close();

  PublishRound({quiet}, 1, 3);
  Publish(loud, "2", "chat");
  std::unique_ptr<SseConnection> resumed =
      SubscribeVia(EventsPath(topics), {{"Last-Event-ID", last_id}});
  ASSERT_NE(resumed, nullptr);
  ASSERT_EQ(resumed->status(), 200);
  Publish(idle, "end", "chat");  // live, after the replay: the last event to read
  std::vector<std::pair<std::string, std::string>> events;
  while (events.empty() || events.back().first != idle) {
    std::vector<std::pair<std::string, std::string>> next = ReadSplit(*resumed, 1);
    ASSERT_EQ(next.size(), 1u) << "read so far: " << events.size();
    events.push_back(next[0]);
  }
  std::map<std::string, std::vector<std::string>> by_topic;
  for (const auto& [topic, data] : events) by_topic[topic].push_back(data);
  EXPECT_EQ(by_topic[quiet], (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(by_topic[loud], (std::vector<std::string>{"2"}));
  EXPECT_EQ(by_topic[idle], (std::vector<std::string>{"end"}));
  for (const std::string& type : types_) EXPECT_EQ(type, "chat");
}

TEST_F(MultiTopicTest, SingleTopicProxyPassesTheNodesPositionThrough) {
  // Given a topic with two events, expect the router's single-topic stream to carry the
  // node's Ringcast-Position unchanged (the id of event 2), and the node's own stream the same.
  StartCluster();
  const std::string topic = TopicOn(2, "pos");
  Publish(topic, "a");
  const std::string second = Publish(topic, "b");
  std::unique_ptr<SseConnection> proxied = SubscribeVia(TopicPath(topic));
  ASSERT_NE(proxied, nullptr);
  ASSERT_EQ(proxied->status(), 200);
  EXPECT_EQ(proxied->header("Ringcast-Position"), second);
  absl::StatusOr<std::unique_ptr<SseConnection>> direct =
      SseConnection::Open(cluster_.nodes[2].http_address, TopicPath(topic));
  ASSERT_THAT(direct, IsOk());
  EXPECT_EQ((*direct)->header("Ringcast-Position"), second);
}

TEST_F(MultiTopicTest, MalformedOrForeignIdResetsEveryTopic) {
  StartCluster();
  const std::vector<std::string> topics = {"reset/a", "reset/b", "reset/c", "reset/d"};
  PublishRound(topics, 1, 2);
  std::unique_ptr<SseConnection> first = SubscribeVia(EventsPath(topics), {{"Last-Event-ID", "m1.bogus"}});
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(first->status(), 200);
  // Per topic: the node's ringcast.reset (no id; data "topic\n{json}"), then its buffer.
  absl::StatusOr<std::vector<sse::ParsedEvent>> events = first->NextN(12, absl::Seconds(15));
  ASSERT_THAT(events, IsOk());
  std::map<std::string, std::vector<std::string>> by_topic;
  for (const sse::ParsedEvent& event : *events) {
    std::pair<std::string, std::string> split =
        absl::StrSplit(event.data, absl::MaxSplits('\n', 1));
    if (event.type == "ringcast.reset") {
      EXPECT_FALSE(event.has_id);
      EXPECT_THAT(split.second, HasSubstr("\"reason\":\"malformed\""));
      by_topic[split.first].push_back("reset");
    } else {
      by_topic[split.first].push_back(split.second);
    }
  }
  for (const std::string& topic : topics) {
    EXPECT_EQ(by_topic[topic], (std::vector<std::string>{"reset", "1", "2"})) << topic;
  }

  // An id of another topic list resets too (never a 400).
  const std::string other_id = first->last_event_id();
  std::unique_ptr<SseConnection> other =
      SubscribeVia(EventsPath({"reset/a", "reset/b"}), {{"Last-Event-ID", other_id}});
  ASSERT_NE(other, nullptr);
  ASSERT_EQ(other->status(), 200);
  absl::StatusOr<sse::ParsedEvent> event = other->Next(absl::Seconds(10));
  ASSERT_THAT(event, IsOk());
  EXPECT_EQ(event->type, "ringcast.reset");
}

TEST_F(MultiTopicTest, TopicListErrorsAre400) {
  StartCluster();
  std::vector<std::string> many;
  for (int i = 0; i < 65; ++i) many.push_back(absl::StrCat("t", i));
  struct Case {
    std::string target;
    std::string reason;
  };
  for (const Case& c : std::vector<Case>{
           {EventsPath(many), "at most 64"},
           {"/v1/events", "no topic"},
           {"/v1/events?topic=a&topic=a", "named twice"},
           {"/v1/events?topic=a%0Ab", "topic 1"},
       }) {
    absl::StatusOr<HttpResponse> response = HttpGet(cluster_.router.http_address, c.target);
    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->status, 400) << c.target;
    EXPECT_THAT(response->body, HasSubstr(c.reason)) << c.target;
  }
  many.pop_back();
  std::unique_ptr<SseConnection> full = SubscribeVia(EventsPath(many));
  ASSERT_NE(full, nullptr);
  EXPECT_EQ(full->status(), 200);
}

TEST_F(MultiTopicTest, RedirectModeStillProxiesMultiTopicStreams) {
  StartCluster({.router_flags = {"--mode=redirect"}});
  const std::vector<std::string> topics = {TopicOn(0, "r"), TopicOn(1, "r"), TopicOn(2, "r")};
  std::unique_ptr<SseConnection> stream = SubscribeVia(EventsPath(topics));
  ASSERT_NE(stream, nullptr);
  ASSERT_EQ(stream->status(), 200);
  PublishRound(topics, 1, 1);
  ExpectPerTopic(ReadSplit(*stream, 3), topics, 1, 1);
}

TEST_F(MultiTopicTest, OneDeadOwnerFailsTheWholeRequestAndCutsOpenStreams) {
  // The router tries to resume the dead owner's upstream for this long, then ends the stream.
  StartCluster({.router_flags = {"--upstream_resume_timeout_ms=300"}});
  const std::vector<std::string> topics = {TopicOn(0, "d"), TopicOn(1, "d"), TopicOn(2, "d")};
  std::unique_ptr<SseConnection> open = SubscribeVia(EventsPath(topics));
  ASSERT_NE(open, nullptr);
  ASSERT_EQ(open->status(), 200);

  ASSERT_THAT(cluster_.nodes[2].process->Signal(SIGKILL), IsOk());
  ASSERT_THAT(cluster_.nodes[2].process->Wait(absl::Seconds(10)), IsOk());
  EXPECT_TRUE(open->WaitClosed(absl::Seconds(10)));
  EXPECT_TRUE(open->retry_ms().has_value());
  EXPECT_GE(RouterMetric("ringcast_router_streams_closed_total", "cause=\"upstream_ended\""), 1);
  EXPECT_GE(RouterMetric("ringcast_router_upstream_resumes_total", "result=\"timeout\""), 1);

  absl::StatusOr<HttpResponse> refused = HttpGet(cluster_.router.http_address, EventsPath(topics));
  ASSERT_THAT(refused, IsOk());
  EXPECT_EQ(refused->status, 503);
  EXPECT_TRUE(refused->header("Retry-After").has_value());
  EXPECT_THAT(refused->body, HasSubstr(topics[2]));
  // Nothing is left open on the live nodes.
  for (size_t node : {0u, 1u}) {
    EXPECT_EQ(AwaitNodeMetric(node, "ringcast_streams", [](double v) { return v == 0; }), 0);
  }
}

}  // namespace
}  // namespace ringcast::testing
