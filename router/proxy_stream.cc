// proxy_stream.cc — relaying node streams into one client stream (see proxy_stream.h).
//
// NOTE: the events that arrive before every upstream has answered (a resumed topic's replay)
// are held until the client's 200 goes out, because until then one unreachable owner turns the
// whole request into a 503. That wait is bounded by upstream_connect_timeout, and the bytes by
// the nodes' replay buffers; after the 200 nothing is held.
//
// NOTE: a resumed upstream replaces the ended one in upstreams_ (same index), so the listener
// never hears from an upstream it gave up on; each topic's Resume keeps the deadline and the
// backoff across the attempts of one resume.
#include "router/proxy_stream.h"

#include <algorithm>
#include <string>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/beast/http/status.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sse/event.h"
#include "sse/serving.h"

namespace ringcast::router {

namespace http = boost::beast::http;

namespace {

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

Unavailable UnavailableOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kFailedPrecondition:
      return Unavailable::kOwnerError;
    case absl::StatusCode::kAborted:
      return Unavailable::kRedirectLoop;
    default:
      return Unavailable::kOwnerUnreachable;
  }
}

}  // namespace

ProxyStream::ProxyStream(boost::asio::any_io_executor executor, const ProxySettings& settings,
                         HttpMetrics& metrics, std::shared_ptr<sse::HttpSession> session,
                         ProxyRequest request, OwnerResolver owner_of,
                         std::function<void(ProxyStream*)> on_done)
    : executor_(std::move(executor)),
      settings_(settings),
      metrics_(metrics),
      session_(std::move(session)),
      request_(std::move(request)),
      owner_of_(std::move(owner_of)),
      on_done_(std::move(on_done)) {}

void ProxyStream::Open() {
  metrics_.AddUpstreams(static_cast<double>(request_.topics.size()));
  upstreams_.reserve(request_.topics.size());
  resumes_.resize(request_.topics.size());
  for (size_t i = 0; i < request_.topics.size(); ++i) {
    upstreams_.push_back(std::make_shared<Upstream>(executor_, i, settings_.upstream, this));
  }
  // Every upstream exists before the first one opens: any of them may end the whole stream.
  for (size_t i = 0; i < upstreams_.size(); ++i) {
    ProxyRequest::Topic& topic = request_.topics[i];
    upstreams_[i]->Open(topic.owner_address, topic.target, topic.last_event_id);
  }
}

void ProxyStream::Stop(StreamEnd cause) {
  if (done_) return;
  if (stream_ == nullptr) {
    FailOpen(Unavailable::kShuttingDown, "the router is shutting down");
    return;
  }
  CloseUpstreams();
  end_cause_ = cause;
  stream_->End(settings_.retry_frame);
}

void ProxyStream::OnUpstreamOpen(Upstream& upstream) {
  if (upstream.redirects_followed() > 0) metrics_.CountUpstreamRedirect();
  if (stream_ != nullptr) {
    OnResumed(upstream);
    return;
  }
  if (request_.cursor.has_value() && PlaceFromStartPosition(upstream)) positions_placed_ = true;
  if (++upstreams_open_ == upstreams_.size()) StartClientStream();
}

bool ProxyStream::PlaceFromStartPosition(const Upstream& upstream) {
  // NOTE: only topics without a position: a resumed topic that the node reset must keep its
  // old id until an event of the new history arrives, or a drop right after the id-only
  // message would resume "exactly" and lose the ringcast.reset.
  if (!upstream.position().has_value()) return false;
  absl::StatusOr<sse::EventId> start = sse::ParseEventId(*upstream.position());
  return start.ok() && request_.cursor->Place(upstream.index(), *start);
}

void ProxyStream::OnResumed(Upstream& upstream) {
  metrics_.CountUpstreamResume(UpstreamResume::kOk);
  resumes_[upstream.index()]->active = false;
  if (request_.cursor.has_value() && PlaceFromStartPosition(upstream) &&
      stream_->Queue(sse::MakeFrame(sse::EncodeIdOnly(request_.cursor->id())))) {
    ScheduleFlush();
  }
}

void ProxyStream::OnUpstreamEvent(Upstream& upstream, const sse::ParsedEvent& event) {
  sse::Frame frame = Relay(upstream.index(), event);
  ++relayed_;
  if (stream_ == nullptr) {
    early_.push_back(std::move(frame));
    return;
  }
  if (stream_->Queue(std::move(frame))) ScheduleFlush();
}

sse::Frame ProxyStream::Relay(size_t topic_index, const sse::ParsedEvent& event) {
  if (!request_.cursor.has_value()) {
    return sse::MakeFrame(sse::EncodeEventFields(event.has_id ? event.id : "", event.type,
                                                 event.data));
  }
  // Multi-topic: the id moves only with events that carry a well-formed one (the reset event
  // carries none, so the client's Last-Event-ID stays where it was).
  std::string id;
  if (event.has_id) {
    if (absl::StatusOr<sse::EventId> parsed = sse::ParseEventId(event.id); parsed.ok()) {
      id = request_.cursor->Advance(topic_index, *parsed);
    }
  }
  return sse::MakeFrame(sse::EncodeEventFields(
      id, event.type, MultiTopicData(request_.topics[topic_index].name, event.data)));
}

void ProxyStream::OnUpstreamEnded(Upstream& upstream, const absl::Status& status) {
  if (done_) return;
  if (stream_ == nullptr) {
    FailOpen(UnavailableOf(status),
             absl::StrCat("topic '", request_.topics[upstream.index()].name,
                          "': owner unavailable: ", status.message()));
    return;
  }
  ScheduleResume(upstream.index(), status, upstream.retry_ms());
}

void ProxyStream::ScheduleResume(size_t index, const absl::Status& status,
                                 std::optional<uint32_t> node_retry_ms) {
  if (upstreams_closed_) return;
  std::unique_ptr<Resume>& resume = resumes_[index];
  if (resume == nullptr) resume = std::make_unique<Resume>(executor_);
  const absl::Time now = absl::Now();
  const bool attempt_failed = resume->active;
  if (!attempt_failed) {
    // The stream just ended. A node that ended it itself said when to come back (a handoff's
    // short retry:); a broken one is tried again soon.
    resume->active = true;
    resume->deadline = now + settings_.resume_timeout;
    resume->delay = status.ok() && node_retry_ms.has_value()
                        ? std::clamp(absl::Milliseconds(*node_retry_ms), kFirstResumeDelay,
                                     kMaxResumeDelay)
                        : kFirstResumeDelay;
  } else {
    resume->delay = std::min(2 * resume->delay, kMaxResumeDelay);
  }
  if (now >= resume->deadline) {
    metrics_.CountUpstreamResume(UpstreamResume::kTimeout);
    EndForUpstream();
    return;
  }
  if (attempt_failed) metrics_.CountUpstreamResume(UpstreamResume::kRetry);
  resume->timer.expires_after(absl::ToChronoNanoseconds(std::min(resume->delay,
                                                                 resume->deadline - now)));
  resume->timer.async_wait(
      [self = shared_from_this(), index](const boost::system::error_code& ec) {
        if (!ec) self->ResumeUpstream(index);
      });
}

void ProxyStream::ResumeUpstream(size_t index) {
  if (upstreams_closed_) return;
  const std::string& from = upstreams_[index]->last_event_id();
  std::optional<std::string> last_event_id;
  if (!from.empty()) last_event_id = from;
  const ProxyRequest::Topic& topic = request_.topics[index];
  upstreams_[index] = std::make_shared<Upstream>(executor_, index, settings_.upstream, this);
  upstreams_[index]->Open(owner_of_(topic.name), topic.target, std::move(last_event_id));
}

void ProxyStream::EndForUpstream() {
  CloseUpstreams();
  end_cause_ = StreamEnd::kUpstreamEnded;
  stream_->End(settings_.retry_frame);
}

void ProxyStream::StartClientStream() {
  std::vector<sse::Frame> first{settings_.open_frame, settings_.retry_frame};
  first.insert(first.end(), std::make_move_iterator(early_.begin()),
               std::make_move_iterator(early_.end()));
  early_.clear();
  // Last, so that it holds every position, also those placed after an early event's id.
  if (positions_placed_) first.push_back(sse::MakeFrame(sse::EncodeIdOnly(request_.cursor->id())));
  std::vector<sse::HttpSession::Header> headers = request_.cors;
  if (!request_.cursor.has_value() && upstreams_.front()->position().has_value()) {
    headers.push_back({sse::kPositionHeader, *upstreams_.front()->position()});
  }
  stream_ = std::make_shared<sse::SseStream>(
      session_->TakeSocket(), sse::SseStream::Options{settings_.max_queue_bytes}, this,
      session_->TakeToken());
  session_.reset();
  metrics_.CountStreamOpened();
  metrics_.AddStreams(1);
  stream_->Start(sse::EventStreamHead(headers), std::move(first));
}

void ProxyStream::FailOpen(Unavailable reason, const std::string& detail) {
  CloseUpstreams();
  metrics_.CountUnavailable(reason);
  std::vector<sse::HttpSession::Header> headers = request_.cors;
  headers.push_back({"Retry-After", std::to_string(settings_.retry_after_seconds)});
  session_->Respond(http::status::service_unavailable, detail + "\n", std::move(headers),
                    /*keep_alive=*/false);
  session_.reset();
  Finish();
}

void ProxyStream::CloseUpstreams() {
  upstreams_closed_ = true;
  for (const std::shared_ptr<Upstream>& upstream : upstreams_) upstream->Close();
  for (const std::unique_ptr<Resume>& resume : resumes_) {
    if (resume != nullptr) resume->timer.cancel();
  }
}

void ProxyStream::ScheduleFlush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  // One flush after the reads already waiting on this worker: events that arrive together,
  // from one upstream or several, leave in one gather write.
  boost::asio::post(executor_, [self = shared_from_this()] {
    self->flush_posted_ = false;
    if (self->stream_ != nullptr) self->stream_->Flush();
  });
}

void ProxyStream::OnStreamClosed(sse::SseStream&, sse::SseStream::CloseReason reason) {
  CloseUpstreams();
  metrics_.CountStreamEnd(reason == sse::SseStream::CloseReason::kEnded ? end_cause_
                                                                         : StreamEndOf(reason));
  metrics_.AddStreams(-1);
  Finish();
}

void ProxyStream::Finish() {
  if (done_) return;
  done_ = true;
  metrics_.AddUpstreams(-static_cast<double>(upstreams_.size()));
  const std::shared_ptr<ProxyStream> keep_alive = shared_from_this();
  on_done_(this);
}

}  // namespace ringcast::router
