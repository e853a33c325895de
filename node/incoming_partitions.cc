// incoming_partitions.cc — bookkeeping of gained partitions (see incoming_partitions.h).
#include "node/incoming_partitions.h"

#include <utility>

namespace ringcast::node {

IncomingPartitions::IncomingPartitions(std::string node_id, absl::Duration abandon_after,
                                       HandoffMetrics& metrics)
    : node_id_(std::move(node_id)), abandon_after_(abandon_after), metrics_(metrics) {}

void IncomingPartitions::CountWaiting() {
  if (waiting_.empty()) pending_topics_.clear();
  waiting_count_.store(waiting_.size(), std::memory_order_release);
  metrics_.SetIncomingPartitions(static_cast<double>(waiting_.size()));
}

void IncomingPartitions::Expire(absl::Time now) {
  if (waiting_count_.load(std::memory_order_acquire) == 0) return;
  absl::MutexLock lock(&mu_);
  AbandonStale(now);
}

void IncomingPartitions::OnRing(const Ring* previous, const Ring& current, absl::Time now) {
  absl::MutexLock lock(&mu_);
  for (const Member& member : current.members()) known_members_[member.id] = member;
  const Member* self = current.FindMember(node_id_);
  const bool was_member = previous != nullptr && previous->FindMember(node_id_) != nullptr;
  for (uint32_t p = 0; p < current.partition_count(); ++p) {
    const bool owned = self != nullptr && current.OwnerOf(p).id == node_id_;
    if (!owned) {
      if (waiting_.erase(p) > 0) lost_while_waiting_[p] = now;
      continue;
    }
    lost_while_waiting_.erase(p);
    const bool owned_before = was_member && previous->partition_count() == current.partition_count() &&
                              previous->OwnerOf(p).id == node_id_;
    // A node's first ring brings nothing to wait for; neither does a partition it kept.
    if (previous != nullptr && !owned_before && !previous->members().empty()) {
      waiting_.try_emplace(p, Waiting{now, false, previous->OwnerOf(p)});
    }
  }
  CountWaiting();
}

void IncomingPartitions::OnBegin(const std::string& source_id,
                                 absl::Span<const uint32_t> partitions,
                                 absl::Span<const std::string> topics, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto source = known_members_.find(source_id);
  for (uint32_t p : partitions) {
    auto it = waiting_.find(p);
    if (it != waiting_.end()) {
      it->second.since = now;
      it->second.begun = true;
      if (source != known_members_.end()) it->second.previous_owner = source->second;
    }
  }
  last_transfer_activity_ = now;
  pending_topics_.insert(topics.begin(), topics.end());
}

void IncomingPartitions::OnTopicArrived(std::string_view topic, absl::Time now) {
  absl::MutexLock lock(&mu_);
  pending_topics_.erase(std::string(topic));
  last_transfer_activity_ = now;
}

void IncomingPartitions::OnTransferDone(absl::Span<const uint32_t> partitions) {
  absl::MutexLock lock(&mu_);
  for (uint32_t p : partitions) {
    waiting_.erase(p);
    lost_while_waiting_.erase(p);
  }
  CountWaiting();
}

void IncomingPartitions::OnTransferBroken(absl::Span<const uint32_t> partitions,
                                          absl::Span<const std::string> unfinished,
                                          absl::Time now) {
  absl::MutexLock lock(&mu_);
  for (uint32_t p : partitions) {
    auto it = waiting_.find(p);
    if (it != waiting_.end()) it->second.since = now;
  }
  pending_topics_.insert(unfinished.begin(), unfinished.end());
}

std::optional<Member> IncomingPartitions::PreviousOwner(uint32_t partition) const {
  if (waiting_count_.load(std::memory_order_acquire) == 0) return std::nullopt;
  absl::MutexLock lock(&mu_);
  auto it = waiting_.find(partition);
  if (it == waiting_.end()) return std::nullopt;
  return it->second.previous_owner;
}

std::optional<Member> IncomingPartitions::ListedSource(std::string_view topic,
                                                       uint32_t partition) const {
  if (waiting_count_.load(std::memory_order_acquire) == 0) return std::nullopt;
  absl::MutexLock lock(&mu_);
  auto it = waiting_.find(partition);
  if (it == waiting_.end() || !it->second.begun || !pending_topics_.contains(std::string(topic))) {
    return std::nullopt;
  }
  return it->second.previous_owner;
}

bool IncomingPartitions::MayCreate(std::string_view topic, uint32_t partition, absl::Time now) {
  if (waiting_count_.load(std::memory_order_acquire) == 0) return true;
  absl::MutexLock lock(&mu_);
  AbandonStale(now);
  auto it = waiting_.find(partition);
  if (it == waiting_.end()) return true;
  return it->second.begun && !pending_topics_.contains(std::string(topic));
}

bool IncomingPartitions::LostWhileWaiting(uint32_t partition, absl::Time now) const {
  absl::MutexLock lock(&mu_);
  auto it = lost_while_waiting_.find(partition);
  return it != lost_while_waiting_.end() && now - it->second <= abandon_after_;
}

void IncomingPartitions::AbandonStale(absl::Time now) {
  absl::erase_if(lost_while_waiting_,
                 [&](const auto& entry) { return now - entry.second > abandon_after_; });
  // NOTE: while any transfer makes progress, nothing is abandoned.
  if (now - last_transfer_activity_ <= abandon_after_) return;
  const size_t before = waiting_.size();
  absl::erase_if(waiting_, [&](const auto& entry) {
    return now - entry.second.since > abandon_after_;
  });
  if (waiting_.size() != before) CountWaiting();
}

}  // namespace ringcast::node
