// http_client.h — a small blocking HTTP/1.1 client for tests that talk to real ringcast
// processes on loopback: one-shot requests (HttpGet, HttpRequest), raw bytes for malformed-input
// tests (SendRaw), and an SSE subscriber (SseConnection) that decodes the chunked body and parses
// events exactly as a browser's EventSource would (sse::ChunkedDecoder, sse::EventStreamParser).
//
//   absl::StatusOr<std::unique_ptr<SseConnection>> sub =
//       SseConnection::Open(node.http_address, "/v1/topics/orders%2F42/events");
//   ASSERT_THAT(sub, IsOk());
//   ASSERT_EQ((*sub)->status(), 200);
//   absl::StatusOr<std::vector<sse::ParsedEvent>> events = (*sub)->NextN(3, absl::Seconds(5));
//
// Every call has a deadline (no call can hang), returns absl::Status / StatusOr and never throws:
//   DEADLINE_EXCEEDED  the timeout passed (the message quotes what had arrived);
//   UNAVAILABLE        connection refused or reset (the errno mapping of absl);
//   INTERNAL           the server broke HTTP/1.1 framing (bad status line, header, chunk size,
//                      or a body cut short).
// No call sends SIGPIPE (writes use MSG_NOSIGNAL); sockets are O_CLOEXEC.
//
// Thread safety: the free functions are thread-safe (no shared state). An SseConnection is used
// by one thread at a time; it reads its socket only inside its own calls, never in the background.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sse/chunked.h"
#include "sse/parser.h"

namespace ringcast::testing {

// Header fields in the order sent or received, names as written.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// The value of the first field named `name` (ASCII case-insensitive), or nullopt.
std::optional<std::string> FindHeader(const HttpHeaders& headers, std::string_view name);

struct HttpResponse {
  int status = 0;       // e.g. 200
  std::string reason;   // e.g. "OK"
  HttpHeaders headers;  // as received, in order, repeated names kept
  std::string body;     // after chunked decoding

  std::optional<std::string> header(std::string_view name) const {
    return FindHeader(headers, name);
  }
};

// Sends one request on a new connection and reads the whole response within `timeout`.
// Adds `Host: <host_port>` and `Connection: close` unless `headers` has them, and
// `Content-Length` when `body` is not empty. Reads a Content-Length, chunked or close-delimited
// body (none for HEAD, 1xx, 204 and 304); skips interim 1xx responses.
absl::StatusOr<HttpResponse> HttpRequest(std::string method, std::string host_port,
                                         std::string target, HttpHeaders headers = {},
                                         std::string body = "",
                                         absl::Duration timeout = absl::Seconds(10));

// HttpRequest("GET", ...).
absl::StatusOr<HttpResponse> HttpGet(std::string host_port, std::string target,
                                     HttpHeaders headers = {},
                                     absl::Duration timeout = absl::Seconds(10));

// Writes `bytes` as they are (it does not half-close, so a server waiting for more of a request
// keeps waiting) and returns everything read until the server closes the connection (FIN or
// RST): OK with the bytes. If the server has not closed when `timeout` passes:
// DEADLINE_EXCEEDED, the message quoting what was read (C-escaped).
absl::StatusOr<std::string> SendRaw(std::string host_port, std::string bytes,
                                    absl::Duration timeout);

struct SseOptions {
  // SO_RCVBUF in bytes, set before connecting so the advertised TCP window is small too; 0 keeps
  // the kernel's autotuned default. For slow-consumer tests: with a small buffer, not calling
  // Next() leaves the server's bytes unread and its writes back up.
  int receive_buffer_bytes = 0;
};

// One subscribe request and its event stream.
class SseConnection {
 public:
  // Connects, sends `GET <target>` (adding Host and `Accept: text/event-stream` unless given)
  // and reads the status line and headers within `timeout`. For a 200 the body is the event
  // stream, read by Next(); for any other status the body is read now (Content-Length, chunked
  // or up to close) and returned by body(). Errors: see the top of this file.
  static absl::StatusOr<std::unique_ptr<SseConnection>> Open(
      std::string host_port, std::string target, HttpHeaders headers = {},
      absl::Duration timeout = absl::Seconds(10), SseOptions options = {});

  ~SseConnection();
  SseConnection(const SseConnection&) = delete;
  SseConnection& operator=(const SseConnection&) = delete;

  int status() const { return response_.status; }
  const HttpHeaders& headers() const { return response_.headers; }
  std::optional<std::string> header(std::string_view name) const { return response_.header(name); }
  // The body of a non-200 response ("" for a 200).
  const std::string& body() const { return response_.body; }

  // The next event, reading the socket as needed. Events already read are returned first, even
  // after the stream ended. DEADLINE_EXCEEDED when none completes within `timeout`;
  // OUT_OF_RANGE once the stream has ended and every event was returned; FAILED_PRECONDITION
  // for a non-200 response; INTERNAL for broken chunked framing.
  absl::StatusOr<sse::ParsedEvent> Next(absl::Duration timeout);

  // The next `n` events, all within `timeout`, or an error as Next's. All or nothing: on error
  // no event is consumed (Next still returns them one by one).
  absl::StatusOr<std::vector<sse::ParsedEvent>> NextN(size_t n, absl::Duration timeout);

  // Reads (queueing events for Next) until the server ends the stream — the last chunk, EOF or
  // a reset — and returns true; false when it is still open after `timeout` or the framing
  // broke. True at once for a non-200 response.
  bool WaitClosed(absl::Duration timeout);

  // Whether the stream has ended (as far as read so far), and whether it ended with the chunked
  // last chunk (or the full Content-Length) rather than a bare EOF or a reset.
  bool closed() const { return closed_; }
  bool ended_cleanly() const { return ended_cleanly_; }

  // As seen in the bytes read so far: comment lines (heartbeats, the stream-open comment), the
  // last retry: value, the id EventSource would resume from (Last-Event-ID).
  uint64_t comment_count() const { return parser_.comment_count(); }
  std::optional<uint32_t> retry_ms() const { return parser_.retry_ms(); }
  const std::string& last_event_id() const { return parser_.last_event_id(); }
  // Events read from the socket but not yet returned by Next.
  size_t buffered_events() const { return events_.size(); }
  // Body bytes read so far (before chunked decoding).
  uint64_t bytes_received() const { return bytes_received_; }

  // Closes the socket now, as a client going away does. Later calls see a closed stream.
  void Close();

 private:
  SseConnection() = default;
  // Reads once (waiting until `deadline`) and feeds what arrived. OK when bytes or EOF arrived.
  absl::Status ReadMore(absl::Time deadline);
  // Runs body bytes through the chunked decoder (if chunked) and the event parser.
  void FeedBody(std::string_view bytes);
  std::string Describe() const;  // state for error messages

  int fd_ = -1;
  std::string peer_;  // host:port, for messages
  HttpResponse response_;
  enum class Framing { kChunked, kLength, kUntilClose } framing_ = Framing::kUntilClose;
  uint64_t length_left_ = 0;  // for kLength
  sse::ChunkedDecoder chunked_;
  sse::EventStreamParser parser_;
  std::deque<sse::ParsedEvent> events_;
  absl::Status stream_error_;  // broken framing; sticky
  bool closed_ = false;
  bool ended_cleanly_ = false;
  uint64_t bytes_received_ = 0;
  uint64_t events_parsed_ = 0;
};

}  // namespace ringcast::testing
