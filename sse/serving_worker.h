// serving_worker.h — the skeleton of one HTTP worker thread of a node or a router: its own
// io_context and thread, its own listening socket on the shared port (SO_REUSEPORT, so the
// kernel spreads connections), the accept loop that refuses connections over max_connections
// with a 503 before reading them, the front door every request passes, the tick timer that
// drives heartbeats and stream lifetimes, and an orderly Stop()/Join(). node::Worker and
// router::HttpWorker derive from it and supply what differs: how an event stream is served,
// /metrics, how refusals are counted, how their streams end on Stop(), and what a tick does.
//
// Front door (the same on nodes and routers), in this order: a target that does not parse 400;
// an unknown path 404 (so is /v1/events where multi-topic streams are not served); OPTIONS from
// an allowed CORS origin 204 (preflight); any method but GET 405 with Allow: GET; /healthz 200
// "ok"; /metrics; an event stream asked over HTTP/1.0 400. What passes is ServeStream()'s.
//
// Ticks: a tick is heartbeat_interval / kTicksPerBeat; CheckOnTick() says when a stream is past
// its lifetime or has been idle for kTicksPerBeat ticks, so an idle stream hears from the server
// every heartbeat_interval to heartbeat_interval * 4/3.
//
// Thread safety: Stop() may be called from any thread (it posts to the worker); Listen() and
// Start() before the thread runs; Join() from the controlling thread. The hooks and everything
// else run on the worker's thread. NOTE: a derived class must call Join() in its own destructor,
// so that the thread stops before the derived members its hooks use are destroyed.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sse/http_session.h"
#include "sse/request.h"
#include "sse/sse_stream.h"

namespace ringcast::sse {

class ServingWorker : public HttpSession::Handler {
 public:
  struct Options {
    // Open connections (sessions and streams) counted in the shared counter; accepting one more
    // gets a 503 with `refusal_reason` and Retry-After: `refusal_retry_after_seconds`.
    size_t max_connections = 100000;
    std::string refusal_reason;
    int refusal_retry_after_seconds = 1;
    HttpSession::Limits session_limits;  // per accepted connection
    // The front door: topic length, CORS origins ("*" allows any), the 404 body, and whether
    // /v1/events (multi-topic streams) is served.
    size_t max_topic_bytes = kDefaultMaxTopicBytes;
    std::vector<std::string> cors_allowed_origins;
    std::string not_found_body;
    bool serves_multi_topic = false;
    // Ticks (see the file comment): idle streams get a heartbeat; streams past their lifetime end.
    absl::Duration heartbeat_interval = absl::Seconds(15);
    absl::Duration max_stream_lifetime = absl::ZeroDuration();  // 0 = never
  };

  // Idle ticks before a heartbeat is due.
  static constexpr int kTicksPerBeat = 3;
  // Pause after a failed accept (e.g. EMFILE: out of file descriptors) before accepting again.
  static constexpr absl::Duration kAcceptRetryDelay = absl::Milliseconds(100);

  // `connections` counts the open connections of every worker sharing the port.
  ServingWorker(Options options, std::atomic<int64_t>& connections);
  ~ServingWorker() override;

  // Opens this worker's listening socket on `endpoint` (SO_REUSEPORT). Returns the bound
  // endpoint, so a first worker can bind port 0 and the others the port it got.
  absl::StatusOr<boost::asio::ip::tcp::endpoint> Listen(
      const boost::asio::ip::tcp::endpoint& endpoint);

  // Starts accepting, the tick timer, and the thread.
  void Start();

  // Stops accepting, then calls OnStop() on the worker's thread. Any thread.
  void Stop();

  // Stops the event loop and joins the thread (sse::StopAndJoin).
  void Join();

 protected:
  using Headers = std::vector<HttpSession::Header>;

  // Why a request was refused: by the session (431, closed, 400) or at the front door.
  enum class Refusal {
    kHeaderTooLarge,  // 431, answered by the session
    kHeaderTimeout,   // closed by the session
    kMalformed,       // 400, answered by the session
    kBadTarget,       // 400: bad topic or query
    kNotFound,        // 404
    kMethod,          // 405
    kHttpVersion,     // 400: event streams need HTTP/1.1
  };

  // What one tick makes of a stream (see CheckOnTick()).
  enum class TickVerdict { kQuiet, kHeartbeatDue, kExpired };

  // A connection over max_connections is being refused with a 503: count it.
  virtual void OnConnectionRefused() = 0;
  // Count a refused request; for front-door refusals Respond() follows.
  virtual void CountRefusal(Refusal refusal) = 0;
  // Answers a request (every front-door answer goes through here): session->Respond().
  virtual void Respond(const std::shared_ptr<HttpSession>& session,
                       boost::beast::http::status status, std::string body, Headers headers);
  // GET /metrics.
  virtual void ServeMetrics(const std::shared_ptr<HttpSession>& session) = 0;
  // An event-stream request that passed the front door; `cors` holds its CORS headers.
  virtual void ServeStream(const std::shared_ptr<HttpSession>& session,
                           const HttpSession::Request& request, const Target& target,
                           Headers cors) = 0;
  // Stop() closed the acceptor: end every stream (stopping() is true from now on).
  virtual void OnStop() = 0;
  // Every heartbeat_interval / kTicksPerBeat.
  virtual void OnTick() = 0;

  // kExpired past max_stream_lifetime; kHeartbeatDue after kTicksPerBeat ticks without
  // activity on `stream` (counted in `idle_ticks`, reset then and on activity); else kQuiet.
  TickVerdict CheckOnTick(SseStream& stream, int& idle_ticks, absl::Time now) const;

  boost::asio::io_context& io() { return io_; }
  bool stopping() const { return stopping_; }
  const Frame& heartbeat_frame() const { return heartbeat_frame_; }

 private:
  // HttpSession::Handler: the front door (see the file comment), then ServeStream().
  void OnRequest(const std::shared_ptr<HttpSession>& session,
                 HttpSession::Request request) final;
  void OnRejected(HttpSession::Rejection rejection) final;

  void Refuse(const std::shared_ptr<HttpSession>& session, Refusal refusal,
              boost::beast::http::status status, std::string body, Headers headers);
  void DoAccept();
  // An accept failed (not cancelled): logs the first of a streak, accepts again after
  // kAcceptRetryDelay.
  void OnAcceptError(const boost::system::error_code& ec);
  void ScheduleTick();

  // Constant after construction.
  const Options options_;
  std::atomic<int64_t>& connections_;
  const Frame heartbeat_frame_;  // idle-stream comment

  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  boost::asio::steady_timer tick_timer_{io_};
  boost::asio::steady_timer accept_retry_timer_{io_};
  std::thread thread_;

  // Worker-thread only.
  bool stopping_ = false;
  uint64_t accept_errors_ = 0;  // failed accepts since the last one that succeeded
};

}  // namespace ringcast::sse
