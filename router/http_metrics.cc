// http_metrics.cc — registering the subscribe side's metrics (see http_metrics.h).
#include "router/http_metrics.h"

#include <iterator>

namespace ringcast::router {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;

constexpr const char* kUnavailableNames[] = {"no_ring",       "owner_unreachable",
                                             "owner_error",   "redirect_loop",
                                             "too_many_connections", "shutting_down"};
constexpr const char* kRejectionNames[] = {"header_too_large", "header_timeout", "malformed",
                                           "bad_request",      "http_version",   "method",
                                           "not_found"};
constexpr const char* kStreamEndNames[] = {"client_gone",    "slow_consumer", "write_error",
                                           "upstream_ended", "lifetime",      "shutdown"};
constexpr const char* kUpstreamResumeNames[] = {"ok", "retry", "timeout"};
static_assert(std::size(kUnavailableNames) == static_cast<size_t>(Unavailable::kCount));
static_assert(std::size(kRejectionNames) == static_cast<size_t>(Rejection::kCount));
static_assert(std::size(kStreamEndNames) == static_cast<size_t>(StreamEnd::kCount));
static_assert(std::size(kUpstreamResumeNames) == static_cast<size_t>(UpstreamResume::kCount));

template <size_t N>
void AddLabelled(prometheus::Family<prometheus::Counter>& family, const char* label,
                 const char* const (&names)[N], prometheus::Counter* (&out)[N]) {
  for (size_t i = 0; i < N; ++i) out[i] = &family.Add({{label, names[i]}});
}

}  // namespace

HttpMetrics::HttpMetrics(prometheus::Registry& registry)
    : redirects_(BuildCounter()
                     .Name("ringcast_router_redirects_total")
                     .Help("307 redirects to a topic's owner (--mode=redirect)")
                     .Register(registry)
                     .Add({})),
      upstream_redirects_(BuildCounter()
                              .Name("ringcast_router_upstream_redirects_total")
                              .Help("307s from nodes that the proxy followed (the node's ring "
                                    "was newer)")
                              .Register(registry)
                              .Add({})),
      streams_opened_(BuildCounter()
                          .Name("ringcast_router_streams_opened_total")
                          .Help("Client event streams opened (single- and multi-topic)")
                          .Register(registry)
                          .Add({})),
      relayed_(BuildCounter()
                   .Name("ringcast_router_events_relayed_total")
                   .Help("Events relayed from nodes to clients")
                   .Register(registry)
                   .Add({})),
      heartbeats_(BuildCounter()
                      .Name("ringcast_router_heartbeats_total")
                      .Help("Heartbeat comments queued on idle client streams")
                      .Register(registry)
                      .Add({})),
      streams_(BuildGauge()
                   .Name("ringcast_router_streams")
                   .Help("Open client event streams")
                   .Register(registry)
                   .Add({})),
      upstreams_(BuildGauge()
                     .Name("ringcast_router_upstreams")
                     .Help("Open upstream connections to nodes (opening or streaming)")
                     .Register(registry)
                     .Add({})),
      connections_(BuildGauge()
                       .Name("ringcast_router_connections")
                       .Help("Open client HTTP connections, streams included")
                       .Register(registry)
                       .Add({})) {
  AddLabelled(BuildCounter()
                               .Name("ringcast_router_unavailable_total")
                               .Help("Subscribes answered 503 + Retry-After, by reason")
                               .Register(registry),
                           "reason", kUnavailableNames, unavailable_);
  AddLabelled(BuildCounter()
                             .Name("ringcast_router_rejected_total")
                             .Help("Requests refused with a 4xx or closed, by reason")
                             .Register(registry),
                         "reason", kRejectionNames, rejected_);
  AddLabelled(BuildCounter()
                             .Name("ringcast_router_streams_closed_total")
                             .Help("Client event streams closed, by cause")
                             .Register(registry),
                         "cause", kStreamEndNames, stream_ends_);
  AddLabelled(BuildCounter()
                  .Name("ringcast_router_upstream_resumes_total")
                  .Help("Attempts to resume an upstream that ended mid-stream (handoff, node "
                        "shutdown, broken connection) at the topic's current owner, by result")
                  .Register(registry),
              "result", kUpstreamResumeNames, upstream_resumes_);
}

}  // namespace ringcast::router
