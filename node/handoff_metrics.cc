// handoff_metrics.cc — registration of the handoff metrics (see handoff_metrics.h).
#include "node/handoff_metrics.h"

namespace ringcast::node {
namespace {

prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& registry,
                                                       const std::string& name,
                                                       const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Gauge& SingleGauge(prometheus::Registry& registry, const std::string& name,
                               const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Histogram::BucketBoundaries SecondsBuckets() {
  return {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5};
}

}  // namespace

HandoffMetrics::HandoffMetrics(prometheus::Registry& registry)
    : topics_(CounterFamily(registry, "ringcast_handoff_topics_total",
                            "Topics handed off, by direction (out: this node was the source)")),
      bytes_(CounterFamily(registry, "ringcast_handoff_bytes_total",
                           "Encoded event bytes copied by handoffs, by direction")),
      transfers_(CounterFamily(registry, "ringcast_handoff_transfers_total",
                               "Transfer streams this node opened as source, by result")),
      topics_out_(topics_.Add({{"direction", "out"}})),
      topics_in_(topics_.Add({{"direction", "in"}})),
      bytes_out_(bytes_.Add({{"direction", "out"}})),
      bytes_in_(bytes_.Add({{"direction", "in"}})),
      transfers_ok_(transfers_.Add({{"result", "ok"}})),
      transfers_failed_(transfers_.Add({{"result", "failed"}})),
      publishes_refused_(CounterFamily(registry, "ringcast_handoff_publishes_refused_total",
                                       "Publishes answered UNAVAILABLE (handoff_hold) while "
                                       "their topic was between owners")
                             .Add({})),
      publishes_held_(CounterFamily(registry, "ringcast_handoff_publishes_held_total",
                                    "Publishes held while their topic was between owners")
                          .Add({})),
      held_publishes_(SingleGauge(registry, "ringcast_handoff_hold_queue_publishes",
                                  "Publishes waiting in the hold queue now")),
      held_bytes_(SingleGauge(registry, "ringcast_handoff_hold_queue_bytes",
                              "Bytes of the publishes waiting in the hold queue now")),
      topics_moving_(SingleGauge(registry, "ringcast_handoff_topics_moving",
                                 "Topics this node is handing off now (copying or sealed)")),
      incoming_partitions_(SingleGauge(registry, "ringcast_handoff_incoming_partitions",
                                       "Partitions gained whose history has not arrived yet")),
      cutover_seconds_(prometheus::BuildHistogram()
                           .Name("ringcast_handoff_cutover_seconds")
                           .Help("Seal to activation of one topic, at the source")
                           .Register(registry)
                           .Add({}, SecondsBuckets())),
      move_seconds_(prometheus::BuildHistogram()
                        .Name("ringcast_handoff_move_seconds")
                        .Help("Snapshot to activation of one topic, at the source")
                        .Register(registry)
                        .Add({}, SecondsBuckets())) {}

void HandoffMetrics::CountTopicMovedOut(absl::Duration cutover, absl::Duration whole_move) {
  topics_out_.Increment();
  cutover_seconds_.Observe(absl::ToDoubleSeconds(cutover));
  move_seconds_.Observe(absl::ToDoubleSeconds(whole_move));
}

}  // namespace ringcast::node
