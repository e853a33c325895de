// router_proxy_test.cc — single-topic subscribes through a real ringcast-router in front of
// three real nodes: routing by the ring (proxy and redirect), relaying without buffering,
// resume, following a node's 307, a dead owner (503 + Retry-After), a client going away, and
// the request errors.
#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/router/subscribe_fixture.h"

namespace ringcast::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

class RouterProxyTest : public RouterSubscribeTest {};

TEST_F(RouterProxyTest, EveryTopicIsServedByItsOwnerInBothModes) {
  // Given 1,000 topics, expect each proxied stream to be opened on the node the ring names,
  // and each redirect to point at that node's public URL.
  StartCluster();
  absl::StatusOr<RouterProcess> redirecting =
      StartRouter({"--ring_file=" + cluster_.ring_file, "--mode=redirect"});
  ASSERT_THAT(redirecting, IsOk());

  std::vector<double> opened(cluster_.nodes.size(), 0);
  for (int i = 0; i < 1000; ++i) {
    const std::string topic = absl::StrCat("sample/", i);
    const size_t owner = OwnerIndex(topic);
    std::unique_ptr<SseConnection> proxied = SubscribeVia(TopicPath(topic));
    ASSERT_NE(proxied, nullptr);
    ASSERT_EQ(proxied->status(), 200) << topic << ": " << proxied->body();
    // The router answers 200 only after the owner did, so the owner has counted it already.
    ++opened[owner];
    ASSERT_EQ(Metric(cluster_.nodes[owner], "ringcast_streams_opened_total"), opened[owner])
        << topic;

    absl::StatusOr<HttpResponse> redirect =
        HttpGet(redirecting->http_address, TopicPath(topic) + "?lastEventId=1:1");
    ASSERT_THAT(redirect, IsOk());
    ASSERT_EQ(redirect->status, 307) << topic;
    EXPECT_THAT(redirect->header("Location"),
                Optional(absl::StrCat("http://", cluster_.members[owner].http_address,
                                      TopicPath(topic), "?lastEventId=1:1")));
  }
  for (size_t node = 0; node < cluster_.nodes.size(); ++node) {
    EXPECT_EQ(Metric(cluster_.nodes[node], "ringcast_streams_opened_total"), opened[node]);
    EXPECT_EQ(Metric(cluster_.nodes[node], "ringcast_redirects_total"), 0);
  }
}

TEST_F(RouterProxyTest, OneEventReachesTheClientWhileTheStreamStaysOpen) {
  // Given heartbeats every 60 s everywhere, expect one small event published after the stream
  // opened to arrive at once: a buffering proxy would hold it.
  StartCluster({.router_flags = {"--heartbeat_interval_ms=60000"},
                .node_flags = {"--heartbeat_interval_ms=60000"}});
  const std::string topic = TopicOn(1);
  std::unique_ptr<SseConnection> stream = SubscribeVia(TopicPath(topic));
  ASSERT_NE(stream, nullptr);
  ASSERT_EQ(stream->status(), 200);
  EXPECT_THAT(stream->header("Content-Type"), Optional(HasSubstr("text/event-stream")));
  EXPECT_THAT(stream->header("X-Accel-Buffering"), Optional(std::string("no")));

  const std::string id = Publish(topic, "tick", "price");
  absl::StatusOr<sse::ParsedEvent> event = stream->Next(absl::Seconds(10));
  ASSERT_THAT(event, IsOk());
  EXPECT_EQ(event->data, "tick");
  EXPECT_EQ(event->type, "price");
  EXPECT_EQ(event->id, id);
  EXPECT_FALSE(stream->closed());
  EXPECT_GE(stream->comment_count(), 1u);  // the stream-open comment
  EXPECT_TRUE(stream->retry_ms().has_value());
}

TEST_F(RouterProxyTest, HeartbeatsReachTheClient) {
  StartCluster({.router_flags = {"--heartbeat_interval_ms=300"},
                .node_flags = {"--heartbeat_interval_ms=60000"}});
  std::unique_ptr<SseConnection> stream = SubscribeVia(TopicPath(TopicOn(0)));
  ASSERT_NE(stream, nullptr);
  ASSERT_EQ(stream->status(), 200);
  const uint64_t comments = stream->comment_count();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (stream->comment_count() <= comments && absl::Now() < deadline) {
    (void)stream->Next(absl::Milliseconds(100));
  }
  EXPECT_GT(stream->comment_count(), comments);
  EXPECT_GE(RouterMetric("ringcast_router_heartbeats_total"), 1);
}

TEST_F(RouterProxyTest, ResumesWithLastEventIdHeaderOrQuery) {
  StartCluster();
  const std::string topic = TopicOn(2, "resume");
  const std::string first = Publish(topic, "1");
  Publish(topic, "2");
  Publish(topic, "3");
  for (const bool as_header : {true, false}) {
    std::unique_ptr<SseConnection> stream =
        as_header ? SubscribeVia(TopicPath(topic), {{"Last-Event-ID", first}})
                  : SubscribeVia(TopicPath(topic) + "?lastEventId=" + first);
    ASSERT_NE(stream, nullptr);
    absl::StatusOr<std::vector<sse::ParsedEvent>> events = stream->NextN(2, absl::Seconds(10));
    ASSERT_THAT(events, IsOk());
    EXPECT_EQ((*events)[0].data, "2");
    EXPECT_EQ((*events)[1].data, "3");
  }
  // A malformed resume point is the node's ringcast.reset, relayed as is.
  std::unique_ptr<SseConnection> reset = SubscribeVia(TopicPath(topic), {{"Last-Event-ID", "x"}});
  ASSERT_NE(reset, nullptr);
  absl::StatusOr<sse::ParsedEvent> event = reset->Next(absl::Seconds(10));
  ASSERT_THAT(event, IsOk());
  EXPECT_EQ(event->type, "ringcast.reset");
  EXPECT_FALSE(event->has_id);
}

TEST_F(RouterProxyTest, FollowsTheOwnersRedirectOnce) {
  // Given a router whose ring (Q = 32) names another owner than the nodes' ring (Q = 64),
  // expect the wrong node's 307 to be followed to the right one.
  StartCluster();
  const std::string other_ring = cluster_.ring_file + ".q32";
  ASSERT_THAT(WriteRingFile(other_ring, 32, cluster_.members), IsOk());
  absl::StatusOr<RouterProcess> router = StartRouter({"--ring_file=" + other_ring});
  ASSERT_THAT(router, IsOk());
  absl::StatusOr<Ring> router_ring = Ring::Build(cluster_.members, 32);
  ASSERT_THAT(router_ring, IsOk());
  std::string topic;
  for (int i = 0; topic.empty() && i < 1000; ++i) {
    const std::string candidate = absl::StrCat("moved-", i);
    if (router_ring->Lookup(candidate).id != ring_->Lookup(candidate).id) topic = candidate;
  }
  ASSERT_FALSE(topic.empty());

  std::unique_ptr<SseConnection> stream = SubscribeVia(TopicPath(topic), {}, &*router);
  ASSERT_NE(stream, nullptr);
  ASSERT_EQ(stream->status(), 200) << stream->body();
  Publish(topic, "found");
  absl::StatusOr<sse::ParsedEvent> event = stream->Next(absl::Seconds(10));
  ASSERT_THAT(event, IsOk());
  EXPECT_EQ(event->data, "found");
}

TEST_F(RouterProxyTest, DeadOwnerGets503WithRetryAfterOthersStillWork) {
  // The router tries to resume the dead owner's upstream for this long, then ends the stream.
  StartCluster({.router_flags = {"--upstream_resume_timeout_ms=300"}});
  const std::string dead_topic = TopicOn(1, "dead");
  const std::string live_topic = TopicOn(0, "live");
  std::unique_ptr<SseConnection> cut = SubscribeVia(TopicPath(dead_topic));
  ASSERT_NE(cut, nullptr);
  ASSERT_EQ(cut->status(), 200);

  ASSERT_THAT(cluster_.nodes[1].process->Signal(SIGKILL), IsOk());
  ASSERT_THAT(cluster_.nodes[1].process->Wait(absl::Seconds(10)), IsOk());

  // The owner stays unreachable, so the open stream ends with a retry: hint and the client
  // comes back.
  EXPECT_TRUE(cut->WaitClosed(absl::Seconds(10)));
  EXPECT_TRUE(cut->ended_cleanly());
  EXPECT_TRUE(cut->retry_ms().has_value());
  EXPECT_GE(RouterMetric("ringcast_router_upstream_resumes_total", "result=\"retry\""), 1);

  absl::StatusOr<HttpResponse> refused = HttpGet(cluster_.router.http_address,
                                                 TopicPath(dead_topic));
  ASSERT_THAT(refused, IsOk());
  EXPECT_EQ(refused->status, 503);
  EXPECT_THAT(refused->header("Retry-After"), Optional(std::string("2")));
  EXPECT_THAT(refused->body, HasSubstr(dead_topic));
  EXPECT_GE(RouterMetric("ringcast_router_unavailable_total", "reason=\"owner_unreachable\""),
            1);

  std::unique_ptr<SseConnection> live = SubscribeVia(TopicPath(live_topic));
  ASSERT_NE(live, nullptr);
  ASSERT_EQ(live->status(), 200);
  Publish(live_topic, "still here");
  absl::StatusOr<sse::ParsedEvent> event = live->Next(absl::Seconds(10));
  ASSERT_THAT(event, IsOk());
  EXPECT_EQ(event->data, "still here");
}

TEST_F(RouterProxyTest, ClientGoneClosesTheUpstream) {
  StartCluster();
  std::unique_ptr<SseConnection> stream = SubscribeVia(TopicPath(TopicOn(2, "gone")));
  ASSERT_NE(stream, nullptr);
  ASSERT_EQ(stream->status(), 200);
  EXPECT_EQ(AwaitNodeMetric(2, "ringcast_streams", [](double v) { return v == 1; }), 1);
  stream->Close();
  EXPECT_EQ(AwaitNodeMetric(2, "ringcast_streams", [](double v) { return v == 0; }), 0);
  EXPECT_GE(RouterMetric("ringcast_router_streams_closed_total", "cause=\"client_gone\""), 1);
}

TEST_F(RouterProxyTest, NoRingYetGets503NoRing) {
  // Given a follower whose coordinator never answers, expect 503 + Retry-After "no_ring".
  absl::StatusOr<int> silent = FreeLoopbackPort();
  ASSERT_THAT(silent, IsOk());
  absl::StatusOr<RouterProcess> router =
      StartRouter({absl::StrCat("--ring_source=127.0.0.1:", *silent)});
  ASSERT_THAT(router, IsOk());
  for (const std::string& target : {TopicPath("a"), std::string("/v1/events?topic=a")}) {
    absl::StatusOr<HttpResponse> response = HttpGet(router->http_address, target);
    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->status, 503) << target;
    EXPECT_TRUE(response->header("Retry-After").has_value());
    EXPECT_THAT(response->body, HasSubstr("no_ring"));
  }
}

TEST_F(RouterProxyTest, BadRequestsGetClearErrors) {
  StartCluster();
  const std::string& router = cluster_.router.http_address;
  struct Case {
    std::string method;
    std::string target;
    int status;
    std::string reason;
  };
  for (const Case& c : std::vector<Case>{
           {"GET", "/v1/topics/a%20b/events", 400, "topic may hold only"},
           {"GET", "/v1/topics//events", 400, "topic is empty"},
           {"GET", "/nope", 404, "no such path"},
           {"POST", "/v1/topics/a/events", 405, "use GET"},
           {"GET", "/v1/topics/" + std::string(257, 'a') + "/events", 400, "limit is 256"},
       }) {
    absl::StatusOr<HttpResponse> response = HttpRequest(c.method, router, c.target);
    ASSERT_THAT(response, IsOk()) << c.target;
    EXPECT_EQ(response->status, c.status) << c.method << " " << c.target;
    EXPECT_THAT(response->body, HasSubstr(c.reason)) << c.target;
  }
  absl::StatusOr<HttpResponse> huge =
      HttpGet(router, TopicPath("a"), {{"X-Big", std::string(10000, 'x')}});
  ASSERT_THAT(huge, IsOk());
  EXPECT_EQ(huge->status, 431);
  EXPECT_GE(RouterMetric("ringcast_router_rejected_total", "reason=\"bad_request\""), 2);
  EXPECT_GE(RouterMetric("ringcast_router_rejected_total", "reason=\"method\""), 1);
  absl::StatusOr<HttpResponse> health = HttpGet(router, "/healthz");
  ASSERT_THAT(health, IsOk());
  EXPECT_EQ(health->status, 200);
}

}  // namespace
}  // namespace ringcast::testing
