// subscribe.h — `ringcast subscribe`: reads one topic's SSE stream from a router or node and
// prints its events, reconnecting by itself as a browser's EventSource does: after EOF or an
// error it waits the last `retry:` value and reconnects with `Last-Event-ID`, following 307
// redirects to the topic's owner. One HTTP/1.1 connection at a time (Boost.Beast); events are
// parsed by sse::EventStreamParser, exactly as a browser would.
//
// Thread safety: RunSubscribe runs on the caller's thread only; the URL and formatting
// functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sse/parser.h"

namespace ringcast::cli {

enum class OutputFormat {
  kText,  // "<id> <type> <data on one line>" (EscapeLine; id "-" before the first id)
  kJson,  // {"id":"...","type":"...","data":"..."} per line
};

// "text" or "json"; INVALID_ARGUMENT otherwise.
absl::StatusOr<OutputFormat> ParseOutputFormat(std::string_view name);

// Filled from the flags (cli.cc); defaults are the flags' defaults.
struct SubscribeCommandOptions {
  std::string url = "http://127.0.0.1:8080";  // base URL of a router or node (path prefix ok)
  std::string topic;
  std::string last_event_id;  // resume point of the first request; "" = live events only
  uint64_t count = 0;         // exit 0 after this many events (ringcast.reset included); 0 = never
  OutputFormat format = OutputFormat::kText;
  // Wait before reconnecting. Unset: the server's last `retry:`, else 2 s (EventSource's habit).
  std::optional<absl::Duration> retry;
  // A stream silent for this long is presumed dead and reconnected (servers send a heartbeat
  // comment every 15 s by default). Also bounds connecting and sending the request.
  absl::Duration idle_timeout = absl::Seconds(60);
  // Redirects followed within one connection attempt; more is a retryable error (a loop while
  // the ring changes settles by itself).
  int max_redirects = 5;
};

// A parsed http:// URL. `target` is the path and query ("/" when the URL has neither).
struct HttpUrl {
  std::string host;  // without brackets for IPv6 literals
  std::string port;  // "80" when absent
  std::string target;

  std::string HostHeader() const;  // host[:port], brackets restored, port omitted when 80
  std::string ToString() const;    // http://HostHeader()target
};

// Parses "http://host[:port][/path][?query]" (fragment dropped). UNIMPLEMENTED for https,
// INVALID_ARGUMENT for anything else malformed.
absl::StatusOr<HttpUrl> ParseHttpUrl(std::string_view url);

// The URL a `Location` header names, relative to the URL that answered: an absolute http URL,
// a scheme-relative "//host/path", or an absolute path "/path".
absl::StatusOr<HttpUrl> ResolveLocation(const HttpUrl& base, std::string_view location);

// Percent-encodes every byte outside A-Z a-z 0-9 - . _ ~ (so "/" of "orders/42" becomes %2F).
std::string PercentEncode(std::string_view text);

// The subscribe URL of `topic` under the base URL: its path without a trailing '/', then
// "/v1/topics/<percent-encoded topic>/events". INVALID_ARGUMENT if the base has a query.
//   EventsUrl(http://h:8080/sse, "orders/42") -> http://h:8080/sse/v1/topics/orders%2F42/events
absl::StatusOr<HttpUrl> EventsUrl(const HttpUrl& base, std::string_view topic);

// One output line for `event` (without the newline). `id` is the stream's last event id at
// the event (ParsedEvent::id, carried across reconnects by the subscriber).
std::string FormatEvent(const sse::ParsedEvent& event, std::string_view id, OutputFormat format);

// Runs the command until `count` events were printed (exit 0) or the server refused the
// request with a 4xx or a non-event-stream answer (body to `err`, exit 1). Events go to `out`,
// one flushed line each; connection troubles go to `err`, and are retried forever.
int RunSubscribe(const SubscribeCommandOptions& options, std::ostream& out, std::ostream& err);

}  // namespace ringcast::cli
