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
             BufferStats* stats, FanOut* fan_out)
    : name_(std::move(name)),
      limits_(limits),
      stats_(stats),
      fan_out_(fan_out),
      epoch_(epoch),
      subscribers_per_worker_(worker_count, 0) {
  stats_->topics.fetch_add(1, std::memory_order_relaxed);
}

Topic::~Topic() {
  stats_->topics.fetch_sub(1, std::memory_order_relaxed);
  stats_->events.fetch_sub(static_cast<int64_t>(buffer_.size()), std::memory_order_relaxed);
  stats_->bytes.fetch_sub(static_cast<int64_t>(buffer_bytes_), std::memory_order_relaxed);
}

absl::StatusOr<AppendResult> Topic::Append(const AppendRequest& request, absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (freed_) return absl::AbortedError("topic was freed");
  if (std::optional<AppendResult> refused = CheckProducer(request)) return *refused;

  const sse::EventId id{epoch_, next_offset_++};
  sse::Frame frame = sse::MakeFrame(sse::EncodeEvent(id, request.type, request.data));
  buffer_bytes_ += frame->size();
  stats_->events.fetch_add(1, std::memory_order_relaxed);
  stats_->bytes.fetch_add(static_cast<int64_t>(frame->size()), std::memory_order_relaxed);
  buffer_.push_back({id.offset, now, frame});
  EvictOverLimits(now);
  if (!request.producer_id.empty()) RememberProducer(request.producer_id, request.sequence, id);

  if (subscribers_ > 0) {
    const std::shared_ptr<Topic> self = shared_from_this();
    for (size_t worker = 0; worker < subscribers_per_worker_.size(); ++worker) {
      if (subscribers_per_worker_[worker] > 0) fan_out_->Deliver(worker, self, id.offset, frame);
    }
  }
  return AppendResult{id, false};
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

std::shared_ptr<Topic> TopicRegistry::GetOrCreate(std::string_view name) {
  Shard& shard = shards_[absl::HashOf(AsAbsl(name)) % kShards];
  absl::MutexLock lock(&shard.mu);
  auto [it, inserted] = shard.topics.try_emplace(AsAbsl(name));
  if (inserted) {
    it->second = std::make_shared<Topic>(std::string(name), NextEpoch(), limits_, worker_count_,
                                         &stats_, fan_out_);
  }
  return it->second;
}

AppendResult TopicRegistry::Append(std::string_view topic, const AppendRequest& request,
                                   absl::Time now) {
  while (true) {
    // A topic freed between lookup and append refuses (ABORTED); the next lookup makes a new one.
    absl::StatusOr<AppendResult> result = GetOrCreate(topic)->Append(request, now);
    if (result.ok()) return *result;
  }
}

std::pair<std::shared_ptr<Topic>, Attachment> TopicRegistry::Attach(
    std::string_view topic, size_t worker, const std::optional<std::string>& resume) {
  while (true) {
    std::shared_ptr<Topic> found = GetOrCreate(topic);
    absl::StatusOr<Attachment> attachment = found->Attach(worker, resume);
    if (attachment.ok()) return {std::move(found), *std::move(attachment)};
  }
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
