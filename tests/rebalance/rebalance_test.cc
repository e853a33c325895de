// rebalance_test.cc — issue 7's promise against real processes (one router, three nodes, then a
// fourth): under steady publishing to 500 topics, with subscribers on every topic (direct to the
// nodes, through the proxying router, and on multi-topic streams), adding a node and then
// removing one of the first three moves topics with their buffers. Every subscriber's sequence
// of each topic stays contiguous to the last event published (no gap, no duplicate, no reset,
// the epoch unchanged), every publish succeeds through the client library's retries, and the
// final owners hold what the ring says. Streams through the router never reconnect: the router
// resumes their upstreams at the new owners itself.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/publisher_client.h"
#include "client/routing_publisher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ring/ring_proto.h"
#include "tests/client/real_node.h"
#include "tests/rebalance/resuming_subscriber.h"
#include "tests/router/router_fixture.h"
#include "tests/support/status_matchers.h"

namespace ringcast {
namespace {

using ::ringcast::testing::ClusterStub;
using ::ringcast::testing::IsOk;
using ::ringcast::testing::Metric;
using ::ringcast::testing::NodeProcess;
using ::ringcast::testing::ResumingSubscriber;
using ::ringcast::testing::RouterCluster;
using ::ringcast::testing::StartNode;
using ::ringcast::testing::StartRouterCluster;

constexpr int kTopics = 500;
constexpr int kRouterSubscribers = 100;    // topics also followed through the router
constexpr int kMultiStreams = 5;           // multi-topic streams through the router...
constexpr int kTopicsPerMultiStream = 20;  // ...of this many topics each

std::string TopicName(int i) { return absl::StrCat("rebalance/", i); }

// One subscriber and what it follows: its events name topics either by the stream (single) or
// in their data (multi-topic: "<topic>\n<n>").
struct Follower {
  std::unique_ptr<ResumingSubscriber> subscriber;
  bool multi = false;
  std::string topic;  // single-topic streams
  bool via_router = false;
};

// Publishes "1", "2", ... to every topic in turn until stopped, through the client library;
// counts what was accepted per topic and every error it returned.
class SteadyPublisher {
 public:
  explicit SteadyPublisher(client::RoutingPublisher& publisher) : publisher_(publisher) {
    thread_ = std::thread([this] { Run(); });
  }
  ~SteadyPublisher() { Stop(); }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t published() const { return published_.load(); }
  const std::vector<uint64_t>& accepted() const { return accepted_; }
  const std::vector<std::string>& errors() const { return errors_; }
  const std::vector<std::string>& epochs() const { return epochs_; }

 private:
  void Run() {
    while (!stop_) {
      for (int t = 0; t < kTopics && !stop_; ++t) {
        const uint64_t n = accepted_[t] + 1;
        absl::StatusOr<client::PublishResult> result =
            publisher_.Publish({.topic = TopicName(t), .data = absl::StrCat(n)});
        if (!result.ok()) {
          errors_.push_back(absl::StrCat(TopicName(t), " #", n, ": ", result.status().ToString()));
          if (errors_.size() > 20) return;
          continue;
        }
        if (result->offset != n) {
          errors_.push_back(absl::StrCat(TopicName(t), " #", n, " got offset ", result->offset));
        }
        const std::string epoch = absl::StrCat(result->epoch);
        if (epochs_[t].empty()) epochs_[t] = epoch;
        if (epochs_[t] != epoch) {
          errors_.push_back(absl::StrCat(TopicName(t), " changed epoch ", epochs_[t], " -> ", epoch));
        }
        accepted_[t] = n;
        ++published_;
      }
    }
  }

  client::RoutingPublisher& publisher_;
  std::vector<uint64_t> accepted_ = std::vector<uint64_t>(kTopics, 0);
  std::vector<std::string> errors_;
  std::vector<std::string> epochs_ = std::vector<std::string>(kTopics);
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> published_{0};
  std::thread thread_;
};

// Polls its followers on threads of its own until stopped; the first error is kept.
class FollowerPool {
 public:
  FollowerPool(std::vector<Follower>& followers, int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this, &followers, i, threads] {
        while (!stop_) {
          for (size_t f = i; f < followers.size(); f += threads) {
            absl::Status s = followers[f].subscriber->Poll(absl::Milliseconds(1));
            if (!s.ok()) {
              absl::MutexLock lock(&mu_);
              if (first_error_.ok()) first_error_ = s;
            }
          }
        }
      });
    }
  }
  ~FollowerPool() { Stop(); }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  absl::Status first_error() {
    absl::MutexLock lock(&mu_);
    return first_error_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  absl::Status first_error_ ABSL_GUARDED_BY(mu_);
};

// Sum of a metric over the processes.
double Total(std::vector<const NodeProcess*> nodes, const std::string& name,
             const std::string& labels = "") {
  double total = 0;
  for (const NodeProcess* node : nodes) total += std::max(0.0, Metric(*node, name, labels));
  return total;
}

// Waits until no node has a topic moving or a partition waiting for its history, and at least
// `moved_in` topics arrived somewhere.
bool AwaitSettled(std::vector<const NodeProcess*> nodes, double moved_in, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (Total(nodes, "ringcast_handoff_topics_total", "direction=\"in\"") >= moved_in &&
        Total(nodes, "ringcast_handoff_topics_moving") == 0 &&
        Total(nodes, "ringcast_handoff_incoming_partitions") == 0) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

// The (topic index, n) pairs a follower received, in order.
std::vector<std::pair<int, uint64_t>> Received(const Follower& follower,
                                               const std::map<std::string, int>& index_of,
                                               std::vector<std::string>* problems) {
  std::vector<std::pair<int, uint64_t>> received;
  for (const sse::ParsedEvent& event : follower.subscriber->events()) {
    if (event.type != "message") {
      problems->push_back(absl::StrCat("event of type ", event.type, ": ", event.data));
      continue;
    }
    std::string topic = follower.topic;
    std::string payload = event.data;
    if (follower.multi) {
      std::vector<std::string> parts = absl::StrSplit(event.data, absl::MaxSplits('\n', 1));
      topic = parts[0];
      payload = parts.size() > 1 ? parts[1] : "";
    }
    uint64_t n = 0;
    if (!absl::SimpleAtoi(payload, &n) || !index_of.contains(topic)) {
      problems->push_back(absl::StrCat("unexpected event ", event.id, ": ", event.data));
      continue;
    }
    if (!follower.multi && !absl::EndsWith(event.id, absl::StrCat(":", n))) {
      problems->push_back(absl::StrCat(topic, " event ", n, " has id ", event.id));
    }
    received.emplace_back(index_of.at(topic), n);
  }
  return received;
}

TEST(RebalanceTest, AddThenRemoveUnderLoadLosesNothing) {
  absl::StatusOr<RouterCluster> cluster = StartRouterCluster(
      "rebalance", {.node_count = 3, .partition_count = 256, .nodes_follow_router = true});
  ASSERT_THAT(cluster, IsOk());
  absl::StatusOr<NodeProcess> fourth =
      StartNode({"--node_id=node-4", "--ring_source=" + cluster->router.grpc_address});
  ASSERT_THAT(fourth, IsOk());
  std::vector<const NodeProcess*> all_nodes = {&cluster->nodes[0], &cluster->nodes[1],
                                               &cluster->nodes[2], &*fourth};

  // Subscribers: every topic direct (at node-1, which redirects to the owner), some through the
  // router, and multi-topic streams through the router.
  std::map<std::string, int> index_of;
  std::vector<Follower> followers;
  for (int t = 0; t < kTopics; ++t) {
    index_of[TopicName(t)] = t;
    const std::string target =
        absl::StrCat("/v1/topics/", testing::EncodeTopic(TopicName(t)), "/events");
    followers.push_back({std::make_unique<ResumingSubscriber>(cluster->nodes[0].http_address,
                                                              target),
                         false, TopicName(t)});
    if (t < kRouterSubscribers) {
      followers.push_back(
          {std::make_unique<ResumingSubscriber>(cluster->router.http_address, target), false,
           TopicName(t), /*via_router=*/true});
    }
  }
  for (int m = 0; m < kMultiStreams; ++m) {
    std::vector<std::string> params;
    for (int k = 0; k < kTopicsPerMultiStream; ++k) {
      params.push_back(absl::StrCat("topic=", testing::EncodeTopic(TopicName(
                                                  (m * 97 + k * 13) % kTopics))));
    }
    followers.push_back({std::make_unique<ResumingSubscriber>(
                             cluster->router.http_address,
                             absl::StrCat("/v1/events?", absl::StrJoin(params, "&"))),
                         true, "", /*via_router=*/true});
  }
  for (Follower& f : followers) ASSERT_THAT(f.subscriber->Poll(absl::Milliseconds(1)), IsOk());
  FollowerPool pool(followers, 3);

  absl::StatusOr<std::unique_ptr<client::RoutingPublisher>> publisher =
      client::RoutingPublisher::Connect(cluster->router.grpc_address,
                                        {.producer_id = absl::StrCat("rebalance-", ::getpid())});
  ASSERT_THAT(publisher, IsOk());
  SteadyPublisher load(**publisher);
  auto await_published = [&](uint64_t more) {
    const uint64_t target = load.published() + more;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (load.published() < target && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  };
  await_published(2 * kTopics);

  // Add node-4, then remove node-1, each while publishing goes on.
  v1::AddNodeRequest add;
  *add.mutable_member() = MemberToProto(
      Member{"node-4", 1, fourth->http_address, fourth->grpc_address});
  v1::AddNodeResponse added;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(ClusterStub(cluster->router.grpc_address)->AddNode(&context, add, &added).ok());
  }
  ASSERT_TRUE(AwaitSettled(all_nodes, 1, absl::Seconds(20))) << "add did not settle";
  const double moved_by_add = Total(all_nodes, "ringcast_handoff_topics_total", "direction=\"in\"");
  await_published(2 * kTopics);

  v1::RemoveNodeRequest remove;
  remove.set_node_id("node-1");
  v1::RemoveNodeResponse removed;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        ClusterStub(cluster->router.grpc_address)->RemoveNode(&context, remove, &removed).ok());
  }
  ASSERT_TRUE(AwaitSettled(all_nodes, moved_by_add + 1, absl::Seconds(20)))
      << "remove did not settle";
  await_published(2 * kTopics);
  load.Stop();
  EXPECT_THAT(load.errors(), ::testing::IsEmpty());

  // Every follower gets through the last event of each of its topics.
  auto caught_up = [&](const Follower& f) {
    std::vector<std::string> ignored;
    std::map<int, uint64_t> last;
    for (auto [t, n] : Received(f, index_of, &ignored)) last[t] = std::max(last[t], n);
    if (!f.multi) return last[index_of[f.topic]] >= load.accepted()[index_of[f.topic]];
    for (auto [t, n] : last) {
      if (n < load.accepted()[t]) return false;
    }
    return last.size() == kTopicsPerMultiStream;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  bool all_caught_up = false;
  while (!all_caught_up && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
    all_caught_up = true;
    for (const Follower& f : followers) all_caught_up = all_caught_up && caught_up(f);
  }
  pool.Stop();
  EXPECT_THAT(pool.first_error(), IsOk());
  EXPECT_TRUE(all_caught_up) << "some subscriber did not receive every event";

  // Per follower and topic: contiguous from the first event received to the last published.
  int checked = 0;
  for (const Follower& f : followers) {
    std::vector<std::string> problems;
    std::map<int, uint64_t> expected_next;
    for (auto [t, n] : Received(f, index_of, &problems)) {
      auto [it, first] = expected_next.try_emplace(t, n);
      if (n != it->second) {
        problems.push_back(absl::StrCat(TopicName(t), ": expected ", it->second, ", got ", n));
      }
      it->second = n + 1;
    }
    for (auto [t, next] : expected_next) {
      if (next != load.accepted()[t] + 1) {
        problems.push_back(absl::StrCat(TopicName(t), ": ended at ", next - 1, " of ",
                                        load.accepted()[t]));
      }
      ++checked;
    }
    EXPECT_THAT(problems, ::testing::IsEmpty())
        << (f.multi ? "multi-topic stream" : f.topic) << ": " << f.subscriber->Describe();
    // The router resumed the moved upstreams itself: its clients kept their one connection.
    if (f.via_router) {
      EXPECT_EQ(f.subscriber->connects(), 1)
          << (f.multi ? "multi-topic stream" : f.topic) << ": " << f.subscriber->Describe();
    }
  }
  EXPECT_EQ(checked, kTopics + kRouterSubscribers + kMultiStreams * kTopicsPerMultiStream);
  NodeProcess router_http;
  router_http.http_address = cluster->router.http_address;
  EXPECT_GT(Metric(router_http, "ringcast_router_upstream_resumes_total", "result=\"ok\""), 0);

  // The topics are where the final ring says: one more event published straight to each
  // topic's owner (no routing, no retry) continues its offsets in the same epoch.
  absl::StatusOr<Ring> ring = cluster->CurrentRing();
  ASSERT_THAT(ring, IsOk());
  EXPECT_EQ(ring->FindMember("node-1"), nullptr);
  EXPECT_GT(moved_by_add, 0);
  std::map<std::string, std::unique_ptr<client::PublisherClient>> direct;
  for (int t = 0; t < kTopics; ++t) {
    const Member& owner = ring->Lookup(TopicName(t));
    auto& client = direct[owner.id];
    if (client == nullptr) client = std::make_unique<client::PublisherClient>(owner.grpc_address);
    absl::StatusOr<client::PublishResult> result =
        client->Publish({.topic = TopicName(t), .data = "final"});
    ASSERT_THAT(result, IsOk()) << TopicName(t) << " at " << owner.id;
    EXPECT_EQ(result->offset, load.accepted()[t] + 1) << TopicName(t) << " at " << owner.id;
    EXPECT_EQ(absl::StrCat(result->epoch), load.epochs()[t]) << TopicName(t);
  }
  EXPECT_EQ(Metric(cluster->nodes[0], "ringcast_handoff_topics_moving"), 0);
}

}  // namespace
}  // namespace ringcast
