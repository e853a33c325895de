// routing_publisher_test.cc — client::RoutingPublisher against real routers and nodes: 10,000
// events over 500 topics land on their owners and reach subscribers complete and in order;
// a ring change under a producer_id publisher accepts every event exactly once; a stale ring is
// corrected by WrongOwner; the async and streaming paths keep each topic's order; an unknown
// outcome is retried only with a (producer_id, sequence).
#include "client/routing_publisher.h"

#include <signal.h>

#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/real_node.h"
#include "tests/router/router_fixture.h"
#include "tests/support/status_matchers.h"

namespace ringcast::client {
namespace {

using ::ringcast::testing::AwaitMetric;
using ::ringcast::testing::ClusterWithSpare;
using ::ringcast::testing::IsOk;
using ::ringcast::testing::Metric;
using ::ringcast::testing::RouterCluster;
using ::ringcast::testing::SseConnection;
using ::ringcast::testing::StartClusterWithSpare;
using ::ringcast::testing::StartRouterCluster;
using ::ringcast::testing::StartTwoNodeRing;
using ::ringcast::testing::StatusIs;
using ::ringcast::testing::SubscribeTo;
using ::ringcast::testing::TwoNodeRing;

constexpr char kAccepted[] = "code=\"OK\"";
constexpr char kWrongOwner[] = "code=\"FAILED_PRECONDITION\"";
constexpr char kPublishes[] = "ringcast_publish_requests_total";

// The offsets of `results`, in order; 0 for a failed result.
std::vector<uint64_t> Offsets(const std::vector<absl::StatusOr<PublishResult>>& results) {
  std::vector<uint64_t> offsets;
  for (const auto& r : results) offsets.push_back(r.ok() ? r->offset : 0);
  return offsets;
}

std::vector<uint64_t> OneTo(uint64_t n) {
  std::vector<uint64_t> v;
  for (uint64_t i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

// The ring the two nodes of `two` were started with.
std::shared_ptr<const Ring> RingOf(const TwoNodeRing& two) {
  absl::StatusOr<Ring> ring = Ring::Build(two.members, two.partition_count);
  return ring.ok() ? std::make_shared<const Ring>(*std::move(ring)) : nullptr;
}

TEST(RoutingPublisherTest, TenThousandEventsOverFiveHundredTopicsLandOnTheirOwners) {
  // Given a router and 3 nodes following it, 10,000 events over 500 topics (20 each) published
  // in batches, expect every one accepted once at its owner (the nodes' OK counts match the
  // ring, no FAILED_PRECONDITION anywhere) and subscribers of 30 topics to get 20 events each,
  // complete and in order.
  absl::StatusOr<RouterCluster> cluster =
      StartRouterCluster("routing_10k", {.node_count = 3, .nodes_follow_router = true});
  ASSERT_THAT(cluster, IsOk());
  absl::StatusOr<std::unique_ptr<RoutingPublisher>> publisher =
      RoutingPublisher::Connect(cluster->router.grpc_address);
  ASSERT_THAT(publisher, IsOk());
  const std::shared_ptr<const Ring> ring = (*publisher)->ring();

  constexpr int kTopics = 500;
  constexpr int kPerTopic = 20;
  auto topic_of = [](int i) { return absl::StrCat("load/", i % kTopics); };
  std::map<std::string, std::unique_ptr<SseConnection>> subscribers;
  for (int t = 0; t < kTopics; t += kTopics / 30 + 1) {
    const std::string topic = topic_of(t);
    absl::StatusOr<std::unique_ptr<SseConnection>> sub =
        SubscribeTo(*cluster->node(ring->Lookup(topic).id), topic);
    ASSERT_THAT(sub, IsOk());
    ASSERT_EQ((*sub)->status(), 200) << topic;
    subscribers[topic] = *std::move(sub);
  }

  std::vector<PublishOptions> events;
  std::map<std::string, double> expected_per_node;
  for (int i = 0; i < kTopics * kPerTopic; ++i) {
    events.push_back({.topic = topic_of(i), .data = absl::StrCat(i / kTopics)});
    expected_per_node[ring->Lookup(topic_of(i)).id] += 1;
  }
  std::vector<StreamResult> results = (*publisher)->PublishBatch(events);
  ASSERT_EQ(results.size(), events.size());
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_THAT(results[i].result, IsOk()) << "event " << i;
    EXPECT_FALSE(results[i].result->duplicate);
    EXPECT_EQ(results[i].result->offset, i / kTopics + 1) << "event " << i;
    EXPECT_EQ(results[i].result->ring_version, 1u);
  }
  for (const auto& [id, expected] : expected_per_node) {
    EXPECT_EQ(AwaitMetric(*cluster->node(id), kPublishes, kAccepted, expected), expected) << id;
    EXPECT_LE(Metric(*cluster->node(id), kPublishes, kWrongOwner), 0) << id;
  }
  EXPECT_EQ((*publisher)->retries().wrong_owner, 0u);

  for (auto& [topic, sub] : subscribers) {
    absl::StatusOr<std::vector<sse::ParsedEvent>> got = sub->NextN(kPerTopic, absl::Seconds(10));
    ASSERT_THAT(got, IsOk()) << topic;
    for (int n = 0; n < kPerTopic; ++n) {
      EXPECT_EQ((*got)[n].data, absl::StrCat(n)) << topic;
      EXPECT_THAT((*got)[n].id, ::testing::EndsWith(absl::StrCat(":", n + 1))) << topic;
    }
  }
}

TEST(RoutingPublisherTest, RingChangeWithProducerIdAcceptsEveryEventExactlyOnce) {
  // Given 3 nodes following a router, a fourth node that AddNode gives topic T, and a publisher
  // with a producer_id publishing 30 events to T before and 30 after the change, expect 60
  // accepted, none duplicated, offsets 1..60 in one epoch (T moved to node-4 with its history:
  // k at the old owner, the rest at node-4), and the nodes' OK counts agreeing.
  absl::StatusOr<ClusterWithSpare> setup = StartClusterWithSpare("routing_move");
  ASSERT_THAT(setup, IsOk());
  const std::string& topic = setup->topic;

  absl::StatusOr<std::unique_ptr<RoutingPublisher>> publisher = RoutingPublisher::Connect(
      setup->cluster.router.grpc_address, {.producer_id = absl::StrCat("test-", ::getpid())});
  ASSERT_THAT(publisher, IsOk());
  std::vector<absl::StatusOr<PublishResult>> results;
  for (int i = 0; i < 30; ++i) {
    results.push_back((*publisher)->Publish({.topic = topic, .data = "before"}));
  }

  ASSERT_THAT(setup->cluster.AddMember(setup->spare_member), IsOk());
  for (int i = 0; i < 30; ++i) {
    results.push_back((*publisher)->Publish({.topic = topic, .data = "after"}));
  }

  EXPECT_EQ(Offsets(results), OneTo(60));
  for (const auto& r : results) {
    ASSERT_THAT(r, IsOk());
    EXPECT_FALSE(r->duplicate);
    EXPECT_EQ(r->epoch, results.front()->epoch);
  }
  const double k =  // before the move
      Metric(*setup->cluster.node(setup->old_owner), kPublishes, kAccepted);
  EXPECT_GE(k, 30);
  EXPECT_EQ(AwaitMetric(setup->spare, kPublishes, kAccepted, 60 - k), 60 - k);
}

TEST(RoutingPublisherTest, StaleRingIsCorrectedByWrongOwner) {
  // Given a fixed ring naming only node a, and a topic the nodes' ring gives to b, expect the
  // publish to land at b after one WrongOwner retry.
  absl::StatusOr<TwoNodeRing> two = StartTwoNodeRing("routing_stale");
  ASSERT_THAT(two, IsOk());
  absl::StatusOr<Ring> only_a = Ring::Build({two->members[0]}, two->partition_count);
  ASSERT_THAT(only_a, IsOk());
  RoutingPublisher publisher(std::make_shared<const Ring>(*std::move(only_a)));
  const std::string topic = two->TopicOwnedBy("b");
  absl::StatusOr<PublishResult> result = publisher.Publish({.topic = topic, .data = "hi"});
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->offset, 1u);
  EXPECT_EQ(publisher.retries().wrong_owner, 1u);
  EXPECT_EQ(AwaitMetric(two->b, kPublishes, kAccepted, 1), 1);
  EXPECT_EQ(Metric(two->a, kPublishes, kWrongOwner), 1);
}

TEST(RoutingPublisherTest, AsyncAndStreamKeepEachTopicsOrder) {
  // Given two nodes and 8 topics, expect 200 async publishes and 200 streamed ones to get each
  // topic's offsets in call order (1..25, then 26..50), all accepted.
  absl::StatusOr<TwoNodeRing> two = StartTwoNodeRing("routing_order");
  ASSERT_THAT(two, IsOk());
  RoutingPublisher publisher(RingOf(*two));
  constexpr int kTopics = 8;
  auto topic_of = [](int i) { return absl::StrCat("order-", i % kTopics); };

  std::vector<std::future<absl::StatusOr<PublishResult>>> futures;
  for (int i = 0; i < 200; ++i) futures.push_back(publisher.PublishAsync({.topic = topic_of(i)}));
  for (int i = 0; i < 200; ++i) {
    absl::StatusOr<PublishResult> r = futures[i].get();
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->offset, static_cast<uint64_t>(i / kTopics + 1)) << "async " << i;
  }

  std::unique_ptr<RoutingStream> stream = publisher.OpenStream();
  for (int i = 0; i < 200; ++i) {
    absl::StatusOr<uint64_t> id = stream->Send({.topic = topic_of(i)});
    ASSERT_THAT(id, IsOk());
    EXPECT_EQ(*id, static_cast<uint64_t>(i + 1));
  }
  std::vector<StreamResult> results = stream->Finish();
  ASSERT_EQ(results.size(), 200u);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(results[i].request_id, static_cast<uint64_t>(i + 1));
    ASSERT_THAT(results[i].result, IsOk());
    EXPECT_EQ(results[i].result->offset, static_cast<uint64_t>(25 + i / kTopics + 1)) << i;
  }
  EXPECT_EQ(Metric(two->a, kPublishes, kAccepted) + Metric(two->b, kPublishes, kAccepted), 400);
}

TEST(RoutingPublisherTest, UnknownOutcomeIsRetriedOnlyWithASequence) {
  // Given node b killed, expect a publish to b's topic without a producer to fail UNAVAILABLE
  // with no retry, and one with (producer_id, sequence) to be retried up to max_attempts.
  absl::StatusOr<TwoNodeRing> two = StartTwoNodeRing("routing_unknown");
  ASSERT_THAT(two, IsOk());
  ASSERT_THAT(two->b.process->Signal(SIGKILL), IsOk());
  ASSERT_THAT(two->b.process->Wait(absl::Seconds(10)), IsOk());
  RoutingPublisher publisher(RingOf(*two), {.max_attempts = 3,
                                            .initial_backoff = absl::Milliseconds(1),
                                            .max_backoff = absl::Milliseconds(5)});
  const std::string topic = two->TopicOwnedBy("b");

  EXPECT_THAT(publisher.Publish({.topic = topic, .data = "once"}),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(publisher.retries().unknown_outcome, 0u);

  EXPECT_THAT(
      publisher.Publish({.topic = topic, .data = "again", .producer_id = "p", .sequence = 1}),
      StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(publisher.retries().unknown_outcome, 2u);
}

}  // namespace
}  // namespace ringcast::client
