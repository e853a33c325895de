// handoff_bench.cc — ringcast-handoff-bench: what moving topics between nodes costs (issue 7
// benchmark; bench/handoff.sh starts the processes and runs it). Against a router whose nodes
// follow its ring, plus one more node that is not a member yet (--spare_*):
//   1. picks --topics topics: by default ones the spare node would take when added (a "moving"
//      run), with --all_topics any topics (a scale-out run, where about a quarter move);
//   2. fills each with --buffered events of --event_bytes;
//   3. subscribes --subscribers_per_topic streams per topic (first --subscribed_topics topics)
//      directly at a node, following the 307 to the owner and resuming like EventSource;
//   4. publishes to every topic in turn at --rate events/s (one producer_id, through the client
//      library, which retries what the nodes ask it to), timing every publish;
//   5. after --baseline_s adds the spare node, waits until no node has a topic moving, keeps
//      publishing --after_s, and with --changes > 1 removes and re-adds the spare node (each
//      add or remove is one rebalance);
//   6. prints one JSON line: publish latency p50/p99/max before the first change and while a
//      change settles, publish errors, each change's time from the Cluster call to settled,
//      the nodes' cutover and move histograms (p50/p99 as histogram bucket bounds), subscriber
//      resume time p50/p99 (old stream ended -> new stream open), and gaps/duplicates/resets
//      seen by the subscribers.
// The subscribers use the tests' HTTP client (tests/support) and ResumingSubscriber.
#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "bench/latency_histogram.h"
#include "client/ring_watcher.h"
#include "client/routing_publisher.h"
#include "grpcpp/create_channel.h"
#include "ring/ring_proto.h"
#include "ringcast/v1/cluster.grpc.pb.h"
#include "tests/rebalance/resuming_subscriber.h"
#include "tests/support/http_client.h"

ABSL_FLAG(std::string, router, "127.0.0.1:19000", "the router's gRPC address");
ABSL_FLAG(std::string, spare_id, "node-4", "member id of the node to add");
ABSL_FLAG(std::string, spare_http, "127.0.0.1:18084", "its HTTP address");
ABSL_FLAG(std::string, spare_grpc, "127.0.0.1:19094", "its gRPC address");
ABSL_FLAG(uint32_t, topics, 10, "topics published to");
ABSL_FLAG(bool, all_topics, false, "any topics (scale-out run), not only ones the spare takes");
ABSL_FLAG(uint32_t, buffered, 1000, "events put in each topic's buffer before the first change");
ABSL_FLAG(uint32_t, event_bytes, 1000, "payload bytes per event");
ABSL_FLAG(uint32_t, subscribed_topics, 10, "topics that get subscribers");
ABSL_FLAG(uint32_t, subscribers_per_topic, 2, "subscribers per subscribed topic");
ABSL_FLAG(double, rate, 200, "publishes per second during the run");
ABSL_FLAG(double, baseline_s, 3, "publishing before the first change");
ABSL_FLAG(double, after_s, 2, "publishing after each change settled");
ABSL_FLAG(uint32_t, changes, 1, "rebalances: add, then remove, add, ... the spare node");

namespace ringcast::bench {
namespace {

using testing::ResumingSubscriber;

std::string TopicName(int i) { return absl::StrCat("handoff-bench/", i); }

// The topics of the run: ones the spare takes when added, or any.
std::vector<std::string> PickTopics(const Ring& ring, const Member& spare) {
  absl::StatusOr<Ring> grown = ring.WithNodeAdded(spare);
  std::vector<std::string> topics;
  for (int i = 0; topics.size() < absl::GetFlag(FLAGS_topics); ++i) {
    const std::string name = TopicName(i);
    if (absl::GetFlag(FLAGS_all_topics) || (grown.ok() && grown->Lookup(name).id == spare.id)) {
      topics.push_back(name);
    }
  }
  return topics;
}

// The value of `name` (a single sample line) in a node's /metrics, or 0.
double MetricOf(const std::string& http, const std::string& name) {
  absl::StatusOr<testing::HttpResponse> r = testing::HttpGet(http, "/metrics");
  if (!r.ok()) return 0;
  for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
    if (absl::StartsWith(line, name + " ")) {
      double v = 0;
      if (absl::SimpleAtod(line.substr(name.size() + 1), &v)) return v;
    }
  }
  return 0;
}

// The cumulative bucket counts of histogram `name`, summed over the nodes: bound -> count.
std::map<double, double> Buckets(const std::vector<std::string>& nodes, const std::string& name) {
  std::map<double, double> buckets;
  const std::string prefix = name + "_bucket{le=\"";
  for (const std::string& http : nodes) {
    absl::StatusOr<testing::HttpResponse> r = testing::HttpGet(http, "/metrics");
    if (!r.ok()) continue;
    for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
      if (!absl::StartsWith(line, prefix)) continue;
      line.remove_prefix(prefix.size());
      const size_t quote = line.find('"');
      double bound = 0, count = 0;
      const absl::string_view bound_text = line.substr(0, quote);
      if (bound_text == "+Inf") {
        bound = 1e9;
      } else if (!absl::SimpleAtod(bound_text, &bound)) {
        continue;
      }
      if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &count)) buckets[bound] += count;
    }
  }
  return buckets;
}

// The smallest bucket bound holding `percentile` of the samples, in ms ("n/a" without samples).
std::string BucketPercentileMs(const std::map<double, double>& buckets, double percentile) {
  const double total = buckets.empty() ? 0 : buckets.rbegin()->second;
  if (total == 0) return "null";
  for (const auto& [bound, count] : buckets) {
    if (count >= total * percentile / 100) return absl::StrFormat("%.1f", bound * 1000);
  }
  return "null";
}

std::string PercentilesMs(const LatencyHistogram& h) {
  if (h.count() == 0) return "{}";
  return absl::StrFormat("{\"n\":%d,\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f}", h.count(),
                         h.ValueAtPercentile(50) / 1000.0, h.ValueAtPercentile(99) / 1000.0,
                         h.max() / 1000.0);
}

// Publishes to every topic in turn at the flag's rate until stopped; times each publish into
// the histogram the main thread points it at.
class Publisher {
 public:
  Publisher(client::RoutingPublisher& client, std::vector<std::string> topics)
      : client_(client), topics_(std::move(topics)), next_(topics_.size(), 1) {}

  // Fills every topic's buffer (before subscribers attach).
  absl::Status Fill(uint32_t per_topic) {
    for (uint32_t k = 0; k < per_topic; ++k) {
      std::vector<client::PublishOptions> batch;
      for (size_t t = 0; t < topics_.size(); ++t) batch.push_back(Event(t));
      for (const client::StreamResult& r : client_.PublishBatch(batch)) {
        if (!r.result.ok()) return r.result.status();
      }
    }
    return absl::OkStatus();
  }

  void Start() { thread_ = std::thread([this] { Run(); }); }
  void Stop() {
    stop_ = true;
    thread_.join();
  }
  // Later publishes are timed into histogram `phase` (0 = before, 1 = during a change, 2 = after).
  void SetPhase(int phase) { phase_ = phase; }
  const LatencyHistogram& latency(int phase) const { return latency_[phase]; }
  uint64_t errors() const { return errors_; }
  uint64_t last(size_t t) const { return next_[t] - 1; }

 private:
  client::PublishOptions Event(size_t t) {
    std::string data = absl::StrCat(next_[t]++, " ");
    data.resize(std::max<size_t>(data.size(), absl::GetFlag(FLAGS_event_bytes)), 'x');
    return {.topic = topics_[t], .data = std::move(data)};
  }

  void Run() {
    const absl::Duration interval = absl::Seconds(1) / absl::GetFlag(FLAGS_rate);
    absl::Time due = absl::Now();
    for (size_t t = 0; !stop_; t = (t + 1) % topics_.size()) {
      absl::SleepFor(due - absl::Now());
      due += interval;
      const int phase = phase_;
      const absl::Time start = absl::Now();
      absl::StatusOr<client::PublishResult> r = client_.Publish(Event(t));
      if (!r.ok()) {
        ++errors_;
        --next_[t];  // not accepted: the next publish of the topic reuses its number
        if (errors_ <= 5) std::cerr << "publish error: " << r.status() << "\n";
        continue;
      }
      latency_[phase].Record(static_cast<uint64_t>(absl::ToInt64Microseconds(absl::Now() - start)));
    }
  }

  client::RoutingPublisher& client_;
  const std::vector<std::string> topics_;
  std::vector<uint64_t> next_;
  LatencyHistogram latency_[3];
  std::atomic<int> phase_{0};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> errors_{0};
  std::thread thread_;
};

struct Subscribers {
  std::vector<std::unique_ptr<ResumingSubscriber>> streams;
  std::vector<size_t> topic_of;
  std::atomic<bool> stop{false};
  std::thread poller;

  void Start() {
    poller = std::thread([this] {
      while (!stop) {
        for (auto& s : streams) s->Poll(absl::Milliseconds(1)).IgnoreError();
      }
    });
  }
  void Stop() {
    stop = true;
    poller.join();
  }
};

// Waits until no node has a topic moving or a partition waiting (at most 60 s).
absl::Duration AwaitSettled(const std::vector<std::string>& nodes, absl::Time since) {
  absl::SleepFor(absl::Milliseconds(20));
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    double busy = 0;
    for (const std::string& http : nodes) {
      busy += MetricOf(http, "ringcast_handoff_topics_moving") +
              MetricOf(http, "ringcast_handoff_incoming_partitions");
    }
    if (busy == 0) return absl::Now() - since;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return absl::InfiniteDuration();
}

int Run() {
  const std::string router = absl::GetFlag(FLAGS_router);
  const Member spare{absl::GetFlag(FLAGS_spare_id), 1, absl::GetFlag(FLAGS_spare_http),
                     absl::GetFlag(FLAGS_spare_grpc)};
  absl::StatusOr<std::unique_ptr<client::RoutingPublisher>> client = client::RoutingPublisher::Connect(
      router, {.producer_id = absl::StrCat("handoff-bench-", ::getpid())});
  if (!client.ok()) {
    std::cerr << "handoff_bench: " << client.status() << "\n";
    return 1;
  }
  const std::shared_ptr<const Ring> ring = (*client)->ring();
  std::vector<std::string> nodes = {spare.http_address};
  for (const Member& m : ring->members()) nodes.push_back(m.http_address);
  const std::vector<std::string> topics = PickTopics(*ring, spare);

  Publisher publisher(**client, topics);
  if (absl::Status s = publisher.Fill(absl::GetFlag(FLAGS_buffered)); !s.ok()) {
    std::cerr << "handoff_bench: filling: " << s << "\n";
    return 1;
  }
  Subscribers subscribers;
  const size_t subscribed = std::min<size_t>(topics.size(), absl::GetFlag(FLAGS_subscribed_topics));
  for (size_t t = 0; t < subscribed; ++t) {
    for (uint32_t k = 0; k < absl::GetFlag(FLAGS_subscribers_per_topic); ++k) {
      subscribers.streams.push_back(std::make_unique<ResumingSubscriber>(
          ring->members().front().http_address,
          absl::StrCat("/v1/topics/", topics[t], "/events")));
      subscribers.topic_of.push_back(t);
    }
  }
  // Every stream is open (live from here) before the first timed publish.
  for (auto& stream : subscribers.streams) stream->Poll(absl::Milliseconds(1)).IgnoreError();
  subscribers.Start();
  publisher.Start();
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_baseline_s)));

  auto cluster = v1::Cluster::NewStub(grpc::CreateChannel(router, grpc::InsecureChannelCredentials()));
  std::vector<double> change_ms;
  for (uint32_t c = 0; c < absl::GetFlag(FLAGS_changes); ++c) {
    publisher.SetPhase(1);
    const absl::Time start = absl::Now();
    grpc::ClientContext context;
    grpc::Status status;
    if (c % 2 == 0) {
      v1::AddNodeRequest add;
      *add.mutable_member() = MemberToProto(spare);
      v1::AddNodeResponse added;
      status = cluster->AddNode(&context, add, &added);
    } else {
      v1::RemoveNodeRequest remove;
      remove.set_node_id(spare.id);
      v1::RemoveNodeResponse removed;
      status = cluster->RemoveNode(&context, remove, &removed);
    }
    if (!status.ok()) {
      std::cerr << "handoff_bench: ring change: " << status.error_message() << "\n";
      return 1;
    }
    change_ms.push_back(absl::ToDoubleMilliseconds(AwaitSettled(nodes, start)));
    publisher.SetPhase(2);
    absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_after_s)));
  }
  publisher.Stop();
  absl::SleepFor(absl::Seconds(1));  // the last events reach the subscribers
  subscribers.Stop();

  // Subscribers: gaps, duplicates, resets; resume times.
  uint64_t gaps = 0, duplicates = 0, resets = 0, behind = 0;
  LatencyHistogram resume;
  for (size_t i = 0; i < subscribers.streams.size(); ++i) {
    uint64_t expected = 0;
    for (const sse::ParsedEvent& e : subscribers.streams[i]->events()) {
      if (e.type != "message") {
        ++resets;
        continue;
      }
      uint64_t n = 0;
      if (!absl::SimpleAtoi(e.data.substr(0, e.data.find(' ')), &n)) {
        ++gaps;  // not one of ours: counted as a fault
        continue;
      }
      if (expected != 0 && n > expected) ++gaps;
      if (expected != 0 && n < expected) ++duplicates;
      expected = n + 1;
    }
    if (expected != publisher.last(subscribers.topic_of[i]) + 1) ++behind;
    for (absl::Duration d : subscribers.streams[i]->resume_times()) {
      resume.Record(static_cast<uint64_t>(absl::ToInt64Microseconds(d)));
    }
  }
  std::string changes = "[";
  for (double ms : change_ms) absl::StrAppend(&changes, changes.size() > 1 ? "," : "", absl::StrFormat("%.1f", ms));
  changes += "]";
  const auto cutover = Buckets(nodes, "ringcast_handoff_cutover_seconds");
  const auto move = Buckets(nodes, "ringcast_handoff_move_seconds");
  std::cout << absl::StrFormat(
      "{\"topics\":%d,\"buffered\":%d,\"event_bytes\":%d,\"rate\":%.0f,\"changes_ms\":%s,"
      "\"topics_moved\":%.0f,\"cutover_ms\":{\"p50\":%s,\"p99\":%s},"
      "\"move_ms\":{\"p50\":%s,\"p99\":%s},\"publish_before_ms\":%s,\"publish_during_ms\":%s,"
      "\"publish_after_ms\":%s,\"publish_errors\":%d,\"refused_retried\":%.0f,"
      "\"resume_ms\":%s,\"subscribers\":%d,\"gaps\":%d,\"duplicates\":%d,\"resets\":%d,"
      "\"behind\":%d}\n",
      topics.size(), absl::GetFlag(FLAGS_buffered), absl::GetFlag(FLAGS_event_bytes),
      absl::GetFlag(FLAGS_rate), changes,
      cutover.empty() ? 0.0 : cutover.rbegin()->second, BucketPercentileMs(cutover, 50),
      BucketPercentileMs(cutover, 99), BucketPercentileMs(move, 50), BucketPercentileMs(move, 99),
      PercentilesMs(publisher.latency(0)), PercentilesMs(publisher.latency(1)),
      PercentilesMs(publisher.latency(2)), publisher.errors(),
      [&] {
        double refused = 0;
        for (const std::string& http : nodes) {
          refused += MetricOf(http, "ringcast_handoff_publishes_refused_total");
        }
        return refused;
      }(),
      PercentilesMs(resume), subscribers.streams.size(), gaps, duplicates, resets, behind);
  return publisher.errors() == 0 && gaps == 0 && duplicates == 0 && behind == 0 ? 0 : 2;
}

}  // namespace
}  // namespace ringcast::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return ringcast::bench::Run();
}
