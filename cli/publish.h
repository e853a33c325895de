// publish.h — `ringcast publish`: one event, one event per stdin line, or generated events at a
// rate over a PublishStream, either straight to one node's gRPC address (--node) or through a
// router's ring (--router): the routing publisher (client/routing_publisher.h) follows the
// router's ring, sends each event to its topic's owner and retries where that is safe (with
// --producer_id every event is retry-safe).
//
// Thread safety: RunPublish runs on the caller's thread (plus the streams' reader threads in
// generated mode); the formatting functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace ringcast::cli {

// Filled from the flags (cli.cc): --node given = straight to it, else `router` = --router.
struct PublishCommandOptions {
  std::string node = "127.0.0.1:9090";  // the node's gRPC host:port ("" with a router)
  std::string router;  // a router's gRPC host:port: route by its ring; "" = straight to `node`
  std::string topic;
  std::string type;         // "" = message
  std::string data;         // single mode: the payload; generated mode: extra text in each payload
  bool from_stdin = false;  // one event per line of stdin

  // Generated mode (any of rate, count, duration set): events at about `rate` per second
  // (0 = as fast as the stream takes them), `count` of them, or for `duration`, whichever ends
  // first.
  double rate = 0;
  uint64_t count = 0;
  absl::Duration duration = absl::ZeroDuration();

  // When set, every event gets (producer_id, sequence) with sequences first_sequence, +1, ...
  std::string producer_id;
  uint64_t first_sequence = 1;

  uint64_t ring_version = 0;                   // 0 = not checked; ignored with a router
  // Per unary call (with a router: per event, retries included, and the wait for the ring);
  // 0 = none.
  absl::Duration timeout = absl::Seconds(10);
  size_t max_in_flight = 1024;                 // generated mode: unanswered requests
};

// INVALID_ARGUMENT naming the flag when options cannot work together (no topic, both or neither
// of --node and --router, --stdin with generated mode, negative rate, first_sequence 0 with a
// producer, ...).
absl::Status ValidatePublishCommand(const PublishCommandOptions& options);

// True when the options ask for generated events (rate, count or duration given).
bool IsGeneratedMode(const PublishCommandOptions& options);

// The payload of generated event `seq` sent at `sent`:
//   {"seq":12,"sent_us":1732500000123456}           or, with text,
//   {"seq":12,"sent_us":1732500000123456,"text":"..."}
// so a subscriber can check order and measure end-to-end latency.
std::string GeneratedEventData(uint64_t seq, absl::Time sent, std::string_view text);

// "CODE: message" followed by one "\n  <detail>" per known error detail (client/status.h).
std::string FormatStatus(const absl::Status& status);

struct PublishSummary {
  uint64_t accepted = 0;    // OK answers, duplicates included
  uint64_t duplicates = 0;  // OK answers with duplicate = true
  std::map<absl::StatusCode, uint64_t> errors;
  absl::Duration elapsed = absl::ZeroDuration();
};

// One line: "accepted=998 duplicates=0 errors=2 (UNAVAILABLE=2) elapsed_s=1.003
// accepted_per_s=995.0"; the parenthesis is omitted when there are no errors.
std::string FormatSummary(const PublishSummary& summary);

// Runs the command: ids (single/stdin mode) or the summary (generated mode) to `out`, errors
// to `err`. Returns the process exit code: 0 when every event was accepted, else 1.
int RunPublish(const PublishCommandOptions& options, std::istream& in, std::ostream& out,
               std::ostream& err);

}  // namespace ringcast::cli
