// publish_hold_queue.cc — the per-topic queues of held publishes (see publish_hold_queue.h).
#include "node/publish_hold_queue.h"

#include <algorithm>

namespace ringcast::node {
namespace {

// NOTE: Debian's abseil has its own string_view; heterogeneous map lookups need that type.
absl::string_view AsAbsl(std::string_view text) { return {text.data(), text.size()}; }

}  // namespace

bool PublishHoldQueue::HasWaiting(std::string_view topic) const {
  return !topics_.empty() && topics_.contains(AsAbsl(topic));
}

bool PublishHoldQueue::Enter(const std::string& topic, size_t bytes, Waiter* waiter) {
  if (bytes_ + bytes > max_bytes_) return false;
  topics_[topic].push_back({waiter, bytes});
  ++publishes_;
  bytes_ += bytes;
  metrics_.CountPublishHeld();
  PublishDepth();
  return true;
}

bool PublishHoldQueue::IsFirst(const std::string& topic, const Waiter* waiter) const {
  auto it = topics_.find(topic);
  return it != topics_.end() && it->second.front().waiter == waiter;
}

void PublishHoldQueue::Leave(const std::string& topic, Waiter* waiter) {
  auto it = topics_.find(topic);
  if (it == topics_.end()) return;
  std::deque<Entry>& waiters = it->second;
  auto entry = std::find_if(waiters.begin(), waiters.end(),
                            [waiter](const Entry& e) { return e.waiter == waiter; });
  if (entry == waiters.end()) return;
  const bool was_first = entry == waiters.begin();
  --publishes_;
  bytes_ -= entry->bytes;
  waiters.erase(entry);
  PublishDepth();
  if (waiters.empty()) {
    topics_.erase(it);
  } else if (was_first) {
    waiters.front().waiter->Wake();
  }
}

void PublishHoldQueue::WakeAll() {
  for (auto& [topic, waiters] : topics_) {
    for (const Entry& entry : waiters) entry.waiter->Wake();
  }
}

void PublishHoldQueue::PublishDepth() {
  metrics_.SetHoldQueue(static_cast<double>(publishes_), static_cast<double>(bytes_));
}

}  // namespace ringcast::node
