// handoff_metrics.cc — registration of the handoff metrics (see handoff_metrics.h).
#include "node/handoff_metrics.h"

namespace ringcast::node {
namespace {

prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& registry,
                                                       const std::string& name,
                                                       const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
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
      topics_moving_(prometheus::BuildGauge()
                         .Name("ringcast_handoff_topics_moving")
                         .Help("Topics this node is handing off now (copying or sealed)")
                         .Register(registry)
                         .Add({})),
      incoming_partitions_(prometheus::BuildGauge()
                               .Name("ringcast_handoff_incoming_partitions")
                               .Help("Partitions gained whose history has not arrived yet")
                               .Register(registry)
                               .Add({})),
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
