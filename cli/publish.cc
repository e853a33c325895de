// publish.cc — `ringcast publish`. Single and stdin modes use unary Publish, one call per event,
// so ids print in input order and the first error stops the command. Generated mode paces a
// PublishStream (through a router: one per owner) on the caller's thread and counts the answers.
// The node and router paths differ only in what publishes (PublishFn, GeneratedStream).
#include "cli/publish.h"

#include <atomic>
#include <functional>
#include <istream>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "cli/format.h"
#include "sse/event.h"
#include "client/publisher_client.h"
#include "client/routing_publisher.h"
#include "client/status.h"

namespace ringcast::cli {
namespace {

client::PublishOptions BaseOptions(const PublishCommandOptions& options) {
  client::PublishOptions publish;
  publish.topic = options.topic;
  publish.type = options.type;
  publish.ring_version = options.ring_version;
  publish.producer_id = options.producer_id;
  return publish;
}

// One unary publish: straight to a node, or routed (with retries) by a router's ring.
using PublishFn =
    std::function<absl::StatusOr<client::PublishResult>(const client::PublishOptions&)>;

// Unary publish of `data`; prints the id, or the error, and returns the exit code.
int PublishOne(const PublishFn& publish, const PublishCommandOptions& options, std::string data,
               uint64_t sequence, std::ostream& out, std::ostream& err) {
  client::PublishOptions event = BaseOptions(options);
  event.data = std::move(data);
  if (!options.producer_id.empty()) event.sequence = sequence;
  if (options.timeout > absl::ZeroDuration()) event.deadline = absl::Now() + options.timeout;
  absl::StatusOr<client::PublishResult> result = publish(event);
  if (!result.ok()) {
    err << "ringcast publish: " << FormatStatus(result.status()) << "\n";
    return 1;
  }
  // NOTE: a duplicate whose original id the node no longer knows has an empty id; print a
  // placeholder so stdin mode keeps one output line per input line.
  out << (result->event_id.empty() ? "-" : result->event_id) << "\n" << std::flush;
  if (result->duplicate) {
    err << "ringcast publish: sequence " << sequence << " was already appended (duplicate)\n";
  }
  return 0;
}

// Single mode (--data) or one event per stdin line; the first error stops the command.
int PublishLines(const PublishFn& publish, const PublishCommandOptions& options, std::istream& in,
                 std::ostream& out, std::ostream& err) {
  if (!options.from_stdin) {
    return PublishOne(publish, options, options.data, options.first_sequence, out, err);
  }
  std::string line;
  uint64_t sequence = options.first_sequence;
  while (std::getline(in, line)) {
    // A CRLF-terminated line is one line: its CR would otherwise end a second, empty SSE line.
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (int code = PublishOne(publish, options, line, sequence++, out, err); code != 0) {
      return code;
    }
  }
  return 0;
}

// Counts stream answers; called on the stream's reader thread and read after Finish.
class SummaryCollector {
 public:
  explicit SummaryCollector(std::ostream& err) : err_(err) {}

  void Add(const client::StreamResult& result) {
    absl::MutexLock lock(&mu_);
    if (result.result.ok()) {
      ++summary_.accepted;
      if (result.result->duplicate) ++summary_.duplicates;
      return;
    }
    const absl::StatusCode code = result.result.status().code();
    // The first error of each code is shown in full; the rest are only counted.
    if (summary_.errors[code]++ == 0) {
      err_ << "ringcast publish: request " << result.request_id << ": "
           << FormatStatus(result.result.status()) << "\n";
    }
  }

  PublishSummary Take() {
    absl::MutexLock lock(&mu_);
    return summary_;
  }

 private:
  std::ostream& err_;
  absl::Mutex mu_;
  PublishSummary summary_ ABSL_GUARDED_BY(mu_);
};

// Where generated mode sends its events: `send` one event (its request id), `finish` once,
// passing every answer to the collector and returning how the stream(s) ended.
struct GeneratedStream {
  std::function<absl::StatusOr<uint64_t>(const client::PublishOptions&)> send;
  std::function<absl::Status()> finish;
};

// One PublishStream to the node; answers reach the collector as they arrive.
absl::StatusOr<GeneratedStream> OpenNodeStream(client::PublisherClient& publisher,
                                               const PublishCommandOptions& options,
                                               SummaryCollector& collector) {
  client::PublishStreamOptions stream_options;
  stream_options.max_in_flight = options.max_in_flight;
  stream_options.on_result = [&collector](client::StreamResult result) { collector.Add(result); };
  absl::StatusOr<std::unique_ptr<client::PublishStream>> opened =
      publisher.OpenStream(std::move(stream_options));
  if (!opened.ok()) return opened.status();
  std::shared_ptr<client::PublishStream> stream = *std::move(opened);
  return GeneratedStream{
      .send = [stream](const client::PublishOptions& event) { return stream->Send(event); },
      .finish = [stream]() -> absl::Status {
        absl::StatusOr<std::vector<client::StreamResult>> finished = stream->Finish();
        return finished.ok() ? stream->stream_status() : finished.status();
      }};
}

// One PublishStream per owner through the routing publisher; answers (after the retries the
// routing rules allow) reach the collector at the end.
GeneratedStream OpenRoutedStream(client::RoutingPublisher& publisher,
                                 const PublishCommandOptions& options,
                                 SummaryCollector& collector) {
  std::shared_ptr<client::RoutingStream> stream =
      publisher.OpenStream({.max_in_flight = options.max_in_flight});
  return GeneratedStream{
      .send = [stream](const client::PublishOptions& event) { return stream->Send(event); },
      .finish = [stream, &collector]() -> absl::Status {
        for (const client::StreamResult& result : stream->Finish()) collector.Add(result);
        return absl::OkStatus();
      }};
}

int PublishGenerated(const GeneratedStream& stream, SummaryCollector& collector,
                     const PublishCommandOptions& options, std::ostream& out, std::ostream& err) {
  const absl::Time start = absl::Now();
  const bool timed = options.duration > absl::ZeroDuration();
  bool send_failed = false;
  for (uint64_t i = 0; options.count == 0 || i < options.count; ++i) {
    if (options.rate > 0) {
      // Event i is due at start + i / rate; a sender that fell behind catches up without sleeping.
      const absl::Time due = start + absl::Seconds(static_cast<double>(i) / options.rate);
      if (timed && due - start >= options.duration) break;
      const absl::Duration wait = due - absl::Now();
      if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
    } else if (timed && absl::Now() - start >= options.duration) {
      break;
    }
    client::PublishOptions event = BaseOptions(options);
    event.data = GeneratedEventData(i + 1, absl::Now(), options.data);
    if (!options.producer_id.empty()) event.sequence = options.first_sequence + i;
    absl::StatusOr<uint64_t> id = stream.send(event);
    if (!id.ok()) {
      // The stream ended (finish says why) or a request was invalid: stop sending either way.
      if (id.status().code() != absl::StatusCode::kUnavailable) {
        err << "ringcast publish: " << FormatStatus(id.status()) << "\n";
      }
      send_failed = true;
      break;
    }
  }
  const absl::Status stream_status = stream.finish();
  PublishSummary summary = collector.Take();
  summary.elapsed = absl::Now() - start;
  out << FormatSummary(summary) << "\n" << std::flush;
  if (!stream_status.ok()) {
    err << "ringcast publish: stream ended: " << FormatStatus(stream_status) << "\n";
  }
  const bool clean = stream_status.ok() && summary.errors.empty();
  return clean && !send_failed ? 0 : 1;
}

// The command straight to one node.
int PublishToNode(const PublishCommandOptions& options, std::istream& in, std::ostream& out,
                  std::ostream& err) {
  client::PublisherClient publisher(options.node);
  if (!IsGeneratedMode(options)) {
    return PublishLines([&publisher](const client::PublishOptions& event) {
      return publisher.Publish(event);
    }, options, in, out, err);
  }
  SummaryCollector collector(err);
  absl::StatusOr<GeneratedStream> stream = OpenNodeStream(publisher, options, collector);
  if (!stream.ok()) {
    err << "ringcast publish: " << FormatStatus(stream.status()) << "\n";
    return 1;
  }
  return PublishGenerated(*stream, collector, options, out, err);
}

// The command through a router's ring.
int PublishThroughRouter(const PublishCommandOptions& options, std::istream& in,
                         std::ostream& out, std::ostream& err) {
  const absl::Time ring_deadline = absl::Now() + (options.timeout > absl::ZeroDuration()
                                                      ? options.timeout
                                                      : absl::Seconds(10));
  absl::StatusOr<std::unique_ptr<client::RoutingPublisher>> publisher =
      client::RoutingPublisher::Connect(options.router, {}, ring_deadline);
  if (!publisher.ok()) {
    err << "ringcast publish: " << FormatStatus(publisher.status()) << "\n";
    return 1;
  }
  client::RoutingPublisher& routing = **publisher;
  if (!IsGeneratedMode(options)) {
    return PublishLines([&routing](const client::PublishOptions& event) {
      return routing.Publish(event);
    }, options, in, out, err);
  }
  SummaryCollector collector(err);
  return PublishGenerated(OpenRoutedStream(routing, options, collector), collector, options, out,
                          err);
}

}  // namespace

bool IsGeneratedMode(const PublishCommandOptions& options) {
  return options.rate != 0 || options.count != 0 || options.duration != absl::ZeroDuration();
}

absl::Status ValidatePublishCommand(const PublishCommandOptions& options) {
  if (options.node.empty() == options.router.empty()) {
    return absl::InvalidArgumentError(
        "give one of --node (publish to that node) and --router (route by its ring)");
  }
  if (options.topic.empty()) return absl::InvalidArgumentError("--topic is required");
  if (options.rate < 0) return absl::InvalidArgumentError("--rate must be >= 0");
  if (options.duration < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--duration_s must be >= 0");
  }
  if (options.from_stdin && IsGeneratedMode(options)) {
    return absl::InvalidArgumentError(
        "--stdin cannot be combined with --rate, --count or --duration_s");
  }
  if (options.from_stdin && !options.data.empty()) {
    return absl::InvalidArgumentError("--stdin reads the data from stdin: drop --data");
  }
  if (IsGeneratedMode(options) && options.count == 0 && options.duration == absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--rate needs --count or --duration_s");
  }
  if (!options.producer_id.empty() && options.first_sequence == 0) {
    return absl::InvalidArgumentError("--first_sequence must be >= 1");
  }
  return absl::OkStatus();
}

std::string GeneratedEventData(uint64_t seq, absl::Time sent, std::string_view text) {
  std::string data = absl::StrCat("{\"seq\":", seq, ",\"sent_us\":", absl::ToUnixMicros(sent));
  if (!text.empty()) absl::StrAppend(&data, ",\"text\":", sse::JsonQuote(text));
  data += "}";
  return data;
}

std::string FormatStatus(const absl::Status& status) {
  std::string text =
      absl::StrCat(absl::StatusCodeToString(status.code()), ": ", std::string(status.message()));
  for (const std::string& line : client::DescribeDetails(status)) {
    absl::StrAppend(&text, "\n  ", line);
  }
  return text;
}

std::string FormatSummary(const PublishSummary& summary) {
  uint64_t errors = 0;
  std::string by_code;
  for (const auto& [code, n] : summary.errors) {
    errors += n;
    absl::StrAppend(&by_code, by_code.empty() ? "" : " ", absl::StatusCodeToString(code), "=", n);
  }
  const double seconds = absl::ToDoubleSeconds(summary.elapsed);
  const double per_second = seconds > 0 ? static_cast<double>(summary.accepted) / seconds : 0;
  return absl::StrFormat("accepted=%d duplicates=%d errors=%d%s elapsed_s=%.3f accepted_per_s=%.1f",
                         summary.accepted, summary.duplicates, errors,
                         by_code.empty() ? "" : absl::StrCat(" (", by_code, ")"), seconds,
                         per_second);
}

int RunPublish(const PublishCommandOptions& options, std::istream& in, std::ostream& out,
               std::ostream& err) {
  if (absl::Status valid = ValidatePublishCommand(options); !valid.ok()) {
    err << "ringcast publish: " << valid.message() << "\n";
    return 1;
  }
  return options.router.empty() ? PublishToNode(options, in, out, err)
                                : PublishThroughRouter(options, in, out, err);
}

}  // namespace ringcast::cli
