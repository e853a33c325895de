// stream_check.h — what ringcast-load does with the bytes of one SSE response after its head:
// SseBodyReader undoes HTTP chunking (when the head said so) and parses the event stream;
// SequenceTracker checks that each topic's events arrive contiguous, without gaps or duplicates.
// Both work the same against ringcast, nchan and Pushpin.
//
// Positions. An event's place in its topic's sequence is read from its data when the data holds
// `"seq":<n>` (what ringcast-pubload publishes to every server; `"topic":"<t>"` beside it names
// the topic, for streams that carry several), else from a ringcast id `<epoch>:<offset>` (the
// offset; a new epoch starts a new sequence). Events with neither are counted, not checked.
//
// Thread safety: none; one reader and one tracker per connection, used by one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "sse/chunked.h"
#include "sse/parser.h"

namespace ringcast::bench {

// The body of one SSE response, fed as it arrives.
class SseBodyReader {
 public:
  explicit SseBodyReader(bool chunked) : chunked_(chunked) {}

  // Feeds the next body bytes, split anywhere; calls `on_event` for each completed event.
  // INVALID_ARGUMENT on broken chunked framing (the stream is unusable after it).
  absl::Status Feed(std::string_view bytes, const sse::EventStreamParser::EventHandler& on_event);

  // The server sent the last chunk: the response is over.
  bool ended() const { return chunked_ && decoder_.done(); }

 private:
  bool chunked_;
  sse::ChunkedDecoder decoder_;
  sse::EventStreamParser parser_;
  std::string decoded_;  // this Feed's de-chunked bytes
};

// Where an event stands in its topic's sequence.
struct EventPosition {
  std::string topic;        // from the data's "topic", else "" (the stream's one topic)
  uint64_t generation = 0;  // the id's epoch; 0 for a data "seq"
  uint64_t value = 0;       // the data's seq, or the id's offset
};

// Reads `event`'s position (see the file comment); nullopt when it has none.
std::optional<EventPosition> PositionOf(const sse::ParsedEvent& event);

// How an event relates to the one before it in its topic.
enum class Order {
  kFirst,          // the first of its topic (or of a new generation): nothing to compare
  kNext,           // exactly one past the previous
  kGap,            // further on: `missing` positions were skipped
  kDuplicate,      // not past the previous
  kNewGeneration,  // a different epoch than before: a new sequence starts here
  kUnpositioned,   // no position to check
};

struct Observation {
  Order order = Order::kUnpositioned;
  uint64_t missing = 0;  // for kGap
  std::optional<EventPosition> position;
};

// Per-topic contiguity of one stream (or of one subscriber across its reconnects).
class SequenceTracker {
 public:
  Observation Observe(const sse::ParsedEvent& event);

  // The next event of `position.topic` should follow `position` (a resume from there).
  void ResumeAfter(const EventPosition& position);

  // Forgets every topic (after a ringcast.reset: the server restarts the sequence).
  void Clear() { last_.clear(); }

 private:
  struct Last {
    uint64_t generation = 0;
    uint64_t value = 0;
  };
  absl::flat_hash_map<std::string, Last> last_;
};

// Finds `"<key>":<unsigned integer>` in JSON-ish `data`.
std::optional<uint64_t> FindUnsignedField(std::string_view data, std::string_view key);

}  // namespace ringcast::bench
