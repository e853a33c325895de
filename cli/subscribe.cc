// subscribe.cc — `ringcast subscribe`: an EventSource-like reader built on Boost.Beast.
//
// Each connection attempt: connect, send the GET with Accept and Last-Event-ID, read the
// response header; follow redirects (up to max_redirects); stream a 2xx text/event-stream body
// through http::response_parser<buffer_body> (which undoes the chunked coding) into an
// sse::EventStreamParser. The steps are Beast's async operations run one at a time on a private
// io_context, so every step has a deadline (tcp_stream::expires_after) while the code reads as
// synchronous.
//
// Reconnecting. The retry wait is the server's last `retry:` (kept across connections), else
// 2 s, unless --retry_ms fixes it. The last event id is carried across connections: a new
// connection's parser starts with an empty id buffer, so until it sees an id: field the id of
// an event is the one carried from before (as a browser's EventSource reports it).
#include "cli/subscribe.h"

#include <array>
#include <ostream>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "cli/format.h"
#include "sse/event.h"

namespace ringcast::cli {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr absl::Duration kDefaultRetry = absl::Milliseconds(2000);
constexpr size_t kMaxErrorBodyBytes = 64 * 1024;

bool IsRedirect(unsigned status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::string Lowercase(std::string_view text) {
  std::string out(text);
  absl::AsciiStrToLower(&out);
  return out;
}

// How one connection attempt ended.
enum class Outcome {
  kDone,   // --count events printed
  kFatal,  // the server refused the request: do not reconnect
  kRetry,  // EOF, network error, timeout, 5xx: reconnect after the retry wait
};

class Subscriber {
 public:
  Subscriber(const SubscribeCommandOptions& options, HttpUrl url, std::ostream& out,
             std::ostream& err)
      : options_(options),
        url_(std::move(url)),
        out_(out),
        err_(err),
        last_event_id_(options.last_event_id) {}

  int Run() {
    for (;;) {
      std::string reason;
      switch (ConnectOnce(&reason)) {
        case Outcome::kDone:
          return 0;
        case Outcome::kFatal:
          err_ << "ringcast subscribe: " << reason << "\n";
          return 1;
        case Outcome::kRetry:
          break;
      }
      const absl::Duration wait = options_.retry.value_or(server_retry_.value_or(kDefaultRetry));
      err_ << "ringcast subscribe: " << reason << "; reconnecting in "
           << absl::ToInt64Milliseconds(wait) << " ms" << (last_event_id_.empty() ? "" : " from ")
           << last_event_id_ << "\n";
      absl::SleepFor(wait);
    }
  }

 private:
  // Runs one asynchronous operation to completion. `start(handler)` starts it; the stream's
  // expiry (set by the caller) bounds it.
  template <typename Start>
  beast::error_code RunOp(Start&& start) {
    beast::error_code result;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    io_.restart();
    io_.run();
    return result;
  }

  Outcome ConnectOnce(std::string* reason) {
    HttpUrl target = url_;
    for (int redirects = 0;; ++redirects) {
      beast::tcp_stream stream(io_);
      std::optional<HttpUrl> location;
      const Outcome outcome = Request(stream, target, &location, reason);
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      if (!location.has_value()) return outcome;
      if (redirects >= options_.max_redirects) {
        *reason = absl::StrCat("more than ", options_.max_redirects, " redirects, last to ",
                               location->ToString());
        return Outcome::kRetry;
      }
      target = *std::move(location);
    }
  }

  // One HTTP exchange with `target`. Sets `*location` when the answer is a redirect.
  Outcome Request(beast::tcp_stream& stream, const HttpUrl& target,
                  std::optional<HttpUrl>* location, std::string* reason) {
    const std::string where = target.ToString();
    tcp::resolver resolver(io_);
    beast::error_code ec;
    const tcp::resolver::results_type endpoints = resolver.resolve(target.host, target.port, ec);
    if (ec) {
      *reason = absl::StrCat("resolve ", target.host, ": ", ec.message());
      return Outcome::kRetry;
    }
    stream.expires_after(absl::ToChronoMilliseconds(options_.idle_timeout));
    ec = RunOp([&](auto handler) { stream.async_connect(endpoints, std::move(handler)); });
    if (ec) {
      *reason = absl::StrCat("connect to ", target.HostHeader(), ": ", ec.message());
      return Outcome::kRetry;
    }

    http::request<http::empty_body> request(http::verb::get, target.target, 11);
    request.set(http::field::host, target.HostHeader());
    request.set(http::field::accept, "text/event-stream");
    request.set(http::field::cache_control, "no-cache");
    request.set(http::field::user_agent, "ringcast-cli");
    if (!last_event_id_.empty()) request.set("Last-Event-ID", last_event_id_);
    stream.expires_after(absl::ToChronoMilliseconds(options_.idle_timeout));
    ec = RunOp([&](auto handler) { http::async_write(stream, request, std::move(handler)); });
    if (ec) {
      *reason = absl::StrCat("send request to ", where, ": ", ec.message());
      return Outcome::kRetry;
    }

    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);  // an event stream has no end
    stream.expires_after(absl::ToChronoMilliseconds(options_.idle_timeout));
    ec = RunOp(
        [&](auto handler) { http::async_read_header(stream, buffer, parser, std::move(handler)); });
    if (ec) {
      *reason = absl::StrCat("read response header from ", where, ": ", ec.message());
      return Outcome::kRetry;
    }

    const auto& header = parser.get();
    const unsigned status = header.result_int();
    if (IsRedirect(status)) {
      const auto found = header.find(http::field::location);
      if (found == header.end()) {
        *reason = absl::StrCat("HTTP ", status, " from ", where, " without a Location");
        return Outcome::kFatal;
      }
      absl::StatusOr<HttpUrl> next =
          ResolveLocation(target, std::string_view(found->value().data(), found->value().size()));
      if (!next.ok()) {
        *reason = absl::StrCat("HTTP ", status, " from ", where, ": ",
                               std::string(next.status().message()));
        return Outcome::kFatal;
      }
      *location = *std::move(next);
      return Outcome::kRetry;
    }
    const std::string content_type = Lowercase(std::string_view(
        header[http::field::content_type].data(), header[http::field::content_type].size()));
    if (status / 100 == 2 && status != 204 && content_type.starts_with("text/event-stream")) {
      return ReadEvents(stream, buffer, parser, reason);
    }

    // Anything else: the body says why.
    std::string body;
    ReadBody(stream, buffer, parser, &body);
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    *reason = absl::StrCat("HTTP ", status, " ",
                           std::string(header.reason().data(), header.reason().size()), " from ",
                           where, body.empty() ? "" : ": ", body);
    // Like EventSource, a 2xx that is not an event stream is final; unlike it, 5xx is retried
    // (a node restarting or a router without an owner for the moment).
    return status / 100 == 5 ? Outcome::kRetry : Outcome::kFatal;
  }

  // Streams the body into an EventStreamParser until --count events, EOF or an error.
  Outcome ReadEvents(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                     http::response_parser<http::buffer_body>& parser, std::string* reason) {
    sse::EventStreamParser events;
    bool id_seen = false;  // this connection has set the id buffer
    bool done = false;
    auto on_event = [&](const sse::ParsedEvent& event) {
      if (done) return;
      if (event.has_id || !event.id.empty()) id_seen = true;
      if (id_seen) last_event_id_ = event.id;
      out_ << FormatEvent(event, last_event_id_, options_.format) << "\n" << std::flush;
      ++printed_;
      done = options_.count > 0 && printed_ >= options_.count;
    };
    std::array<char, 16 * 1024> chunk;
    while (!parser.is_done()) {
      beast::error_code ec;
      const size_t n = ReadBodyPiece(stream, buffer, parser, chunk.data(), chunk.size(), &ec);
      events.Feed(std::string_view(chunk.data(), n), on_event);
      if (events.retry_ms().has_value()) server_retry_ = absl::Milliseconds(*events.retry_ms());
      if (!events.last_event_id().empty()) id_seen = true;
      if (id_seen) last_event_id_ = events.last_event_id();
      if (done) return Outcome::kDone;
      if (ec == beast::error::timeout) {
        *reason = absl::StrCat("no bytes for ", absl::FormatDuration(options_.idle_timeout));
        return Outcome::kRetry;
      }
      if (ec) {
        *reason = absl::StrCat("stream broke: ", ec.message());
        return Outcome::kRetry;
      }
    }
    *reason = "the server ended the stream";
    return Outcome::kRetry;
  }

  // Reads the next piece of a body into data[0..size), within the idle timeout; returns the
  // bytes read. `*ec` is the read's error (a full buffer is not one).
  size_t ReadBodyPiece(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                       http::response_parser<http::buffer_body>& parser, char* data, size_t size,
                       beast::error_code* ec) {
    parser.get().body().data = data;
    parser.get().body().size = size;
    stream.expires_after(absl::ToChronoMilliseconds(options_.idle_timeout));
    *ec = RunOp(
        [&](auto handler) { http::async_read_some(stream, buffer, parser, std::move(handler)); });
    if (*ec == http::error::need_buffer) *ec = {};
    return size - parser.get().body().size;
  }

  // Reads up to kMaxErrorBodyBytes of a (non-stream) body.
  void ReadBody(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                http::response_parser<http::buffer_body>& parser, std::string* body) {
    std::array<char, 4096> chunk;
    while (!parser.is_done() && body->size() < kMaxErrorBodyBytes) {
      beast::error_code ec;
      body->append(chunk.data(),
                   ReadBodyPiece(stream, buffer, parser, chunk.data(), chunk.size(), &ec));
      if (ec) return;
    }
  }

  // Constant after construction.
  const SubscribeCommandOptions& options_;
  const HttpUrl url_;
  std::ostream& out_;
  std::ostream& err_;

  net::io_context io_;
  std::string last_event_id_;
  std::optional<absl::Duration> server_retry_;
  uint64_t printed_ = 0;
};

}  // namespace

absl::StatusOr<OutputFormat> ParseOutputFormat(std::string_view name) {
  if (name == "text") return OutputFormat::kText;
  if (name == "json") return OutputFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("--format must be text or json, not \"", std::string(name), "\""));
}

std::string HttpUrl::HostHeader() const {
  const std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port == "80" ? shown : absl::StrCat(shown, ":", port);
}

std::string HttpUrl::ToString() const { return absl::StrCat("http://", HostHeader(), target); }

absl::StatusOr<HttpUrl> ParseHttpUrl(std::string_view url) {
  const std::string lower = Lowercase(url.substr(0, std::min<size_t>(url.size(), 8)));
  if (lower.starts_with("https://")) {
    return absl::UnimplementedError(absl::StrCat("https is not supported yet: ", std::string(url)));
  }
  if (!lower.starts_with("http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an http:// URL: \"", std::string(url), "\""));
  }
  std::string_view rest = url.substr(7);
  if (const size_t hash = rest.find('#'); hash != std::string_view::npos) {
    rest = rest.substr(0, hash);
  }
  const size_t path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  HttpUrl result;
  result.target = path_start == std::string_view::npos ? "/" : std::string(rest.substr(path_start));
  if (result.target.front() == '?') result.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError("URLs with user info are not supported");
  }
  std::string_view port;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("unterminated IPv6 literal in \"", std::string(url), "\""));
    }
    result.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return absl::InvalidArgumentError(absl::StrCat("bad host in \"", std::string(url), "\""));
      }
      port = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    result.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (result.host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no host in \"", std::string(url), "\""));
  }
  uint32_t port_number = 80;
  if (!port.empty() &&
      (!absl::SimpleAtoi(absl::string_view(port.data(), port.size()), &port_number) ||
       port_number == 0 || port_number > 65535)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad port \"", std::string(port), "\" in \"", std::string(url), "\""));
  }
  result.port = std::to_string(port_number);
  return result;
}

absl::StatusOr<HttpUrl> ResolveLocation(const HttpUrl& base, std::string_view location) {
  if (location.starts_with("//")) return ParseHttpUrl(absl::StrCat("http:", std::string(location)));
  if (location.starts_with("/")) {
    HttpUrl result = base;
    result.target = std::string(location.substr(0, location.find('#')));
    return result;
  }
  const std::string lower = Lowercase(location.substr(0, std::min<size_t>(location.size(), 8)));
  if (lower.starts_with("http://") || lower.starts_with("https://")) {
    return ParseHttpUrl(location);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported relative Location \"", std::string(location), "\""));
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

absl::StatusOr<HttpUrl> EventsUrl(const HttpUrl& base, std::string_view topic) {
  if (base.target.find('?') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("the base URL must not have a query: ", base.ToString()));
  }
  HttpUrl result = base;
  std::string path = base.target;
  while (!path.empty() && path.back() == '/') path.pop_back();
  result.target = absl::StrCat(path, "/v1/topics/", PercentEncode(topic), "/events");
  return result;
}

std::string FormatEvent(const sse::ParsedEvent& event, std::string_view id, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    return absl::StrCat("{\"id\":", sse::JsonQuote(id), ",\"type\":", sse::JsonQuote(event.type),
                        ",\"data\":", sse::JsonQuote(event.data), "}");
  }
  return absl::StrCat(id.empty() ? "-" : std::string(id), " ", EscapeLine(event.type), " ",
                      EscapeLine(event.data));
}

int RunSubscribe(const SubscribeCommandOptions& options, std::ostream& out, std::ostream& err) {
  if (options.topic.empty()) {
    err << "ringcast subscribe: --topic is required\n";
    return 1;
  }
  absl::StatusOr<HttpUrl> base = ParseHttpUrl(options.url);
  absl::StatusOr<HttpUrl> url = base.ok() ? EventsUrl(*base, options.topic) : base.status();
  if (!url.ok()) {
    err << "ringcast subscribe: --url: " << url.status().message() << "\n";
    return 1;
  }
  return Subscriber(options, *std::move(url), out, err).Run();
}

}  // namespace ringcast::cli
