// node_subscribe_test.cc — the subscribe contract of a real node: stream headers and framing,
// replay with Last-Event-ID, resets, races between resume and publishers, fan-out to many
// subscribers, heartbeats, lifetimes, redirects and CORS.
#include <atomic>
#include <fstream>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "tests/integration/node_fixture.h"

namespace ringcast::testing {
namespace {

using ::testing::HasSubstr;

// Given a fresh node, expect a stream to open with the SSE headers and its first bytes at once,
// and an event's multi-line data, type and id to arrive as EventSource would see them.
TEST_F(NodeTest, StreamOpensAtOnceAndCarriesEventsAsEventSourceSeesThem) {
  StartNodeWith({});
  auto stream = Subscribe("orders/42");
  ASSERT_EQ(stream->status(), 200);
  EXPECT_EQ(stream->header("Content-Type"), "text/event-stream; charset=utf-8");
  EXPECT_EQ(stream->header("Cache-Control"), "no-cache");
  EXPECT_EQ(stream->header("X-Accel-Buffering"), "no");
  EXPECT_EQ(stream->header("Transfer-Encoding"), "chunked");
  EXPECT_FALSE(stream->header("Content-Length").has_value());

  const std::string id = Publish("orders/42", "line one\r\nline two\rline three\n", "price");
  absl::StatusOr<sse::ParsedEvent> event = stream->Next(absl::Seconds(10));
  ASSERT_THAT(event, IsOk());
  EXPECT_EQ(event->type, "price");
  EXPECT_EQ(event->data, "line one\nline two\nline three\n");
  EXPECT_EQ(event->id, id);
  EXPECT_EQ(stream->retry_ms(), 2000u);
  EXPECT_GE(stream->comment_count(), 1u);  // the stream-open comment

  Publish("orders/42", "");  // empty data is an event too
  absl::StatusOr<sse::ParsedEvent> empty = stream->Next(absl::Seconds(10));
  ASSERT_THAT(empty, IsOk());
  EXPECT_EQ(empty->type, "message");
  EXPECT_EQ(empty->data, "");
}

// Given 500 events, expect a client resuming from the 100th to get exactly 101..500, then live
// events, and the same through the lastEventId query parameter.
TEST_F(NodeTest, ResumeReplaysExactlyWhatWasMissedThenLive) {
  StartNodeWith({});
  const std::vector<std::string> ids = PublishNumbered("chat/room-1", 500);
  auto resumed = Subscribe("chat/room-1", {{"Last-Event-ID", ids[99]}});
  ExpectNumbered(*resumed, 101, 500);
  Publish("chat/room-1", "501");
  ExpectNumbered(*resumed, 501, 501);

  absl::StatusOr<std::unique_ptr<SseConnection>> by_query = SseConnection::Open(
      node_.http_address, "/v1/topics/chat%2Froom-1/events?lastEventId=" + ids[497]);
  ASSERT_THAT(by_query, IsOk());
  ExpectNumbered(**by_query, 499, 501);
}

// Given a topic with no event, expect its stream's Ringcast-Position to be <epoch>:0 and a
// client that received nothing to resume from it exactly (events 1..3, no reset); a live stream
// after them is positioned at the newest event, a resumed one at its resume point.
TEST_F(NodeTest, RingcastPositionNamesWhereTheStreamStarts) {
  StartNodeWith({});
  auto first = Subscribe("fresh");
  const std::optional<std::string> start = first->header("Ringcast-Position");
  ASSERT_TRUE(start.has_value());
  EXPECT_TRUE(absl::EndsWith(*start, ":0")) << *start;
  const std::vector<std::string> ids = PublishNumbered("fresh", 3);
  EXPECT_EQ(start->substr(0, start->find(':')), ids[0].substr(0, ids[0].find(':')));
  auto resumed = Subscribe("fresh", {{"Last-Event-ID", *start}});
  EXPECT_EQ(resumed->header("Ringcast-Position"), *start);
  ExpectNumbered(*resumed, 1, 3);
  EXPECT_EQ(Subscribe("fresh")->header("Ringcast-Position"), ids[2]);
  EXPECT_EQ(Subscribe("fresh", {{"Last-Event-ID", ids[0]}})->header("Ringcast-Position"), ids[0]);
}

// Given a buffer of 10 events and 30 published, expect a resume from event 5 to start with one
// ringcast.reset naming what was lost, then the 10 events still held; the same for an id of
// another epoch and for a malformed id — never an error status.
TEST_F(NodeTest, ResumeBeyondTheBufferStartsWithReset) {
  StartNodeWith({"--buffer_max_events=10"});
  const std::vector<std::string> ids = PublishNumbered("t", 30);
  for (const std::string& point : {ids[4], std::string("1:5"), std::string("not-an-id"),
                                   std::string("99999999999999999999:1")}) {
    auto stream = Subscribe("t", {{"Last-Event-ID", point}});
    ASSERT_EQ(stream->status(), 200) << point;
    absl::StatusOr<sse::ParsedEvent> reset = stream->Next(absl::Seconds(10));
    ASSERT_THAT(reset, IsOk());
    EXPECT_EQ(reset->type, "ringcast.reset") << point;
    EXPECT_THAT(reset->data, HasSubstr("\"resume_offset\":21")) << reset->data;
    EXPECT_FALSE(reset->has_id);
    ExpectNumbered(*stream, 21, 30);
  }
  EXPECT_EQ(Metric("ringcast_resets_total", "reason=\"evicted\""), 1);
  EXPECT_EQ(Metric("ringcast_resets_total", "reason=\"malformed\""), 2);
  EXPECT_EQ(Metric("ringcast_resets_total", "reason=\"epoch\""), 1);
}

// Given 10 publishers racing on one topic, expect every resuming subscriber (each from a
// different point, many rounds) to see a gapless, duplicate-free sequence of offsets from its
// resume point to the last event.
TEST_F(NodeTest, ResumeRacingConcurrentPublishersIsGaplessAndDuplicateFree) {
  StartNodeWith({"--buffer_max_events=100000"});
  constexpr int kPublishers = 10;
  constexpr int kPerPublisher = 200;
  std::atomic<int> published{0};
  std::vector<std::thread> publishers;
  for (int p = 0; p < kPublishers; ++p) {
    publishers.emplace_back([&, p] {
      client::PublisherClient client(node_.grpc_address);
      for (int i = 0; i < kPerPublisher; ++i) {
        ASSERT_THAT(client.Publish({.topic = "race", .data = absl::StrCat(p, "-", i)}), IsOk());
        ++published;
      }
    });
  }
  // Resume from whatever was last seen while publishers keep going.
  std::vector<std::unique_ptr<SseConnection>> resumed;
  std::vector<uint64_t> first_offsets;
  std::string last_seen;
  while (published.load() < kPublishers * kPerPublisher - 50) {
    auto stream = Subscribe("race", last_seen.empty() ? HttpHeaders{}
                                                      : HttpHeaders{{"Last-Event-ID", last_seen}});
    absl::StatusOr<sse::ParsedEvent> event = stream->Next(absl::Seconds(10));
    if (!event.ok()) break;
    last_seen = event->id;
    resumed.push_back(std::move(stream));
    first_offsets.push_back(sse::ParseEventId(event->id)->offset);
  }
  for (std::thread& t : publishers) t.join();
  ASSERT_GE(resumed.size(), 5u);
  const uint64_t total = kPublishers * kPerPublisher;
  for (size_t s = 0; s < resumed.size(); ++s) {
    const uint64_t expected = total - first_offsets[s];
    absl::StatusOr<std::vector<sse::ParsedEvent>> rest =
        resumed[s]->NextN(static_cast<size_t>(expected), absl::Seconds(30));
    ASSERT_THAT(rest, IsOk()) << "stream " << s;
    uint64_t previous = first_offsets[s];
    for (const sse::ParsedEvent& event : *rest) {
      ASSERT_EQ(sse::ParseEventId(event.id)->offset, previous + 1) << "stream " << s;
      previous++;
    }
  }
}

// Given 1,000 subscribers over 10 topics, expect a burst of 1,000 events per topic to reach
// every subscriber complete and in order.
TEST_F(NodeTest, ThousandSubscribersReceiveABurstCompleteAndInOrder) {
  StartNodeWith({"--buffer_max_events=2000"});
  constexpr int kTopics = 10, kPerTopic = 100, kEvents = 1000;
  std::vector<std::unique_ptr<SseConnection>> streams;
  for (int t = 0; t < kTopics; ++t) {
    for (int s = 0; s < kPerTopic; ++s) {
      streams.push_back(Subscribe(absl::StrCat("burst-", t)));
      ASSERT_EQ(streams.back()->status(), 200);
    }
  }
  std::vector<std::thread> publishers;
  for (int t = 0; t < kTopics; ++t) {
    publishers.emplace_back([&, t] {
      client::PublisherClient client(node_.grpc_address);
      absl::StatusOr<std::unique_ptr<client::PublishStream>> stream = client.OpenStream();
      ASSERT_THAT(stream, IsOk());
      for (int i = 1; i <= kEvents; ++i) {
        ASSERT_THAT((*stream)->Send({.topic = absl::StrCat("burst-", t),
                                     .data = std::to_string(i)}),
                    IsOk());
      }
      absl::StatusOr<std::vector<client::StreamResult>> results = (*stream)->Finish();
      ASSERT_THAT(results, IsOk());
      for (const client::StreamResult& r : *results) ASSERT_THAT(r.result, IsOk());
    });
  }
  for (std::thread& t : publishers) t.join();
  for (auto& stream : streams) ExpectNumbered(*stream, 1, kEvents);
}

// Given a 150 ms heartbeat, expect an idle stream to receive comment heartbeats; given a
// 3 s lifetime (about 20 heartbeat intervals), expect the stream to end cleanly with a retry: so
// the client resumes.
TEST_F(NodeTest, IdleStreamsGetHeartbeatsAndLifetimeEndsWithRetry) {
  StartNodeWith({"--heartbeat_interval_ms=150", "--max_stream_lifetime_seconds=3",
                 "--retry_ms=750"});
  auto stream = Subscribe("quiet");
  EXPECT_TRUE(stream->WaitClosed(absl::Seconds(60)));
  EXPECT_TRUE(stream->ended_cleanly());
  EXPECT_GE(stream->comment_count(), 2u);  // the open comment and heartbeats
  EXPECT_EQ(stream->retry_ms(), 750u);
  EXPECT_GE(MetricReaching("ringcast_streams_closed_total", "cause=\"lifetime\"", 1), 1);
}

// Given a ring of two nodes where "b" owns a topic, expect node "a" to answer 307 to b's URL
// with the same path and query.
TEST_F(NodeTest, TopicOfAnotherNodeIsRedirectedToItsOwner) {
  const std::string ring_file = ::testing::TempDir() + "/two_nodes.textproto";
  // Q = 2: each node owns one partition, so some of 20 topics belong to b.
  {
    std::ofstream out(ring_file);
    out << "partition_count: 2\n"
           "members { id: \"a\" http_address: \"127.0.0.1:1\" grpc_address: \"127.0.0.1:2\" }\n"
           "members { id: \"b\" http_address: \"127.0.0.1:3\" grpc_address: \"127.0.0.1:4\" }\n";
  }
  StartNodeWith({"--node_id=a", "--ring_file=" + ring_file});
  int redirects = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string topic = absl::StrCat("topic-", i);
    absl::StatusOr<std::unique_ptr<SseConnection>> response = SseConnection::Open(
        node_.http_address, "/v1/topics/" + topic + "/events?lastEventId=1:1");
    ASSERT_THAT(response, IsOk());
    if ((*response)->status() == 307) {
      ++redirects;
      EXPECT_EQ((*response)->header("Location"),
                "http://127.0.0.1:3/v1/topics/" + topic + "/events?lastEventId=1:1");
    }
  }
  EXPECT_GT(redirects, 0);
  EXPECT_LT(redirects, 20);
  EXPECT_EQ(Metric("ringcast_redirects_total"), redirects);
}

// Given a 1 s age limit, expect a topic whose events aged out and whose subscribers left to be
// freed (the topics gauge drops to 0), and a resume from its old history to get a reset.
TEST_F(NodeTest, TopicsWithoutSubscribersOrEventsAreFreed) {
  StartNodeWith({"--buffer_max_age_seconds=1"});
  const std::string old_id = Publish("ephemeral", "1");
  {
    auto stream = Subscribe("ephemeral");
    EXPECT_EQ(Metric("ringcast_topics"), 1);
  }
  double topics = -1;
  for (int attempt = 0; attempt < 100 && topics != 0; ++attempt) {
    absl::SleepFor(absl::Milliseconds(100));  // polls the sweep, bounded at 10 s
    topics = Metric("ringcast_topics");
  }
  EXPECT_EQ(topics, 0);
  EXPECT_EQ(Metric("ringcast_buffer_evicted_events_total", "limit=\"age\""), 1);
  auto resumed = Subscribe("ephemeral", {{"Last-Event-ID", old_id}});
  absl::StatusOr<sse::ParsedEvent> reset = resumed->Next(absl::Seconds(10));
  ASSERT_THAT(reset, IsOk());
  EXPECT_EQ(reset->type, "ringcast.reset");
  EXPECT_THAT(reset->data, HasSubstr("\"reason\":\"epoch\""));
}

// Given an allowlist of one origin, expect that origin (only) to get CORS headers.
TEST_F(NodeTest, CorsAllowsOnlyConfiguredOrigins) {
  StartNodeWith({"--cors_allowed_origins=https://app.example.com"});
  auto allowed = Subscribe("c", {{"Origin", "https://app.example.com"}});
  EXPECT_EQ(allowed->header("Access-Control-Allow-Origin"), "https://app.example.com");
  auto other = Subscribe("c", {{"Origin", "https://evil.example.com"}});
  EXPECT_EQ(other->status(), 200);
  EXPECT_FALSE(other->header("Access-Control-Allow-Origin").has_value());
}

}  // namespace
}  // namespace ringcast::testing
