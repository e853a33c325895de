// handoff_faults_test.cc — issue 7's failure cases against real processes (docs/rebalancing.md
// "Failures"): the target of a move killed mid-copy, the source killed mid-copy, the router
// restarted mid-move, and a producer publishing one topic in a tight sequence while that topic
// moves back and forth. A move is caught "mid-copy" by freezing the process (SIGSTOP) while its
// source reports topics moving, so the copy cannot finish before the kill; the buffers are large
// (20 MB) so that the copy lasts long enough to be seen.
#include <signal.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sse/event.h"
#include "tests/rebalance/rebalance_cluster.h"
#include "tests/support/status_matchers.h"

namespace ringcast {
namespace {

using ::ringcast::testing::AddNode;
using ::ringcast::testing::AwaitHandoffsSettled;
using ::ringcast::testing::EventsPath;
using ::ringcast::testing::IsOk;
using ::ringcast::testing::Metric;
using ::ringcast::testing::NodeProcess;
using ::ringcast::testing::RemoveNode;
using ::ringcast::testing::ResumingSubscriber;
using ::ringcast::testing::RouterCluster;

constexpr int kTopics = 200;
constexpr int kEventsPerTopic = 100;
constexpr size_t kEventBytes = 1024;  // 20 MB buffered in all; about half of it moves
constexpr uint32_t kPartitions = 64;

// Room for the whole sequence in every topic's buffer; a quick abandonment of a dead source.
std::vector<std::string> NodeFlags() {
  return {"--buffer_max_bytes=8388608", "--handoff_abandon_after_ms=1000"};
}

std::string TopicName(int i) { return absl::StrCat("faults/", i); }

// Publishes events 1..kEventsPerTopic of kEventBytes to every topic at `node` over one stream;
// returns each topic's epoch.
absl::StatusOr<std::vector<uint64_t>> FillTopics(const NodeProcess& node) {
  client::PublisherClient publisher(node.grpc_address);
  absl::StatusOr<std::unique_ptr<client::PublishStream>> stream = publisher.OpenStream();
  if (!stream.ok()) return stream.status();
  const std::string padding(kEventBytes, 'x');
  for (int n = 1; n <= kEventsPerTopic; ++n) {
    for (int t = 0; t < kTopics; ++t) {
      absl::StatusOr<uint64_t> sent =
          (*stream)->Send({.topic = TopicName(t), .data = absl::StrCat(n, " ", padding)});
      if (!sent.ok()) return sent.status();
    }
  }
  absl::StatusOr<std::vector<client::StreamResult>> results = (*stream)->Finish();
  if (!results.ok()) return results.status();
  std::vector<uint64_t> epochs(kTopics, 0);
  for (size_t i = 0; i < results->size(); ++i) {
    const client::StreamResult& r = (*results)[i];
    if (!r.result.ok()) return r.result.status();
    epochs[i % kTopics] = r.result->epoch;
  }
  return epochs;
}

// A router with one node, "the source", holding every topic filled by FillTopics, and node-2
// started to join it later ("the target", no member yet).
struct FilledCluster {
  RouterCluster cluster;
  std::vector<uint64_t> epochs;  // per topic, at the source
  NodeProcess target;

  NodeProcess& source() { return cluster.nodes[0]; }
  const std::string& router() const { return cluster.router.grpc_address; }
};

absl::StatusOr<FilledCluster> StartFilledCluster(const std::string& name,
                                                 std::vector<std::string> router_flags = {}) {
  FilledCluster filled;
  absl::StatusOr<RouterCluster> cluster = testing::StartRouterCluster(
      name, {.node_count = 1, .partition_count = kPartitions, .router_flags = router_flags,
             .node_flags = NodeFlags(), .nodes_follow_router = true});
  if (!cluster.ok()) return cluster.status();
  filled.cluster = *std::move(cluster);
  absl::StatusOr<std::vector<uint64_t>> epochs = FillTopics(filled.source());
  if (!epochs.ok()) return epochs.status();
  filled.epochs = *std::move(epochs);
  absl::StatusOr<NodeProcess> target =
      testing::StartSpareNode(filled.cluster, "node-2", NodeFlags());
  if (!target.ok()) return target.status();
  filled.target = *std::move(target);
  return filled;
}

// Waits (busy: the copy may be short) until `source` reports topics moving out.
bool AwaitMoving(const NodeProcess& source) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (Metric(source, "ringcast_handoff_topics_moving") <= 0) {
    if (absl::Now() > deadline) return false;
  }
  return true;
}

// Once `source` moves topics, freezes `frozen` (the source or its target) so the copy cannot
// finish. True when the source still reported topics moving after the freeze.
bool FreezeMidCopy(const NodeProcess& source, NodeProcess& frozen) {
  if (!AwaitMoving(source)) return false;
  if (!frozen.process->Signal(SIGSTOP).ok()) return false;
  if (&frozen == &source) return true;  // a frozen node cannot answer /metrics
  return Metric(source, "ringcast_handoff_topics_moving") > 0;
}

void Kill(NodeProcess& node) {
  ASSERT_THAT(node.process->Signal(SIGKILL), IsOk());
  ASSERT_THAT(node.process->Wait(absl::Seconds(10)), IsOk());
}
// Reads `topic` at `node` from its first event on (Last-Event-ID "<epoch>:0") until `count`
// events arrived or the stream stays silent for a while; the events as received.
std::vector<sse::ParsedEvent> ReadHistory(const NodeProcess& node, const std::string& topic,
                                          uint64_t epoch, int count) {
  std::vector<sse::ParsedEvent> events;
  absl::StatusOr<std::unique_ptr<testing::SseConnection>> stream = testing::SseConnection::Open(
      node.http_address, EventsPath(topic), {{"Last-Event-ID", absl::StrCat(epoch, ":0")}});
  if (!stream.ok() || (*stream)->status() != 200) return events;
  while (static_cast<int>(events.size()) < count) {
    absl::StatusOr<sse::ParsedEvent> event = (*stream)->Next(absl::Seconds(5));
    if (!event.ok()) break;
    events.push_back(*std::move(event));
  }
  return events;
}

// Problems with `events` as one epoch's offsets `first`, `first + 1`, ... of type message.
std::vector<std::string> ContiguityProblems(const std::vector<sse::ParsedEvent>& events,
                                            uint64_t epoch, uint64_t first) {
  std::vector<std::string> problems;
  uint64_t expected = first;
  for (const sse::ParsedEvent& event : events) {
    const std::string want = absl::StrCat(epoch, ":", expected);
    if (event.type != "message" || event.id != want) {
      problems.push_back(absl::StrCat("expected ", want, ", got ", event.type, " ", event.id));
      break;
    }
    ++expected;
  }
  return problems;
}

// The kill of a move's target while its copy runs loses nothing at the source: the topics not
// activated at the target append and serve again at the source, and once the dead node is
// removed from the ring they are the source's own again, with their whole history, their epoch
// and no ringcast.reset. Topics the target had activated before it died would be lost with it
// (docs/rebalancing.md "Failures"); a target frozen during the copy activates none (seals come
// only after every topic's buffer is across), which the test checks.
TEST(HandoffFaultsTest, TargetKilledMidCopyLosesNothingAtTheSource) {
  absl::StatusOr<FilledCluster> filled = StartFilledCluster("faults_target");
  ASSERT_THAT(filled, IsOk());
  NodeProcess& source = filled->source();
  NodeProcess& target = filled->target;
  const std::vector<uint64_t>& epochs = filled->epochs;

  ASSERT_THAT(AddNode(filled->router(), "node-2", target), IsOk());
  ASSERT_TRUE(FreezeMidCopy(source, target)) << "the copy ended before the target froze";
  Kill(target);

  // The transfer fails and the source holds nothing in a move any more.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while ((Metric(source, "ringcast_handoff_transfers_total", "result=\"failed\"") < 1 ||
          Metric(source, "ringcast_handoff_topics_moving") > 0) &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(Metric(source, "ringcast_handoff_topics_moving"), 0);
  EXPECT_GE(Metric(source, "ringcast_handoff_transfers_total", "result=\"failed\""), 1);
  EXPECT_LE(Metric(source, "ringcast_handoff_topics_total", "direction=\"out\""), 0)
      << "the frozen target activated topics";

  ASSERT_THAT(RemoveNode(filled->router(), "node-2"), IsOk());
  // Every topic: its whole sequence from the source, no reset, and the next publish continues
  // its offsets in the same epoch.
  client::PublisherClient direct(source.grpc_address);
  for (int t = 0; t < kTopics; ++t) {
    const std::vector<sse::ParsedEvent> history =
        ReadHistory(source, TopicName(t), epochs[t], kEventsPerTopic);
    EXPECT_EQ(history.size(), kEventsPerTopic) << TopicName(t);
    EXPECT_THAT(ContiguityProblems(history, epochs[t], 1), ::testing::IsEmpty())
        << TopicName(t);
    absl::StatusOr<client::PublishResult> next =
        direct.Publish({.topic = TopicName(t), .data = "after"});
    ASSERT_THAT(next, IsOk()) << TopicName(t);
    EXPECT_EQ(next->epoch, epochs[t]) << TopicName(t);
    EXPECT_EQ(next->offset, kEventsPerTopic + 1) << TopicName(t);
  }
}

// The kill of a move's source while its copy runs: the target's gained partitions wait for the
// history no longer coming for --handoff_abandon_after_ms, then their topics start afresh (new
// epoch, offsets from 1), and a subscriber resuming with an id of the old history is told so with
// `event: ringcast.reset`, never a silent gap.
TEST(HandoffFaultsTest, SourceKilledMidCopyStartsTopicsAfreshWithReset) {
  absl::StatusOr<FilledCluster> filled = StartFilledCluster("faults_source");
  ASSERT_THAT(filled, IsOk());
  NodeProcess& source = filled->source();
  NodeProcess& target = filled->target;
  const std::vector<uint64_t>& epochs = filled->epochs;

  ASSERT_THAT(AddNode(filled->router(), "node-2", target), IsOk());
  // Some copies exist at the target (events arrived) before the source dies.
  ASSERT_GT(testing::AwaitMetric(target, "ringcast_handoff_bytes_total", "direction=\"in\"", 1),
            0);
  ASSERT_TRUE(FreezeMidCopy(source, source)) << "the copy ended before the source froze";
  Kill(source);

  absl::StatusOr<Ring> ring = filled->cluster.CurrentRing();
  ASSERT_THAT(ring, IsOk());
  client::PublisherClient at_target(target.grpc_address);
  int gained = 0;
  for (int t = 0; t < kTopics; ++t) {
    if (ring->Lookup(TopicName(t)).id != "node-2") continue;
    ++gained;
    // Resume from the last event of the old history.
    const std::string old_id = absl::StrCat(epochs[t], ":", kEventsPerTopic);
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    std::optional<sse::ParsedEvent> first;
    while (!first.has_value() && absl::Now() < deadline) {
      absl::StatusOr<std::unique_ptr<testing::SseConnection>> stream =
          testing::SseConnection::Open(target.http_address, EventsPath(TopicName(t)),
                                       {{"Last-Event-ID", old_id}});
      ASSERT_THAT(stream, IsOk());
      if ((*stream)->status() == 503) {  // the partition still waits for its history
        absl::SleepFor(absl::Milliseconds(50));
        continue;
      }
      ASSERT_EQ((*stream)->status(), 200) << (*stream)->body();
      // A copy of the old history holds the stream until the broken transfer discards it.
      absl::StatusOr<sse::ParsedEvent> event = (*stream)->Next(deadline - absl::Now());
      if (event.ok()) first = *std::move(event);
    }
    ASSERT_TRUE(first.has_value()) << TopicName(t) << ": no event on resume";
    EXPECT_EQ(first->type, sse::kResetEventType) << TopicName(t) << ": " << first->id;
    EXPECT_THAT(first->data, ::testing::HasSubstr("\"reason\":\"epoch\"")) << TopicName(t);

    absl::StatusOr<client::PublishResult> fresh =
        at_target.Publish({.topic = TopicName(t), .data = "fresh"});
    ASSERT_THAT(fresh, IsOk()) << TopicName(t);
    EXPECT_NE(fresh->epoch, epochs[t]) << TopicName(t);
    EXPECT_EQ(fresh->offset, 1) << TopicName(t);
  }
  EXPECT_GT(gained, 0);
}

// A restart of the router (with --state_dir) while a move runs: the nodes drive the move from
// their own ring, so it completes; the restarted router serves the same ring version; the
// subscribers of moved topics continue with no gap.
TEST(HandoffFaultsTest, RouterRestartMidMoveDoesNotStopIt) {
  absl::StatusOr<int> http_port = testing::FreeLoopbackPort();
  absl::StatusOr<int> grpc_port = testing::FreeLoopbackPort();
  ASSERT_THAT(http_port, IsOk());
  ASSERT_THAT(grpc_port, IsOk());
  const std::vector<std::string> router_flags = {
      absl::StrCat("--state_dir=", ::testing::TempDir(), "/faults_router_", ::getpid()),
      absl::StrCat("--http_listen=127.0.0.1:", *http_port),
      absl::StrCat("--grpc_listen=127.0.0.1:", *grpc_port)};
  absl::StatusOr<FilledCluster> filled = StartFilledCluster("faults_router", router_flags);
  ASSERT_THAT(filled, IsOk());
  NodeProcess& source = filled->source();
  NodeProcess& target = filled->target;
  const std::vector<uint64_t>& epochs = filled->epochs;

  // A subscriber per topic at the source (it redirects once the topic moved), each holding the
  // topic's last event, so a resume shows any gap.
  client::PublisherClient direct(source.grpc_address);
  std::vector<std::unique_ptr<ResumingSubscriber>> subscribers;
  for (int t = 0; t < kTopics; ++t) {
    subscribers.push_back(
        std::make_unique<ResumingSubscriber>(source.http_address, EventsPath(TopicName(t))));
    ASSERT_THAT(subscribers.back()->Poll(absl::Milliseconds(1)), IsOk());
    ASSERT_THAT(direct.Publish({.topic = TopicName(t), .data = "live"}), IsOk());
  }

  absl::StatusOr<v1::AddNodeResponse> added = AddNode(filled->router(), "node-2", target);
  ASSERT_THAT(added, IsOk());
  const uint64_t version = added->ring().version();
  ASSERT_TRUE(AwaitMoving(source));
  ASSERT_THAT(filled->cluster.router.process->Signal(SIGKILL), IsOk());
  ASSERT_THAT(filled->cluster.router.process->Wait(absl::Seconds(10)), IsOk());
  absl::StatusOr<testing::RouterProcess> restarted = testing::StartRouter(
      {"--ring_file=" + filled->cluster.ring_file, router_flags[0], router_flags[1],
       router_flags[2]});
  ASSERT_THAT(restarted, IsOk());
  filled->cluster.router = *std::move(restarted);

  ASSERT_TRUE(AwaitHandoffsSettled({&source, &target}, 1)) << "the move did not complete";
  absl::StatusOr<Ring> ring = filled->cluster.CurrentRing();
  ASSERT_THAT(ring, IsOk());
  EXPECT_EQ(ring->version(), version);
  EXPECT_NE(ring->FindMember("node-2"), nullptr);

  // One more event per topic through the restarted router's ring; every subscriber gets the
  // live event and this one, contiguous, in the topic's epoch.
  absl::StatusOr<std::unique_ptr<client::RoutingPublisher>> publisher =
      client::RoutingPublisher::Connect(filled->router());
  ASSERT_THAT(publisher, IsOk());
  for (int t = 0; t < kTopics; ++t) {
    absl::StatusOr<client::PublishResult> result =
        (*publisher)->Publish({.topic = TopicName(t), .data = "after"});
    ASSERT_THAT(result, IsOk()) << TopicName(t);
    EXPECT_EQ(result->offset, kEventsPerTopic + 2) << TopicName(t);
    EXPECT_EQ((*publisher)->ring()->Lookup(TopicName(t)).id,
              ring->Lookup(TopicName(t)).id);
  }
  int moved = 0;
  for (int t = 0; t < kTopics; ++t) {
    ResumingSubscriber& subscriber = *subscribers[t];
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (subscriber.events().size() < 2 && absl::Now() < deadline) {
      // Poll reads for its whole budget: a short one keeps 200 subscribers quick.
      ASSERT_THAT(subscriber.Poll(absl::Milliseconds(1)), IsOk());
    }
    EXPECT_THAT(ContiguityProblems(subscriber.events(), epochs[t], kEventsPerTopic + 1),
                ::testing::IsEmpty())
        << TopicName(t) << ": " << subscriber.Describe();
    EXPECT_EQ(subscriber.events().size(), 2) << TopicName(t) << ": " << subscriber.Describe();
    if (ring->Lookup(TopicName(t)).id == "node-2") ++moved;
  }
  EXPECT_GT(moved, 0);
}

// One producer publishing a tight sequence to one topic while the topic moves back and forth
// (its owner removed and added again, three times): the seal races the publishes, yet every
// event is accepted exactly once, at offsets 1..N in order in one epoch, and a subscriber
// receives 1..N.
TEST(HandoffFaultsTest, PublishRacingTheSealIsDeliveredExactlyOnceInOrder) {
  absl::StatusOr<RouterCluster> cluster = testing::StartRouterCluster(
      "faults_race", {.node_count = 2, .partition_count = kPartitions, .node_flags = NodeFlags(),
                      .nodes_follow_router = true});
  ASSERT_THAT(cluster, IsOk());
  const std::string topic = cluster->TopicOwnedBy("node-2", "race");
  ASSERT_FALSE(topic.empty());
  ResumingSubscriber subscriber(cluster->nodes[0].http_address, EventsPath(topic));
  ASSERT_THAT(subscriber.Poll(absl::Milliseconds(1)), IsOk());

  absl::StatusOr<std::unique_ptr<client::RoutingPublisher>> publisher =
      testing::ConnectProducer(cluster->router.grpc_address, "race");
  ASSERT_THAT(publisher, IsOk());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> accepted{0};
  std::vector<std::string> problems;  // written by the producer until it is joined
  std::vector<uint64_t> epochs;
  std::thread producer([&] {
    for (uint64_t n = 1; !stop; ++n) {
      absl::StatusOr<client::PublishResult> result =
          (*publisher)->Publish({.topic = topic, .data = absl::StrCat(n)});
      if (!result.ok() || result->offset != n) {
        problems.push_back(absl::StrCat(
            "#", n, ": ", result.ok() ? absl::StrCat("offset ", result->offset)
                                      : result.status().ToString()));
        return;
      }
      if (epochs.empty() || epochs.back() != result->epoch) epochs.push_back(result->epoch);
      accepted = n;
    }
  });
  auto await_accepted = [&](uint64_t more) {
    const uint64_t target = accepted + more;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (accepted < target && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  };

  std::vector<const NodeProcess*> nodes = {&cluster->nodes[0], &cluster->nodes[1]};
  const Member& second = cluster->members[1];
  await_accepted(50);
  for (int round = 1; round <= 3; ++round) {
    ASSERT_THAT(RemoveNode(cluster->router.grpc_address, second.id), IsOk())
        << "round " << round;
    ASSERT_TRUE(AwaitHandoffsSettled(nodes, 2 * round - 1)) << "round " << round << ": remove";
    await_accepted(50);
    ASSERT_THAT(AddNode(cluster->router.grpc_address, second.id, cluster->nodes[1]), IsOk())
        << "round " << round;
    ASSERT_TRUE(AwaitHandoffsSettled(nodes, 2 * round)) << "round " << round << ": add";
    await_accepted(50);
  }
  stop = true;
  producer.join();
  EXPECT_THAT(problems, ::testing::IsEmpty());
  ASSERT_EQ(epochs.size(), 1) << "the topic changed epoch";
  const uint64_t last = accepted;

  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while ((subscriber.events().empty() || subscriber.events().back().id !=
                                             absl::StrCat(epochs[0], ":", last)) &&
         absl::Now() < deadline) {
    ASSERT_THAT(subscriber.Poll(absl::Milliseconds(50)), IsOk());
  }
  EXPECT_EQ(subscriber.events().size(), last) << subscriber.Describe();
  EXPECT_THAT(ContiguityProblems(subscriber.events(), epochs[0], 1), ::testing::IsEmpty())
      << subscriber.Describe();
}

}  // namespace
}  // namespace ringcast
