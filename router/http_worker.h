// http_worker.h — one thread of the router's HTTP frontend: its own io_context, its own
// listening socket on the shared port (SO_REUSEPORT), the requests it accepted and the proxied
// streams it serves. Mirrors node/worker.h: one heartbeat timer per worker drives heartbeats and
// stream lifetimes of all its streams; the ring is read through a RingReader of this thread.
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
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <prometheus/registry.h>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "ring/ring_holder.h"
#include "router/http_metrics.h"
#include "router/options.h"
#include "router/proxy_stream.h"
#include "sse/http_session.h"
#include "sse/request.h"

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

class HttpWorker final : public sse::HttpSession::Handler {
 public:
  explicit HttpWorker(FrontendContext context);
  ~HttpWorker() override;

  // Opens this worker's listening socket on `endpoint` (SO_REUSEPORT). Returns the bound
  // endpoint, so a first worker can bind port 0 and the others the port it got.
  absl::StatusOr<boost::asio::ip::tcp::endpoint> Listen(
      const boost::asio::ip::tcp::endpoint& endpoint);

  // Starts the thread.
  void Start();

  // Stops accepting; ends every stream with a final retry: (503 for those still opening).
  // Any thread.
  void Stop();

  // Stops the event loop and joins the thread.
  void Join();

  // Proxied requests on this worker, opening or streaming (approximate from another thread).
  int64_t stream_count() const { return stream_count_.load(std::memory_order_relaxed); }

 private:
  using Request = sse::HttpSession::Request;
  using Headers = std::vector<sse::HttpSession::Header>;

  // sse::HttpSession::Handler
  void OnRequest(const std::shared_ptr<sse::HttpSession>& session, Request request) override;
  void OnRejected(sse::HttpSession::Rejection rejection) override;

  void DoAccept();
  void Reject(const std::shared_ptr<sse::HttpSession>& session, Rejection rejection,
              boost::beast::http::status status, std::string body, Headers headers);
  void RespondUnavailable(const std::shared_ptr<sse::HttpSession>& session,
                          Unavailable reason, std::string body, Headers headers);
  void ServeMetrics(const std::shared_ptr<sse::HttpSession>& session);
  // The current ring, or null before the first one arrived.
  const Ring* CurrentRing();
  void RouteTopic(const std::shared_ptr<sse::HttpSession>& session, const Request& request,
                  const sse::Target& target, Headers cors);
  void RouteTopics(const std::shared_ptr<sse::HttpSession>& session, const Request& request,
                   const sse::Target& target, Headers cors);
  void StartProxy(const std::shared_ptr<sse::HttpSession>& session, ProxyRequest request);
  void OnProxyDone(ProxyStream* stream);
  void ScheduleTick();
  void OnTick();

  // Constant after construction.
  const FrontendContext context_;
  const sse::Frame heartbeat_frame_;

  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  boost::asio::steady_timer tick_timer_{io_};
  std::thread thread_;
  std::atomic<int64_t> stream_count_{0};

  // Worker-thread only.
  std::optional<RingReader> ring_reader_;  // made once the holder has a ring
  absl::flat_hash_map<ProxyStream*, std::shared_ptr<ProxyStream>> streams_;
  bool stopping_ = false;
  uint64_t heartbeats_sent_ = 0;  // not yet added to the metrics
};

}  // namespace ringcast::router
