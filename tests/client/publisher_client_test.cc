// publisher_client_test.cc — PublisherClient and PublishStream against real ringcast-node
// processes on loopback (tests/client/real_node.h): results, the error statuses and details a
// node sends, local validation, stream bookkeeping, a draining node, and a node that is gone.
// ValidatePublishOptions is pure and needs no node.
#include "client/publisher_client.h"

#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/real_node.h"
#include "tests/support/status_matchers.h"

namespace ringcast::client {
namespace {

using ::ringcast::testing::HoldDraining;
using ::ringcast::testing::IsOk;
using ::ringcast::testing::IsOkAndHolds;
using ::ringcast::testing::Metric;
using ::ringcast::testing::NodeProcess;
using ::ringcast::testing::SseConnection;
using ::ringcast::testing::StartNode;
using ::ringcast::testing::StartTwoNodeRing;
using ::ringcast::testing::StatusIs;
using ::ringcast::testing::SubscribeTo;
using ::ringcast::testing::TwoNodeRing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::SizeIs;

PublishOptions Event(std::string topic, std::string data = "hello") {
  PublishOptions options;
  options.topic = std::move(topic);
  options.data = std::move(data);
  return options;
}

// The gRPC address of a node that ran and has exited: nothing listens there now.
absl::StatusOr<std::string> AddressOfAnExitedNode() {
  absl::StatusOr<NodeProcess> node = StartNode({});
  if (!node.ok()) return node.status();
  if (absl::Status s = node->process->Signal(SIGTERM); !s.ok()) return s;
  absl::StatusOr<int> code = node->process->Wait(absl::Seconds(15));
  if (!code.ok()) return code.status();
  return node->grpc_address;
}

TEST(ValidatePublishOptions, ChecksFieldRules) {
  // Given requests that break one rule each, expect INVALID_ARGUMENT naming the field.
  EXPECT_THAT(ValidatePublishOptions(Event("orders/42")), IsOk());
  EXPECT_THAT(ValidatePublishOptions(Event("")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("topic")));
  EXPECT_THAT(ValidatePublishOptions(Event("a b")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("topic")));
  EXPECT_THAT(ValidatePublishOptions(Event("t", "bad \xC3\x28 utf-8")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("UTF-8")));

  PublishOptions typed = Event("t");
  typed.type = "ringcast.reset";
  EXPECT_THAT(ValidatePublishOptions(typed), StatusIs(absl::StatusCode::kInvalidArgument));
  typed.type = "price.update";
  EXPECT_THAT(ValidatePublishOptions(typed), IsOk());

  PublishOptions producer = Event("t");
  producer.producer_id = "p1";
  EXPECT_THAT(ValidatePublishOptions(producer),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sequence")));
  producer.sequence = 1;
  EXPECT_THAT(ValidatePublishOptions(producer), IsOk());
  producer.producer_id = "p 1";
  EXPECT_THAT(ValidatePublishOptions(producer),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("producer_id")));
  producer.producer_id = std::string(129, 'p');
  EXPECT_THAT(ValidatePublishOptions(producer), StatusIs(absl::StatusCode::kInvalidArgument));
  producer.producer_id.clear();
  EXPECT_THAT(ValidatePublishOptions(producer), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PublisherClient, PublishReturnsTheEventId) {
  // Given a fresh node, expect ids <epoch>:1, <epoch>:2 and a subscriber to see the same event.
  absl::StatusOr<NodeProcess> node = StartNode({});
  ASSERT_THAT(node, IsOk());
  absl::StatusOr<std::unique_ptr<SseConnection>> subscriber = SubscribeTo(*node, "orders/42");
  ASSERT_THAT(subscriber, IsOk());
  ASSERT_EQ((*subscriber)->status(), 200);

  PublisherClient client(node->grpc_address);
  PublishOptions options = Event("orders/42", "line 1\nline 2");
  options.type = "price";
  options.ring_version = 1;
  absl::StatusOr<PublishResult> first = client.Publish(options);
  ASSERT_THAT(first, IsOk());
  EXPECT_GT(first->epoch, 0u);
  EXPECT_EQ(first->offset, 1u);
  EXPECT_EQ(first->event_id, absl::StrCat(first->epoch, ":1"));
  EXPECT_EQ(first->ring_version, 1u);
  EXPECT_FALSE(first->duplicate);
  EXPECT_THAT(client.Publish(options),
              IsOkAndHolds(::testing::Field(&PublishResult::event_id,
                                            absl::StrCat(first->epoch, ":2"))));

  absl::StatusOr<sse::ParsedEvent> received = (*subscriber)->Next(absl::Seconds(10));
  ASSERT_THAT(received, IsOk());
  EXPECT_EQ(received->id, first->event_id);
  EXPECT_EQ(received->type, "price");
  EXPECT_EQ(received->data, "line 1\nline 2");
}

TEST(PublisherClient, ReportsDuplicates) {
  // Given the same (producer_id, sequence) twice, expect a duplicate carrying the first id.
  absl::StatusOr<NodeProcess> node = StartNode({});
  ASSERT_THAT(node, IsOk());
  PublisherClient client(node->grpc_address);
  PublishOptions options = Event("t");
  options.producer_id = "p1";
  options.sequence = 1;
  absl::StatusOr<PublishResult> first = client.Publish(options);
  ASSERT_THAT(first, IsOk());
  EXPECT_FALSE(first->duplicate);
  absl::StatusOr<PublishResult> again = client.Publish(options);
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->event_id, first->event_id);
  EXPECT_EQ(Metric(*node, "ringcast_publish_duplicates_total"), 1);
}

TEST(PublisherClient, WrongOwnerNamesTheRealOwner) {
  // Given b's topic published at a (two-node ring), expect WrongOwner naming b's real address.
  absl::StatusOr<TwoNodeRing> ring = StartTwoNodeRing("client_wrong_owner");
  ASSERT_THAT(ring, IsOk());
  const std::string topic = ring->TopicOwnedBy("b");
  ASSERT_FALSE(topic.empty());

  PublisherClient at_a(ring->a.grpc_address);
  absl::StatusOr<PublishResult> wrong = at_a.Publish(Event(topic));
  EXPECT_THAT(wrong, StatusIs(absl::StatusCode::kFailedPrecondition,
                              HasSubstr("is owned by node b under ring version 1")));
  std::optional<v1::WrongOwner> owner = WrongOwnerOf(wrong.status());
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->ring_version(), 1u);
  EXPECT_EQ(owner->topic(), topic);
  EXPECT_EQ(owner->owner().id(), "b");
  EXPECT_EQ(owner->owner().grpc_address(), ring->b.grpc_address);
  EXPECT_EQ(owner->owner().http_address(), ring->b.http_address);

  PublisherClient at_owner(owner->owner().grpc_address());
  EXPECT_THAT(at_owner.Publish(Event(topic)), IsOk());
}

TEST(PublisherClient, OversizedEventCarriesLimitExceeded) {
  // Given --max_event_bytes=64 and 100 bytes, expect RESOURCE_EXHAUSTED with LimitExceeded.
  absl::StatusOr<NodeProcess> node = StartNode({"--max_event_bytes=64"});
  ASSERT_THAT(node, IsOk());
  PublisherClient client(node->grpc_address);
  absl::StatusOr<PublishResult> full = client.Publish(Event("t", std::string(100, 'x')));
  EXPECT_THAT(full, StatusIs(absl::StatusCode::kResourceExhausted));
  std::optional<v1::LimitExceeded> limit = LimitExceededOf(full.status());
  ASSERT_TRUE(limit.has_value());
  EXPECT_EQ(limit->limit(), "max_event_bytes");
  EXPECT_EQ(limit->limit_value(), 64u);
  EXPECT_EQ(limit->actual(), 100u);
  EXPECT_THAT(client.Publish(Event("t", std::string(64, 'x'))), IsOk());
}

TEST(PublisherClient, DrainingNodeAnswersUnavailableWithRetryInfo) {
  // Given a node draining after SIGTERM, expect UNAVAILABLE with RetryInfo `draining` after 1 s.
  absl::StatusOr<NodeProcess> node = StartNode(::ringcast::testing::DrainHoldFlags());
  ASSERT_THAT(node, IsOk());
  absl::StatusOr<std::unique_ptr<SseConnection>> stalled = HoldDraining(*node);
  ASSERT_THAT(stalled, IsOk());

  PublisherClient client(node->grpc_address);
  absl::StatusOr<PublishResult> draining = client.Publish(Event("t"));
  EXPECT_THAT(draining, StatusIs(absl::StatusCode::kUnavailable, "node is shutting down"));
  std::optional<v1::RetryInfo> retry = RetryInfoOf(draining.status());
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->reason(), "draining");
  EXPECT_EQ(retry->retry_delay().seconds(), 1);
  EXPECT_THAT(DescribeDetails(draining.status()),
              ElementsAre("retry: reason draining, after 1000 ms"));

  (*stalled)->Close();
  EXPECT_THAT(node->process->Wait(absl::Seconds(15)), IsOkAndHolds(0));
}

TEST(PublisherClient, ValidatesBeforeSending) {
  // Given a bad topic, expect a local INVALID_ARGUMENT; unchecked, the node's with its details.
  absl::StatusOr<NodeProcess> node = StartNode({});
  ASSERT_THAT(node, IsOk());
  PublisherClient client(node->grpc_address);
  absl::StatusOr<PublishResult> local = client.Publish(Event("a b"));
  EXPECT_THAT(local, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(RpcStatusOf(local.status()).has_value());
  EXPECT_EQ(Metric(*node, "ringcast_publish_requests_total", "code=\"INVALID_ARGUMENT\""), -1);

  PublisherClient unchecked(node->grpc_address, {.validate_requests = false});
  absl::StatusOr<PublishResult> remote = unchecked.Publish(Event("a b"));
  EXPECT_THAT(remote, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("topic")));
  std::vector<v1::FieldViolation> violations = FieldViolationsOf(remote.status());
  ASSERT_THAT(violations, SizeIs(1));
  EXPECT_EQ(violations[0].field(), "topic");
  EXPECT_EQ(Metric(*node, "ringcast_publish_requests_total", "code=\"INVALID_ARGUMENT\""), 1);
}

TEST(PublisherClient, UnreachableNodeIsUnavailable) {
  // Given the address of a node that has exited, expect UNAVAILABLE from gRPC, without details.
  absl::StatusOr<std::string> address = AddressOfAnExitedNode();
  ASSERT_THAT(address, IsOk());
  PublisherClient client(*address);
  PublishOptions options = Event("t");
  options.deadline = absl::Now() + absl::Seconds(5);
  absl::StatusOr<PublishResult> result = client.Publish(options);
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(RpcStatusOf(result.status()).has_value());
}

TEST(PublishStream, CollectsEveryAnswer) {
  // Given 100 events on two topics and one too large, expect per-topic offsets and the error.
  absl::StatusOr<NodeProcess> node = StartNode({"--max_event_bytes=1000"});
  ASSERT_THAT(node, IsOk());
  PublisherClient client(node->grpc_address);
  PublishStreamOptions options;
  options.max_in_flight = 8;
  absl::StatusOr<std::unique_ptr<PublishStream>> stream = client.OpenStream(std::move(options));
  ASSERT_THAT(stream, IsOk());
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<uint64_t> id = (*stream)->Send(Event(i % 2 == 0 ? "even" : "odd"));
    ASSERT_THAT(id, IsOk());
    EXPECT_EQ(*id, static_cast<uint64_t>(i + 1));
  }
  EXPECT_THAT((*stream)->Send(Event("even", std::string(2000, 'x'))), IsOkAndHolds(101u));
  EXPECT_THAT((*stream)->Send(Event("")), StatusIs(absl::StatusCode::kInvalidArgument));

  absl::StatusOr<std::vector<StreamResult>> results = (*stream)->Finish();
  ASSERT_THAT(results, IsOk());
  ASSERT_THAT(*results, SizeIs(101));
  EXPECT_THAT((*stream)->stream_status(), IsOk());
  for (const StreamResult& result : *results) {
    if (result.request_id == 101) {
      EXPECT_THAT(result.result, StatusIs(absl::StatusCode::kResourceExhausted));
      ASSERT_TRUE(LimitExceededOf(result.result.status()).has_value());
      EXPECT_EQ(LimitExceededOf(result.result.status())->actual(), 2000u);
      continue;
    }
    ASSERT_THAT(result.result, IsOk()) << "request " << result.request_id;
    // Request ids 1, 3, 5, ... went to "even" and got offsets 1, 2, 3, ...
    EXPECT_EQ(result.result->offset, (result.request_id + 1) / 2);
    EXPECT_THAT(result.result->event_id, MatchesRegex("[0-9]+:[0-9]+"));
  }
  EXPECT_EQ(Metric(*node, "ringcast_publish_requests_total", "code=\"OK\""), 100);
  EXPECT_THAT((*stream)->Finish(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT((*stream)->Send(Event("t")), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(PublishStream, OnResultSeesDrainingAnswersAndTheStreamsEnd) {
  // Given a node that drains after two answers, expect `draining` in-band, then UNAVAILABLE.
  absl::StatusOr<NodeProcess> node = StartNode(::ringcast::testing::DrainHoldFlags());
  ASSERT_THAT(node, IsOk());
  PublisherClient client(node->grpc_address);
  absl::Mutex mu;
  std::vector<StreamResult> seen;
  PublishStreamOptions options;
  options.on_result = [&](StreamResult result) {
    absl::MutexLock lock(&mu);
    seen.push_back(std::move(result));
  };
  auto await_seen = [&](size_t n) {
    absl::MutexLock lock(&mu);
    auto reached = [&seen, n] { return seen.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(20));
  };
  std::unique_ptr<PublishStream> stream = *client.OpenStream(std::move(options));
  ASSERT_THAT(stream->Send(Event("t")), IsOkAndHolds(1u));
  ASSERT_THAT(stream->Send(Event("t")), IsOkAndHolds(2u));
  ASSERT_TRUE(await_seen(2));

  absl::StatusOr<std::unique_ptr<SseConnection>> stalled = HoldDraining(*node);
  ASSERT_THAT(stalled, IsOk());
  ASSERT_THAT(stream->Send(Event("t")), IsOkAndHolds(3u));
  ASSERT_TRUE(await_seen(3));

  (*stalled)->Close();  // the drain ends: the node stops gRPC, ending the stream, and exits
  EXPECT_THAT(node->process->Wait(absl::Seconds(15)), IsOkAndHolds(0));
  absl::StatusOr<uint64_t> late = stream->Send(Event("t"));
  absl::StatusOr<std::vector<StreamResult>> results = stream->Finish();
  ASSERT_THAT(results, IsOk());
  EXPECT_THAT(*results, SizeIs(0));
  // gRPC's own end of the call (the node's shutdown cancelled it): no RpcStatus details.
  const absl::Status final_status = stream->stream_status();
  EXPECT_THAT(final_status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(RpcStatusOf(final_status).has_value());

  absl::MutexLock lock(&mu);
  ASSERT_THAT(seen, SizeIs(late.ok() ? 4 : 3));
  EXPECT_THAT(seen[0].result, IsOk());
  EXPECT_THAT(seen[1].result, IsOk());
  EXPECT_EQ(seen[2].request_id, 3u);
  EXPECT_THAT(seen[2].result, StatusIs(absl::StatusCode::kUnavailable, "node is shutting down"));
  ASSERT_TRUE(RetryInfoOf(seen[2].result.status()).has_value());
  EXPECT_EQ(RetryInfoOf(seen[2].result.status())->reason(), "draining");
  if (late.ok()) {
    EXPECT_EQ(seen[3].request_id, 4u);
    EXPECT_EQ(seen[3].result.status(), final_status);
  } else {
    EXPECT_THAT(late, StatusIs(absl::StatusCode::kUnavailable));
  }
}

TEST(PublishStream, UnreachableNodeEndsTheStream) {
  // Given the address of a node that has exited, expect the stream to end UNAVAILABLE.
  absl::StatusOr<std::string> address = AddressOfAnExitedNode();
  ASSERT_THAT(address, IsOk());
  PublisherClient client(*address);
  std::unique_ptr<PublishStream> stream = *client.OpenStream();
  absl::StatusOr<uint64_t> id = stream->Send(Event("t"));
  absl::StatusOr<std::vector<StreamResult>> results = stream->Finish();
  ASSERT_THAT(results, IsOk());
  EXPECT_THAT(stream->stream_status(), StatusIs(absl::StatusCode::kUnavailable));
  if (id.ok()) {
    ASSERT_THAT(*results, SizeIs(1));
    EXPECT_THAT((*results)[0].result, StatusIs(absl::StatusCode::kUnavailable));
  } else {
    EXPECT_THAT(id, StatusIs(absl::StatusCode::kUnavailable));
  }
}

TEST(PublishStream, DestroyingWithoutFinishCancels) {
  // Given a stream with requests in flight, expect destruction not to hang, the node to go on.
  absl::StatusOr<NodeProcess> node = StartNode({});
  ASSERT_THAT(node, IsOk());
  PublisherClient client(node->grpc_address);
  std::unique_ptr<PublishStream> stream = *client.OpenStream();
  for (int i = 0; i < 10; ++i) ASSERT_THAT(stream->Send(Event("t")), IsOk());
  stream.reset();
  EXPECT_THAT(client.Publish(Event("t")), IsOk());
}

}  // namespace
}  // namespace ringcast::client
