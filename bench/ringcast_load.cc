// ringcast_load.cc — ringcast-load, an SSE subscriber swarm for load tests: N long-lived
// subscriptions spread over M topics, against ringcast-node or any SSE server (the URL is a
// pattern), counting events, id gaps and duplicates, and publish->deliver latency. At the end it
// prints one JSON line on stdout; progress goes to stderr. See bench/README.md.
//
//   ringcast-load --url_pattern=http://127.0.0.1:8080/v1/topics/{topic}/events
//       --connections=5000 --topics=1 --duration_s=12
//
// How it works: each of --threads workers runs one single-threaded io_context and owns its
// connections (connection i goes to worker i % threads). A connection connects (bound first to
// one of --source_addresses, round-robin, so more than one source address can go past the
// ~28k ephemeral ports of one), writes its GET, reads into its own buffer, parses the response
// head minimally (status, Transfer-Encoding), then feeds the body through sse::ChunkedDecoder and
// sse::EventStreamParser (bench/stream_check.h). Each topic's events are checked to be contiguous:
// by the `"seq":<n>` that ringcast-pubload puts in the data (so nchan and Pushpin are checked the
// same way), else by ringcast's `<epoch>:<offset>` ids; a jump is a gap, a step back a duplicate.
// Data carrying "sent_us":<unix microseconds> gives a latency sample, taken against the clock
// read once per completed read.
//
// Replay storm (--storm_after_events=K): once every open connection holds K events, all drop
// and reconnect at once with Last-Event-ID = the id --storm_back events back, and the tool times
// until each has received again the newest event it had before; the run ends when all have.
//
// Thread safety: a Connection and its Worker's state are touched only by the worker's thread.
// The counters the main thread polls for progress are single-writer relaxed atomics; the
// histograms and failure tallies are read only after the workers are joined.
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/latency_histogram.h"
#include "bench/stream_check.h"
#include "sse/event.h"
#include "sse/parser.h"

ABSL_FLAG(std::string, url_pattern, "http://127.0.0.1:8080/v1/topics/{topic}/events",
          "http:// URL of the stream; every {topic} is replaced by the connection's topic");
ABSL_FLAG(uint32_t, connections, 100, "subscriptions to open");
ABSL_FLAG(uint32_t, topics, 1, "connection i subscribes to <topic_prefix>(i % topics)");
ABSL_FLAG(std::string, topic_prefix, "load-", "topic names are <topic_prefix><n>");
ABSL_FLAG(std::string, source_addresses, "",
          "comma-separated local IPs bound round-robin before connect (e.g. "
          "127.0.0.1,127.0.0.2); empty = the kernel picks");
ABSL_FLAG(double, duration_s, 10, "stop after this many seconds; 0 = only --expect_events");
ABSL_FLAG(uint64_t, expect_events, 0,
          "stop once every connection has this many events (or ended); 0 = run for duration");
ABSL_FLAG(double, connect_rate, 0, "new connections per second; 0 = as fast as possible");
ABSL_FLAG(uint32_t, max_connecting, 1000,
          "connections at most between connect and response head at once");
ABSL_FLAG(std::string, last_event_id, "", "sent as Last-Event-ID on every connection");
ABSL_FLAG(uint64_t, storm_after_events, 0,
          "replay storm: once every open connection has this many events, all reconnect at "
          "once with the id --storm_back events back as Last-Event-ID; 0 = no storm");
ABSL_FLAG(uint32_t, storm_back, 400, "how many events back the storm's Last-Event-ID lies");
ABSL_FLAG(uint32_t, threads, 1, "worker threads, each with its own io_context");
ABSL_FLAG(uint32_t, read_buffer_bytes, 4096, "per-connection read buffer");
ABSL_FLAG(double, report_every_s, 0, "print a progress line to stderr this often; 0 = never");

namespace ringcast::bench {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

// The longest response head accepted.
constexpr size_t kMaxHeadBytes = 16 * 1024;

struct LoadOptions {
  std::string host;         // from the URL, for Host:
  std::string host_header;  // host[:port] as in the URL
  tcp::endpoint server;
  std::string path_pattern;  // path and query with {topic}
  uint32_t connections = 0;
  uint32_t topics = 1;
  std::string topic_prefix;
  std::vector<asio::ip::address> source_addresses;
  absl::Duration duration;
  uint64_t expect_events = 0;
  double connect_rate = 0;
  uint32_t max_connecting = 0;
  std::string last_event_id;
  uint64_t storm_after_events = 0;
  uint32_t storm_back = 0;
  uint32_t threads = 1;
  uint32_t read_buffer_bytes = 0;
  absl::Duration report_every;
};

// A counter written by one thread and read by others (progress), without a locked instruction.
class Counter {
 public:
  void Add(uint64_t n = 1) { value_.store(value_.load(kRelaxed) + n, kRelaxed); }
  uint64_t Get() const { return value_.load(kRelaxed); }

 private:
  static constexpr std::memory_order kRelaxed = std::memory_order_relaxed;
  std::atomic<uint64_t> value_{0};
};

// One worker's tallies. Counters: written by the worker, polled by main. The rest: read after
// the worker's thread is joined.
struct Stats {
  Counter launched;     // connections started
  Counter established;  // got a 200 head: streaming
  Counter failed;       // ended before streaming (connect, HTTP status, bad head)
  Counter closed;       // ended after streaming (EOF, reset, bad framing)
  Counter finished;     // reached --expect_events, failed, or closed before reaching it
  Counter events;       // dispatched events, resets excluded
  Counter gaps;         // position jumps
  Counter missing;      // positions skipped by those jumps
  Counter duplicates;   // positions not past the previous one
  Counter resets;       // ringcast.reset events
  Counter unpositioned; // events with neither a data "seq" nor a ringcast id
  Counter epoch_changes;
  Counter bytes;  // bytes read, heads included
  Counter storm_ready;      // open connections holding --storm_after_events events
  Counter storm_started;    // connections that reconnected in the storm
  Counter storm_caught_up;  // ... and have received again their last event from before it
  Counter storm_failed;     // ... and failed or closed before catching up

  LatencyHistogram latency_us;
  LatencyHistogram storm_catch_up_us;  // storm start -> a connection caught up
  std::map<std::string, uint64_t> failure_reasons;
  int64_t first_event_us = 0;  // 0 = none yet
  int64_t last_event_us = 0;
};

std::string ErrorText(const error_code& ec) { return ec.message(); }

class Worker;

// One subscription: connect, request, response head, then the event stream until it ends or
// the worker stops. In a replay storm it reconnects once, resuming --storm_back events back.
class Connection {
 public:
  Connection(Worker& worker, uint32_t index);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Start();
  // Drops the stream and reconnects at once, resuming --storm_back events back. Does nothing
  // unless the connection is streaming and has seen that many events.
  void StartStorm(int64_t storm_start_us);

 private:
  enum class Phase { kConnecting, kHead, kBody, kEnded };
  // A seen event, kept for the storm's resume point.
  struct Seen {
    std::string id;
    std::optional<EventPosition> position;
  };

  void Connect(std::string_view last_event_id);
  void OnConnect(const error_code& ec);
  void OnWrite(const error_code& ec);
  void DoRead();
  void OnRead(const error_code& ec, size_t n);
  // Parses head_ once it holds "\r\n\r\n"; false when the connection failed.
  bool ParseHead(size_t head_end);
  void ConsumeBody(std::string_view bytes, int64_t now_us);
  void OnEvent(const sse::ParsedEvent& event, int64_t now_us);
  void Remember(const sse::ParsedEvent& event, const std::optional<EventPosition>& position);
  void CheckCaughtUp(const std::optional<EventPosition>& position, int64_t now_us);
  void Fail(std::string reason);   // before streaming
  void Close(std::string reason);  // after streaming
  void EndStorm(bool caught_up);

  Worker& worker_;
  const uint32_t index_;
  tcp::socket socket_;
  Phase phase_ = Phase::kConnecting;
  std::string request_;  // freed once written
  std::string head_;     // freed once parsed
  std::unique_ptr<char[]> buffer_;
  std::optional<SseBodyReader> reader_;  // from the response head on
  SequenceTracker tracker_;
  uint64_t events_ = 0;
  // Storm state: the last --storm_back + 1 events (a ring; only with --storm_after_events).
  std::vector<Seen> seen_;
  size_t seen_next_ = 0;
  bool in_storm_ = false;  // reconnected by the storm, not caught up yet
  std::optional<EventPosition> storm_target_;
  int64_t storm_start_us_ = 0;
};

class Worker {
 public:
  Worker(const LoadOptions& options, std::vector<uint32_t> indexes)
      : options_(options),
        io_(1),
        work_(io_.get_executor()),
        timer_(io_),
        indexes_(std::move(indexes)) {
    connections_.reserve(indexes_.size());
  }

  void Run() {
    start_ = absl::Now();
    asio::post(io_, [this] { Launch(); });
    io_.run();
  }
  void Stop() { io_.stop(); }

  const LoadOptions& options() const { return options_; }
  asio::io_context& io() { return io_; }
  Stats& stats() { return stats_; }

  // Every connection reconnects at once (see Connection::StartStorm).
  void StartStorm(int64_t storm_start_us) {
    for (auto& connection : connections_) connection->StartStorm(storm_start_us);
  }

  // A connection left the connecting state (streaming, or failed): room for another. Launch
  // runs later, not inside the caller, so failures at Start() cannot recurse.
  void OnConnectingDone() {
    --connecting_;
    if (launch_posted_ || next_ == indexes_.size()) return;
    launch_posted_ = true;
    asio::post(io_, [this] {
      launch_posted_ = false;
      Launch();
    });
  }

 private:
  // Starts connections while the rate and --max_connecting allow.
  void Launch() {
    const double rate = options_.connect_rate / options_.threads;
    while (next_ < indexes_.size() && connecting_ < options_.max_connecting) {
      if (rate > 0) {
        const double due_s = static_cast<double>(next_) / rate;
        const absl::Duration wait = start_ + absl::Seconds(due_s) - absl::Now();
        if (wait > absl::ZeroDuration()) {
          if (!timer_armed_) {
            timer_armed_ = true;
            timer_.expires_after(absl::ToChronoNanoseconds(wait));
            timer_.async_wait([this](const error_code& ec) {
              timer_armed_ = false;
              if (!ec) Launch();
            });
          }
          return;
        }
      }
      ++connecting_;
      connections_.push_back(std::make_unique<Connection>(*this, indexes_[next_++]));
      stats_.launched.Add();
      connections_.back()->Start();
    }
  }

  const LoadOptions& options_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::steady_timer timer_;
  bool timer_armed_ = false;
  bool launch_posted_ = false;
  const std::vector<uint32_t> indexes_;  // global connection indexes this worker opens
  size_t next_ = 0;                      // next position in indexes_
  uint32_t connecting_ = 0;
  absl::Time start_;
  std::vector<std::unique_ptr<Connection>> connections_;
  Stats stats_;
};

Connection::Connection(Worker& worker, uint32_t index)
    : worker_(worker), index_(index), socket_(worker.io()) {}

void Connection::Start() { Connect(worker_.options().last_event_id); }

void Connection::Connect(std::string_view last_event_id) {
  const LoadOptions& o = worker_.options();
  phase_ = Phase::kConnecting;
  error_code ec;
  socket_.open(o.server.protocol(), ec);
  if (ec) return Fail("socket: " + ErrorText(ec));
  if (!o.source_addresses.empty()) {
    // Defer the port choice to connect(), where the whole 4-tuple is known, so each source
    // address gets its own ephemeral range toward the server.
    const int one = 1;
    setsockopt(socket_.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    socket_.bind(tcp::endpoint(o.source_addresses[index_ % o.source_addresses.size()], 0), ec);
    if (ec) return Fail("bind: " + ErrorText(ec));
  }
  const std::string topic = absl::StrCat(o.topic_prefix, index_ % o.topics);
  const std::string path = absl::StrReplaceAll(o.path_pattern, {{"{topic}", topic}});
  request_ = absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: ", o.host_header,
                          "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n"
                          "User-Agent: ringcast-load\r\n");
  if (!last_event_id.empty()) absl::StrAppend(&request_, "Last-Event-ID: ", std::string(last_event_id), "\r\n");
  request_ += "\r\n";
  socket_.async_connect(o.server, [this](const error_code& e) { OnConnect(e); });
}

void Connection::StartStorm(int64_t storm_start_us) {
  const size_t back = worker_.options().storm_back;
  if (phase_ != Phase::kBody || events_ <= back || seen_.size() != back + 1) return;
  // seen_next_ is the oldest of the last back + 1 events: resume after it, catch up to the newest.
  const Seen& resume = seen_[seen_next_];
  const Seen& newest = seen_[(seen_next_ + back) % seen_.size()];
  if (!resume.position.has_value() || !newest.position.has_value()) return;
  worker_.stats().storm_started.Add();
  in_storm_ = true;
  storm_start_us_ = storm_start_us;
  storm_target_ = newest.position;
  tracker_.ResumeAfter(*resume.position);
  const std::string resume_id = resume.id;
  std::vector<Seen>().swap(seen_);
  error_code ignored;
  socket_.close(ignored);  // the pending read completes with operation_aborted
  reader_.reset();
  Connect(resume_id);
}

void Connection::OnConnect(const error_code& ec) {
  if (ec) return Fail("connect: " + ErrorText(ec));
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  phase_ = Phase::kHead;
  asio::async_write(socket_, asio::buffer(request_),
                    [this](const error_code& e, size_t) { OnWrite(e); });
}

void Connection::OnWrite(const error_code& ec) {
  if (ec) return Fail("write request: " + ErrorText(ec));
  std::string().swap(request_);
  if (!buffer_) buffer_ = std::make_unique<char[]>(worker_.options().read_buffer_bytes);
  DoRead();
}

void Connection::DoRead() {
  socket_.async_read_some(asio::buffer(buffer_.get(), worker_.options().read_buffer_bytes),
                          [this](const error_code& ec, size_t n) { OnRead(ec, n); });
}

void Connection::OnRead(const error_code& ec, size_t n) {
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    const std::string why = ec == asio::error::eof ? "eof" : ErrorText(ec);
    if (phase_ == Phase::kHead) return Fail("before response head: " + why);
    return Close(why);
  }
  worker_.stats().bytes.Add(n);
  std::string_view bytes(buffer_.get(), n);
  const int64_t now_us = absl::GetCurrentTimeNanos() / 1000;
  if (phase_ == Phase::kHead) {
    const size_t searched_from = head_.size() < 3 ? 0 : head_.size() - 3;
    head_.append(bytes);
    const size_t end = head_.find("\r\n\r\n", searched_from);
    if (end == std::string::npos) {
      if (head_.size() > kMaxHeadBytes) return Fail("response head too large");
      return DoRead();
    }
    if (!ParseHead(end)) return;
    std::string rest = head_.substr(end + 4);
    std::string().swap(head_);
    ConsumeBody(rest, now_us);
  } else {
    ConsumeBody(bytes, now_us);
  }
  if (phase_ == Phase::kBody) DoRead();
}

bool Connection::ParseHead(size_t head_end) {
  // NOTE: Debian's abseil has its own string_view, so the head is split with absl's.
  const absl::string_view head(head_.data(), head_end);
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  // "HTTP/1.1 200 OK"
  const absl::string_view status_line = lines.front();
  int status = 0;
  if (!absl::StartsWith(status_line, "HTTP/1.") || status_line.size() < 12 ||
      !absl::SimpleAtoi(status_line.substr(9, 3), &status)) {
    Fail("malformed status line");
    return false;
  }
  if (status != 200) {
    Fail(absl::StrCat("http ", status));
    return false;
  }
  bool chunked = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) continue;
    const absl::string_view name = absl::StripAsciiWhitespace(lines[i].substr(0, colon));
    if (!absl::EqualsIgnoreCase(name, "transfer-encoding")) continue;
    const std::string value = absl::AsciiStrToLower(lines[i].substr(colon + 1));
    if (value.find("chunked") != std::string::npos) chunked = true;
  }
  reader_.emplace(chunked);
  phase_ = Phase::kBody;
  if (in_storm_) return true;  // a storm reconnect: counted by storm_started already
  worker_.stats().established.Add();
  worker_.OnConnectingDone();
  return true;
}

void Connection::ConsumeBody(std::string_view bytes, int64_t now_us) {
  if (bytes.empty()) return;
  absl::Status status =
      reader_->Feed(bytes, [this, now_us](const sse::ParsedEvent& e) { OnEvent(e, now_us); });
  if (!status.ok()) return Close(std::string(status.message()));
  if (reader_->ended()) Close("server ended the stream");
}

void Connection::OnEvent(const sse::ParsedEvent& event, int64_t now_us) {
  Stats& stats = worker_.stats();
  if (event.type == sse::kResetEventType) {
    stats.resets.Add();
    tracker_.Clear();  // the stream continues from wherever the server says
    return;
  }
  stats.events.Add();
  if (stats.first_event_us == 0) stats.first_event_us = now_us;
  stats.last_event_us = now_us;
  ++events_;
  if (events_ == worker_.options().expect_events) stats.finished.Add();
  if (events_ == worker_.options().storm_after_events) stats.storm_ready.Add();
  const Observation seen = tracker_.Observe(event);
  switch (seen.order) {
    case Order::kGap:
      stats.gaps.Add();
      stats.missing.Add(seen.missing);
      break;
    case Order::kDuplicate: stats.duplicates.Add(); break;
    case Order::kNewGeneration: stats.epoch_changes.Add(); break;
    case Order::kUnpositioned: stats.unpositioned.Add(); break;
    case Order::kFirst:
    case Order::kNext: break;
  }
  if (std::optional<uint64_t> sent = FindUnsignedField(event.data, "sent_us"); sent.has_value()) {
    const auto now = static_cast<uint64_t>(now_us);
    stats.latency_us.Record(now > *sent ? now - *sent : 0);
  }
  if (worker_.options().storm_after_events > 0 && !in_storm_) Remember(event, seen.position);
  if (in_storm_) CheckCaughtUp(seen.position, now_us);
}

void Connection::Remember(const sse::ParsedEvent& event,
                          const std::optional<EventPosition>& position) {
  const size_t keep = worker_.options().storm_back + 1;
  Seen entry{.id = event.id, .position = position};
  if (seen_.size() < keep) {
    seen_.push_back(std::move(entry));
    return;
  }
  seen_[seen_next_] = std::move(entry);
  seen_next_ = (seen_next_ + 1) % keep;
}

void Connection::CheckCaughtUp(const std::optional<EventPosition>& position, int64_t now_us) {
  if (!position.has_value() || position->topic != storm_target_->topic ||
      position->generation != storm_target_->generation ||
      position->value < storm_target_->value) {
    return;
  }
  worker_.stats().storm_catch_up_us.Record(static_cast<uint64_t>(now_us - storm_start_us_));
  EndStorm(true);
}

void Connection::EndStorm(bool caught_up) {
  if (!in_storm_) return;
  in_storm_ = false;
  (caught_up ? worker_.stats().storm_caught_up : worker_.stats().storm_failed).Add();
}

void Connection::Fail(std::string reason) {
  phase_ = Phase::kEnded;
  error_code ignored;
  socket_.close(ignored);
  Stats& stats = worker_.stats();
  ++stats.failure_reasons[std::move(reason)];
  std::string().swap(request_);
  std::string().swap(head_);
  if (in_storm_) return EndStorm(false);
  stats.failed.Add();
  stats.finished.Add();
  worker_.OnConnectingDone();
}

void Connection::Close(std::string reason) {
  phase_ = Phase::kEnded;
  error_code ignored;
  socket_.close(ignored);
  buffer_.reset();
  reader_.reset();
  Stats& stats = worker_.stats();
  stats.closed.Add();
  const uint64_t expect = worker_.options().expect_events;
  if (expect == 0 || events_ < expect) stats.finished.Add();
  ++stats.failure_reasons["closed: " + reason];
  EndStorm(false);
}

// --- options ------------------------------------------------------------------------------

absl::StatusOr<LoadOptions> OptionsFromFlags() {
  LoadOptions o;
  const std::string url = absl::GetFlag(FLAGS_url_pattern);
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) {
    return absl::InvalidArgumentError("--url_pattern must start with http://");
  }
  const std::string_view rest = std::string_view(url).substr(kScheme.size());
  const size_t slash = rest.find('/');
  o.host_header = std::string(rest.substr(0, slash));
  o.path_pattern = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (o.path_pattern.find("{topic}") == std::string::npos) {
    return absl::InvalidArgumentError("--url_pattern must contain {topic}");
  }
  std::string port = "80";
  o.host = o.host_header;
  if (const size_t colon = o.host_header.rfind(':');
      colon != std::string::npos && o.host_header.find(']', colon) == std::string::npos) {
    o.host = o.host_header.substr(0, colon);
    port = o.host_header.substr(colon + 1);
  }
  if (o.host.size() > 2 && o.host.front() == '[') o.host = o.host.substr(1, o.host.size() - 2);
  asio::io_context io;
  tcp::resolver resolver(io);
  error_code ec;
  tcp::resolver::results_type results = resolver.resolve(o.host, port, ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve ", o.host_header, ": ", ErrorText(ec)));
  }
  o.server = results.begin()->endpoint();

  o.connections = absl::GetFlag(FLAGS_connections);
  o.topics = absl::GetFlag(FLAGS_topics);
  if (o.topics == 0) return absl::InvalidArgumentError("--topics must be >= 1");
  o.topic_prefix = absl::GetFlag(FLAGS_topic_prefix);
  for (absl::string_view text :
       absl::StrSplit(absl::GetFlag(FLAGS_source_addresses), ',', absl::SkipWhitespace())) {
    const std::string trimmed(absl::StripAsciiWhitespace(text));
    asio::ip::address address = asio::ip::make_address(trimmed, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("bad source address ", trimmed));
    o.source_addresses.push_back(address);
  }
  const double duration_s = absl::GetFlag(FLAGS_duration_s);
  o.expect_events = absl::GetFlag(FLAGS_expect_events);
  if (duration_s < 0 || (duration_s == 0 && o.expect_events == 0)) {
    return absl::InvalidArgumentError("--duration_s must be > 0 unless --expect_events is set");
  }
  o.duration = duration_s == 0 ? absl::InfiniteDuration() : absl::Seconds(duration_s);
  o.connect_rate = absl::GetFlag(FLAGS_connect_rate);
  if (o.connect_rate < 0) return absl::InvalidArgumentError("--connect_rate must be >= 0");
  o.max_connecting = std::max<uint32_t>(1, absl::GetFlag(FLAGS_max_connecting));
  o.last_event_id = absl::GetFlag(FLAGS_last_event_id);
  o.storm_after_events = absl::GetFlag(FLAGS_storm_after_events);
  o.storm_back = absl::GetFlag(FLAGS_storm_back);
  if (o.storm_after_events > 0 && o.storm_after_events <= o.storm_back) {
    return absl::InvalidArgumentError("--storm_after_events must exceed --storm_back");
  }
  o.threads = std::clamp<uint32_t>(absl::GetFlag(FLAGS_threads), 1, 256);
  o.read_buffer_bytes = std::max<uint32_t>(256, absl::GetFlag(FLAGS_read_buffer_bytes));
  const double report_s = absl::GetFlag(FLAGS_report_every_s);
  o.report_every = report_s > 0 ? absl::Seconds(report_s) : absl::InfiniteDuration();
  return o;
}

// --- the run ------------------------------------------------------------------------------

volatile std::sig_atomic_t stop_requested = 0;
extern "C" void OnStopSignal(int) { stop_requested = 1; }

struct Totals {
  uint64_t launched = 0, established = 0, failed = 0, closed = 0, finished = 0, events = 0;
  uint64_t gaps = 0, missing = 0, duplicates = 0, resets = 0, unpositioned = 0;
  uint64_t epoch_changes = 0, bytes = 0;
  uint64_t storm_ready = 0, storm_started = 0, storm_caught_up = 0, storm_failed = 0;
};

Totals Sum(const std::vector<std::unique_ptr<Worker>>& workers) {
  Totals t;
  for (const auto& w : workers) {
    const Stats& s = w->stats();
    t.launched += s.launched.Get();
    t.established += s.established.Get();
    t.failed += s.failed.Get();
    t.closed += s.closed.Get();
    t.finished += s.finished.Get();
    t.events += s.events.Get();
    t.gaps += s.gaps.Get();
    t.missing += s.missing.Get();
    t.duplicates += s.duplicates.Get();
    t.resets += s.resets.Get();
    t.unpositioned += s.unpositioned.Get();
    t.epoch_changes += s.epoch_changes.Get();
    t.bytes += s.bytes.Get();
    t.storm_ready += s.storm_ready.Get();
    t.storm_started += s.storm_started.Get();
    t.storm_caught_up += s.storm_caught_up.Get();
    t.storm_failed += s.storm_failed.Get();
  }
  return t;
}

// {"count":..,"p50":..,"p99":..,"p999":..,"max":..}
std::string SummaryJson(const LatencyHistogram& h) {
  return absl::StrFormat(R"({"count":%d,"p50":%d,"p99":%d,"p999":%d,"max":%d})", h.count(),
                         h.ValueAtPercentile(50), h.ValueAtPercentile(99),
                         h.ValueAtPercentile(99.9), h.max());
}

int Run(const LoadOptions& options) {
  std::vector<std::vector<uint32_t>> indexes(options.threads);
  for (uint32_t i = 0; i < options.connections; ++i) indexes[i % options.threads].push_back(i);
  std::vector<std::unique_ptr<Worker>> workers;
  for (auto& list : indexes) workers.push_back(std::make_unique<Worker>(options, std::move(list)));

  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (auto& worker : workers) threads.emplace_back([w = worker.get()] { w->Run(); });

  absl::Time next_report = start + options.report_every;
  bool connected_reported = false;
  Totals previous;
  absl::Time previous_at = start;
  std::optional<absl::Time> storm_at;
  while (stop_requested == 0) {
    absl::SleepFor(absl::Milliseconds(20));
    const absl::Time now = absl::Now();
    const Totals t = Sum(workers);
    if (!connected_reported && t.established + t.failed >= options.connections) {
      connected_reported = true;
      absl::FPrintF(stderr, "ringcast-load: connected open=%d failed=%d after %.3f s\n",
                    t.established - t.closed, t.failed, absl::ToDoubleSeconds(now - start));
    }
    if (now >= next_report) {
      const double dt = absl::ToDoubleSeconds(now - previous_at);
      absl::FPrintF(stderr,
                    "ringcast-load: t=%.1fs open=%d connecting=%d failed=%d closed=%d "
                    "events=%d (%.0f/s) gaps=%d duplicates=%d resets=%d\n",
                    absl::ToDoubleSeconds(now - start), t.established - t.closed,
                    t.launched - t.established - t.failed, t.failed, t.closed, t.events,
                    dt > 0 ? static_cast<double>(t.events - previous.events) / dt : 0.0, t.gaps,
                    t.duplicates, t.resets);
      previous = t;
      previous_at = now;
      next_report += options.report_every;
    }
    if (now - start >= options.duration) break;
    if (options.expect_events > 0 && t.finished >= options.connections) break;
    if (options.storm_after_events > 0) {
      const uint64_t open = t.established - t.closed;
      if (!storm_at.has_value() && connected_reported && open > 0 && t.storm_ready >= open) {
        storm_at = now;
        absl::FPrintF(stderr, "ringcast-load: storm: %d connections reconnect at once\n", open);
        const int64_t storm_start_us = absl::ToUnixMicros(now);
        for (auto& worker : workers) {
          asio::post(worker->io(), [w = worker.get(), storm_start_us] {
            w->StartStorm(storm_start_us);
          });
        }
      }
      // The storm is over when every connection it reconnected caught up or failed.
      if (storm_at.has_value() && now - *storm_at > absl::Milliseconds(100) &&
          t.storm_caught_up + t.storm_failed >= t.storm_started) {
        break;
      }
    }
  }
  for (auto& worker : workers) worker->Stop();
  for (std::thread& thread : threads) thread.join();
  const double elapsed_s = absl::ToDoubleSeconds(absl::Now() - start);

  const Totals t = Sum(workers);
  LatencyHistogram latency;
  LatencyHistogram storm_catch_up;
  std::map<std::string, uint64_t> reasons;
  int64_t first_us = 0;
  int64_t last_us = 0;
  for (const auto& w : workers) {
    const Stats& s = w->stats();
    latency.Merge(s.latency_us);
    storm_catch_up.Merge(s.storm_catch_up_us);
    for (const auto& [reason, n] : s.failure_reasons) reasons[reason] += n;
    if (s.first_event_us != 0 && (first_us == 0 || s.first_event_us < first_us)) {
      first_us = s.first_event_us;
    }
    last_us = std::max(last_us, s.last_event_us);
  }
  for (const auto& [reason, n] : reasons) {
    absl::FPrintF(stderr, "ringcast-load: %d x %s\n", n, reason);
  }
  const double window_s = static_cast<double>(last_us - first_us) / 1e6;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  const double cpu_s = seconds(usage.ru_utime) + seconds(usage.ru_stime);
  absl::PrintF(
      "{\"connections_open\":%d,\"connections_failed\":%d,\"connections_closed\":%d,"
      "\"events\":%d,\"events_per_s\":%.1f,\"events_window_s\":%.3f,"
      "\"events_per_s_in_window\":%.1f,\"gaps\":%d,\"missing\":%d,\"duplicates\":%d,"
      "\"resets\":%d,\"unpositioned\":%d,\"epoch_changes\":%d,\"bytes\":%d,"
      "\"latency_us\":%s,\"storm\":{\"started\":%d,\"caught_up\":%d,\"failed\":%d,"
      "\"catch_up_us\":%s},\"cpu_s\":%.3f,\"elapsed_s\":%.3f}\n",
      t.established - t.closed, t.failed, t.closed, t.events,
      elapsed_s > 0 ? static_cast<double>(t.events) / elapsed_s : 0.0, window_s,
      window_s > 0 ? static_cast<double>(t.events) / window_s : 0.0, t.gaps, t.missing,
      t.duplicates, t.resets, t.unpositioned, t.epoch_changes, t.bytes, SummaryJson(latency),
      t.storm_started, t.storm_caught_up, t.storm_failed, SummaryJson(storm_catch_up), cpu_s,
      elapsed_s);
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace ringcast::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "ringcast-load: an SSE subscriber swarm. Prints one JSON line of results on stdout.");
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<ringcast::bench::LoadOptions> options = ringcast::bench::OptionsFromFlags();
  if (!options.ok()) {
    std::fprintf(stderr, "ringcast-load: %s\n", std::string(options.status().message()).c_str());
    return 2;
  }
  return ringcast::bench::Run(*options);
}
