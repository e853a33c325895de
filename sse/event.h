// event.h — the SSE wire format of ringcast events, shared by nodes, routers and clients:
// event ids, encoding of events and control frames, and the field rules for event types and
// payloads. Pure functions: no I/O, no state; thread-safe.
//
// An encoded event (DESIGN.md "Subscribe"):
//   id: 1732500000000000:42\n
//   event: price\n                 (omitted for the default type "message")
//   data: first line\n             (one data: line per payload line; CR, LF and CRLF all end a
//   data: second line\n             line, so "a\r\nb\rc" is three lines; empty data is one
//   \n                              "data: " line, which EventSource delivers as "")
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringcast::sse {

// `<epoch>:<offset>`: epoch names one unbroken history of a topic (nonzero), offset counts the
// topic's events from 1 within it.
struct EventId {
  uint64_t epoch = 0;
  uint64_t offset = 0;

  std::string ToString() const;  // "<epoch>:<offset>" in decimal
  friend auto operator<=>(const EventId&, const EventId&) = default;
};

// Parses "<epoch>:<offset>": two unsigned decimal integers that fit in 64 bits, epoch >= 1,
// offset >= 0, no sign, spaces or other characters. INVALID_ARGUMENT with the reason otherwise
// (callers treat a malformed resume point as "history unknown", never as a fatal error).
absl::StatusOr<EventId> ParseEventId(std::string_view text);

// The type every event has unless it names another; omitted on the wire.
inline constexpr std::string_view kDefaultEventType = "message";
// The type of the event a node sends when it cannot replay what a client asked for.
inline constexpr std::string_view kResetEventType = "ringcast.reset";

// Event types: empty (= "message") or 1..64 bytes of A-Z a-z 0-9 . _ -, not starting with
// "ringcast." (reserved for events the server emits). INVALID_ARGUMENT with the reason.
absl::Status ValidateEventType(std::string_view type);

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view text);

// The position of the first CR or LF in `text` at or after `from`, or npos. One pass over the
// bytes: std::string_view::find_first_of calls memchr on its set once per byte, which made it
// the node's hottest function when encoding and parsing events.
size_t FindLineEnd(std::string_view text, size_t from = 0);

// The frame of one event, as above. `type` empty or "message" omits the event: line.
std::string EncodeEvent(const EventId& id, std::string_view type, std::string_view data);

// The same frame with the id given as text (a router relaying another server's event, or a
// multi-topic id); an empty `id` omits the id: line (as the `ringcast.reset` event does).
// `id` must hold no CR or LF.
std::string EncodeEventFields(std::string_view id, std::string_view type, std::string_view data);

// "id: <id>\n\n" — an id-only message: EventSource sets lastEventId to `id` and dispatches
// nothing (no data: line). The router sends one when a multi-topic stream's positions move
// without an event (docs/router.md "Multi-topic streams"). `id` must hold no CR or LF.
std::string EncodeIdOnly(std::string_view id);

// ": <text>\n\n" — a comment; used for the stream-open bytes and heartbeats. Any CR/LF in
// `text` is replaced by a space so a comment stays one line.
std::string EncodeComment(std::string_view text);

// `text` as a JSON string literal, quotes included: quotes, backslashes and control characters
// escaped, bytes that are not well-formed UTF-8 replaced by U+FFFD (so the result is valid JSON).
std::string JsonQuote(std::string_view text);

// "retry: <ms>\n\n" — tells the client how long to wait before reconnecting.
std::string EncodeRetry(uint32_t retry_ms);

// Why a resume point could not be honoured exactly.
enum class ResetReason {
  kEvicted,    // the point is older than the oldest buffered event
  kEpoch,      // the point is from another epoch (history was lost: restart, crash)
  kMalformed,  // the point is not a valid event id
  kFuture,     // the point is beyond the newest event of the current epoch
};
std::string_view ResetReasonName(ResetReason reason);  // "evicted", "epoch", "malformed", "future"

// The `ringcast.reset` event, sent once at the start of a stream before the replay:
//   event: ringcast.reset\n
//   data: {"reason":"evicted","requested":"7:3","epoch":7,"resume_offset":120}\n
//   \n
// It carries no id: line, so the client's last event id is unchanged by it. `requested` is the
// resume point as the client sent it (JSON-escaped, truncated to 128 bytes); the stream
// continues with offset `resume_offset` of `epoch` (the oldest event still held, or the next one
// to be published when nothing is held).
std::string EncodeReset(ResetReason reason, std::string_view requested, uint64_t epoch,
                        uint64_t resume_offset);

}  // namespace ringcast::sse
