// event.cc — the SSE wire format: event ids, event and control-frame encoding, field rules.
// Pure functions, no state: thread-safe.
//
// Event ids are canonical: ParseEventId accepts exactly what EventId::ToString emits. "007:1"
// and "7:01" are rejected (leading zeros), as are "+7:1", " 7:1", "7:1:2" and "0:5" (epoch 0
// names no history). A rejected id is a malformed resume point: the caller answers with a
// `ringcast.reset` (reason "malformed"), never an error status to the client.
//
// EncodeEvent is on the fan-out hot path: one pass counts the payload's lines, one reserve
// sizes the frame exactly, then appends copy each line straight into it. Worked example:
//   EncodeEvent({7, 3}, "price", "a\r\nb\rc\n")
//   -> "id: 7:3\nevent: price\ndata: a\ndata: b\ndata: c\ndata: \n\n"
// (CRLF counts as one line end; the trailing line end leaves an empty last line, which the
// client's data buffer turns back into a trailing LF.)
#include "sse/event.h"


#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "sse/utf8.h"

namespace ringcast::sse {
namespace {

absl::string_view AbslView(std::string_view view) {
  return absl::string_view(view.data(), view.size());
}

// Appends `text` as the inside of a JSON string: quotes, backslashes and control characters
// escaped; bytes that are not well-formed UTF-8 become U+FFFD, so the JSON is always valid
// UTF-8. Stops before the first sequence that would cross `max_input_bytes`.
void AppendJsonStringBody(std::string_view text, size_t max_input_bytes, std::string* out) {
  size_t pos = 0;
  while (pos < text.size()) {
    const Utf8Step step = NextUtf8(text, pos);
    if (pos + step.length > max_input_bytes) break;
    if (!step.valid) {
      out->append("\xEF\xBF\xBD");
    } else if (step.length > 1) {
      out->append(text.substr(pos, step.length));
    } else {
      const char c = text[pos];
      switch (c) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '\n':
          out->append("\\n");
          break;
        case '\r':
          out->append("\\r");
          break;
        case '\t':
          out->append("\\t");
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
            absl::StrAppend(out, "\\u", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad4));
          } else {
            out->push_back(c);
          }
      }
    }
    pos += step.length;
  }
}

bool IsCanonicalDecimal(std::string_view text) {
  if (text.empty()) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

constexpr size_t kMaxEventTypeBytes = 64;
constexpr std::string_view kReservedTypePrefix = "ringcast.";
// `requested` in the reset event is cut to this many bytes (of the client's input).
constexpr size_t kMaxRequestedBytes = 128;

}  // namespace

std::string EventId::ToString() const { return absl::StrCat(epoch, ":", offset); }

absl::StatusOr<EventId> ParseEventId(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError("event id must be <epoch>:<offset>: no ':'");
  }
  const std::string_view epoch_text = text.substr(0, colon);
  const std::string_view offset_text = text.substr(colon + 1);
  if (!IsCanonicalDecimal(epoch_text) || !IsCanonicalDecimal(offset_text)) {
    return absl::InvalidArgumentError(
        "event id must be <epoch>:<offset>, two decimal integers without sign, spaces or "
        "leading zeros");
  }
  EventId id;
  if (!absl::SimpleAtoi(AbslView(epoch_text), &id.epoch) ||
      !absl::SimpleAtoi(AbslView(offset_text), &id.offset)) {
    return absl::InvalidArgumentError("event id: epoch or offset does not fit in 64 bits");
  }
  if (id.epoch == 0) return absl::InvalidArgumentError("event id: epoch must be nonzero");
  return id;
}

absl::Status ValidateEventType(std::string_view type) {
  if (type.size() > kMaxEventTypeBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("event type is ", type.size(), " bytes; the limit is ", kMaxEventTypeBytes));
  }
  for (char c : type) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("event type may hold only A-Z a-z 0-9 . _ -; found byte 0x",
                       absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2)));
    }
  }
  if (type.starts_with(kReservedTypePrefix)) {
    return absl::InvalidArgumentError("event types starting with \"ringcast.\" are reserved");
  }
  return absl::OkStatus();
}

bool IsValidUtf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const Utf8Step step = NextUtf8(text, pos);
    if (!step.valid) return false;
    pos += step.length;
  }
  return true;
}

namespace {

constexpr std::string_view kDataPrefix = "data: ";

bool HasTypeLine(std::string_view type) { return !type.empty() && type != kDefaultEventType; }

// An upper bound of what AppendTypeAndData appends: the event: line, the data: lines (the
// payload less its line ends, which are at least one byte each), and the blank line.
size_t TypeAndDataBytes(std::string_view type, std::string_view data) {
  size_t lines = 1;
  for (size_t pos = FindLineEnd(data); pos != std::string_view::npos;
       pos = FindLineEnd(data, pos + 1)) {
    if (data[pos] == '\r' && pos + 1 < data.size() && data[pos + 1] == '\n') ++pos;
    ++lines;
  }
  return (HasTypeLine(type) ? type.size() + 8 : 0) + data.size() +
         lines * (kDataPrefix.size() + 1) + 1;
}

// The event: line (unless the type is the default) and one data: line per payload line, then
// the blank line that ends the event. `out` already holds the id: line, if any.
void AppendTypeAndData(std::string_view type, std::string_view data, std::string* out) {
  if (HasTypeLine(type)) {
    out->append("event: ");
    out->append(type);
    out->push_back('\n');
  }
  size_t start = 0;
  while (true) {
    const size_t end = FindLineEnd(data, start);
    out->append(kDataPrefix);
    if (end == std::string_view::npos) {
      out->append(data.substr(start));
      out->push_back('\n');
      break;
    }
    out->append(data.substr(start, end - start));
    out->push_back('\n');
    start = end + 1;
    if (data[end] == '\r' && start < data.size() && data[start] == '\n') ++start;
  }
  out->push_back('\n');
}

}  // namespace

size_t FindLineEnd(std::string_view text, size_t from) {
  for (size_t i = from; i < text.size(); ++i) {
    if (text[i] == '\n' || text[i] == '\r') return i;
  }
  return std::string_view::npos;
}

std::string EncodeEvent(const EventId& id, std::string_view type, std::string_view data) {
  std::string out;
  // "id: " + 20 digits + ':' + 20 digits + '\n', then the rest: one allocation.
  out.reserve(46 + TypeAndDataBytes(type, data));
  absl::StrAppend(&out, "id: ", id.epoch, ":", id.offset, "\n");
  AppendTypeAndData(type, data, &out);
  return out;
}

std::string EncodeEventFields(std::string_view id, std::string_view type, std::string_view data) {
  std::string out;
  out.reserve(id.size() + 5 + TypeAndDataBytes(type, data));
  if (!id.empty()) {
    out.append("id: ");
    out.append(id);
    out.push_back('\n');
  }
  AppendTypeAndData(type, data, &out);
  return out;
}

std::string EncodeIdOnly(std::string_view id) {
  std::string out;
  out.reserve(id.size() + 6);
  out.append("id: ");
  out.append(id);
  out.append("\n\n");
  return out;
}

std::string EncodeComment(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 4);
  out.append(": ");
  for (char c : text) out.push_back(c == '\r' || c == '\n' ? ' ' : c);
  out.append("\n\n");
  return out;
}

std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  AppendJsonStringBody(text, text.size(), &out);
  out += '"';
  return out;
}

std::string EncodeRetry(uint32_t retry_ms) { return absl::StrCat("retry: ", retry_ms, "\n\n"); }

std::string_view ResetReasonName(ResetReason reason) {
  switch (reason) {
    case ResetReason::kEvicted:
      return "evicted";
    case ResetReason::kEpoch:
      return "epoch";
    case ResetReason::kMalformed:
      return "malformed";
    case ResetReason::kFuture:
      return "future";
  }
  return "unknown";
}

// NOTE: `requested` is untrusted client input (a header or query value). It is cut to
// kMaxRequestedBytes of input at a UTF-8 sequence boundary, then escaped; ill-formed bytes
// become U+FFFD, so the data line is valid JSON in valid UTF-8 and never holds a CR or LF.
std::string EncodeReset(ResetReason reason, std::string_view requested, uint64_t epoch,
                        uint64_t resume_offset) {
  std::string out;
  out.reserve(128 + 3 * kMaxRequestedBytes);
  absl::StrAppend(&out, "event: ", AbslView(kResetEventType), "\ndata: {\"reason\":\"",
                  AbslView(ResetReasonName(reason)), "\",\"requested\":\"");
  AppendJsonStringBody(requested, kMaxRequestedBytes, &out);
  absl::StrAppend(&out, "\",\"epoch\":", epoch, ",\"resume_offset\":", resume_offset, "}\n\n");
  return out;
}

}  // namespace ringcast::sse
