// ringcast_pubload.cc — ringcast-pubload, a publisher load generator: publishes events to K
// topics at a fixed total rate (or as fast as the server answers) and measures accepted events/s
// and send->answer latency. At the end it prints one JSON line on stdout; progress goes to
// stderr. It drives a ringcast node over gRPC, or nginx+nchan and Pushpin over HTTP, so the same
// load reaches every peer. See bench/README.md.
//
//   ringcast-pubload --target=127.0.0.1:9090 --streams=4 --topics=100 --rate=10000
//   ringcast-pubload --url_pattern='http://127.0.0.1:80/pub/{topic}' --streams=4 --topics=100
//
// How it works: the run is one sequence of events i = 0, 1, 2, ...; event i goes to topic
// i % K and is due at start + i / rate (--rate=0: due at once). Topic k belongs to lane
// k % streams, so each topic's events leave in order on one connection; a lane walks its share of
// the sequence, sleeping until each due time and sending at once when behind (no drift). A gRPC
// lane is one thread writing to its own PublishStream (with its own TCP connection), at most
// --max_in_flight unanswered; answers arrive through on_result. An HTTP lane is one io_context
// on its own thread with one keep-alive connection, one POST at a time (no pipelining), and
// reconnects when the server closes. Every event's data is one line,
//   {"topic":"load-3","seq":17,"sent_us":1732500000123456,"pad":"xxxx"}
// which ringcast-load and other subscriber tools read for ordering and latency.
//
// Thread safety: each lane's sending state is used by its own thread only; its LaneStats is
// thread-safe (a gRPC lane's answers arrive on the stream's reader thread). The main thread
// polls the stats for progress, asks lanes to stop, and reads the totals after joining them.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/latency_histogram.h"
#include "client/publisher_client.h"
#include "grpc/grpc.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

ABSL_FLAG(std::string, target, "", "ringcast node gRPC address host:port (gRPC PublishStreams)");
ABSL_FLAG(std::string, url_pattern, "",
          "http://host:port/path to POST to; every {topic} is replaced by the event's topic "
          "(nginx+nchan, Pushpin). Exactly one of --target and --url_pattern");
ABSL_FLAG(std::string, http_format, "raw",
          "raw: the body is the event data (text/plain); pushpin: Pushpin's publish JSON "
          "with an http-stream SSE frame (the pattern may then omit {topic})");
ABSL_FLAG(int64_t, streams, 1,
          "PublishStreams or HTTP connections, one thread each; topic k goes on k % streams");
ABSL_FLAG(int64_t, max_in_flight, 256, "gRPC: requests sent and not yet answered, per stream");
ABSL_FLAG(int64_t, batch, 0,
          "gRPC: send up to this many due events per PublishBatch call (one call in flight per "
          "lane) instead of a PublishStream; 0 = PublishStream");
ABSL_FLAG(int64_t, topics, 1, "event i goes to topic <topic_prefix>(i % topics)");
ABSL_FLAG(std::string, topic_prefix, "load-", "topic names are <topic_prefix><k>");
ABSL_FLAG(double, rate, 0, "events per second over all topics; 0 = as fast as possible");
ABSL_FLAG(double, duration_s, 10,
          "stop sending after this many seconds; with --events_per_topic only a safety bound "
          "(0 = none)");
ABSL_FLAG(int64_t, events_per_topic, 0, "stop after this many events per topic; 0 = no limit");
ABSL_FLAG(int64_t, first_seq, 1, "the seq of each topic's first event");
ABSL_FLAG(int64_t, payload_bytes, 64, "size of each event's data, padded with x (at least)");
ABSL_FLAG(double, pace_tick_ms, 1,
          "with --rate: events due within one tick leave together at its start, so a lane "
          "sleeps once per tick rather than once per event; 0 = exact due times");
ABSL_FLAG(double, report_every_s, 0, "print a progress line to stderr this often; 0 = never");

namespace ringcast::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using boost::system::error_code;

// How long an HTTP connect, or one request and its response, may take.
constexpr std::chrono::seconds kHttpTimeout(10);
// The pause before an HTTP lane tries again after a failed connect.
constexpr std::chrono::milliseconds kReconnectDelay(100);
// How long a gRPC stream may take, after --duration_s, to answer what is in flight.
constexpr absl::Duration kDrainTimeout = absl::Seconds(10);
// Sanity bounds of the flags.
constexpr int64_t kMaxStreams = 256;
constexpr int64_t kMaxTopics = 1'000'000;
constexpr int64_t kMaxPayloadBytes = 16 << 20;
constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

enum class HttpFormat { kRaw, kPushpin };

struct HttpTarget {
  std::string host_header;   // host[:port] as in the URL
  std::string path_pattern;  // path and query, possibly with {topic}
  tcp::endpoint server;
  HttpFormat format = HttpFormat::kRaw;
};

struct PubloadOptions {
  std::string grpc_target;         // host:port in gRPC mode, else empty
  std::optional<HttpTarget> http;  // set in HTTP mode
  uint32_t streams = 1;
  uint32_t max_in_flight = 256;
  uint32_t batch = 0;  // > 0: PublishBatch calls of up to this many events
  std::vector<std::string> topic_names;  // index k = topic k
  double rate = 0;                       // events/s over all topics; 0 = as fast as possible
  absl::Duration duration;               // InfiniteDuration = no bound
  uint64_t events_per_topic = 0;         // 0 = no limit
  uint64_t first_seq = 1;
  size_t payload_bytes = 64;
  absl::Duration pace_tick;     // due times are rounded down to multiples of this
  absl::Duration report_every;  // InfiniteDuration = no progress lines
};

int64_t NowMicros() { return absl::ToUnixMicros(absl::Now()); }

std::string StatusText(const absl::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message());
}

// Appends `text` as a JSON string literal, quotes included.
void AppendJsonString(std::string* out, std::string_view text) {
  out->push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

// The data of one event, one line of about `payload_bytes` (more if the fields alone are longer):
//   {"topic":"load-0","seq":1,"sent_us":1732500000123456,"pad":"xxxxxxxx"}
std::string EventData(const std::string& topic, uint64_t seq, int64_t sent_us,
                      size_t payload_bytes) {
  std::string data = "{\"topic\":";
  AppendJsonString(&data, topic);
  absl::StrAppend(&data, ",\"seq\":", seq, ",\"sent_us\":", sent_us, ",\"pad\":\"");
  constexpr size_t kClosing = 2;  // "}
  if (data.size() + kClosing < payload_bytes) {
    data.append(payload_bytes - data.size() - kClosing, 'x');
  }
  data += "\"}";
  return data;
}

// Pushpin's publish body for one SSE event on `topic` (seq 7):
//   {"items":[{"channel":"t","id":"7",
//              "formats":{"http-stream":{"content":"id: 7\ndata: <data>\n\n"}}}]}
std::string PushpinPublishBody(const std::string& topic, uint64_t seq, const std::string& data) {
  std::string body = "{\"items\":[{\"channel\":";
  AppendJsonString(&body, topic);
  absl::StrAppend(&body, ",\"id\":\"", seq, "\",\"formats\":{\"http-stream\":{\"content\":");
  AppendJsonString(&body, absl::StrCat("id: ", seq, "\ndata: ", data, "\n\n"));
  body += "}}}]}";
  return body;
}

// --- schedule and results -----------------------------------------------------------------

struct ScheduledEvent {
  uint32_t topic = 0;  // index into PubloadOptions::topic_names
  uint64_t seq = 0;
  absl::Time due;  // InfinitePast when there is no rate
};

// The events of one lane, in order: the lane owns topics k with k % streams == lane, and takes
// their events from the run's sequence (event i: topic i % K, due at start + i / rate). Example:
// K = 4, 2 lanes, rate 100: lane 1 sends topic 1 (event 1, due +10 ms), topic 3 (event 3,
// +30 ms), topic 1 (event 5, +50 ms), ... Each lane thus gets rate * (its topics) / K.
class LaneSchedule {
 public:
  LaneSchedule(const PubloadOptions& options, uint32_t lane, absl::Time start)
      : total_topics_(options.topic_names.size()),
        rate_(options.rate),
        events_per_topic_(options.events_per_topic),
        first_seq_(options.first_seq),
        pace_tick_(options.pace_tick),
        start_(start) {
    for (size_t k = lane; k < total_topics_; k += options.streams) {
      topics_.push_back(static_cast<uint32_t>(k));
    }
  }

  // The lane's next event; nullopt once each of its topics has --events_per_topic events.
  std::optional<ScheduledEvent> Next() {
    const uint64_t round = next_ / topics_.size();
    if (events_per_topic_ > 0 && round >= events_per_topic_) return std::nullopt;
    const uint32_t topic = topics_[next_ % topics_.size()];
    ++next_;
    ScheduledEvent event{.topic = topic, .seq = first_seq_ + round, .due = absl::InfinitePast()};
    if (rate_ > 0) {
      const double index_in_run = static_cast<double>(round * total_topics_ + topic);
      absl::Duration offset = absl::Seconds(index_in_run / rate_);
      if (pace_tick_ > absl::ZeroDuration()) offset = absl::Floor(offset, pace_tick_);
      event.due = start_ + offset;
    }
    return event;
  }

 private:
  const uint64_t total_topics_;
  const double rate_;
  const uint64_t events_per_topic_;
  const uint64_t first_seq_;
  const absl::Duration pace_tick_;
  const absl::Time start_;
  std::vector<uint32_t> topics_;  // never empty: --streams <= --topics
  uint64_t next_ = 0;             // events taken so far
};

// The totals of a run: the sum of every lane's stats.
struct Summary {
  uint64_t sent = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  std::map<std::string, uint64_t> errors;
  LatencyHistogram latency_us;  // send -> answer of accepted events
  int64_t first_send_us = 0;    // 0 = nothing sent
  int64_t last_answer_us = 0;
};

// What one lane saw. Thread-safe: counters are atomics (polled for progress), the rest is
// guarded by mu_.
class LaneStats {
 public:
  void RecordSent(int64_t sent_us) {
    if (first_send_us_.load(std::memory_order_relaxed) == 0) {
      first_send_us_.store(sent_us, std::memory_order_relaxed);
    }
    sent_.fetch_add(1, std::memory_order_relaxed);
  }

  void RecordAccepted(int64_t sent_us, int64_t answered_us) {
    accepted_.fetch_add(1, std::memory_order_relaxed);
    absl::MutexLock lock(&mu_);
    latency_us_.Record(static_cast<uint64_t>(std::max<int64_t>(0, answered_us - sent_us)));
    last_answer_us_ = std::max(last_answer_us_, answered_us);
  }

  // A sent event that was not accepted: refused, or its outcome lost with the connection.
  void RecordRejected(std::string reason, int64_t answered_us) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    absl::MutexLock lock(&mu_);
    ++errors_[std::move(reason)];
    last_answer_us_ = std::max(last_answer_us_, answered_us);
  }

  // A failure not tied to one event (a connect, the end of a stream).
  void CountError(std::string reason) {
    absl::MutexLock lock(&mu_);
    ++errors_[std::move(reason)];
  }

  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  uint64_t accepted() const { return accepted_.load(std::memory_order_relaxed); }
  uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }

  void AddTo(Summary& total) const {
    total.sent += sent();
    total.accepted += accepted();
    total.rejected += rejected();
    const int64_t first = first_send_us_.load(std::memory_order_relaxed);
    if (first != 0 && (total.first_send_us == 0 || first < total.first_send_us)) {
      total.first_send_us = first;
    }
    absl::MutexLock lock(&mu_);
    for (const auto& [reason, n] : errors_) total.errors[reason] += n;
    total.latency_us.Merge(latency_us_);
    total.last_answer_us = std::max(total.last_answer_us, last_answer_us_);
  }

 private:
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> rejected_{0};
  std::atomic<int64_t> first_send_us_{0};  // written by the sending thread only

  mutable absl::Mutex mu_;
  LatencyHistogram latency_us_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> errors_ ABSL_GUARDED_BY(mu_);
  int64_t last_answer_us_ ABSL_GUARDED_BY(mu_) = 0;
};

// --- lanes ----------------------------------------------------------------------------------

// One connection's share of the run, sent from its own thread.
class Lane {
 public:
  Lane(const PubloadOptions& options, uint32_t lane, absl::Time start, absl::Time end)
      : options_(options), schedule_(options, lane, start), end_(end) {}
  virtual ~Lane() = default;
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  // Sends the lane's events until its schedule, the run or Stop ends them, then waits for the
  // answers in flight. Runs on the lane's own thread.
  virtual void Run() = 0;
  // From any thread, at most once: send nothing more.
  virtual void Stop() = 0;

  const LaneStats& stats() const { return stats_; }

 protected:
  const PubloadOptions& options_;
  LaneSchedule schedule_;
  const absl::Time end_;  // no event is sent at or after it
  LaneStats stats_;
};

// A gRPC channel with a TCP connection of its own.
std::shared_ptr<grpc::Channel> OwnConnection(const std::string& target) {
  grpc::ChannelArguments args;
  // NOTE: gRPC shares one connection among channels to the same address unless each channel has
  // a local subchannel pool; --streams=4 means four connections, as in HTTP mode.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

// One PublishStream to a ringcast node, or (--batch) one PublishBatch call at a time.
class GrpcLane final : public Lane {
 public:
  using Lane::Lane;

  void Run() override {
    client::PublisherClient publisher(OwnConnection(options_.grpc_target));
    if (options_.batch > 0) return SendBatches(publisher);
    client::PublishStreamOptions stream_options{
        .deadline = end_ == absl::InfiniteFuture() ? end_ : end_ + kDrainTimeout,
        .max_in_flight = options_.max_in_flight,
        .on_result = [this](client::StreamResult result) { OnResult(std::move(result)); }};
    absl::StatusOr<std::unique_ptr<client::PublishStream>> stream =
        publisher.OpenStream(std::move(stream_options));
    if (!stream.ok()) return stats_.CountError("open stream: " + StatusText(stream.status()));
    SendAll(**stream);
    absl::Status ended = (*stream)->Finish().status();
    if (ended.ok()) ended = (*stream)->stream_status();
    if (!ended.ok()) stats_.CountError("stream: " + StatusText(ended));
  }

  void Stop() override { stop_.Notify(); }

 private:
  void SendAll(client::PublishStream& stream) {
    client::PublishOptions publish;
    while (std::optional<ScheduledEvent> event = schedule_.Next()) {
      if (!WaitUntil(event->due)) return;
      publish.topic = options_.topic_names[event->topic];
      const int64_t sent_us = NowMicros();
      publish.data = EventData(publish.topic, event->seq, sent_us, options_.payload_bytes);
      {
        // NOTE: Send numbers requests 1, 2, ... (failures use no id) and the answer can come
        // before Send returns, so the send time is filed under the next id beforehand.
        absl::MutexLock lock(&mu_);
        sent_us_by_request_[next_request_id_] = sent_us;
      }
      absl::StatusOr<uint64_t> id = stream.Send(publish);
      if (!id.ok()) {
        absl::MutexLock lock(&mu_);
        sent_us_by_request_.erase(next_request_id_);
        // UNAVAILABLE: the stream has ended, and Run counts why.
        if (!absl::IsUnavailable(id.status())) {
          stats_.CountError("send: " + StatusText(id.status()));
        }
        return;
      }
      ++next_request_id_;
      stats_.RecordSent(sent_us);
    }
  }

  // Each call carries the events due by the time the first of them is (at most --batch).
  void SendBatches(const client::PublisherClient& publisher) {
    std::optional<ScheduledEvent> next = schedule_.Next();
    std::vector<client::PublishOptions> batch;
    while (next.has_value() && WaitUntil(next->due)) {
      batch.clear();
      const int64_t sent_us = NowMicros();
      const absl::Time now = absl::FromUnixMicros(sent_us);
      while (next.has_value() && next->due <= now && batch.size() < options_.batch) {
        const std::string& topic = options_.topic_names[next->topic];
        batch.push_back({.topic = topic,
                         .data = EventData(topic, next->seq, sent_us, options_.payload_bytes)});
        next = schedule_.Next();
      }
      for (size_t i = 0; i < batch.size(); ++i) stats_.RecordSent(sent_us);
      absl::StatusOr<std::vector<client::StreamResult>> results =
          publisher.PublishBatch(batch, end_ == absl::InfiniteFuture() ? end_ : end_ + kDrainTimeout);
      const int64_t answered_us = NowMicros();
      if (!results.ok()) {
        for (size_t i = 0; i < batch.size(); ++i) {
          stats_.RecordRejected(absl::StatusCodeToString(results.status().code()), answered_us);
        }
        continue;
      }
      for (const client::StreamResult& result : *results) {
        if (result.result.ok()) {
          stats_.RecordAccepted(sent_us, answered_us);
        } else {
          stats_.RecordRejected(absl::StatusCodeToString(result.result.status().code()),
                                answered_us);
        }
      }
    }
  }

  // Sleeps until `due`; false when Stop or the end of the run comes first.
  bool WaitUntil(absl::Time due) {
    if (due >= end_) return false;
    if (due > absl::Now()) return !stop_.WaitForNotificationWithDeadline(due);
    return !stop_.HasBeenNotified() && absl::Now() < end_;
  }

  // On the stream's reader thread (at Finish: this lane's thread, for unanswered requests).
  void OnResult(client::StreamResult result) {
    const int64_t now_us = NowMicros();
    int64_t sent_us = now_us;
    {
      absl::MutexLock lock(&mu_);
      if (auto it = sent_us_by_request_.find(result.request_id); it != sent_us_by_request_.end()) {
        sent_us = it->second;
        sent_us_by_request_.erase(it);
      }
    }
    if (result.result.ok()) {
      stats_.RecordAccepted(sent_us, now_us);
    } else {
      stats_.RecordRejected(absl::StatusCodeToString(result.result.status().code()), now_us);
    }
  }

  // Self-synchronised.
  absl::Notification stop_;

  // Used by the sending thread only.
  uint64_t next_request_id_ = 1;

  // Guarded by mu_: filled by the sending thread, emptied by the reader. Holds at most
  // --max_in_flight entries.
  absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, int64_t> sent_us_by_request_ ABSL_GUARDED_BY(mu_);
};

// One keep-alive HTTP/1.1 connection, one POST at a time. The steps run on the lane's own
// io_context: DoNext (take the next event, wait for its due time) -> SendWhenConnected ->
// [DoConnect -> OnConnect] -> DoSend -> OnWrite -> OnRead -> DoNext. A connection that fails
// or that the server closes is opened again for the next event; the event in flight then counts
// as rejected with the reason.
class HttpLane final : public Lane {
 public:
  HttpLane(const PubloadOptions& options, uint32_t lane, absl::Time start, absl::Time end)
      : Lane(options, lane, start, end), stream_(io_), timer_(io_) {
    request_.method(http::verb::post);
    request_.version(11);
    request_.set(http::field::host, options.http->host_header);
    request_.set(http::field::user_agent, "ringcast-pubload");
    request_.set(http::field::content_type,
                 options.http->format == HttpFormat::kPushpin ? "application/json" : "text/plain");
  }

  // The io_context runs out of work, and Run returns, once the lane has closed its connection.
  void Run() override {
    asio::post(io_, [this] { DoNext(); });
    io_.run();
  }

  void Stop() override {
    asio::post(io_, [this] {
      stopping_ = true;
      timer_.cancel();
    });
  }

 private:
  void DoNext() {
    std::optional<ScheduledEvent> next = stopping_ ? std::nullopt : schedule_.Next();
    const absl::Time now = absl::Now();
    if (!next.has_value() || next->due >= end_ || now >= end_) return Disconnect();
    event_ = *next;
    if (event_.due <= now) return SendWhenConnected();
    timer_.expires_after(absl::ToChronoNanoseconds(event_.due - now));
    timer_.async_wait([this](const error_code& ec) {
      if (ec || stopping_) return Disconnect();
      SendWhenConnected();
    });
  }

  void SendWhenConnected() {
    if (stream_.socket().is_open()) return DoSend();
    DoConnect();
  }

  void DoConnect() {
    if (stopping_ || absl::Now() >= end_) return Disconnect();
    stream_.expires_after(kHttpTimeout);
    stream_.async_connect(options_.http->server, [this](const error_code& ec) { OnConnect(ec); });
  }

  void OnConnect(const error_code& ec) {
    if (stopping_) return Disconnect();
    if (!ec) {
      error_code ignored;
      stream_.socket().set_option(tcp::no_delay(true), ignored);
      return DoSend();
    }
    stats_.CountError("connect: " + ec.message());
    stream_.close();
    timer_.expires_after(kReconnectDelay);
    timer_.async_wait([this](const error_code&) { DoConnect(); });
  }

  void DoSend() {
    const HttpTarget& target = *options_.http;
    const std::string& topic = options_.topic_names[event_.topic];
    sent_us_ = NowMicros();
    std::string data = EventData(topic, event_.seq, sent_us_, options_.payload_bytes);
    request_.target(absl::StrReplaceAll(target.path_pattern, {{"{topic}", topic}}));
    request_.body() = target.format == HttpFormat::kPushpin
                          ? PushpinPublishBody(topic, event_.seq, data)
                          : std::move(data);
    request_.prepare_payload();
    stats_.RecordSent(sent_us_);
    stream_.expires_after(kHttpTimeout);
    http::async_write(stream_, request_, [this](const error_code& ec, size_t) { OnWrite(ec); });
  }

  void OnWrite(const error_code& ec) {
    if (ec) return Drop("write: " + ec.message());
    response_ = {};
    http::async_read(stream_, buffer_, response_,
                     [this](const error_code& e, size_t) { OnRead(e); });
  }

  void OnRead(const error_code& ec) {
    if (ec) return Drop("read: " + ec.message());
    const int64_t now_us = NowMicros();
    const unsigned status = response_.result_int();
    if (status >= 200 && status < 300) {
      stats_.RecordAccepted(sent_us_, now_us);
    } else {
      stats_.RecordRejected(absl::StrCat("http ", status), now_us);
    }
    if (!response_.keep_alive()) Disconnect();
    DoNext();
  }

  // The connection failed with the current event unanswered.
  void Drop(std::string reason) {
    stats_.RecordRejected(std::move(reason), NowMicros());
    Disconnect();
    DoNext();
  }

  void Disconnect() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    buffer_.clear();
  }

  // All used by the lane's thread only.
  asio::io_context io_{1};
  beast::tcp_stream stream_;
  asio::steady_timer timer_;  // due times and reconnect pauses
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  ScheduledEvent event_;  // the event being sent
  int64_t sent_us_ = 0;   // when it was sent
  bool stopping_ = false;
};

// --- options ------------------------------------------------------------------------------

absl::StatusOr<HttpTarget> ParseHttpTarget(const std::string& url, HttpFormat format) {
  HttpTarget target{.format = format};
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) {
    return absl::InvalidArgumentError("--url_pattern must start with http://");
  }
  const std::string_view rest = std::string_view(url).substr(kScheme.size());
  const size_t slash = rest.find('/');
  target.host_header = std::string(rest.substr(0, slash));
  target.path_pattern = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (format == HttpFormat::kRaw && target.path_pattern.find("{topic}") == std::string::npos) {
    return absl::InvalidArgumentError(
        "--url_pattern must contain {topic} (only --http_format=pushpin may omit it)");
  }
  std::string host = target.host_header;
  std::string port = "80";
  if (const size_t colon = host.rfind(':');
      colon != std::string::npos && host.find(']', colon) == std::string::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  asio::io_context io;
  tcp::resolver resolver(io);
  error_code ec;
  tcp::resolver::results_type results = resolver.resolve(host, port, ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve ", target.host_header, ": ", ec.message()));
  }
  target.server = results.begin()->endpoint();
  return target;
}

absl::StatusOr<HttpFormat> ParseHttpFormat(const std::string& name) {
  if (name == "raw") return HttpFormat::kRaw;
  if (name == "pushpin") return HttpFormat::kPushpin;
  return absl::InvalidArgumentError("--http_format must be raw or pushpin");
}

// `value`, the value of flag --`name`, if it lies in [low, high].
absl::StatusOr<int64_t> InRange(std::string_view name, int64_t value, int64_t low, int64_t high) {
  if (value < low || value > high) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--%s must be in [%d, %d], not %d", std::string(name), low, high, value));
  }
  return value;
}

// Fills the transport: exactly one of --target and --url_pattern.
absl::Status TransportFromFlags(PubloadOptions& o) {
  o.grpc_target = absl::GetFlag(FLAGS_target);
  const std::string url = absl::GetFlag(FLAGS_url_pattern);
  if (o.grpc_target.empty() == url.empty()) {
    return absl::InvalidArgumentError("give exactly one of --target and --url_pattern");
  }
  absl::StatusOr<HttpFormat> format = ParseHttpFormat(absl::GetFlag(FLAGS_http_format));
  if (!format.ok()) return format.status();
  if (!o.grpc_target.empty()) {
    if (*format != HttpFormat::kRaw) {
      return absl::InvalidArgumentError("--http_format applies to --url_pattern only");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<HttpTarget> http = ParseHttpTarget(url, *format);
  if (!http.ok()) return http.status();
  o.http = *std::move(http);
  return absl::OkStatus();
}

absl::Status CountsFromFlags(PubloadOptions& o) {
  absl::StatusOr<int64_t> topics = InRange("topics", absl::GetFlag(FLAGS_topics), 1, kMaxTopics);
  if (!topics.ok()) return topics.status();
  absl::StatusOr<int64_t> streams =
      InRange("streams", absl::GetFlag(FLAGS_streams), 1, kMaxStreams);
  if (!streams.ok()) return streams.status();
  if (*streams > *topics) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--streams (%d) must not exceed --topics (%d): topic k goes on stream k %% streams, so "
        "the other streams would stay idle",
        *streams, *topics));
  }
  absl::StatusOr<int64_t> in_flight =
      InRange("max_in_flight", absl::GetFlag(FLAGS_max_in_flight), 0, 1 << 20);
  if (!in_flight.ok()) return in_flight.status();
  absl::StatusOr<int64_t> payload =
      InRange("payload_bytes", absl::GetFlag(FLAGS_payload_bytes), 0, kMaxPayloadBytes);
  if (!payload.ok()) return payload.status();
  absl::StatusOr<int64_t> per_topic =
      InRange("events_per_topic", absl::GetFlag(FLAGS_events_per_topic), 0, kNoLimit);
  if (!per_topic.ok()) return per_topic.status();
  absl::StatusOr<int64_t> first_seq =
      InRange("first_seq", absl::GetFlag(FLAGS_first_seq), 0, kNoLimit);
  if (!first_seq.ok()) return first_seq.status();

  o.streams = static_cast<uint32_t>(*streams);
  o.max_in_flight = static_cast<uint32_t>(*in_flight);
  const int64_t batch = absl::GetFlag(FLAGS_batch);
  if (batch < 0 || batch > 100000) {
    return absl::InvalidArgumentError("--batch must be in [0, 100000]");
  }
  o.batch = static_cast<uint32_t>(batch);
  o.payload_bytes = static_cast<size_t>(*payload);
  o.events_per_topic = static_cast<uint64_t>(*per_topic);
  o.first_seq = static_cast<uint64_t>(*first_seq);
  const std::string prefix = absl::GetFlag(FLAGS_topic_prefix);
  for (int64_t k = 0; k < *topics; ++k) o.topic_names.push_back(absl::StrCat(prefix, k));
  return absl::OkStatus();
}

absl::Status TimingFromFlags(PubloadOptions& o) {
  o.rate = absl::GetFlag(FLAGS_rate);
  const double pace_tick_ms = absl::GetFlag(FLAGS_pace_tick_ms);
  if (pace_tick_ms < 0) return absl::InvalidArgumentError("--pace_tick_ms must be >= 0");
  o.pace_tick = absl::Microseconds(static_cast<int64_t>(pace_tick_ms * 1000));
  if (!std::isfinite(o.rate) || o.rate < 0) {
    return absl::InvalidArgumentError("--rate must be >= 0 (0 = as fast as possible)");
  }
  const double duration_s = absl::GetFlag(FLAGS_duration_s);
  if (!std::isfinite(duration_s) || duration_s < 0 ||
      (duration_s == 0 && o.events_per_topic == 0)) {
    return absl::InvalidArgumentError("--duration_s must be > 0 unless --events_per_topic is set");
  }
  o.duration = duration_s == 0 ? absl::InfiniteDuration() : absl::Seconds(duration_s);
  const double report_s = absl::GetFlag(FLAGS_report_every_s);
  o.report_every = report_s > 0 ? absl::Seconds(report_s) : absl::InfiniteDuration();
  return absl::OkStatus();
}

absl::StatusOr<PubloadOptions> OptionsFromFlags() {
  PubloadOptions o;
  if (absl::Status s = TransportFromFlags(o); !s.ok()) return s;
  if (absl::Status s = CountsFromFlags(o); !s.ok()) return s;
  if (absl::Status s = TimingFromFlags(o); !s.ok()) return s;
  if (!o.grpc_target.empty()) {
    // The node would refuse every event of a bad topic name; say so now instead.
    const std::string& topic = o.topic_names.back();
    client::PublishOptions sample{.topic = topic,
                                  .data = EventData(topic, o.first_seq, 0, o.payload_bytes)};
    if (absl::Status s = client::ValidatePublishOptions(sample); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--topic_prefix: ", s.message()));
    }
  }
  return o;
}

// --- the run ------------------------------------------------------------------------------

volatile std::sig_atomic_t stop_requested = 0;
// The first signal ends the run cleanly; a second one, with the default action restored, kills.
extern "C" void OnStopSignal(int signal_number) {
  stop_requested = 1;
  std::signal(signal_number, SIG_DFL);
}

std::vector<std::unique_ptr<Lane>> MakeLanes(const PubloadOptions& options, absl::Time start,
                                             absl::Time end) {
  std::vector<std::unique_ptr<Lane>> lanes;
  for (uint32_t lane = 0; lane < options.streams; ++lane) {
    if (options.http.has_value()) {
      lanes.push_back(std::make_unique<HttpLane>(options, lane, start, end));
    } else {
      lanes.push_back(std::make_unique<GrpcLane>(options, lane, start, end));
    }
  }
  return lanes;
}

Summary Summarize(const std::vector<std::unique_ptr<Lane>>& lanes) {
  Summary total;
  for (const auto& lane : lanes) lane->stats().AddTo(total);
  return total;
}

// Polls until every lane is done: stops them on SIGINT/SIGTERM, prints progress lines.
void WaitForLanes(const std::vector<std::unique_ptr<Lane>>& lanes,
                  const std::atomic<size_t>& running, const PubloadOptions& options,
                  absl::Time start) {
  bool stopping = false;
  absl::Time next_report = start + options.report_every;
  uint64_t reported_accepted = 0;
  absl::Time reported_at = start;
  while (running.load() > 0) {
    absl::SleepFor(absl::Milliseconds(20));
    if (stop_requested != 0 && !stopping) {
      stopping = true;
      for (const auto& lane : lanes) lane->Stop();
    }
    const absl::Time now = absl::Now();
    if (now < next_report) continue;
    uint64_t sent = 0;
    uint64_t accepted = 0;
    uint64_t rejected = 0;
    for (const auto& lane : lanes) {
      sent += lane->stats().sent();
      accepted += lane->stats().accepted();
      rejected += lane->stats().rejected();
    }
    const double dt = absl::ToDoubleSeconds(now - reported_at);
    absl::FPrintF(stderr, "ringcast-pubload: t=%.1fs sent=%d accepted=%d (%.0f/s) rejected=%d\n",
                  absl::ToDoubleSeconds(now - start), sent, accepted,
                  static_cast<double>(accepted - reported_accepted) / dt, rejected);
    reported_accepted = accepted;
    reported_at = now;
    next_report += options.report_every;
  }
}

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

void PrintSummary(const Summary& total, const PubloadOptions& options, double elapsed_s) {
  std::string errors = "{";
  for (const auto& [reason, n] : total.errors) {
    if (errors.size() > 1) errors += ",";
    AppendJsonString(&errors, reason);
    absl::StrAppend(&errors, ":", n);
  }
  errors += "}";
  const double window_s =
      total.first_send_us == 0 || total.last_answer_us <= total.first_send_us
          ? 0.0
          : static_cast<double>(total.last_answer_us - total.first_send_us) / 1e6;
  const LatencyHistogram& latency = total.latency_us;
  absl::PrintF(
      "{\"sent\":%d,\"accepted\":%d,\"rejected\":%d,\"errors\":%s,\"accepted_per_s\":%.1f,"
      "\"window_s\":%.3f,\"elapsed_s\":%.3f,"
      "\"latency_us\":{\"count\":%d,\"p50\":%d,\"p99\":%d,\"p999\":%d,\"max\":%d},"
      "\"cpu_s\":%.3f,\"rate_target\":%g}\n",
      total.sent, total.accepted, total.rejected, errors,
      window_s > 0 ? static_cast<double>(total.accepted) / window_s : 0.0, window_s, elapsed_s,
      latency.count(), latency.ValueAtPercentile(50), latency.ValueAtPercentile(99),
      latency.ValueAtPercentile(99.9), latency.max(), CpuSeconds(), options.rate);
  std::fflush(stdout);
}

int Run(const PubloadOptions& options) {
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  const absl::Time start = absl::Now();
  const absl::Time end = options.duration == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                                                      : start + options.duration;
  std::vector<std::unique_ptr<Lane>> lanes = MakeLanes(options, start, end);
  std::atomic<size_t> running{lanes.size()};
  std::vector<std::thread> threads;
  for (const auto& lane : lanes) {
    threads.emplace_back([&running, l = lane.get()] {
      l->Run();
      running.fetch_sub(1);
    });
  }
  WaitForLanes(lanes, running, options, start);
  for (std::thread& thread : threads) thread.join();
  PrintSummary(Summarize(lanes), options, absl::ToDoubleSeconds(absl::Now() - start));
  return 0;
}

}  // namespace
}  // namespace ringcast::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "ringcast-pubload: publishes events to K topics over ringcast gRPC (--target) or HTTP "
      "POST (--url_pattern). Prints one JSON line of results on stdout.");
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<ringcast::bench::PubloadOptions> options = ringcast::bench::OptionsFromFlags();
  if (!options.ok()) {
    std::fprintf(stderr, "ringcast-pubload: %s\n", std::string(options.status().message()).c_str());
    return 2;
  }
  return ringcast::bench::Run(*options);
}
