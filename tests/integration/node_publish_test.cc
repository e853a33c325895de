// node_publish_test.cc — the gRPC Publisher of a real node: offsets under concurrency,
// producer de-duplication, every documented error status with its details, PublishStream and
// PublishBatch.
#include <fstream>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "client/status.h"
#include "tests/integration/node_fixture.h"

namespace ringcast::testing {
namespace {

using ::testing::HasSubstr;

// Given 8 publishers on one topic, expect offsets 1..N each exactly once, one epoch.
TEST_F(NodeTest, OffsetsIncreaseByOneUnderConcurrentPublishers) {
  StartNodeWith({});
  constexpr int kThreads = 8, kEach = 250;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      client::PublisherClient client(node_.grpc_address);
      for (int i = 0; i < kEach; ++i) {
        absl::StatusOr<client::PublishResult> r = client.Publish({.topic = "hot", .data = "x"});
        ASSERT_THAT(r, IsOk());
        ids[t].push_back(r->event_id);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  absl::flat_hash_set<uint64_t> offsets;
  absl::flat_hash_set<uint64_t> epochs;
  for (const auto& list : ids) {
    for (const std::string& id : list) {
      absl::StatusOr<sse::EventId> parsed = sse::ParseEventId(id);
      ASSERT_THAT(parsed, IsOk());
      offsets.insert(parsed->offset);
      epochs.insert(parsed->epoch);
    }
  }
  EXPECT_EQ(offsets.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(*std::max_element(offsets.begin(), offsets.end()), kThreads * kEach);
  EXPECT_EQ(epochs.size(), 1u);
}

// Given a producer's sequence 1, 2, expect a retry of 2 to be a duplicate with the original id,
// a jump to 4 to be OUT_OF_RANGE, and subscribers to see each event once.
TEST_F(NodeTest, ProducerRetriesAreNotAppendedTwice) {
  StartNodeWith({});
  auto stream = Subscribe("dedup");
  auto publish = [&](uint64_t sequence) {
    return publisher_->Publish({.topic = "dedup",
                                .data = std::to_string(sequence),
                                .producer_id = "producer-a",
                                .sequence = sequence});
  };
  ASSERT_THAT(publish(1), IsOk());
  absl::StatusOr<client::PublishResult> second = publish(2);
  ASSERT_THAT(second, IsOk());
  absl::StatusOr<client::PublishResult> retry = publish(2);
  ASSERT_THAT(retry, IsOk());
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->event_id, second->event_id);
  absl::Status gap = publish(4).status();
  EXPECT_THAT(gap, StatusIs(absl::StatusCode::kOutOfRange));
  ASSERT_TRUE(client::SequenceGapOf(gap).has_value());
  EXPECT_EQ(client::SequenceGapOf(gap)->expected_sequence(), 3u);
  ASSERT_THAT(publish(3), IsOk());
  ExpectNumbered(*stream, 1, 3);
  EXPECT_EQ(Metric("ringcast_publish_duplicates_total"), 1);
}

// Given bad requests, expect each documented status, with its details, counted in /metrics,
// and nothing appended.
TEST_F(NodeTest, BadPublishesGetTheirDocumentedStatus) {
  StartNodeWith({"--max_event_bytes=1000"});
  client::PublisherClient unchecked(node_.grpc_address, {.validate_requests = false});
  absl::Status bad_topic = unchecked.Publish({.topic = "no spaces", .data = "x"}).status();
  EXPECT_THAT(bad_topic, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("topic")));
  EXPECT_EQ(client::FieldViolationsOf(bad_topic).size(), 1u);
  EXPECT_THAT(unchecked.Publish({.topic = "", .data = "x"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(unchecked.Publish({.topic = std::string(257, 'a'), .data = "x"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(unchecked.Publish({.topic = "t", .type = "ringcast.reset", .data = "x"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("type")));
  EXPECT_THAT(unchecked.Publish({.topic = "t", .data = "x", .producer_id = "p"}),
              StatusIs(absl::StatusCode::kInvalidArgument));

  absl::Status too_big = unchecked.Publish({.topic = "t", .data = std::string(1001, 'x')}).status();
  EXPECT_THAT(too_big, StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_TRUE(client::LimitExceededOf(too_big).has_value());
  EXPECT_EQ(client::LimitExceededOf(too_big)->limit(), "max_event_bytes");

  // Invalid UTF-8 in a proto string field: the C++ runtime refuses to parse it on the server.
  absl::Status bad_utf8 = unchecked.Publish({.topic = "t", .data = "\xff\xfe"}).status();
  EXPECT_FALSE(bad_utf8.ok());

  EXPECT_EQ(Metric("ringcast_publish_requests_total", "code=\"INVALID_ARGUMENT\""), 5);
  EXPECT_EQ(Metric("ringcast_publish_requests_total", "code=\"RESOURCE_EXHAUSTED\""), 1);
  EXPECT_EQ(Metric("ringcast_buffer_events"), 0);
}

// Given a two-node ring, expect a publish for the other node's topic to be FAILED_PRECONDITION
// with the owner and ring version in the details.
TEST_F(NodeTest, WrongOwnerPublishNamesTheOwner) {
  const std::string ring_file = ::testing::TempDir() + "/publish_ring.textproto";
  {
    std::ofstream out(ring_file);
    out << "partition_count: 2\n"
           "members { id: \"a\" http_address: \"127.0.0.1:1\" grpc_address: \"127.0.0.1:2\" }\n"
           "members { id: \"b\" http_address: \"127.0.0.1:3\" grpc_address: \"127.0.0.1:4\" }\n";
  }
  StartNodeWith({"--node_id=a", "--ring_file=" + ring_file});
  int wrong = 0;
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<client::PublishResult> r =
        publisher_->Publish({.topic = absl::StrCat("topic-", i), .data = "x"});
    if (r.ok()) continue;
    ++wrong;
    EXPECT_THAT(r, StatusIs(absl::StatusCode::kFailedPrecondition));
    std::optional<v1::WrongOwner> owner = client::WrongOwnerOf(r.status());
    ASSERT_TRUE(owner.has_value());
    EXPECT_EQ(owner->owner().id(), "b");
    EXPECT_EQ(owner->owner().grpc_address(), "127.0.0.1:4");
    EXPECT_EQ(owner->ring_version(), 1u);
  }
  EXPECT_GT(wrong, 0);
  EXPECT_LT(wrong, 20);
  EXPECT_EQ(Metric("ringcast_publish_requests_total", "code=\"FAILED_PRECONDITION\""), wrong);
}

// Given a PublishStream mixing good and bad requests, expect one answer per request, errors
// in-band, and the good events in send order.
TEST_F(NodeTest, PublishStreamAnswersEveryRequestInBand) {
  StartNodeWith({});
  auto subscriber = Subscribe("s");
  client::PublisherClient unchecked(node_.grpc_address, {.validate_requests = false});
  absl::StatusOr<std::unique_ptr<client::PublishStream>> stream = unchecked.OpenStream();
  ASSERT_THAT(stream, IsOk());
  for (int i = 1; i <= 100; ++i) {
    ASSERT_THAT((*stream)->Send({.topic = "s", .data = std::to_string(i)}), IsOk());
    if (i % 10 == 0) {
      ASSERT_THAT((*stream)->Send({.topic = "bad topic", .data = "x"}), IsOk());
    }
  }
  absl::StatusOr<std::vector<client::StreamResult>> results = (*stream)->Finish();
  ASSERT_THAT(results, IsOk());
  EXPECT_EQ(results->size(), 110u);
  int errors = 0;
  for (const client::StreamResult& r : *results) {
    if (!r.result.ok()) {
      ++errors;
      EXPECT_THAT(r.result, StatusIs(absl::StatusCode::kInvalidArgument));
    }
  }
  EXPECT_EQ(errors, 10);
  ExpectNumbered(*subscriber, 1, 100);
}

// Given a batch of 50 events with an invalid topic every tenth, expect one result per event in
// order, the valid ones appended in batch order with consecutive offsets, and the bad ones
// INVALID_ARGUMENT without stopping the rest.
TEST_F(NodeTest, PublishBatchAnswersEveryEventInOrder) {
  StartNodeWith({});
  auto subscriber = Subscribe("b");
  client::PublisherClient unchecked(node_.grpc_address, {.validate_requests = false});
  std::vector<client::PublishOptions> batch;
  for (int i = 1; i <= 45; ++i) {
    batch.push_back({.topic = "b", .data = std::to_string(i)});
    if (i % 9 == 0) batch.push_back({.topic = "bad topic", .data = "x"});
  }
  absl::StatusOr<std::vector<client::StreamResult>> results = unchecked.PublishBatch(batch);
  ASSERT_THAT(results, IsOk());
  ASSERT_EQ(results->size(), 50u);
  uint64_t next_offset = 1;
  for (size_t i = 0; i < results->size(); ++i) {
    const client::StreamResult& r = (*results)[i];
    EXPECT_EQ(r.request_id, i + 1);
    if (batch[i].topic == "bad topic") {
      EXPECT_THAT(r.result, StatusIs(absl::StatusCode::kInvalidArgument));
      continue;
    }
    ASSERT_THAT(r.result, IsOk());
    EXPECT_EQ(r.result->offset, next_offset++);
  }
  ExpectNumbered(*subscriber, 1, 45);
}

// Given batches that are empty or over --max_batch_events, expect INVALID_ARGUMENT for the
// whole call (LimitExceeded naming the limit), nothing appended, and a batch at the limit
// accepted.
TEST_F(NodeTest, PublishBatchLimits) {
  StartNodeWith({"--max_batch_events=10"});
  EXPECT_THAT(publisher_->PublishBatch({}), StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<client::PublishOptions> batch(11, client::PublishOptions{.topic = "l", .data = "x"});
  absl::StatusOr<std::vector<client::StreamResult>> refused = publisher_->PublishBatch(batch);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_batch_events")));
  ASSERT_TRUE(client::LimitExceededOf(refused.status()).has_value());
  EXPECT_EQ(client::LimitExceededOf(refused.status())->limit(), "max_batch_events");
  EXPECT_EQ(client::LimitExceededOf(refused.status())->actual(), 11u);
  batch.pop_back();
  absl::StatusOr<std::vector<client::StreamResult>> accepted = publisher_->PublishBatch(batch);
  ASSERT_THAT(accepted, IsOk());
  ASSERT_EQ(accepted->size(), 10u);
  // Offsets 1..10: the refused batch appended nothing.
  EXPECT_THAT(accepted->back().result, IsOk());
  EXPECT_EQ(accepted->back().result->offset, 10u);
}

}  // namespace
}  // namespace ringcast::testing
