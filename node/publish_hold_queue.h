// publish_hold_queue.h — publishes that wait at the node (docs/rebalancing.md "Hold queue"; for
// now those naming a ring the node has not received): per topic in arrival order, bounded in
// bytes.
// PublisherServer queues a request here when PublisherService answers it `Held`, and a new
// request for a topic that has waiters queues behind them, so a topic's publishes keep their
// order. Only the first waiter of a topic asks again; when it leaves, the next one is woken.
//
//   PublishHoldQueue holds(16 << 20, handoff_metrics);
//   if (holds.HasWaiting(topic) || held) holds.Enter(topic, bytes, this);  // false: full
//   ... holds.IsFirst(topic, this) ... holds.Leave(topic, this);
//
// Thread safety: none; the publisher server's one thread owns it.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "node/handoff_metrics.h"

namespace ringcast::node {

class PublishHoldQueue {
 public:
  // A held publish.
  class Waiter {
   public:
    // It became the first of its topic, or the server is stopping: it should look again soon.
    virtual void Wake() = 0;

   protected:
    ~Waiter() = default;
  };

  PublishHoldQueue(size_t max_bytes, HandoffMetrics& metrics)
      : max_bytes_(max_bytes), metrics_(metrics) {}
  PublishHoldQueue(const PublishHoldQueue&) = delete;
  PublishHoldQueue& operator=(const PublishHoldQueue&) = delete;

  // Whether publishes for `topic` are waiting (a new one must queue behind them).
  bool HasWaiting(std::string_view topic) const;

  // Queues `waiter` last for `topic`, counting `bytes` against the bound. False, with nothing
  // queued, when the bound would be passed.
  bool Enter(const std::string& topic, size_t bytes, Waiter* waiter);

  // Whether `waiter` is the first of `topic`.
  bool IsFirst(const std::string& topic, const Waiter* waiter) const;

  // Removes `waiter` of `topic`; when it was the first, wakes the next one.
  void Leave(const std::string& topic, Waiter* waiter);

  // Wakes every waiter.
  void WakeAll();

 private:
  struct Entry {
    Waiter* waiter;
    size_t bytes;
  };

  void PublishDepth();

  const size_t max_bytes_;
  HandoffMetrics& metrics_;
  absl::flat_hash_map<std::string, std::deque<Entry>> topics_;  // no empty deque
  size_t publishes_ = 0;
  size_t bytes_ = 0;
};

}  // namespace ringcast::node
