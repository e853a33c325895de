// topic.cc — replay buffers, resume planning and producer de-duplication (see topic.h).
//
// Resume rules for a client's Last-Event-ID "E:O" against a topic of epoch `epoch` whose buffer
// holds offsets [oldest, next - 1]:
//   no resume point             live events only
//   E == epoch, oldest-1 <= O < next   replay offsets O+1 .. next-1, then live
//   E == epoch, O < oldest - 1  reset "evicted", replay everything held
//   E == epoch, O >= next       reset "future", replay everything held
//   E != epoch                  reset "epoch", replay everything held
//   not an id                   reset "malformed", replay everything held
// A kIncoming topic (a handoff's target copy, still catching up with its source) takes a resume
// point of its own epoch beyond what it holds without a reset: the subscriber waits for the
// copy to reach it.
#include "node/topic.h"

#include <algorithm>
#include <functional>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"

namespace ringcast::node {
namespace {

// NOTE: Debian's abseil has its own string_view; heterogeneous map lookups need that type.
absl::string_view AsAbsl(std::string_view text) { return {text.data(), text.size()}; }

}  // namespace

Topic::Topic(std::string name, uint64_t epoch, const BufferLimits& limits, size_t worker_count,
             BufferStats* stats, FanOut* fan_out, const HandoffSnapshot* incoming)
    : name_(std::move(name)),
      limits_(limits),
      stats_(stats),
      fan_out_(fan_out),
      epoch_(epoch),
      subscribers_per_worker_(worker_count, 0) {
  stats_->topics.fetch_add(1, std::memory_order_relaxed);
  if (incoming == nullptr) return;
  absl::MutexLock lock(&mu_);
  handoff_state_ = HandoffState::kIncoming;
  next_offset_ = incoming->first_offset;
  for (const ProducerMarkCopy& mark : incoming->producers) {
    RememberProducer(mark.producer_id, mark.sequence, mark.id);
  }
}

Topic::~Topic() {
  stats_->topics.fetch_sub(1, std::memory_order_relaxed);
  stats_->events.fetch_sub(static_cast<int64_t>(buffer_.size()), std::memory_order_relaxed);
  stats_->bytes.fetch_sub(static_cast<int64_t>(buffer_bytes_), std::memory_order_relaxed);
}

absl::StatusOr<AppendResult> Topic::Append(const AppendRequest& request, absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (freed_) return absl::AbortedError("topic was freed");
  switch (handoff_state_) {
    case HandoffState::kOwned:
    case HandoffState::kCopying:
      break;
    case HandoffState::kSealed:
    case HandoffState::kIncoming:
      return absl::UnavailableError("topic is being handed off between nodes");
    case HandoffState::kMoved:
      return absl::FailedPreconditionError("topic moved to another node");
  }
  if (std::optional<AppendResult> refused = CheckProducer(request)) return *refused;

  const sse::EventId id{epoch_, next_offset_++};
  sse::Frame frame = sse::MakeFrame(sse::EncodeEvent(id, request.type, request.data));
  StoreAndFanOut(id.offset, now, frame, now);
  if (!request.producer_id.empty()) RememberProducer(request.producer_id, request.sequence, id);
  if (tail_ != nullptr) tail_->OnAppended(shared_from_this(), {id.offset, now, std::move(frame)});
  return AppendResult{id, false};
}

void Topic::StoreAndFanOut(uint64_t offset, absl::Time published, sse::Frame frame,
                           absl::Time now) {
  buffer_bytes_ += frame->size();
  stats_->events.fetch_add(1, std::memory_order_relaxed);
  stats_->bytes.fetch_add(static_cast<int64_t>(frame->size()), std::memory_order_relaxed);
  buffer_.push_back({offset, published, frame});
  EvictOverLimits(now);
  if (subscribers_ == 0) return;
  const std::shared_ptr<Topic> self = shared_from_this();
  for (size_t worker = 0; worker < subscribers_per_worker_.size(); ++worker) {
    if (subscribers_per_worker_[worker] > 0) fan_out_->Deliver(worker, self, offset, frame);
  }
}

HandoffState Topic::handoff_state() const {
  absl::MutexLock lock(&mu_);
  return handoff_state_;
}

uint64_t Topic::next_offset() const {
  absl::MutexLock lock(&mu_);
  return next_offset_;
}

std::vector<ProducerMarkCopy> Topic::CopyProducers() const {
  std::vector<ProducerMarkCopy> marks;
  marks.reserve(producer_order_.size());
  for (const std::string& producer : producer_order_) {
    const ProducerMark& mark = producers_.at(producer);
    marks.push_back({producer, mark.sequence, mark.id});
  }
  return marks;
}

absl::StatusOr<HandoffSnapshot> Topic::BeginHandoff(HandoffTail* tail) {
  absl::MutexLock lock(&mu_);
  if (freed_) return absl::AbortedError("topic was freed");
  if (handoff_state_ != HandoffState::kOwned) {
    return absl::FailedPreconditionError("topic is already in a handoff");
  }
  handoff_state_ = HandoffState::kCopying;
  tail_ = tail;
  HandoffSnapshot snapshot{epoch_, OldestOffset(), next_offset_, {}, CopyProducers()};
  snapshot.events.reserve(buffer_.size());
  for (const BufferedEvent& event : buffer_) {
    snapshot.events.push_back({event.offset, event.published, event.frame});
  }
  return snapshot;
}

HandoffSeal Topic::Seal(const std::function<void(const HandoffSeal&)>& on_sealed) {
  absl::MutexLock lock(&mu_);
  handoff_state_ = HandoffState::kSealed;
  tail_ = nullptr;
  HandoffSeal seal{next_offset_ - 1, CopyProducers()};
  on_sealed(seal);
  return seal;
}

void Topic::MarkMoved() {
  absl::MutexLock lock(&mu_);
  handoff_state_ = HandoffState::kMoved;
  // The target holds the history now; a tombstone needs none of it.
  while (!buffer_.empty()) PopOldest();
}

void Topic::CancelHandoff() {
  absl::MutexLock lock(&mu_);
  if (handoff_state_ != HandoffState::kCopying && handoff_state_ != HandoffState::kSealed) return;
  handoff_state_ = HandoffState::kOwned;
  tail_ = nullptr;
}

absl::Status Topic::AppendCopied(const CopiedEvent& event) {
  absl::MutexLock lock(&mu_);
  if (handoff_state_ != HandoffState::kIncoming) {
    return absl::FailedPreconditionError("topic is not receiving a handoff");
  }
  if (event.offset != next_offset_) {
    return absl::OutOfRangeError(absl::StrCat("expected offset ", next_offset_, ", got ",
                                              event.offset));
  }
  ++next_offset_;
  StoreAndFanOut(event.offset, event.published, event.frame, absl::Now());
  return absl::OkStatus();
}

absl::Status Topic::Activate(const HandoffSeal& seal) {
  absl::MutexLock lock(&mu_);
  if (handoff_state_ != HandoffState::kIncoming) {
    return absl::FailedPreconditionError("topic is not receiving a handoff");
  }
  if (seal.last_offset + 1 != next_offset_) {
    return absl::OutOfRangeError(absl::StrCat("sealed at offset ", seal.last_offset,
                                              " but holds through ", next_offset_ - 1));
  }
  producers_.clear();
  producer_order_.clear();
  for (const ProducerMarkCopy& mark : seal.producers) {
    RememberProducer(mark.producer_id, mark.sequence, mark.id);
  }
  handoff_state_ = HandoffState::kOwned;
  return absl::OkStatus();
}

std::optional<AppendResult> Topic::CheckProducer(const AppendRequest& request) const {
  if (request.producer_id.empty()) return std::nullopt;
  auto it = producers_.find(AsAbsl(request.producer_id));
  if (it == producers_.end()) return std::nullopt;
  const ProducerMark& mark = it->second;
  if (request.sequence <= mark.sequence) {
    AppendResult duplicate{{}, true};
    if (request.sequence == mark.sequence) duplicate.id = mark.id;
    return duplicate;
  }
  if (request.sequence > mark.sequence + 1) {
    AppendResult gap;
    gap.expected_sequence = mark.sequence + 1;
    return gap;
  }
  return std::nullopt;
}

void Topic::RememberProducer(std::string_view producer_id, uint64_t sequence,
                             const sse::EventId& id) {
  auto [it, inserted] = producers_.try_emplace(AsAbsl(producer_id));
  it->second = {sequence, id};
  if (!inserted) return;
  producer_order_.emplace_back(producer_id);
  if (producers_.size() > limits_.max_producers) {
    producers_.erase(producer_order_.front());
    producer_order_.pop_front();
  }
}

void Topic::PopOldest() {
  const size_t bytes = buffer_.front().frame->size();
  buffer_bytes_ -= bytes;
  stats_->events.fetch_sub(1, std::memory_order_relaxed);
  stats_->bytes.fetch_sub(static_cast<int64_t>(bytes), std::memory_order_relaxed);
  buffer_.pop_front();
}

void Topic::EvictOverLimits(absl::Time now) {
  while (buffer_.size() > limits_.max_events) {
    PopOldest();
    stats_->evicted_by_count.fetch_add(1, std::memory_order_relaxed);
  }
  // The newest event always stays, even when it alone is over the byte limit.
  while (buffer_.size() > 1 && buffer_bytes_ > limits_.max_bytes) {
    PopOldest();
    stats_->evicted_by_bytes.fetch_add(1, std::memory_order_relaxed);
  }
  while (!buffer_.empty() && now - buffer_.front().published > limits_.max_age) {
    PopOldest();
    stats_->evicted_by_age.fetch_add(1, std::memory_order_relaxed);
  }
}

uint64_t Topic::OldestOffset() const {
  return buffer_.empty() ? next_offset_ : buffer_.front().offset;
}

absl::StatusOr<Attachment> Topic::Attach(size_t worker, const std::optional<std::string>& resume) {
  absl::MutexLock lock(&mu_);
  if (freed_) return absl::AbortedError("topic was freed");
  if (handoff_state_ == HandoffState::kMoved) {
    return absl::FailedPreconditionError("topic moved to another node");
  }
  ++subscribers_per_worker_[worker];
  ++subscribers_;

  Attachment attachment;
  attachment.epoch = epoch_;
  attachment.last_offset = next_offset_ - 1;
  if (!resume.has_value()) return attachment;

  const uint64_t oldest = OldestOffset();
  uint64_t replay_after = oldest - 1;  // replay offsets > replay_after
  absl::StatusOr<sse::EventId> point = sse::ParseEventId(*resume);
  if (!point.ok()) {
    attachment.reset = sse::ResetReason::kMalformed;
  } else if (point->epoch != epoch_) {
    attachment.reset = sse::ResetReason::kEpoch;
  } else if (point->offset >= next_offset_ && handoff_state_ == HandoffState::kIncoming) {
    attachment.last_offset = point->offset;  // the copy has not reached it yet: wait for it
    return attachment;
  } else if (point->offset >= next_offset_) {
    attachment.reset = sse::ResetReason::kFuture;
  } else if (point->offset + 1 < oldest) {
    attachment.reset = sse::ResetReason::kEvicted;
  } else {
    replay_after = point->offset;
  }
  attachment.resume_offset = oldest;
  for (const BufferedEvent& event : buffer_) {
    if (event.offset > replay_after) attachment.replay.push_back(event.frame);
  }
  return attachment;
}

void Topic::Detach(size_t worker) {
  absl::MutexLock lock(&mu_);
  --subscribers_per_worker_[worker];
  --subscribers_;
}

bool Topic::SweepAndMaybeFree(absl::Time now) {
  absl::MutexLock lock(&mu_);
  EvictOverLimits(now);
  // Topics in a handoff belong to it; it forgets them itself.
  if (handoff_state_ != HandoffState::kOwned) return false;
  if (subscribers_ == 0 && buffer_.empty()) freed_ = true;
  return freed_;
}

TopicRegistry::TopicRegistry(const BufferLimits& limits, size_t worker_count, FanOut* fan_out)
    : limits_(limits), worker_count_(worker_count), fan_out_(fan_out), shards_(kShards) {}

uint64_t TopicRegistry::NextEpoch() {
  // Microseconds since 1970, strictly increasing within the process: a freed and re-created
  // topic, or a restarted node, never reuses an epoch.
  const auto now = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()));
  uint64_t last = last_epoch_.load(std::memory_order_relaxed);
  uint64_t next;
  do {
    next = std::max(now, last + 1);
  } while (!last_epoch_.compare_exchange_weak(last, next, std::memory_order_relaxed));
  return next;
}

TopicRegistry::Shard& TopicRegistry::ShardOf(std::string_view name) {
  return shards_[absl::HashOf(AsAbsl(name)) % kShards];
}

std::shared_ptr<Topic> TopicRegistry::GetOrCreate(std::string_view name) {
  Shard& shard = ShardOf(name);
  absl::MutexLock lock(&shard.mu);
  auto [it, inserted] = shard.topics.try_emplace(AsAbsl(name));
  if (inserted) {
    it->second = std::make_shared<Topic>(std::string(name), NextEpoch(), limits_, worker_count_,
                                         &stats_, fan_out_);
  }
  return it->second;
}

absl::StatusOr<AppendResult> TopicRegistry::Append(std::string_view topic,
                                                   const AppendRequest& request, absl::Time now,
                                                   bool create) {
  while (true) {
    std::shared_ptr<Topic> found = create ? GetOrCreate(topic) : Find(topic);
    if (found == nullptr) return absl::NotFoundError("no such topic here");
    // A topic freed between lookup and append refuses (ABORTED); the next lookup makes a new one.
    absl::StatusOr<AppendResult> result = found->Append(request, now);
    if (!absl::IsAborted(result.status())) return result;
  }
}

absl::StatusOr<std::pair<std::shared_ptr<Topic>, Attachment>> TopicRegistry::Attach(
    std::string_view topic, size_t worker, const std::optional<std::string>& resume) {
  while (true) {
    std::shared_ptr<Topic> found = GetOrCreate(topic);
    absl::StatusOr<Attachment> attachment = found->Attach(worker, resume);
    if (attachment.ok()) return std::make_pair(std::move(found), *std::move(attachment));
    if (!absl::IsAborted(attachment.status())) return attachment.status();
  }
}

std::shared_ptr<Topic> TopicRegistry::Find(std::string_view topic) const {
  const Shard& shard = shards_[absl::HashOf(AsAbsl(topic)) % kShards];
  absl::MutexLock lock(&shard.mu);
  auto it = shard.topics.find(AsAbsl(topic));
  return it == shard.topics.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Topic>> TopicRegistry::All() const {
  std::vector<std::shared_ptr<Topic>> all;
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    for (const auto& [name, topic] : shard.topics) all.push_back(topic);
  }
  return all;
}

absl::StatusOr<std::shared_ptr<Topic>> TopicRegistry::CreateIncoming(
    std::string_view topic, const HandoffSnapshot& snapshot) {
  Shard& shard = ShardOf(topic);
  absl::MutexLock lock(&shard.mu);
  std::shared_ptr<Topic>& slot = shard.topics[AsAbsl(topic)];
  if (slot != nullptr && slot->handoff_state() != HandoffState::kMoved) {
    return absl::AlreadyExistsError(absl::StrCat("topic '", std::string(topic),
                                                 "' is already held here"));
  }
  slot = std::make_shared<Topic>(std::string(topic), snapshot.epoch, limits_, worker_count_,
                                 &stats_, fan_out_, &snapshot);
  return slot;
}

void TopicRegistry::Forget(const std::shared_ptr<Topic>& topic) {
  Shard& shard = ShardOf(topic->name());
  absl::MutexLock lock(&shard.mu);
  auto it = shard.topics.find(AsAbsl(topic->name()));
  if (it != shard.topics.end() && it->second == topic) shard.topics.erase(it);
}

void TopicRegistry::Sweep(absl::Time now) {
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    absl::erase_if(shard.topics, [now](const auto& entry) {
      return entry.second->SweepAndMaybeFree(now);
    });
  }
}

}  // namespace ringcast::node
