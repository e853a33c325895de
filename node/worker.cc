// worker.cc — accepting connections, routing requests, opening event streams and fanning
// events out to this worker's subscribers (see worker.h).
#include "node/worker.h"

#include <boost/asio/post.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ring/ring_proto.h"
#include "sse/event.h"
#include "sse/request.h"
#include "sse/serving.h"

namespace ringcast::node {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

sse::ServingWorker::Options ServingOptionsOf(const NodeOptions& o) {
  return {.max_connections = o.max_connections,
          .refusal_reason = "node is at max_connections; retry",
          .refusal_retry_after_seconds = 1,
          .session_limits = {o.max_request_header_bytes, o.header_timeout},
          .max_topic_bytes = o.max_topic_bytes,
          .cors_allowed_origins = o.cors_allowed_origins,
          .not_found_body = "no such path; subscribe at /v1/topics/{topic}/events\n",
          .serves_multi_topic = false,
          .heartbeat_interval = o.heartbeat_interval,
          .max_stream_lifetime = o.max_stream_lifetime};
}

StreamEnd StreamEndOf(sse::SseStream::CloseReason reason) {
  switch (reason) {
    case sse::SseStream::CloseReason::kSlowConsumer:
      return StreamEnd::kSlowConsumer;
    case sse::SseStream::CloseReason::kWriteError:
      return StreamEnd::kWriteError;
    default:
      return StreamEnd::kClientGone;
  }
}

}  // namespace

Worker::Worker(size_t index, NodeContext context)
    : sse::ServingWorker(ServingOptionsOf(context.options), context.connections),
      index_(index),
      context_(context),
      retry_frame_(sse::MakeFrame(sse::EncodeRetry(
          static_cast<uint32_t>(absl::ToInt64Milliseconds(context.options.retry))))),
      open_frame_(sse::MakeFrame(sse::EncodeComment("ringcast stream open"))),
      handoff_retry_frame_(sse::MakeFrame(sse::EncodeRetry(
          static_cast<uint32_t>(absl::ToInt64Milliseconds(context.options.handoff_retry))))) {}

Worker::~Worker() { Join(); }

void Worker::OnStop() {
  std::vector<Subscriber*> all;
  for (auto& [stream, subscriber] : subscribers_) all.push_back(subscriber.get());
  for (Subscriber* subscriber : all) EndStream(*subscriber, StreamEnd::kShutdown);
}

void Worker::RunEvery(absl::Duration period, std::function<void()> task) {
  asio::post(io(), [this, period, task = std::move(task)]() mutable {
    periodic_period_ = period;
    periodic_task_ = std::move(task);
    SchedulePeriodic();
  });
}

void Worker::SchedulePeriodic() {
  periodic_timer_.expires_after(absl::ToChronoNanoseconds(periodic_period_));
  periodic_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    periodic_task_();
    SchedulePeriodic();
  });
}

void Worker::OnConnectionRefused() {
  context_.metrics.CountRejection(HttpRejection::kTooManyConnections);
  context_.metrics.CountHttpResponse(503);
}

void Worker::CountRefusal(Refusal refusal) {
  // The reason label of each Refusal, in Refusal's order.
  static constexpr HttpRejection kRejectionOf[] = {
      HttpRejection::kHeaderTooLarge, HttpRejection::kHeaderTimeout, HttpRejection::kMalformed,
      HttpRejection::kBadTopic,       HttpRejection::kNotFound,      HttpRejection::kMethod,
      HttpRejection::kHttpVersion};
  context_.metrics.CountRejection(kRejectionOf[static_cast<int>(refusal)]);
  // The session answered these itself, not through Respond().
  if (refusal == Refusal::kHeaderTooLarge) context_.metrics.CountHttpResponse(431);
  if (refusal == Refusal::kMalformed) context_.metrics.CountHttpResponse(400);
}

std::vector<sse::HttpSession::Header> Worker::CorsHeaders(
    const sse::HttpSession::Request& request) const {
  return sse::CorsHeaders(request, context_.options.cors_allowed_origins);
}

void Worker::Respond(const std::shared_ptr<sse::HttpSession>& session, http::status status,
                     std::string body, Headers headers) {
  context_.metrics.CountHttpResponse(static_cast<int>(status));
  session->Respond(status, std::move(body), std::move(headers));
}

void Worker::ServeMetrics(const std::shared_ptr<sse::HttpSession>& session) {
  context_.metrics.SetConnections(
      static_cast<double>(context_.connections.load(std::memory_order_relaxed)));
  context_.metrics.SetStreams(static_cast<double>(context_.streams.load(std::memory_order_relaxed)));
  Respond(session, http::status::ok, context_.metrics.Render(context_.topics.stats()),
          {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}});
}

void Worker::ServeStream(const std::shared_ptr<sse::HttpSession>& session,
                         const sse::HttpSession::Request& request, const sse::Target& target,
                         Headers cors) {
  const Member& owner = RingReader(context_.ring).Get().Lookup(target.topic);
  if (owner.id != context_.options.node_id) {
    context_.metrics.CountRedirect();
    cors.push_back({"Location", absl::StrCat(PublicUrlOf(owner), std::string(request.target()))});
    Respond(session, http::status::temporary_redirect,
            absl::StrCat("topic is owned by node ", owner.id, "\n"), std::move(cors));
    return;
  }
  // The Last-Event-ID header wins over the lastEventId query parameter.
  std::optional<std::string> resume = target.last_event_id;
  if (auto header = request.find("Last-Event-ID"); header != request.end()) {
    resume = std::string(header->value());
  }
  Subscribe(session, request, target.topic, std::move(resume));
}

std::string Worker::StreamHead(const sse::HttpSession::Request& request,
                               const sse::EventId& position) const {
  std::vector<sse::HttpSession::Header> headers = CorsHeaders(request);
  headers.push_back(sse::PositionHeader(position));
  return sse::EventStreamHead(headers);
}

void Worker::Subscribe(const std::shared_ptr<sse::HttpSession>& session,
                       const sse::HttpSession::Request& request, const std::string& topic_name,
                       std::optional<std::string> resume) {
  if (!MayServe(topic_name)) {
    Respond(session, http::status::service_unavailable,
            "this topic's history is moving to this node; retry\n",
            {{"Retry-After", "1"}});
    return;
  }
  absl::StatusOr<std::pair<std::shared_ptr<Topic>, Attachment>> attached =
      context_.topics.Attach(topic_name, index_, resume);
  if (!attached.ok()) {  // it moved away while the request was read
    Respond(session, http::status::service_unavailable,
            absl::StrCat(attached.status().message(), "; retry\n"), {{"Retry-After", "1"}});
    return;
  }
  auto& [topic, attachment] = *attached;

  std::vector<sse::Frame> first{open_frame_, retry_frame_};
  if (attachment.reset.has_value()) {
    context_.metrics.CountReset(*attachment.reset);
    first.push_back(sse::MakeFrame(sse::EncodeReset(*attachment.reset, resume.value_or(""),
                                                    attachment.epoch,
                                                    attachment.resume_offset)));
  }
  first.insert(first.end(), attachment.replay.begin(), attachment.replay.end());

  auto stream = std::make_shared<sse::SseStream>(
      session->TakeSocket(),
      sse::SseStream::Options{context_.options.max_queue_bytes_per_connection}, this,
      session->TakeToken());
  auto subscriber = std::make_unique<Subscriber>();
  subscriber->stream = stream;
  subscriber->topic = topic;
  subscriber->last_offset = attachment.last_offset;
  std::vector<Subscriber*>& peers = by_topic_[topic.get()];
  subscriber->index_in_topic = peers.size();
  peers.push_back(subscriber.get());
  subscribers_.emplace(stream.get(), std::move(subscriber));
  stream_count_.fetch_add(1, std::memory_order_relaxed);
  context_.streams.fetch_add(1, std::memory_order_relaxed);
  context_.metrics.CountStreamOpened();
  context_.metrics.CountHttpResponse(200);
  frames_sent_ += first.size();
  stream->Start(StreamHead(request, attachment.position()), std::move(first));
}

bool Worker::MayServe(const std::string& topic_name) {
  const uint32_t partition = RingReader(context_.ring).Get().PartitionOf(topic_name);
  return context_.incoming.MayCreate(topic_name, partition, absl::Now()) ||
         context_.topics.Find(topic_name) != nullptr;
}

void Worker::EndTopicStreams(const std::shared_ptr<Topic>& topic) {
  asio::post(io(), [this, topic] {
    auto it = by_topic_.find(topic.get());
    if (it == by_topic_.end()) return;
    const std::vector<Subscriber*> ending = it->second;
    for (Subscriber* subscriber : ending) EndStream(*subscriber, StreamEnd::kHandoff);
  });
}

void Worker::Deliver(const std::shared_ptr<Topic>& topic, uint64_t offset,
                     const sse::Frame& frame) {
  // NOTE: the shared_ptr keeps the topic alive until the hand-off runs, so its address cannot be
  // reused by another topic in the meantime.
  asio::post(io(), [this, topic, offset, frame] { DeliverHere(topic.get(), offset, frame); });
}

void Worker::DeliverHere(const Topic* topic, uint64_t offset, const sse::Frame& frame) {
  auto it = by_topic_.find(topic);
  if (it == by_topic_.end()) return;
  // NOTE: queueing may cut this subscriber's stream, which swap-removes it from `peers` (moving
  // the last entry, already visited, into its slot) and erases `peers` once it is empty (only
  // possible at index 0). Walking backwards therefore visits everyone once without copying
  // the list per event.
  std::vector<Subscriber*>& peers = it->second;
  for (size_t i = peers.size(); i-- > 0;) {
    Subscriber* subscriber = peers[i];
    if (offset <= subscriber->last_offset || !subscriber->stream->open()) continue;
    subscriber->last_offset = offset;
    ++frames_sent_;
    if (subscriber->stream->Queue(frame) && !subscriber->flush_pending) {
      subscriber->flush_pending = true;
      to_flush_.push_back(subscriber->stream);
    }
  }
  // One flush after every hand-off already waiting: under load, the events queued meanwhile
  // leave in one gather write per stream instead of one write per event.
  if (!to_flush_.empty() && !flush_posted_) {
    flush_posted_ = true;
    asio::post(io(), [this] { FlushQueued(); });
  }
}

void Worker::FlushQueued() {
  flush_posted_ = false;
  std::vector<std::shared_ptr<sse::SseStream>> streams;
  streams.swap(to_flush_);
  for (const std::shared_ptr<sse::SseStream>& stream : streams) {
    auto it = subscribers_.find(stream.get());
    if (it != subscribers_.end()) it->second->flush_pending = false;
    stream->Flush();
  }
}

void Worker::EndStream(Subscriber& subscriber, StreamEnd cause) {
  subscriber.end_cause = cause;
  subscriber.stream->End(cause == StreamEnd::kHandoff ? handoff_retry_frame_ : retry_frame_);
}

void Worker::OnStreamClosed(sse::SseStream& stream, sse::SseStream::CloseReason reason) {
  auto it = subscribers_.find(&stream);
  if (it == subscribers_.end()) return;
  std::unique_ptr<Subscriber> subscriber = std::move(it->second);
  subscribers_.erase(it);
  context_.metrics.CountStreamEnd(reason == sse::SseStream::CloseReason::kEnded
                                      ? subscriber->end_cause
                                      : StreamEndOf(reason));
  // Swap-remove from the topic's list.
  auto peers_it = by_topic_.find(subscriber->topic.get());
  std::vector<Subscriber*>& peers = peers_it->second;
  Subscriber* moved = peers.back();
  peers[subscriber->index_in_topic] = moved;
  moved->index_in_topic = subscriber->index_in_topic;
  peers.pop_back();
  if (peers.empty()) by_topic_.erase(peers_it);
  subscriber->topic->Detach(index_);
  stream_count_.fetch_sub(1, std::memory_order_relaxed);
  context_.streams.fetch_sub(1, std::memory_order_relaxed);
}

void Worker::OnTick() {
  const absl::Time now = absl::Now();
  // Sending may close a stream and erase it from subscribers_: collect first, act after.
  std::vector<Subscriber*> expired;
  std::vector<Subscriber*> idle;
  for (auto& [stream, subscriber] : subscribers_) {
    const TickVerdict verdict = CheckOnTick(*subscriber->stream, subscriber->idle_ticks, now);
    if (verdict == TickVerdict::kExpired) expired.push_back(subscriber.get());
    if (verdict == TickVerdict::kHeartbeatDue) idle.push_back(subscriber.get());
  }
  for (Subscriber* subscriber : expired) EndStream(*subscriber, StreamEnd::kLifetime);
  for (Subscriber* subscriber : idle) {
    if (subscribers_.contains(subscriber->stream.get())) {
      ++heartbeats_sent_;
      subscriber->stream->Send(heartbeat_frame());
    }
  }
  context_.metrics.AddDelivered(static_cast<double>(frames_sent_ + heartbeats_sent_));
  context_.metrics.AddHeartbeats(static_cast<double>(heartbeats_sent_));
  frames_sent_ = 0;
  heartbeats_sent_ = 0;
}

}  // namespace ringcast::node
