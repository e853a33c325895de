// node_limits_test.cc — a real node under bad input and pressure: oversized and slow requests,
// bad paths, topics and methods, slow consumers, connection limits, a config file, and SIGTERM
// in the middle of a burst. The node never crashes, answers the stated status, and counts each.
#include <signal.h>

#include <fstream>
#include <thread>

#include "tests/integration/node_fixture.h"

namespace ringcast::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Given a node with small header limits, expect 431 for an oversized request line and for
// oversized headers, and each to be counted.
TEST_F(NodeTest, OversizedRequestLineAndHeadersGet431) {
  StartNodeWith({"--max_request_header_bytes=1024"});
  absl::StatusOr<HttpResponse> long_line =
      HttpGet(node_.http_address, "/v1/topics/" + std::string(2000, 'a') + "/events");
  ASSERT_THAT(long_line, IsOk());
  EXPECT_EQ(long_line->status, 431);
  absl::StatusOr<HttpResponse> big_headers =
      HttpGet(node_.http_address, "/healthz", {{"X-Filler", std::string(2000, 'x')}});
  ASSERT_THAT(big_headers, IsOk());
  EXPECT_EQ(big_headers->status, 431);
  EXPECT_EQ(Metric("ringcast_http_rejected_total", "reason=\"header_too_large\""), 2);
}

// Given a 300 ms header timeout, expect a client that sends its headers byte by byte too slowly
// (slowloris) to be disconnected and counted.
TEST_F(NodeTest, SlowlorisIsDisconnectedAtTheHeaderTimeout) {
  StartNodeWith({"--header_timeout_ms=300"});
  absl::StatusOr<std::string> answer =
      SendRaw(node_.http_address, "GET /v1/topics/slow/events HTTP/1.1\r\nHost: x\r\n",
              absl::Seconds(5));
  ASSERT_THAT(answer, IsOk());  // the server closed the connection well before 5 s
  EXPECT_EQ(*answer, "");
  EXPECT_EQ(Metric("ringcast_http_rejected_total", "reason=\"header_timeout\""), 1);
}

// Given requests for unknown paths, with bad topics and with wrong methods, expect 404, 400 and
// 405 with plain-text reasons, all counted.
TEST_F(NodeTest, BadPathsTopicsAndMethodsGetPlainTextReasons) {
  StartNodeWith({});
  absl::StatusOr<HttpResponse> unknown = HttpGet(node_.http_address, "/v1/nothing");
  ASSERT_THAT(unknown, IsOk());
  EXPECT_EQ(unknown->status, 404);
  for (const std::string& topic : {std::string("a%20b"), std::string("%zz"),
                                   std::string(300, 'x'), std::string("caf%C3%A9")}) {
    absl::StatusOr<HttpResponse> bad = HttpGet(node_.http_address, "/v1/topics/" + topic + "/events");
    ASSERT_THAT(bad, IsOk());
    EXPECT_EQ(bad->status, 400) << topic;
    EXPECT_THAT(bad->header("Content-Type"), ::testing::Optional(StartsWith("text/plain")));
    EXPECT_FALSE(bad->body.empty());
  }
  for (const char* method : {"POST", "DELETE", "PUT"}) {
    absl::StatusOr<HttpResponse> wrong =
        HttpRequest(method, node_.http_address, "/v1/topics/t/events");
    ASSERT_THAT(wrong, IsOk());
    EXPECT_EQ(wrong->status, 405) << method;
    EXPECT_EQ(wrong->header("Allow"), "GET");
  }
  absl::StatusOr<std::string> garbage =
      SendRaw(node_.http_address, "NOT HTTP AT ALL\r\n\r\n", absl::Seconds(5));
  ASSERT_THAT(garbage, IsOk());
  EXPECT_THAT(*garbage, StartsWith("HTTP/1.1 400"));
  EXPECT_EQ(Metric("ringcast_http_rejected_total", "reason=\"not_found\""), 1);
  EXPECT_EQ(Metric("ringcast_http_rejected_total", "reason=\"bad_topic\""), 4);
  EXPECT_EQ(Metric("ringcast_http_rejected_total", "reason=\"method\""), 3);
  EXPECT_EQ(Metric("ringcast_http_rejected_total", "reason=\"malformed\""), 1);
  absl::StatusOr<HttpResponse> health = HttpGet(node_.http_address, "/healthz");
  ASSERT_THAT(health, IsOk());
  EXPECT_EQ(health->status, 200);
}

// Given one subscriber that stops reading (tiny receive buffer) and one that keeps up, expect
// the stalled one to be cut once its queue passes the bound, counted, and the other to get all.
TEST_F(NodeTest, SlowConsumerIsCutAndOthersAreUnaffected) {
  StartNodeWith({"--max_queue_bytes_per_connection=65536", "--buffer_max_events=100"});
  auto stalled = Subscribe("firehose", {}, {.receive_buffer_bytes = 4096});
  auto reader = Subscribe("firehose");
  const std::string payload(1000, 'p');
  // Batches stay well under the bound, so the reader keeps up; in all ~9 MB, far past the bound
  // plus the kernel's send buffer (autotuned up to 4 MiB on loopback) for the stalled one.
  constexpr int kBatches = 300, kPerBatch = 30;
  for (int batch = 0; batch < kBatches; ++batch) {
    absl::StatusOr<std::unique_ptr<client::PublishStream>> stream = publisher_->OpenStream();
    ASSERT_THAT(stream, IsOk());
    for (int i = 0; i < kPerBatch; ++i) {
      ASSERT_THAT((*stream)->Send({.topic = "firehose", .data = payload}), IsOk());
    }
    ASSERT_THAT((*stream)->Finish(), IsOk());
    absl::StatusOr<std::vector<sse::ParsedEvent>> events =
        reader->NextN(kPerBatch, absl::Seconds(30));
    ASSERT_THAT(events, IsOk()) << "batch " << batch;
    for (int i = 0; i < kPerBatch; ++i) {
      ASSERT_EQ(sse::ParseEventId((*events)[i].id)->offset,
                static_cast<uint64_t>(batch * kPerBatch + i + 1));
    }
  }
  EXPECT_EQ(Metric("ringcast_streams_closed_total", "cause=\"slow_consumer\""), 1);
  EXPECT_EQ(Metric("ringcast_streams"), 1);
  // The replay buffer stays within its bound whatever the subscribers do.
  EXPECT_LE(Metric("ringcast_buffer_events"), 100);
}

// Given max_connections=3, expect the fourth connection to get 503 with Retry-After, counted.
TEST_F(NodeTest, ConnectionsOverTheLimitGet503) {
  StartNodeWith({"--max_connections=3"});
  std::vector<std::unique_ptr<SseConnection>> held;
  for (int i = 0; i < 3; ++i) held.push_back(Subscribe("held"));
  absl::StatusOr<HttpResponse> refused = HttpGet(node_.http_address, "/healthz");
  ASSERT_THAT(refused, IsOk());
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->header("Retry-After"), "1");
  held.clear();
  // Once streams close, connections are accepted again (the close is noticed asynchronously).
  absl::StatusOr<HttpResponse> later;
  for (int attempt = 0; attempt < 100; ++attempt) {
    later = HttpGet(node_.http_address, "/healthz");
    if (later.ok() && later->status == 200) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_THAT(later, IsOk());
  EXPECT_EQ(later->status, 200);
  EXPECT_GE(Metric("ringcast_http_rejected_total", "reason=\"too_many_connections\""), 1);
}

// Given a config file setting a limit and a flag overriding another, expect both to apply.
TEST_F(NodeTest, ConfigFileSetsLimitsAndFlagsOverrideIt) {
  const std::string config = ::testing::TempDir() + "/node.textproto";
  {
    std::ofstream out(config);
    out << "node_id: \"from-file\"\nshutdown_grace_ms: 3000\nring_wait_ms: 5000\n"
           "limits { max_event_bytes: 10 retry_ms: 1234 }\n";
  }
  StartNodeWith({"--config=" + config, "--retry_ms=4321"});
  EXPECT_EQ(node_.node_id, "from-file");
  EXPECT_THAT(publisher_->Publish({.topic = "t", .data = std::string(11, 'x')}),
              StatusIs(absl::StatusCode::kResourceExhausted));
  auto stream = Subscribe("t");
  Publish("t", "ok");
  ASSERT_THAT(stream->Next(absl::Seconds(10)), IsOk());
  EXPECT_EQ(stream->retry_ms(), 4321u);
}

// Given subscribers receiving a burst, expect SIGTERM to end every stream cleanly with a final
// retry:, to refuse publishes after it with UNAVAILABLE, and the node to exit 0.
TEST_F(NodeTest, SigtermDuringABurstEndsStreamsWithRetryAndExitsCleanly) {
  StartNodeWith({"--retry_ms=500"});
  std::vector<std::unique_ptr<SseConnection>> streams;
  for (int i = 0; i < 20; ++i) streams.push_back(Subscribe("burst"));
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    client::PublisherClient client(node_.grpc_address);
    while (!stop.load()) {
      absl::StatusOr<client::PublishResult> r = client.Publish({.topic = "burst", .data = "b"});
      if (!r.ok()) {
        EXPECT_THAT(r, StatusIs(absl::StatusCode::kUnavailable));
        break;
      }
    }
  });
  ASSERT_THAT(streams.front()->NextN(50, absl::Seconds(10)), IsOk());
  ASSERT_THAT(node_.process->Signal(SIGTERM), IsOk());
  for (auto& stream : streams) {
    EXPECT_TRUE(stream->WaitClosed(absl::Seconds(10)));
    EXPECT_TRUE(stream->ended_cleanly());
    EXPECT_EQ(stream->retry_ms(), 500u);
  }
  EXPECT_THAT(node_.process->Wait(absl::Seconds(15)), IsOkAndHolds(0));
  stop = true;
  publisher.join();
}

}  // namespace
}  // namespace ringcast::testing
