// serving_worker.cc — the accept loop with its max_connections refusal, the front door, the tick
// timer, and starting and stopping a worker thread (see serving_worker.h). A failed accept
// (e.g. EMFILE) pauses the loop for kAcceptRetryDelay instead of spinning on the error.
#include "sse/serving_worker.h"

#include <iostream>
#include <memory>
#include <utility>

#include <boost/asio/post.hpp>

#include "absl/strings/str_cat.h"
#include "sse/event.h"
#include "sse/serving.h"

namespace ringcast::sse {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

ServingWorker::ServingWorker(Options options, std::atomic<int64_t>& connections)
    : options_(std::move(options)),
      connections_(connections),
      heartbeat_frame_(MakeFrame(EncodeComment("heartbeat"))) {}

ServingWorker::~ServingWorker() { Join(); }

absl::StatusOr<tcp::endpoint> ServingWorker::Listen(const tcp::endpoint& endpoint) {
  return ListenReusePort(acceptor_, endpoint);
}

void ServingWorker::Start() {
  DoAccept();
  ScheduleTick();
  thread_ = std::thread([this] { io_.run(); });
}

void ServingWorker::Join() { StopAndJoin(io_, thread_); }

void ServingWorker::Stop() {
  asio::post(io_, [this] {
    stopping_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_timer_.cancel();
    OnStop();
  });
}

void ServingWorker::DoAccept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || stopping_) return;
    if (ec) {
      OnAcceptError(ec);
      return;
    }
    if (accept_errors_ > 0) {
      std::cerr << "ringcast: accepting again after " << accept_errors_ << " failed accept(s)\n";
      accept_errors_ = 0;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (connections_.load(std::memory_order_relaxed) >=
        static_cast<int64_t>(options_.max_connections)) {
      OnConnectionRefused();
      RefuseConnection(std::move(socket), options_.refusal_reason,
                       options_.refusal_retry_after_seconds);
    } else {
      std::make_shared<HttpSession>(std::move(socket), options_.session_limits, this,
                                    std::make_shared<ConnectionSlot>(connections_))
          ->Start();
    }
    DoAccept();
  });
}

void ServingWorker::OnAcceptError(const boost::system::error_code& ec) {
  // The connection stays in the listen backlog: accepting again at once would fail again
  // (e.g. EMFILE until some descriptor closes) and spin this thread.
  if (accept_errors_++ == 0) {
    std::cerr << "ringcast: accept failed (" << ec.message() << "); retrying every "
              << absl::ToInt64Milliseconds(kAcceptRetryDelay) << " ms\n";
  }
  accept_retry_timer_.expires_after(absl::ToChronoNanoseconds(kAcceptRetryDelay));
  accept_retry_timer_.async_wait([this](const boost::system::error_code& wait_ec) {
    if (wait_ec || stopping_) return;
    DoAccept();
  });
}

void ServingWorker::Respond(const std::shared_ptr<HttpSession>& session, http::status status,
                            std::string body, Headers headers) {
  session->Respond(status, std::move(body), std::move(headers));
}

void ServingWorker::Refuse(const std::shared_ptr<HttpSession>& session, Refusal refusal,
                           http::status status, std::string body, Headers headers) {
  CountRefusal(refusal);
  Respond(session, status, std::move(body), std::move(headers));
}

void ServingWorker::OnRejected(HttpSession::Rejection rejection) {
  switch (rejection) {
    case HttpSession::Rejection::kHeaderTooLarge:
      return CountRefusal(Refusal::kHeaderTooLarge);
    case HttpSession::Rejection::kHeaderTimeout:
      return CountRefusal(Refusal::kHeaderTimeout);
    case HttpSession::Rejection::kMalformed:
      return CountRefusal(Refusal::kMalformed);
  }
}

void ServingWorker::OnRequest(const std::shared_ptr<HttpSession>& session,
                              HttpSession::Request request) {
  Headers cors = CorsHeaders(request, options_.cors_allowed_origins);
  const std::string_view raw_target(request.target().data(), request.target().size());
  absl::StatusOr<Target> target = ParseTarget(raw_target, options_.max_topic_bytes);
  if (!target.ok()) {
    return Refuse(session, Refusal::kBadTarget, http::status::bad_request,
                  std::string(target.status().message()) + "\n", std::move(cors));
  }
  const bool multi_topic = target->kind == TargetKind::kMultiEvents;
  if (target->kind == TargetKind::kUnknown || (multi_topic && !options_.serves_multi_topic)) {
    return Refuse(session, Refusal::kNotFound, http::status::not_found,
                  multi_topic ? "multi-topic streams are served by routers\n"
                              : options_.not_found_body,
                  std::move(cors));
  }
  if (request.method() == http::verb::options && !cors.empty()) {
    return Respond(session, http::status::no_content, "", PreflightHeaders(std::move(cors)));
  }
  if (request.method() != http::verb::get) {
    cors.push_back({"Allow", "GET"});
    return Refuse(session, Refusal::kMethod, http::status::method_not_allowed,
                  absl::StrCat("method ", std::string(request.method_string()),
                               " is not allowed; use GET\n"),
                  std::move(cors));
  }
  if (target->kind == TargetKind::kHealth) {
    return Respond(session, http::status::ok, "ok\n", std::move(cors));
  }
  if (target->kind == TargetKind::kMetrics) return ServeMetrics(session);
  if (request.version() < 11) {
    return Refuse(session, Refusal::kHttpVersion, http::status::bad_request,
                  "event streams need HTTP/1.1\n", std::move(cors));
  }
  ServeStream(session, request, *target, std::move(cors));
}

void ServingWorker::ScheduleTick() {
  tick_timer_.expires_after(absl::ToChronoNanoseconds(options_.heartbeat_interval / kTicksPerBeat));
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    OnTick();
    ScheduleTick();
  });
}

ServingWorker::TickVerdict ServingWorker::CheckOnTick(SseStream& stream, int& idle_ticks,
                                                      absl::Time now) const {
  const absl::Duration lifetime = options_.max_stream_lifetime;
  if (lifetime > absl::ZeroDuration() && now - stream.opened_at() > lifetime) {
    return TickVerdict::kExpired;
  }
  if (stream.TakeActivity()) {
    idle_ticks = 0;
  } else if (++idle_ticks >= kTicksPerBeat) {
    idle_ticks = 0;
    return TickVerdict::kHeartbeatDue;
  }
  return TickVerdict::kQuiet;
}

}  // namespace ringcast::sse
