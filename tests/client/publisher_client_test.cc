// publisher_client_test.cc — PublisherClient and PublishStream against an in-process fake
// Publisher on port 0 (tests/client/fake_publisher.h): results, error details, local
// validation, stream bookkeeping, and a node that cannot be reached.
#include "client/publisher_client.h"

#include <atomic>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/fake_publisher.h"
#include "tests/support/status_matchers.h"

namespace ringcast::client {
namespace {

using ::ringcast::testing::FakeNode;
using ::ringcast::testing::IsOk;
using ::ringcast::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

PublishOptions Event(std::string topic, std::string data = "hello") {
  PublishOptions options;
  options.topic = std::move(topic);
  options.data = std::move(data);
  return options;
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
  // Given a fake node, expect ids 5:1 then 5:2 for one topic, and the request's fields sent.
  FakeNode node;
  PublisherClient client(node.address());
  PublishOptions options = Event("orders/42", "line 1\nline 2");
  options.type = "price";
  options.ring_version = 2;
  absl::StatusOr<PublishResult> first = client.Publish(options);
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->event_id, "5:1");
  EXPECT_EQ(first->epoch, 5u);
  EXPECT_EQ(first->offset, 1u);
  EXPECT_EQ(first->ring_version, 3u);
  EXPECT_FALSE(first->duplicate);
  EXPECT_EQ(client.Publish(options)->event_id, "5:2");

  std::vector<v1::PublishRequest> sent = node.service().requests();
  ASSERT_THAT(sent, SizeIs(2));
  EXPECT_EQ(sent[0].type(), "price");
  EXPECT_EQ(sent[0].data(), "line 1\nline 2");
  EXPECT_EQ(sent[0].ring_version(), 2u);
}

TEST(PublisherClient, ReportsDuplicates) {
  // Given the same (producer_id, sequence) twice, expect the second to be a duplicate.
  FakeNode node;
  PublisherClient client(node.address());
  PublishOptions options = Event("t");
  options.producer_id = "p1";
  options.sequence = 1;
  EXPECT_FALSE(client.Publish(options)->duplicate);
  EXPECT_TRUE(client.Publish(options)->duplicate);
}

TEST(PublisherClient, ErrorsCarryTheNodesDetails) {
  // Given topics the fake rejects, expect the codes and typed details of publisher.proto.
  FakeNode node;
  PublisherClient client(node.address());
  absl::StatusOr<PublishResult> wrong = client.Publish(Event("wrong/owner"));
  EXPECT_THAT(wrong, StatusIs(absl::StatusCode::kFailedPrecondition, "not the owner"));
  ASSERT_TRUE(WrongOwnerOf(wrong.status()).has_value());
  EXPECT_EQ(WrongOwnerOf(wrong.status())->owner().grpc_address(), "10.0.0.2:9090");

  absl::StatusOr<PublishResult> full = client.Publish(Event("full", std::string(100, 'x')));
  EXPECT_THAT(full, StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_TRUE(LimitExceededOf(full.status()).has_value());
  EXPECT_EQ(LimitExceededOf(full.status())->actual(), 100u);

  absl::StatusOr<PublishResult> busy = client.Publish(Event("busy"));
  EXPECT_THAT(busy, StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_TRUE(RetryInfoOf(busy.status()).has_value());
  EXPECT_EQ(RetryInfoOf(busy.status())->reason(), "handoff_hold");
}

TEST(PublisherClient, ValidatesBeforeSending) {
  // Given an invalid request, expect INVALID_ARGUMENT and nothing sent; with validation off,
  // expect it to reach the node.
  FakeNode node;
  PublisherClient client(node.address());
  EXPECT_THAT(client.Publish(Event("a b")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(node.service().requests(), SizeIs(0));

  PublisherClient unchecked(node.address(), {.validate_requests = false});
  EXPECT_THAT(unchecked.Publish(Event("a b")), IsOk());
  EXPECT_THAT(node.service().requests(), SizeIs(1));
}

TEST(PublisherClient, UnreachableNodeIsUnavailable) {
  // Given an address nobody listens on, expect UNAVAILABLE from gRPC, without details.
  int port = 0;
  {
    FakeNode gone;  // bind a port, then free it
    port = std::stoi(gone.address().substr(gone.address().rfind(':') + 1));
  }
  PublisherClient client(absl::StrCat("127.0.0.1:", port));
  PublishOptions options = Event("t");
  options.deadline = absl::Now() + absl::Seconds(5);
  absl::StatusOr<PublishResult> result = client.Publish(options);
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(RpcStatusOf(result.status()).has_value());
}

TEST(PublishStream, CollectsEveryAnswer) {
  // Given 100 events on two topics plus one the node rejects, expect one result per request
  // id, offsets in send order per topic, and the rejection with its details.
  FakeNode node;
  PublisherClient client(node.address());
  PublishStreamOptions options;
  options.max_in_flight = 8;
  absl::StatusOr<std::unique_ptr<PublishStream>> stream = client.OpenStream(std::move(options));
  ASSERT_THAT(stream, IsOk());
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<uint64_t> id = (*stream)->Send(Event(i % 2 == 0 ? "even" : "odd"));
    ASSERT_THAT(id, IsOk());
    EXPECT_EQ(*id, static_cast<uint64_t>(i + 1));
  }
  EXPECT_EQ(*(*stream)->Send(Event("wrong/owner")), 101u);
  EXPECT_THAT((*stream)->Send(Event("")), StatusIs(absl::StatusCode::kInvalidArgument));

  absl::StatusOr<std::vector<StreamResult>> results = (*stream)->Finish();
  ASSERT_THAT(results, IsOk());
  ASSERT_THAT(*results, SizeIs(101));
  EXPECT_THAT((*stream)->stream_status(), IsOk());
  for (const StreamResult& result : *results) {
    if (result.request_id == 101) {
      EXPECT_THAT(result.result, StatusIs(absl::StatusCode::kFailedPrecondition));
      EXPECT_TRUE(WrongOwnerOf(result.result.status()).has_value());
      continue;
    }
    ASSERT_THAT(result.result, IsOk());
    // Request ids 1, 3, 5, ... went to "even" and got offsets 1, 2, 3, ...
    EXPECT_EQ(result.result->offset, (result.request_id + 1) / 2);
  }
  EXPECT_THAT((*stream)->Finish(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT((*stream)->Send(Event("t")), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(PublishStream, OnResultReceivesAnswersAndUnansweredRequests) {
  // Given a node that drains after two answers, expect on_result to see the two answers and
  // the unanswered request with the stream's UNAVAILABLE, Finish to return no results, and
  // stream_status to carry RetryInfo `draining`.
  FakeNode node;
  PublisherClient client(node.address());
  absl::Mutex mu;
  std::vector<StreamResult> seen;
  PublishStreamOptions options;
  options.on_result = [&](StreamResult result) {
    absl::MutexLock lock(&mu);
    seen.push_back(std::move(result));
  };
  std::unique_ptr<PublishStream> stream = *client.OpenStream(std::move(options));
  ASSERT_THAT(stream->Send(Event("t")), IsOk());
  ASSERT_THAT(stream->Send(Event("t")), IsOk());
  ASSERT_THAT(stream->Send(Event("drain")), IsOk());
  absl::StatusOr<std::vector<StreamResult>> results = stream->Finish();
  ASSERT_THAT(results, IsOk());
  EXPECT_THAT(*results, SizeIs(0));
  EXPECT_THAT(stream->stream_status(), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_TRUE(RetryInfoOf(stream->stream_status()).has_value());
  EXPECT_EQ(RetryInfoOf(stream->stream_status())->reason(), "draining");

  absl::MutexLock lock(&mu);
  ASSERT_THAT(seen, SizeIs(3));
  EXPECT_THAT(seen[0].result, IsOk());
  EXPECT_THAT(seen[1].result, IsOk());
  EXPECT_EQ(seen[2].request_id, 3u);
  EXPECT_THAT(seen[2].result, StatusIs(absl::StatusCode::kUnavailable));
}

TEST(PublishStream, UnreachableNodeEndsTheStream) {
  // Given an address nobody listens on, expect Send to fail or its request to come back
  // UNAVAILABLE, and the stream's status to say UNAVAILABLE.
  int port = 0;
  {
    FakeNode gone;
    port = std::stoi(gone.address().substr(gone.address().rfind(':') + 1));
  }
  PublisherClient client(absl::StrCat("127.0.0.1:", port));
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
  // Given an open stream with requests in flight, expect destruction not to hang.
  FakeNode node;
  PublisherClient client(node.address());
  std::unique_ptr<PublishStream> stream = *client.OpenStream();
  for (int i = 0; i < 10; ++i) ASSERT_THAT(stream->Send(Event("t")), IsOk());
  stream.reset();
}

}  // namespace
}  // namespace ringcast::client
