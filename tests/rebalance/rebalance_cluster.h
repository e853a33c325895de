// rebalance_cluster.h — the shared fixture of the rebalancing tests (tests/rebalance/), on top of
// tests/router/router_fixture.h's RouterCluster:
//   - ring changes through the router's Cluster service (AddNode, RemoveNode) and the waits for
//     them: by the nodes' handoff metrics (AwaitHandoffsSettled) or by GetRebalanceStatus
//     (AwaitRebalanceSettled); spare nodes that follow the router's ring before they are members;
//   - load: a SteadyPublisher publishing through the client library with a producer_id, and
//     Followers (ResumingSubscriber on one topic or a multi-topic stream) polled by a FollowerPool;
//   - the end-of-test checks (ExpectEveryEventDelivered, FinalOwnerProblems): every publish
//     accepted, every follower's per-topic sequence contiguous from its first event to the last
//     one published, and every topic held by its owner under the final ring.
//
// Thread safety: SteadyPublisher and FollowerPool poll on threads of their own; read what they
// collected only after Stop(), except SteadyPublisher::published(). The rest is used by one
// thread at a time.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/publisher_client.h"
#include "client/routing_publisher.h"
#include "client/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ring/ring_proto.h"
#include "tests/client/real_node.h"
#include "tests/rebalance/resuming_subscriber.h"
#include "tests/router/router_fixture.h"

namespace ringcast::testing {

// ---- Ring changes and the waits for them ----

// Adds `member` to the router's ring (Cluster.AddNode): the response (new ring and its diff).
inline absl::StatusOr<v1::AddNodeResponse> AddMember(const std::string& router,
                                                     const Member& member) {
  v1::AddNodeRequest request;
  *request.mutable_member() = MemberToProto(member);
  v1::AddNodeResponse response;
  grpc::ClientContext context;
  const grpc::Status status = ClusterStub(router)->AddNode(&context, request, &response);
  if (!status.ok()) return client::FromGrpcStatus(status);
  return response;
}

// Adds the running `node` as member `id` (weight 1).
inline absl::StatusOr<v1::AddNodeResponse> AddNode(const std::string& router,
                                                   const std::string& id,
                                                   const NodeProcess& node) {
  return AddMember(router, Member{id, 1, node.http_address, node.grpc_address});
}

// Removes member `id` from the router's ring (Cluster.RemoveNode, a drain).
inline absl::StatusOr<v1::RemoveNodeResponse> RemoveNode(const std::string& router,
                                                         const std::string& id) {
  v1::RemoveNodeRequest request;
  request.set_node_id(id);
  v1::RemoveNodeResponse response;
  grpc::ClientContext context;
  const grpc::Status status = ClusterStub(router)->RemoveNode(&context, request, &response);
  if (!status.ok()) return client::FromGrpcStatus(status);
  return response;
}

// Cluster.GetRebalanceStatus, of every move or of the moves from `node_id`.
inline absl::StatusOr<v1::GetRebalanceStatusResponse> RebalanceStatus(
    const std::string& router, const std::string& node_id = "") {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::GetRebalanceStatusRequest request;
  request.set_node_id(node_id);
  v1::GetRebalanceStatusResponse response;
  grpc::Status status = ClusterStub(router)->GetRebalanceStatus(&context, request, &response);
  if (!status.ok()) return absl::UnavailableError(status.error_message());
  return response;
}

// Polls GetRebalanceStatus until it is settled or `timeout` passed; the last answer (settled or
// not).
inline absl::StatusOr<v1::GetRebalanceStatusResponse> AwaitRebalanceSettled(
    const std::string& router, absl::Duration timeout = absl::Seconds(15)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::StatusOr<v1::GetRebalanceStatusResponse> status = RebalanceStatus(router);
    if (!status.ok() || status->settled() || absl::Now() >= deadline) return status;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

// Sum of a metric over the processes (absent samples count 0).
inline double Total(const std::vector<const NodeProcess*>& nodes, const std::string& name,
                    const std::string& labels = "") {
  double total = 0;
  for (const NodeProcess* node : nodes) total += std::max(0.0, Metric(*node, name, labels));
  return total;
}

// Waits until no node has a topic moving or a partition waiting for its history, and the nodes
// took over at least `moved_in` topics in all.
inline bool AwaitHandoffsSettled(const std::vector<const NodeProcess*>& nodes, double moved_in,
                                 absl::Duration timeout = absl::Seconds(15)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (Total(nodes, "ringcast_handoff_topics_total", "direction=\"in\"") >= moved_in &&
        Total(nodes, "ringcast_handoff_topics_moving") == 0 &&
        Total(nodes, "ringcast_handoff_incoming_partitions") == 0) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

// Starts node `id` following the router's ring (`--ring_source`), with `flags` first; it is no
// member until AddNode makes it one.
inline absl::StatusOr<NodeProcess> StartSpareNode(const RouterCluster& cluster,
                                                  const std::string& id,
                                                  std::vector<std::string> flags = {}) {
  flags.push_back("--node_id=" + id);
  flags.push_back("--ring_source=" + cluster.router.grpc_address);
  return StartNode(std::move(flags));
}

// ---- Load ----

// The subscribe path of one topic.
inline std::string EventsPath(const std::string& topic) {
  return absl::StrCat("/v1/topics/", EncodeTopic(topic), "/events");
}

// A test's topics, "<prefix>/0", "<prefix>/1", ..., and the index of each name.
class TopicSet {
 public:
  TopicSet(const std::string& prefix, int count) {
    for (int i = 0; i < count; ++i) {
      names_.push_back(absl::StrCat(prefix, "/", i));
      index_of_[names_.back()] = i;
    }
  }
  int size() const { return static_cast<int>(names_.size()); }
  const std::string& name(int i) const { return names_[i]; }
  // -1 for a name that is none of them.
  int IndexOf(const std::string& name) const {
    auto it = index_of_.find(name);
    return it == index_of_.end() ? -1 : it->second;
  }

 private:
  std::vector<std::string> names_;
  std::map<std::string, int> index_of_;
};

// A RoutingPublisher following the router's ring whose events all get (producer_id, sequence),
// the producer id being "<name>-<pid>", so every publish is retry-safe.
inline absl::StatusOr<std::unique_ptr<client::RoutingPublisher>> ConnectProducer(
    const std::string& router, const std::string& name) {
  return client::RoutingPublisher::Connect(router,
                                           {.producer_id = absl::StrCat(name, "-", ::getpid())});
}

// Publishes "1", "2", ... to every topic in turn until stopped, through the client library;
// counts what was accepted per topic and every error it returned (it gives up after 20).
class SteadyPublisher {
 public:
  SteadyPublisher(client::RoutingPublisher& publisher, const TopicSet& topics)
      : publisher_(publisher), topics_(topics) {
    thread_ = std::thread([this] { Run(); });
  }
  ~SteadyPublisher() { Stop(); }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Waits until `more` events past those published by now were accepted, at most `timeout`.
  void AwaitMore(uint64_t more, absl::Duration timeout = absl::Seconds(20)) const {
    const uint64_t target = published() + more;
    const absl::Time deadline = absl::Now() + timeout;
    while (published() < target && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  }
  uint64_t published() const { return published_.load(); }
  // Per topic index: the last n accepted (its offset), and its epoch.
  const std::vector<uint64_t>& accepted() const { return accepted_; }
  const std::vector<std::string>& epochs() const { return epochs_; }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  void Run() {
    while (!stop_) {
      for (int t = 0; t < topics_.size() && !stop_; ++t) {
        if (!PublishNext(t)) return;
      }
    }
  }

  // False once there were too many errors to go on.
  bool PublishNext(int t) {
    const std::string& topic = topics_.name(t);
    const uint64_t n = accepted_[t] + 1;
    absl::StatusOr<client::PublishResult> result =
        publisher_.Publish({.topic = topic, .data = absl::StrCat(n)});
    if (!result.ok()) {
      errors_.push_back(absl::StrCat(topic, " #", n, ": ", result.status().ToString()));
      return errors_.size() <= 20;
    }
    if (result->offset != n) {
      errors_.push_back(absl::StrCat(topic, " #", n, " got offset ", result->offset));
    }
    const std::string epoch = absl::StrCat(result->epoch);
    if (epochs_[t].empty()) epochs_[t] = epoch;
    if (epochs_[t] != epoch) {
      errors_.push_back(absl::StrCat(topic, " changed epoch ", epochs_[t], " -> ", epoch));
    }
    accepted_[t] = n;
    ++published_;
    return true;
  }

  client::RoutingPublisher& publisher_;
  const TopicSet& topics_;
  std::vector<uint64_t> accepted_ = std::vector<uint64_t>(topics_.size(), 0);
  std::vector<std::string> epochs_ = std::vector<std::string>(topics_.size());
  std::vector<std::string> errors_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> published_{0};
  std::thread thread_;
};

// One subscriber and what it follows. A single-topic stream's events carry "<n>"; a multi-topic
// stream's carry "<topic>\n<n>".
struct Follower {
  std::unique_ptr<ResumingSubscriber> subscriber;
  std::vector<int> topics;  // indexes in the TopicSet
  bool multi = false;
  bool via_router = false;

  std::string Describe(const TopicSet& set) const {
    return absl::StrCat(multi ? "multi-topic stream" : set.name(topics[0]), ": ",
                        subscriber->Describe());
  }
};

// A follower of topic `t` at `host_port` (a node, which redirects to the owner, or the router).
inline Follower FollowTopic(const std::string& host_port, const TopicSet& set, int t,
                            bool via_router) {
  return {std::make_unique<ResumingSubscriber>(host_port, EventsPath(set.name(t))), {t}, false,
          via_router};
}

// A multi-topic stream of `topics` through the router at `router_http`.
inline Follower FollowTopicsViaRouter(const std::string& router_http, const TopicSet& set,
                                      std::vector<int> topics) {
  std::vector<std::string> params;
  for (int t : topics) params.push_back(absl::StrCat("topic=", EncodeTopic(set.name(t))));
  return {std::make_unique<ResumingSubscriber>(
              router_http, absl::StrCat("/v1/events?", absl::StrJoin(params, "&"))),
          std::move(topics), true, true};
}

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

// ---- End-of-test checks ----

// The (topic index, n) pairs a follower received, in order; what cannot be read goes to
// `problems`.
inline std::vector<std::pair<int, uint64_t>> Received(const Follower& follower,
                                                      const TopicSet& set,
                                                      std::vector<std::string>* problems) {
  std::vector<std::pair<int, uint64_t>> received;
  for (const sse::ParsedEvent& event : follower.subscriber->events()) {
    if (event.type != "message") {
      problems->push_back(absl::StrCat("event of type ", event.type, ": ", event.data));
      continue;
    }
    std::string topic = set.name(follower.topics[0]);
    std::string payload = event.data;
    if (follower.multi) {
      std::vector<std::string> parts = absl::StrSplit(event.data, absl::MaxSplits('\n', 1));
      topic = parts[0];
      payload = parts.size() > 1 ? parts[1] : "";
    }
    uint64_t n = 0;
    if (!absl::SimpleAtoi(payload, &n) || set.IndexOf(topic) < 0) {
      problems->push_back(absl::StrCat("unexpected event ", event.id, ": ", event.data));
      continue;
    }
    if (!follower.multi && !absl::EndsWith(event.id, absl::StrCat(":", n))) {
      problems->push_back(absl::StrCat(topic, " event ", n, " has id ", event.id));
    }
    received.emplace_back(set.IndexOf(topic), n);
  }
  return received;
}

// Whether `follower` received the last accepted event of each of its topics.
inline bool CaughtUp(const Follower& follower, const TopicSet& set,
                     const std::vector<uint64_t>& accepted) {
  std::vector<std::string> ignored;
  std::map<int, uint64_t> last;
  for (auto [t, n] : Received(follower, set, &ignored)) last[t] = std::max(last[t], n);
  for (int t : follower.topics) {
    if (last[t] < accepted[t]) return false;
  }
  return true;
}

// Waits up to `timeout` until every follower CaughtUp.
inline bool AwaitCaughtUp(const std::vector<Follower>& followers, const TopicSet& set,
                          const std::vector<uint64_t>& accepted,
                          absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
    if (std::all_of(followers.begin(), followers.end(),
                    [&](const Follower& f) { return CaughtUp(f, set, accepted); })) {
      return true;
    }
  }
  return false;
}

// Problems with what `follower` received: per topic, n must run contiguously from the first
// event received to the last accepted. Adds the topics it checked to `checked`.
inline std::vector<std::string> SequenceProblems(const Follower& follower, const TopicSet& set,
                                                 const std::vector<uint64_t>& accepted,
                                                 int* checked) {
  std::vector<std::string> problems;
  std::map<int, uint64_t> expected_next;
  for (auto [t, n] : Received(follower, set, &problems)) {
    auto [it, first] = expected_next.try_emplace(t, n);
    if (n != it->second) {
      problems.push_back(absl::StrCat(set.name(t), ": expected ", it->second, ", got ", n));
    }
    it->second = n + 1;
  }
  for (auto [t, next] : expected_next) {
    if (next != accepted[t] + 1) {
      problems.push_back(absl::StrCat(set.name(t), ": ended at ", next - 1, " of ", accepted[t]));
    }
    ++*checked;
  }
  return problems;
}

// The end of a run under load: stops `load`, waits for the followers to catch up, stops `pool`,
// and checks (gtest EXPECTs) that every publish was accepted, every follower's per-topic sequence
// is contiguous to the last event published, and the router's followers kept their one
// connection (the router resumes moved upstreams itself). Returns the (follower, topic)
// sequences checked.
inline int ExpectEveryEventDelivered(SteadyPublisher& load, FollowerPool& pool,
                                     const std::vector<Follower>& followers,
                                     const TopicSet& topics) {
  load.Stop();
  EXPECT_THAT(load.errors(), ::testing::IsEmpty());
  const bool all_caught_up = AwaitCaughtUp(followers, topics, load.accepted());
  pool.Stop();
  EXPECT_TRUE(pool.first_error().ok()) << pool.first_error();
  EXPECT_TRUE(all_caught_up) << "some subscriber did not receive every event";
  int checked = 0;
  for (const Follower& f : followers) {
    EXPECT_THAT(SequenceProblems(f, topics, load.accepted(), &checked), ::testing::IsEmpty())
        << f.Describe(topics);
    if (f.via_router) {
      EXPECT_EQ(f.subscriber->connects(), 1) << f.Describe(topics);
    }
  }
  return checked;
}

// One more event published straight to each topic's owner under `ring` (no routing, no retry):
// the topics where it is refused or does not continue the offsets `load` saw in the same epoch.
inline std::vector<std::string> FinalOwnerProblems(const Ring& ring, const TopicSet& set,
                                                   const SteadyPublisher& load) {
  std::vector<std::string> problems;
  std::map<std::string, std::unique_ptr<client::PublisherClient>> direct;
  for (int t = 0; t < set.size(); ++t) {
    const Member& owner = ring.Lookup(set.name(t));
    auto& client = direct[owner.id];
    if (client == nullptr) client = std::make_unique<client::PublisherClient>(owner.grpc_address);
    absl::StatusOr<client::PublishResult> result =
        client->Publish({.topic = set.name(t), .data = "final"});
    const std::string where = absl::StrCat(set.name(t), " at ", owner.id, ": ");
    if (!result.ok()) {
      problems.push_back(absl::StrCat(where, result.status().ToString()));
    } else if (result->offset != load.accepted()[t] + 1 ||
               absl::StrCat(result->epoch) != load.epochs()[t]) {
      problems.push_back(absl::StrCat(where, "got ", result->event_id, ", expected ",
                                      load.epochs()[t], ":", load.accepted()[t] + 1));
    }
  }
  return problems;
}

}  // namespace ringcast::testing
