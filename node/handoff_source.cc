// handoff_source.cc — planning moves from the ring and running one Transfer stream per target
// (see handoff_source.h; the protocol is in handoff.proto).
#include "node/handoff_source.h"

#include <algorithm>
#include <deque>
#include <iostream>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "ringcast/v1/handoff.grpc.pb.h"
#include "sse/parser.h"

namespace ringcast::node {
namespace {

// Keeps each EventBatch well under gRPC's 4 MiB message limit (handoff.proto asks < 1 MiB).
constexpr size_t kMaxBatchBytes = 512 * 1024;
// How long a transfer waits for the target to activate its sealed topics.
constexpr absl::Duration kActivationTimeout = absl::Seconds(10);
// How often the planner looks again without being woken (new topics, expired tombstones).
constexpr absl::Duration kPlanInterval = absl::Milliseconds(500);

// The appends of the move's copying topics, and its seals, in the order they happened.
class TailQueue final : public HandoffTail {
 public:
  struct Entry {
    std::shared_ptr<Topic> topic;
    CopiedEvent event;
    std::optional<HandoffSeal> seal;  // set: the topic's seal, after its last event
  };

  void OnAppended(const std::shared_ptr<Topic>& topic, const CopiedEvent& event) override {
    absl::MutexLock lock(&mu_);
    entries_.push_back({topic, event, std::nullopt});
  }

  void PushSeal(const std::shared_ptr<Topic>& topic, const HandoffSeal& seal) {
    absl::MutexLock lock(&mu_);
    entries_.push_back({topic, {}, seal});
  }

  // Ends the current (or next) Take's wait even with nothing queued: the transfer has news.
  void Wake() {
    absl::MutexLock lock(&mu_);
    woken_ = true;
  }

  // Everything queued, waiting until `deadline` for something (or a Wake).
  std::deque<Entry> Take(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return woken_ || !entries_.empty();
    };
    mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
    woken_ = false;
    return std::exchange(entries_, {});
  }

 private:
  absl::Mutex mu_;
  std::deque<Entry> entries_ ABSL_GUARDED_BY(mu_);
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
};

google::protobuf::Timestamp ToProto(absl::Time time) {
  google::protobuf::Timestamp t;
  const int64_t nanos = absl::ToUnixNanos(time);
  t.set_seconds(nanos / 1'000'000'000);
  t.set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  return t;
}

// An event as the Transfer carries it: its frame parsed back into id, type and data.
void ToBufferedEvent(const CopiedEvent& event, v1::BufferedEvent* out) {
  sse::EventStreamParser parser;
  parser.Feed(*event.frame, [&](const sse::ParsedEvent& parsed) {
    out->set_event_id(parsed.id);
    out->set_type(parsed.type == sse::kDefaultEventType ? "" : parsed.type);
    out->set_data(parsed.data);
  });
  out->set_offset(event.offset);
  *out->mutable_publish_time() = ToProto(event.published);
}

void ToProto(const std::vector<ProducerMarkCopy>& marks,
             google::protobuf::RepeatedPtrField<v1::ProducerMark>* out) {
  for (const ProducerMarkCopy& mark : marks) {
    v1::ProducerMark* proto = out->Add();
    proto->set_producer_id(mark.producer_id);
    proto->set_last_sequence(mark.sequence);
    if (mark.id.offset != 0) proto->set_last_event_id(mark.id.ToString());
  }
}

}  // namespace

struct HandoffSource::Move {
  struct PlannedTopic {
    std::shared_ptr<Topic> topic;
    uint32_t partition = 0;
  };
  uint64_t serial = 0;  // names the move's status until it is reported DONE
  std::string target_id;
  std::string target_address;
  std::vector<uint32_t> partitions;
  std::vector<PlannedTopic> topics;
};

// One Transfer stream: writes on the move's thread, reads (activations) on a thread of its own.
class HandoffSource::TransferStream {
 public:
  using Stream = grpc::ClientReaderWriter<v1::TransferRequest, v1::TransferResponse>;

  TransferStream(HandoffSource& source, const Move& move)
      : source_(source), move_(move) {}
  ~TransferStream() {
    source_.Track(&context_, false);
    source_.topics_moving_.fetch_sub(snapshots_.size(), std::memory_order_relaxed);
    source_.metrics_.AddTopicsMoving(-static_cast<double>(snapshots_.size()));
  }

  // Runs the move; true when every topic it began was activated (or found active) at the target.
  bool Run() {
    auto channel = grpc::CreateChannel(move_.target_address, grpc::InsecureChannelCredentials());
    stub_ = v1::Handoff::NewStub(channel);
    context_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(10)));
    stream_ = stub_->Transfer(&context_);
    source_.Track(&context_, true);
    if (!Begin()) return Fail();
    reader_ = std::thread([this] { ReadActivations(); });
    if (!CopyAndTail()) return Fail();
    if (!AwaitCaughtUp()) return Fail();
    SealAll();
    if (!WriteSeals()) return Fail();
    if (!AwaitActivations()) return Fail();
    stream_->WritesDone();
    reader_.join();
    const grpc::Status finished = stream_->Finish();
    if (finished.ok()) {
      source_.UpdateStatus(move_,
                           [](MoveStatus& status) { status.state = v1::MOVE_STATE_DONE; });
    }
    if (!finished.ok()) std::cerr << "ringcast-node: transfer to " << move_.target_id << ": "
                                  << finished.error_message() << "\n";
    return finished.ok();
  }

 private:
  struct Moving {
    std::shared_ptr<Topic> topic;
    uint32_t partition = 0;
    absl::Time began;
    uint64_t precopy_end = 0;  // the snapshot's next offset: the copy has caught up below it
    bool caught_up = false;
    absl::Time sealed = absl::InfiniteFuture();
    bool activated = false;
  };

  uint64_t RingVersion() const { return source_.ring_.Load()->version(); }

  bool Begin() {
    v1::TransferRequest request;
    request.set_ring_version(RingVersion());
    v1::TransferBegin* begin = request.mutable_begin();
    begin->set_source_node_id(source_.options_.node_id);
    begin->set_target_node_id(move_.target_id);
    for (uint32_t p : move_.partitions) begin->add_partitions(p);
    for (const auto& planned : move_.topics) begin->add_topics(planned.topic->name());
    v1::TransferResponse ready;
    if (!stream_->Write(request) || !stream_->Read(&ready) || !ready.has_ready()) return false;
    absl::flat_hash_set<std::string> active;
    for (const v1::TopicResume& resume : ready.ready().topics()) {
      if (resume.state() == v1::TOPIC_TRANSFER_STATE_ACTIVE) active.insert(resume.topic());
    }
    std::map<uint32_t, PartitionCounts> counts;
    for (uint32_t p : move_.partitions) counts[p] = {};
    for (const auto& [topic, partition] : move_.topics) {
      if (active.contains(topic->name())) {
        source_.Moved(topic);  // an earlier transfer got it there already
        continue;
      }
      absl::StatusOr<HandoffSnapshot> snapshot = topic->BeginHandoff(&tail_);
      if (!snapshot.ok()) continue;  // freed or already moving: the planner looks again
      ++counts[partition].topics_total;
      partition_of_[topic.get()] = partition;
      absl::MutexLock lock(&mu_);
      moving_[topic->name()] = Moving{topic, partition, absl::Now(), snapshot->next_offset};
      ++lagging_;
      snapshots_.emplace_back(topic, *std::move(snapshot));
    }
    source_.topics_moving_.fetch_add(snapshots_.size(), std::memory_order_relaxed);
    source_.metrics_.AddTopicsMoving(static_cast<double>(snapshots_.size()));
    const uint64_t version = request.ring_version();
    source_.UpdateStatus(move_, [&](MoveStatus& status) {
      status = MoveStatus{move_.target_id, version, v1::MOVE_STATE_PRE_COPY, std::move(counts), {}};
    });
    return true;
  }

  bool CopyAndTail() {
    for (auto& [topic, snapshot] : snapshots_) {
      v1::TransferRequest request;
      request.set_ring_version(RingVersion());
      v1::TopicSnapshot* proto = request.mutable_topic_snapshot();
      proto->set_topic(topic->name());
      proto->set_epoch(snapshot.epoch);
      proto->set_first_offset(snapshot.first_offset);
      proto->set_next_offset(snapshot.next_offset);
      ToProto(snapshot.producers, proto->mutable_producers());
      if (!stream_->Write(request)) return false;
      if (!WriteEvents(topic, snapshot.events)) return false;
      snapshot.events.clear();
    }
    return WriteTail(tail_.Take(absl::Now()));
  }

  bool WriteEvents(const std::shared_ptr<Topic>& topic, const std::vector<CopiedEvent>& events) {
    v1::TransferRequest request;
    size_t bytes = 0;
    auto flush = [&] {
      if (!request.has_events()) return true;
      request.set_ring_version(RingVersion());
      source_.metrics_.AddBytesOut(static_cast<double>(bytes));
      source_.UpdateStatus(move_, [&](MoveStatus& status) {
        status.partitions[partition_of_.at(topic.get())].bytes_moved += bytes;
      });
      bytes = 0;
      const bool written = stream_->Write(request);
      request.Clear();
      return written;
    };
    for (const CopiedEvent& event : events) {
      v1::EventBatch* batch = request.mutable_events();
      batch->set_topic(topic->name());
      ToBufferedEvent(event, batch->add_events());
      bytes += event.frame->size();
      if (bytes >= kMaxBatchBytes && !flush()) return false;
    }
    return flush();
  }

  // Writes tailed appends and seals taken from the tail, in their order.
  bool WriteTail(std::deque<TailQueue::Entry> entries) {
    size_t i = 0;
    while (i < entries.size()) {
      TailQueue::Entry& entry = entries[i];
      if (entry.seal.has_value()) {
        if (!WriteSeal(entry.topic, *entry.seal)) return false;
        ++seals_written_;
        ++i;
        continue;
      }
      // Consecutive events of one topic go out as one batch.
      std::vector<CopiedEvent> run;
      while (i < entries.size() && !entries[i].seal.has_value() &&
             entries[i].topic == entry.topic) {
        run.push_back(std::move(entries[i].event));
        ++i;
      }
      if (!WriteEvents(entry.topic, run)) return false;
    }
    return true;
  }

  // Writes the tail until every seal is out (SealAll queued them after the topics' last events).
  bool WriteSeals() {
    const absl::Time deadline = absl::Now() + kActivationTimeout;
    while (seals_written_ < sealed_count_ && absl::Now() < deadline) {
      if (!WriteTail(tail_.Take(deadline))) return false;
    }
    return seals_written_ == sealed_count_;
  }

  bool WriteSeal(const std::shared_ptr<Topic>& topic, const HandoffSeal& seal) {
    v1::TransferRequest request;
    request.set_ring_version(RingVersion());
    v1::TopicSeal* proto = request.mutable_seal();
    proto->set_topic(topic->name());
    proto->set_last_offset(seal.last_offset);
    ToProto(seal.producers, proto->mutable_producers());
    return stream_->Write(request);
  }

  void SealAll() {
    absl::MutexLock lock(&mu_);
    for (auto& entry : moving_) {
      Moving& moving = entry.second;
      const std::shared_ptr<Topic>& topic = moving.topic;
      topic->Seal([&](const HandoffSeal& seal) { tail_.PushSeal(topic, seal); });
      moving.sealed = absl::Now();
      ++sealed_count_;
    }
    source_.UpdateStatus(move_,
                         [](MoveStatus& status) { status.state = v1::MOVE_STATE_SEALED; });
  }

  // Keeps writing the tail until the target holds every topic's pre-copy (its `copied` answers
  // reach each snapshot's last offset), so that the seal, which stops appends, waits only for
  // the last few tailed events. Wakes on each append and on the reader's news
  // (WakeWriterIfCaughtUp), not by polling.
  bool AwaitCaughtUp() {
    const absl::Time deadline = absl::Now() + kActivationTimeout;
    while (absl::Now() < deadline) {
      {
        absl::MutexLock lock(&mu_);
        if (read_done_) return false;
        if (lagging_ == 0) return true;
      }
      if (!WriteTail(tail_.Take(deadline))) return false;
    }
    return false;
  }

  // The reader's news for AwaitCaughtUp: the last topic caught up, or the stream ended.
  void WakeWriterIfCaughtUp() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (lagging_ == 0 || read_done_) tail_.Wake();
  }

  void ReadActivations() {
    v1::TransferResponse response;
    while (stream_->Read(&response)) {
      if (response.has_copied()) {
        absl::MutexLock lock(&mu_);
        auto it = moving_.find(response.copied().topic());
        if (it != moving_.end() && !it->second.caught_up &&
            response.copied().through_offset() + 1 >= it->second.precopy_end) {
          it->second.caught_up = true;
          --lagging_;
          WakeWriterIfCaughtUp();
        }
        continue;
      }
      if (!response.has_activated()) continue;
      absl::MutexLock lock(&mu_);
      auto it = moving_.find(response.activated().topic());
      if (it == moving_.end() || it->second.activated) continue;
      Moving& moving = it->second;
      moving.activated = true;
      if (!moving.caught_up) {  // activated without copying (the target had its own history)
        moving.caught_up = true;
        --lagging_;
        WakeWriterIfCaughtUp();
      }
      ++activated_count_;
      const absl::Time now = absl::Now();
      source_.metrics_.CountTopicMovedOut(now - moving.sealed, now - moving.began);
      source_.Moved(moving.topic);
      source_.UpdateStatus(move_, [partition = moving.partition](MoveStatus& status) {
        ++status.partitions[partition].topics_moved;
      });
    }
    absl::MutexLock lock(&mu_);
    read_done_ = true;
    WakeWriterIfCaughtUp();
  }

  bool AwaitActivations() {
    absl::MutexLock lock(&mu_);
    auto all_in = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return read_done_ || activated_count_ == moving_.size();
    };
    mu_.AwaitWithTimeout(absl::Condition(&all_in), kActivationTimeout);
    return activated_count_ == moving_.size();
  }

  // The stream broke or timed out: topics not yet sealed append again at once; sealed ones only
  // once the target confirms it discarded them (Abort), or has left the ring.
  bool Fail() {
    context_.TryCancel();
    if (reader_.joinable()) reader_.join();
    std::vector<std::shared_ptr<Topic>> sealed;
    {
      absl::MutexLock lock(&mu_);
      for (auto& [name, moving] : moving_) {
        if (moving.activated) continue;
        if (moving.sealed == absl::InfiniteFuture()) {
          moving.topic->CancelHandoff();
        } else {
          sealed.push_back(moving.topic);
        }
      }
    }
    if (!sealed.empty()) ResolveSealed(sealed);
    return false;
  }

  void ResolveSealed(const std::vector<std::shared_ptr<Topic>>& sealed) {
    v1::AbortRequest request;
    request.set_source_node_id(source_.options_.node_id);
    request.set_target_node_id(move_.target_id);
    for (uint32_t p : move_.partitions) request.add_partitions(p);
    request.set_reason("transfer failed");
    absl::Duration backoff = absl::Milliseconds(100);
    while (true) {
      const std::shared_ptr<const Ring> ring = source_.ring_.Load();
      if (ring->FindMember(move_.target_id) == nullptr || source_.Stopping()) {
        // The target left the ring (or this node stops): whatever it activated is gone with it.
        for (const auto& topic : sealed) topic->CancelHandoff();
        return;
      }
      request.set_ring_version(ring->version());
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
      v1::AbortResponse response;
      if (stub_->Abort(&context, request, &response).ok()) {
        const absl::flat_hash_set<std::string> active(response.active_topics().begin(),
                                                      response.active_topics().end());
        for (const auto& topic : sealed) {
          if (active.contains(topic->name())) {
            source_.Moved(topic);
          } else {
            topic->CancelHandoff();
          }
        }
        return;
      }
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(2));
    }
  }

  HandoffSource& source_;
  const Move& move_;
  std::unique_ptr<v1::Handoff::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<Stream> stream_;
  std::thread reader_;
  TailQueue tail_;
  std::vector<std::pair<std::shared_ptr<Topic>, HandoffSnapshot>> snapshots_;
  // The partition of each snapshotted topic; written by Begin, before the reader starts.
  absl::flat_hash_map<const Topic*, uint32_t> partition_of_;
  size_t sealed_count_ = 0;
  size_t seals_written_ = 0;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Moving> moving_ ABSL_GUARDED_BY(mu_);
  size_t activated_count_ ABSL_GUARDED_BY(mu_) = 0;
  size_t lagging_ ABSL_GUARDED_BY(mu_) = 0;  // topics whose pre-copy the target has not confirmed
  bool read_done_ ABSL_GUARDED_BY(mu_) = false;
};

HandoffSource::HandoffSource(const NodeOptions& options, TopicRegistry& topics,
                             const RingHolder& ring, const IncomingPartitions& incoming,
                             HandoffMetrics& metrics, EndTopicStreams end_streams)
    : options_(options),
      topics_(topics),
      ring_(ring),
      incoming_(incoming),
      metrics_(metrics),
      end_streams_(std::move(end_streams)),
      planner_([this] { Run(); }) {}

HandoffSource::~HandoffSource() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (grpc::ClientContext* context : active_contexts_) context->TryCancel();
  }
  planner_.join();
  absl::flat_hash_map<std::string, std::thread> running;
  {
    absl::MutexLock lock(&mu_);
    running.swap(running_);
  }
  for (auto& [target, thread] : running) thread.join();
}

void HandoffSource::Track(grpc::ClientContext* context, bool active) {
  absl::MutexLock lock(&mu_);
  if (!active) {
    active_contexts_.erase(context);
  } else if (stopping_) {
    context->TryCancel();
  } else {
    active_contexts_.insert(context);
  }
}

void HandoffSource::UpdateStatus(const Move& move,
                                 const std::function<void(MoveStatus&)>& change) {
  absl::MutexLock lock(&mu_);
  MoveStatus& status = statuses_[move.serial];
  change(status);
  status.target = move.target_id;
  status.updated = absl::Now();
}

std::vector<v1::MoveProgress> HandoffSource::TakeProgress() {
  absl::MutexLock lock(&mu_);
  std::vector<v1::MoveProgress> progress;
  for (const auto& [serial, status] : statuses_) {
    for (const auto& [p, counts] : status.partitions) {
      v1::MoveProgress& move = progress.emplace_back();
      move.set_ring_version(status.ring_version);
      move.set_partition(p);
      move.set_from_node(options_.node_id);
      move.set_to_node(status.target);
      move.set_state(status.state);
      move.set_topics_total(counts.topics_total);
      move.set_topics_moved(counts.topics_moved);
      move.set_bytes_moved(counts.bytes_moved);
      const int64_t nanos = absl::ToUnixNanos(status.updated);
      move.mutable_update_time()->set_seconds(nanos / 1'000'000'000);
      move.mutable_update_time()->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
    }
  }
  absl::erase_if(statuses_,
                 [](const auto& entry) { return entry.second.state == v1::MOVE_STATE_DONE; });
  return progress;
}

bool HandoffSource::Stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

size_t HandoffSource::topics_moving() const {
  return topics_moving_.load(std::memory_order_relaxed);
}

void HandoffSource::OnRing(const Ring* previous, const Ring& current) {
  absl::MutexLock lock(&mu_);
  replan_ = true;
  if (previous == nullptr || previous->partition_count() != current.partition_count() ||
      previous->FindMember(options_.node_id) == nullptr) {
    return;
  }
  for (uint32_t p = 0; p < current.partition_count(); ++p) {
    if (previous->OwnerOf(p).id == options_.node_id &&
        (current.members().empty() || current.OwnerOf(p).id != options_.node_id)) {
      owed_partitions_.insert(p);
    }
  }
}

void HandoffSource::Run() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](HandoffSource* self) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                               return self->stopping_ || self->replan_;
                             },
                             this),
                         kPlanInterval);
    if (stopping_) break;
    replan_ = false;
    JoinFinished();
    ForgetExpiredTombstones(absl::Now());
    StartMoves();
  }
}

absl::flat_hash_map<std::string, std::shared_ptr<HandoffSource::Move>> HandoffSource::Plan() {
  absl::flat_hash_map<std::string, std::shared_ptr<Move>> moves;
  const std::shared_ptr<const Ring> ring = ring_.Load();
  if (ring == nullptr || ring->members().empty()) return moves;
  auto move_to = [&](const Member& owner) -> Move& {
    std::shared_ptr<Move>& move = moves[owner.id];
    if (move == nullptr) {
      move = std::make_shared<Move>(Move{0, owner.id, owner.grpc_address, {}, {}});
    }
    return *move;
  };
  absl::flat_hash_map<std::string, absl::flat_hash_set<uint32_t>> partitions;
  // A partition that came back has nothing to hand over.
  absl::erase_if(owed_partitions_,
                 [&](uint32_t p) { return ring->OwnerOf(p).id == options_.node_id; });
  // A partition is handed over whole or not at all: a transfer tells the target it is complete.
  // So none goes while one of its topics is in a handoff here (being copied in or out: it is
  // kOwned or gone once that ends), nor while its history is still on its way here from an
  // earlier owner (which sends it to the owner now). Otherwise the target would take the
  // partition as complete and start the missing topics afresh.
  const absl::Time now = absl::Now();
  absl::flat_hash_set<uint32_t> in_flux;
  std::vector<std::pair<std::shared_ptr<Topic>, uint32_t>> leaving;
  for (const std::shared_ptr<Topic>& topic : topics_.All()) {
    const HandoffState state = topic->handoff_state();
    if (state == HandoffState::kMoved) continue;
    const uint32_t p = ring->PartitionOf(topic->name());
    if (state != HandoffState::kOwned) {
      in_flux.insert(p);
    } else if (ring->OwnerOf(p).id != options_.node_id) {
      leaving.emplace_back(topic, p);
    }
  }
  auto may_go = [&](uint32_t p) {
    return !in_flux.contains(p) && !incoming_.LostWhileWaiting(p, now);
  };
  for (uint32_t p : owed_partitions_) {
    if (!may_go(p)) continue;
    const Member& owner = ring->OwnerOf(p);
    move_to(owner);
    partitions[owner.id].insert(p);
  }
  for (auto& [topic, p] : leaving) {
    if (!may_go(p)) continue;
    const Member& owner = ring->OwnerOf(p);
    move_to(owner).topics.push_back({topic, p});
    partitions[owner.id].insert(p);
  }
  for (auto& [target, move] : moves) {
    move->partitions.assign(partitions[target].begin(), partitions[target].end());
    std::sort(move->partitions.begin(), move->partitions.end());
  }
  return moves;
}

void HandoffSource::StartMoves() {
  for (auto& planned : Plan()) {
    const std::string& target = planned.first;
    std::shared_ptr<Move> move = planned.second;
    // NOTE: a target's running transfer replans when it ends (RunMove).
    if (running_.contains(target)) continue;
    if (running_.size() >= static_cast<size_t>(options_.handoff_concurrency)) return;
    move->serial = next_move_serial_++;
    running_[target] = std::thread([this, move] { RunMove(move); });
  }
}

void HandoffSource::RunMove(const std::shared_ptr<Move>& move) {
  const bool ok = TransferStream(*this, *move).Run();
  metrics_.CountTransfer(ok);
  absl::MutexLock lock(&mu_);
  if (ok) {
    for (uint32_t p : move->partitions) owed_partitions_.erase(p);
  }
  finished_.push_back(move->target_id);
  replan_ = true;
}

void HandoffSource::Moved(const std::shared_ptr<Topic>& topic) {
  topic->MarkMoved();
  end_streams_(topic);
  absl::MutexLock lock(&mu_);
  tombstones_.emplace_back(absl::Now() + options_.handoff_tombstone, topic);
}

void HandoffSource::JoinFinished() {
  for (const std::string& target : finished_) {
    auto it = running_.find(target);
    if (it == running_.end()) continue;
    it->second.join();
    running_.erase(it);
  }
  finished_.clear();
}

void HandoffSource::ForgetExpiredTombstones(absl::Time now) {
  auto expired = std::partition(tombstones_.begin(), tombstones_.end(),
                                [now](const auto& entry) { return entry.first > now; });
  for (auto it = expired; it != tombstones_.end(); ++it) topics_.Forget(it->second);
  tombstones_.erase(expired, tombstones_.end());
}

}  // namespace ringcast::node
