// handoff_metrics.h — the Prometheus metrics of topic handoffs (docs/rebalancing.md "Metrics"):
// topics and bytes moved each way, transfers by result, cutover and whole-move durations, and
// publishes held (and the hold queue's depth) or refused while a topic was between owners.
//
// Thread safety: prometheus-cpp metrics are thread-safe.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/time/time.h"

namespace ringcast::node {

class HandoffMetrics {
 public:
  explicit HandoffMetrics(prometheus::Registry& registry);

  // Source side.
  void CountTopicMovedOut(absl::Duration cutover, absl::Duration whole_move);
  void AddBytesOut(double bytes) { bytes_out_.Increment(bytes); }
  void CountTransfer(bool ok) { (ok ? transfers_ok_ : transfers_failed_).Increment(); }
  void AddTopicsMoving(double delta) { topics_moving_.Increment(delta); }

  // Target side.
  void CountTopicMovedIn() { topics_in_.Increment(); }
  void AddBytesIn(double bytes) { bytes_in_.Increment(bytes); }
  void SetIncomingPartitions(double count) { incoming_partitions_.Set(count); }

  // A publish answered UNAVAILABLE (handoff_hold) because its topic was between owners (the
  // hold bound passed, or the hold queue was full).
  void CountPublishRefused() { publishes_refused_.Increment(); }
  // A publish entered the hold queue, which now holds `publishes` requests of `bytes`.
  void CountPublishHeld() { publishes_held_.Increment(); }
  void SetHoldQueue(double publishes, double bytes) {
    held_publishes_.Set(publishes);
    held_bytes_.Set(bytes);
  }

 private:
  prometheus::Family<prometheus::Counter>& topics_;
  prometheus::Family<prometheus::Counter>& bytes_;
  prometheus::Family<prometheus::Counter>& transfers_;
  prometheus::Counter& topics_out_;
  prometheus::Counter& topics_in_;
  prometheus::Counter& bytes_out_;
  prometheus::Counter& bytes_in_;
  prometheus::Counter& transfers_ok_;
  prometheus::Counter& transfers_failed_;
  prometheus::Counter& publishes_refused_;
  prometheus::Counter& publishes_held_;
  prometheus::Gauge& held_publishes_;
  prometheus::Gauge& held_bytes_;
  prometheus::Gauge& topics_moving_;
  prometheus::Gauge& incoming_partitions_;
  prometheus::Histogram& cutover_seconds_;
  prometheus::Histogram& move_seconds_;
};

}  // namespace ringcast::node
