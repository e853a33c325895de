// parser.h — an incremental parser for text/event-stream bodies, as browsers' EventSource
// parse them (WHATWG HTML, "Parsing an event stream"): used by the CLI, the load tools and the
// tests to read exactly what a browser would.
//
// Thread safety: one parser per stream, used from one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ringcast::sse {

// One dispatched event.
struct ParsedEvent {
  std::string type = "message";  // the event: field, or "message"
  std::string data;              // data: lines joined by LF
  std::string id;                // the last event id after this event (EventSource.lastEventId)
  bool has_id = false;           // whether this event itself carried an id: field
};

class EventStreamParser {
 public:
  using EventHandler = std::function<void(const ParsedEvent&)>;

  // Feeds the next bytes of the body (after any HTTP chunked decoding), split anywhere — in the
  // middle of a line, between CR and LF, inside a UTF-8 sequence. Calls `on_event` for every
  // event completed by these bytes, in order. A leading UTF-8 BOM of the stream is skipped.
  void Feed(std::string_view bytes, const EventHandler& on_event);

  // The id EventSource would send as Last-Event-ID on reconnect ("" when none yet).
  const std::string& last_event_id() const { return last_event_id_; }
  // The last retry: value received, if any.
  std::optional<uint32_t> retry_ms() const { return retry_ms_; }
  // Comment lines (starting with ':') seen so far, e.g. heartbeats.
  uint64_t comment_count() const { return comment_count_; }

 private:
  void ProcessLine(std::string_view line, const EventHandler& on_event);

  std::string line_;          // the incomplete line carried between Feed calls
  bool last_was_cr_ = false;  // the previous byte was CR: a following LF is part of CRLF
  bool bom_checked_ = false;
  std::string data_;
  std::string type_;
  std::string id_buffer_;      // the spec's "last event ID buffer": the latest id: field
  std::string last_event_id_;  // id_buffer_ as of the last blank line (EventSource.lastEventId)
  bool event_has_id_ = false;
  std::optional<uint32_t> retry_ms_;
  uint64_t comment_count_ = 0;
};

}  // namespace ringcast::sse
