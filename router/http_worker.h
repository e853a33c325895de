// http_worker.h — one thread of the router's HTTP frontend (the thread, listener, accept loop and
// tick timer are sse::ServingWorker's, as on nodes): the requests it accepted and the proxied
// streams it serves. The worker's tick drives heartbeats and stream lifetimes of all its
// streams; the ring is read through a RingReader of this thread.
//
// Requests: /v1/topics/{topic}/events is proxied to the owner (or answered 307 in redirect
// mode), /v1/events is always proxied (multi_topic.h), /healthz and /metrics are answered here.
//
// Thread safety: Stop() may be called from any thread (it posts to the worker); Listen() and
// Start() before the thread runs; Join() from the controlling thread. Everything else runs on
// the worker's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <prometheus/registry.h>

#include "absl/container/flat_hash_map.h"
#include "ring/ring_holder.h"
#include "router/http_metrics.h"
#include "router/options.h"
#include "router/proxy_stream.h"
#include "sse/http_session.h"
#include "sse/request.h"
#include "sse/serving_worker.h"

namespace ringcast::router {

// What all workers of a frontend share. Constant after start-up or self-synchronised.
struct FrontendContext {
  const RouterOptions& options;
  const RingHolder& ring;
  prometheus::Registry& registry;
  HttpMetrics& metrics;
  const ProxySettings& proxy;
  std::atomic<int64_t>& connections;  // open client connections, streams included
};

// Listen(), Start(), Stop() and Join() are sse::ServingWorker's. Stop() ends every stream with
// a final retry: (503 for those still opening).
class HttpWorker final : public sse::ServingWorker {
 public:
  explicit HttpWorker(FrontendContext context);
  ~HttpWorker() override;

  // Proxied requests on this worker, opening or streaming (approximate from another thread).
  int64_t stream_count() const { return stream_count_.load(std::memory_order_relaxed); }

 private:
  using Request = sse::HttpSession::Request;

  // sse::ServingWorker
  void OnConnectionRefused() override;
  void CountRefusal(Refusal refusal) override;
  void ServeMetrics(const std::shared_ptr<sse::HttpSession>& session) override;
  // 503 while stopping or before the first ring; else RouteTopic() or RouteTopics().
  void ServeStream(const std::shared_ptr<sse::HttpSession>& session, const Request& request,
                   const sse::Target& target, Headers cors) override;
  void OnStop() override;
  void OnTick() override;

  void RespondUnavailable(const std::shared_ptr<sse::HttpSession>& session,
                          Unavailable reason, std::string body, Headers headers);
  // The current ring, or null before the first one arrived.
  const Ring* CurrentRing();
  void RouteTopic(const std::shared_ptr<sse::HttpSession>& session, const Request& request,
                  const sse::Target& target, Headers cors);
  void RouteTopics(const std::shared_ptr<sse::HttpSession>& session, const Request& request,
                   const sse::Target& target, Headers cors);
  void StartProxy(const std::shared_ptr<sse::HttpSession>& session, ProxyRequest request);
  void OnProxyDone(ProxyStream* stream);

  // Constant after construction.
  const FrontendContext context_;

  std::atomic<int64_t> stream_count_{0};

  // Worker-thread only.
  std::optional<RingReader> ring_reader_;  // made once the holder has a ring
  absl::flat_hash_map<ProxyStream*, std::shared_ptr<ProxyStream>> streams_;
  uint64_t heartbeats_sent_ = 0;  // not yet added to the metrics
};

}  // namespace ringcast::router
