// http_frontend.cc — starting the frontend's workers and stopping them in order (see
// http_frontend.h).
#include "router/http_frontend.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <utility>

#include "absl/time/clock.h"
#include "sse/event.h"
#include "sse/serving.h"

namespace ringcast::router {
namespace {

ProxySettings MakeProxySettings(const RouterOptions& options) {
  const int64_t retry_ms = absl::ToInt64Milliseconds(options.retry);
  ProxySettings settings;
  settings.open_frame = sse::MakeFrame(sse::EncodeComment("ringcast stream open"));
  settings.retry_frame = sse::MakeFrame(sse::EncodeRetry(static_cast<uint32_t>(retry_ms)));
  // Retry-After is in whole seconds; round the retry hint up, at least 1.
  settings.retry_after_seconds = static_cast<int>(std::max<int64_t>(1, (retry_ms + 999) / 1000));
  settings.max_queue_bytes = options.max_queue_bytes_per_connection;
  settings.upstream.connect_timeout = options.upstream_connect_timeout;
  settings.resume_timeout = options.upstream_resume_timeout;
  return settings;
}

}  // namespace

HttpFrontend::HttpFrontend(const RouterOptions& options, const RingHolder& ring,
                           std::shared_ptr<prometheus::Registry> registry)
    : options_(options),
      ring_(ring),
      registry_(std::move(registry)),
      metrics_(*registry_),
      proxy_(MakeProxySettings(options)) {}

HttpFrontend::~HttpFrontend() { Shutdown(); }

absl::StatusOr<std::unique_ptr<HttpFrontend>> HttpFrontend::Start(
    const RouterOptions& options, const RingHolder& ring,
    std::shared_ptr<prometheus::Registry> registry) {
  std::unique_ptr<HttpFrontend> frontend(new HttpFrontend(options, ring, std::move(registry)));
  if (absl::Status s = frontend->Listen(); !s.ok()) return s;
  for (auto& worker : frontend->workers_) worker->Start();
  return frontend;
}

absl::Status HttpFrontend::Listen() {
  absl::StatusOr<boost::asio::ip::tcp::endpoint> endpoint =
      sse::ParseEndpoint(options_.http_listen);
  if (!endpoint.ok()) return endpoint.status();
  const size_t worker_count = options_.worker_threads > 0
                                  ? static_cast<size_t>(options_.worker_threads)
                                  : std::max(1u, std::thread::hardware_concurrency());
  const FrontendContext context{options_, ring_, *registry_, metrics_, proxy_, connections_};
  // Every worker listens on the same port (SO_REUSEPORT); the first one picks it.
  for (size_t i = 0; i < worker_count; ++i) {
    workers_.push_back(std::make_unique<HttpWorker>(context));
    absl::StatusOr<boost::asio::ip::tcp::endpoint> bound = workers_.back()->Listen(*endpoint);
    if (!bound.ok()) return bound.status();
    *endpoint = *bound;
  }
  http_address_ = sse::FormatEndpoint(*endpoint);
  return absl::OkStatus();
}

void HttpFrontend::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  for (auto& worker : workers_) worker->Stop();
  // Streams end with retry:; give them shutdown_grace to flush it. Polling is fine here: this
  // runs once per process life.
  const absl::Time deadline = absl::Now() + options_.shutdown_grace;
  auto open_streams = [this] {
    int64_t total = 0;
    for (const auto& worker : workers_) total += worker->stream_count();
    return total;
  };
  while (open_streams() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  for (auto& worker : workers_) worker->Join();
}

}  // namespace ringcast::router
