// serving.h — the pieces every HTTP worker of a node or a router needs around HttpSession and
// SseStream: listen addresses, a SO_REUSEPORT listener per worker, the connection-count slot,
// CORS from an allowlist, the event-stream response head, and the 503 for a full server.
// sse::ServingWorker (serving_worker.h) builds the worker thread of both on them.
//
// Thread safety: free functions without shared state; a ConnectionSlot's counter is atomic.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "sse/event.h"
#include "sse/http_session.h"

namespace ringcast::sse {

// "host:port" or "[v6]:port" with a literal address ("localhost" = 127.0.0.1); port 0..65535.
// INVALID_ARGUMENT otherwise.
absl::StatusOr<boost::asio::ip::tcp::endpoint> ParseEndpoint(std::string_view text);

// "host:port", or "[v6]:port".
std::string FormatEndpoint(const boost::asio::ip::tcp::endpoint& endpoint);

// Opens, binds (SO_REUSEADDR + SO_REUSEPORT, so each worker has its own acceptor on one port)
// and listens. Returns the bound endpoint (a real port when `endpoint` asked for 0).
// UNAVAILABLE naming the address when it cannot.
absl::StatusOr<boost::asio::ip::tcp::endpoint> ListenReusePort(
    boost::asio::ip::tcp::acceptor& acceptor, const boost::asio::ip::tcp::endpoint& endpoint);

// Counts one open connection (session or stream) for as long as it lives; pass it as the
// HttpSession's token so it follows the socket into the stream.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(std::atomic<int64_t>& count) : count_(count) {
    count_.fetch_add(1, std::memory_order_relaxed);
  }
  ~ConnectionSlot() { count_.fetch_sub(1, std::memory_order_relaxed); }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;

 private:
  std::atomic<int64_t>& count_;
};

// Access-Control-Allow-Origin (and Vary) when the request's Origin is in `allowed_origins`
// ("*" allows any); nothing otherwise.
std::vector<HttpSession::Header> CorsHeaders(const HttpSession::Request& request,
                                             absl::Span<const std::string> allowed_origins);

// The headers of the preflight answer (204), added to CorsHeaders().
std::vector<HttpSession::Header> PreflightHeaders(std::vector<HttpSession::Header> cors);

// The header of a single-topic 200 event stream that says where the stream starts: the id
// "<epoch>:<offset>" of the newest event it is positioned after (offset 0: the topic has no event
// yet and the stream delivers from offset 1). A client that received nothing yet resumes exactly
// from it; the router's multi-topic streams use it for topics that sent nothing yet.
inline constexpr char kPositionHeader[] = "Ringcast-Position";
HttpSession::Header PositionHeader(const EventId& position);

// The status line and headers of a 200 event stream (chunked; no-cache; X-Accel-Buffering: no),
// with `extra` headers (CORS) added, ending with the blank line.
std::string EventStreamHead(absl::Span<const HttpSession::Header> extra);

// Writes a 503 with `Retry-After: <retry_after_seconds>` and `reason` as the body on a freshly
// accepted socket, then closes it (for connections over max_connections, refused before any
// request is read).
void RefuseConnection(boost::asio::ip::tcp::socket socket, std::string_view reason,
                      int retry_after_seconds);

// Stops `io`, joins `thread` (the thread running it), then runs `io` for up to 100 ms more on
// the caller's thread so that completions the kernel still owes (the cancellation of a closed
// acceptor's pending accept) are reaped before `io` is destroyed. NOTE: with Asio's io_uring
// backend, destroying an io_context while such a cancellation is outstanding frees a socket's
// service before the operation that refers to it (ASan: heap-use-after-free in
// ~io_uring_service). Handlers that run here must tolerate a stopping worker.
void StopAndJoin(boost::asio::io_context& io, std::thread& thread);

// The value of the first `field` header, or "".
std::string_view HeaderValue(const HttpSession::Request& request,
                             boost::beast::http::field field);

}  // namespace ringcast::sse
