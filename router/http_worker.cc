// http_worker.cc — accepting, routing requests by the ring, and driving the heartbeats of the
// proxied streams of one worker thread (see http_worker.h).
#include "router/http_worker.h"

#include <algorithm>
#include <utility>

#include <prometheus/text_serializer.h>

#include "absl/strings/str_cat.h"
#include "ring/ring_proto.h"
#include "router/multi_topic.h"
#include "sse/request.h"
#include "sse/serving.h"

namespace ringcast::router {

namespace http = boost::beast::http;

namespace {

sse::ServingWorker::Options ServingOptionsOf(const FrontendContext& context) {
  const RouterOptions& o = context.options;
  return {.max_connections = o.max_connections,
          .refusal_reason = "router is at max_connections; retry",
          .refusal_retry_after_seconds = context.proxy.retry_after_seconds,
          .session_limits = {o.max_request_header_bytes, o.header_timeout},
          .max_topic_bytes = o.max_topic_bytes,
          .cors_allowed_origins = o.cors_allowed_origins,
          .not_found_body = "no such path; subscribe at /v1/topics/{topic}/events or "
                            "/v1/events?topic=a&topic=b\n",
          .serves_multi_topic = true,
          .heartbeat_interval = o.heartbeat_interval,
          .max_stream_lifetime = o.max_stream_lifetime};
}

// A resume point no node can parse: each node answers it with its `ringcast.reset` event
// (reason "malformed"). Sent per topic when a multi-topic id cannot be decoded.
constexpr std::string_view kUnreadableResumePoint = "unreadable-multi-topic-id";

// The Last-Event-ID header, else the lastEventId query parameter.
std::optional<std::string> ResumePointOf(const sse::HttpSession::Request& request,
                                         const sse::Target& target) {
  if (auto header = request.find("Last-Event-ID"); header != request.end()) {
    return std::string(header->value());
  }
  return target.last_event_id;
}

}  // namespace

HttpWorker::HttpWorker(FrontendContext context)
    : sse::ServingWorker(ServingOptionsOf(context), context.connections), context_(context) {}

HttpWorker::~HttpWorker() { Join(); }

void HttpWorker::OnStop() {
  // Stopping a stream may finish it and erase it from streams_: collect first.
  std::vector<std::shared_ptr<ProxyStream>> all;
  for (auto& [raw, stream] : streams_) all.push_back(stream);
  for (const std::shared_ptr<ProxyStream>& stream : all) stream->Stop(StreamEnd::kShutdown);
}

void HttpWorker::OnConnectionRefused() {
  context_.metrics.CountUnavailable(Unavailable::kTooManyConnections);
}

void HttpWorker::CountRefusal(Refusal refusal) {
  // The reason label of each Refusal, in Refusal's order.
  static constexpr Rejection kRejectionOf[] = {
      Rejection::kHeaderTooLarge, Rejection::kHeaderTimeout, Rejection::kMalformed,
      Rejection::kBadRequest,     Rejection::kNotFound,      Rejection::kMethod,
      Rejection::kHttpVersion};
  context_.metrics.CountRejection(kRejectionOf[static_cast<int>(refusal)]);
}

void HttpWorker::RespondUnavailable(const std::shared_ptr<sse::HttpSession>& session,
                                    Unavailable reason, std::string body, Headers headers) {
  context_.metrics.CountUnavailable(reason);
  headers.push_back({"Retry-After", std::to_string(context_.proxy.retry_after_seconds)});
  session->Respond(http::status::service_unavailable, std::move(body), std::move(headers));
}

void HttpWorker::ServeMetrics(const std::shared_ptr<sse::HttpSession>& session) {
  context_.metrics.SetConnections(
      static_cast<double>(context_.connections.load(std::memory_order_relaxed)));
  session->Respond(http::status::ok,
                   prometheus::TextSerializer().Serialize(context_.registry.Collect()),
                   {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}});
}

const Ring* HttpWorker::CurrentRing() {
  if (!ring_reader_.has_value()) {
    // Versions only grow, so once the holder has a ring it always has one.
    if (context_.ring.Load() == nullptr) return nullptr;
    ring_reader_.emplace(context_.ring);
  }
  return &ring_reader_->Get();
}

void HttpWorker::ServeStream(const std::shared_ptr<sse::HttpSession>& session,
                             const Request& request, const sse::Target& target, Headers cors) {
  if (stopping()) {
    RespondUnavailable(session, Unavailable::kShuttingDown, "the router is shutting down\n",
                       std::move(cors));
    return;
  }
  if (CurrentRing() == nullptr) {
    RespondUnavailable(session, Unavailable::kNoRing,
                       "no_ring: the router has not received the ring yet\n", std::move(cors));
    return;
  }
  if (target.kind == sse::TargetKind::kTopicEvents) {
    RouteTopic(session, request, target, std::move(cors));
  } else {
    RouteTopics(session, request, target, std::move(cors));
  }
}

void HttpWorker::RouteTopic(const std::shared_ptr<sse::HttpSession>& session,
                            const Request& request, const sse::Target& target, Headers cors) {
  const Member& owner = CurrentRing()->Lookup(target.topic);
  if (context_.options.mode == RouterOptions::Mode::kRedirect) {
    context_.metrics.CountRedirect();
    cors.push_back({"Location", PublicUrlOf(owner) + std::string(request.target())});
    session->Respond(http::status::temporary_redirect,
                     absl::StrCat("topic is owned by node ", owner.id, "\n"), std::move(cors));
    return;
  }
  ProxyRequest proxy;
  proxy.topics.push_back({target.topic, owner.http_address, std::string(request.target()),
                          ResumePointOf(request, target)});
  proxy.cors = std::move(cors);
  StartProxy(session, std::move(proxy));
}

void HttpWorker::RouteTopics(const std::shared_ptr<sse::HttpSession>& session,
                             const Request& request, const sse::Target& target, Headers cors) {
  absl::StatusOr<std::vector<std::string>> topics = ParseTopicList(
      target.query, context_.options.max_topics_per_stream, context_.options.max_topic_bytes);
  if (!topics.ok()) {
    context_.metrics.CountRejection(Rejection::kBadRequest);
    Respond(session, http::status::bad_request, std::string(topics.status().message()) + "\n",
            std::move(cors));
    return;
  }
  // Each topic resumes from its own position in the stream's id; an id that cannot be read
  // resets every topic (never a 400).
  std::vector<TopicPosition> positions(topics->size());
  std::optional<std::string> unreadable;
  if (std::optional<std::string> resume = ResumePointOf(request, target); resume.has_value()) {
    absl::StatusOr<std::vector<TopicPosition>> decoded = DecodeMultiTopicId(*resume, *topics);
    if (decoded.ok()) {
      positions = *std::move(decoded);
    } else {
      unreadable = std::string(kUnreadableResumePoint);
    }
  }
  const Ring& ring = *CurrentRing();
  ProxyRequest proxy;
  for (size_t i = 0; i < topics->size(); ++i) {
    const std::string& topic = (*topics)[i];
    std::optional<std::string> last_event_id = unreadable;
    if (positions[i].has_value()) last_event_id = positions[i]->ToString();
    proxy.topics.push_back({topic, ring.Lookup(topic).http_address,
                            absl::StrCat("/v1/topics/", topic, "/events"),
                            std::move(last_event_id)});
  }
  proxy.cursor.emplace(*std::move(topics), std::move(positions));
  proxy.cors = std::move(cors);
  StartProxy(session, std::move(proxy));
}

void HttpWorker::StartProxy(const std::shared_ptr<sse::HttpSession>& session,
                            ProxyRequest request) {
  // The ring is read again whenever an upstream resumes (CurrentRing() is set by now).
  auto stream = std::make_shared<ProxyStream>(
      io().get_executor(), context_.proxy, context_.metrics, session, std::move(request),
      [this](const std::string& topic) { return CurrentRing()->Lookup(topic).http_address; },
      [this](ProxyStream* done) { OnProxyDone(done); });
  streams_.emplace(stream.get(), stream);
  stream_count_.fetch_add(1, std::memory_order_relaxed);
  stream->Open();
}

void HttpWorker::OnProxyDone(ProxyStream* stream) {
  context_.metrics.AddRelayed(static_cast<double>(stream->TakeRelayed()));
  if (streams_.erase(stream) > 0) stream_count_.fetch_sub(1, std::memory_order_relaxed);
}

void HttpWorker::OnTick() {
  const absl::Time now = absl::Now();
  uint64_t relayed = 0;
  // Sending may close a stream and erase it from streams_: collect first, act after.
  std::vector<std::shared_ptr<ProxyStream>> expired;
  std::vector<std::shared_ptr<ProxyStream>> idle;
  for (auto& [raw, stream] : streams_) {
    relayed += stream->TakeRelayed();
    sse::SseStream* client = stream->client_stream();
    if (client == nullptr) continue;
    const TickVerdict verdict = CheckOnTick(*client, stream->idle_ticks, now);
    if (verdict == TickVerdict::kExpired) expired.push_back(stream);
    if (verdict == TickVerdict::kHeartbeatDue) idle.push_back(stream);
  }
  for (const std::shared_ptr<ProxyStream>& stream : expired) stream->Stop(StreamEnd::kLifetime);
  for (const std::shared_ptr<ProxyStream>& stream : idle) {
    if (stream->client_stream() != nullptr && stream->client_stream()->open()) {
      ++heartbeats_sent_;
      stream->client_stream()->Send(heartbeat_frame());
    }
  }
  context_.metrics.AddRelayed(static_cast<double>(relayed));
  context_.metrics.AddHeartbeats(static_cast<double>(heartbeats_sent_));
  heartbeats_sent_ = 0;
}

}  // namespace ringcast::router
