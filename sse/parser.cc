// parser.cc — the WHATWG "event stream interpretation" (HTML, server-sent events), fed in
// arbitrary pieces. One parser per stream, used from one thread at a time.
//
// The steps, as the spec gives them:
//   - The stream is UTF-8: a leading BOM is dropped, ill-formed bytes read as U+FFFD.
//   - Lines end at CRLF, LF or CR. A CR ending one Feed and an LF starting the next are ONE line
//     end (last_was_cr_ carries the CR across).
//   - A line is "field:value" split at the first ':' (one leading space of the value dropped),
//     or a whole-line field with an empty value; a line starting with ':' is a comment.
//     data -> append value + LF; event -> type; id -> the id buffer unless the value holds NUL;
//     retry -> the reconnection time if the value is all ASCII digits; anything else: ignored.
//   - A blank line dispatches: lastEventId := id buffer; then if the data buffer is empty, data
//     and type are reset and nothing is dispatched; else one trailing LF is stripped and the
//     event goes out with type "message" unless an event: field said otherwise.
// Worked example: "id: 7:3\nevent: price\ndata: a\ndata:b\n\n" dispatches
//   {type: "price", data: "a\nb", id: "7:3", has_id: true}.
//
// Decisions the spec leaves open: an empty retry: value, or one that does not fit in 32 bits,
// is ignored; has_id is true only when an id: field of this block was accepted (not NUL-bearing).
#include "sse/parser.h"


#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "sse/event.h"
#include "sse/utf8.h"

namespace ringcast::sse {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

// `line` with every ill-formed UTF-8 subpart replaced by U+FFFD, as the spec's decode step.
std::string ReplaceIllFormedUtf8(std::string_view line) {
  std::string out;
  out.reserve(line.size() + 8);
  for (size_t pos = 0; pos < line.size();) {
    const Utf8Step step = NextUtf8(line, pos);
    if (step.valid) {
      out.append(line.substr(pos, step.length));
    } else {
      out.append(kReplacementChar);
    }
    pos += step.length;
  }
  return out;
}

}  // namespace

void EventStreamParser::Feed(std::string_view bytes, const EventHandler& on_event) {
  std::string held;  // bytes held back while looking for the BOM, when they turn out not to be one
  if (!bom_checked_) {
    const size_t take = std::min(kBom.size() - line_.size(), bytes.size());
    line_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (kBom.starts_with(line_)) {
      if (line_.size() < kBom.size()) return;  // all of `bytes` went into line_: wait for more
      line_.clear();
    } else {
      held.swap(line_);
    }
    bom_checked_ = true;
  }

  for (std::string_view chunk : {std::string_view(held), bytes}) {
    while (!chunk.empty()) {
      if (last_was_cr_) {
        last_was_cr_ = false;
        if (chunk.front() == '\n') {  // the LF of a CRLF split across Feed calls
          chunk.remove_prefix(1);
          continue;
        }
      }
      const size_t end = FindLineEnd(chunk);
      if (end == std::string_view::npos) {
        line_.append(chunk);
        break;
      }
      if (line_.empty()) {
        ProcessLine(chunk.substr(0, end), on_event);  // the common case: no copy
      } else {
        line_.append(chunk.substr(0, end));
        ProcessLine(line_, on_event);
        line_.clear();
      }
      last_was_cr_ = chunk[end] == '\r';
      chunk.remove_prefix(end + 1);
    }
  }
}

void EventStreamParser::ProcessLine(std::string_view line, const EventHandler& on_event) {
  std::string repaired;
  if (!IsValidUtf8(line)) {
    repaired = ReplaceIllFormedUtf8(line);
    line = repaired;
  }

  if (line.empty()) {  // blank line: dispatch
    last_event_id_ = id_buffer_;
    const bool has_id = event_has_id_;
    event_has_id_ = false;
    if (data_.empty()) {
      type_.clear();
      return;
    }
    if (data_.back() == '\n') data_.pop_back();
    ParsedEvent event;
    if (!type_.empty()) event.type = std::move(type_);
    event.data = std::move(data_);
    event.id = last_event_id_;
    event.has_id = has_id;
    type_.clear();
    data_.clear();
    on_event(event);
    return;
  }

  if (line.front() == ':') {
    ++comment_count_;
    return;
  }

  std::string_view field = line;
  std::string_view value;
  if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }

  if (field == "data") {
    data_.append(value);
    data_.push_back('\n');
  } else if (field == "event") {
    type_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) {
      id_buffer_.assign(value);
      event_has_id_ = true;
    }
  } else if (field == "retry") {
    const bool all_digits = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
      return absl::ascii_isdigit(static_cast<unsigned char>(c));
    });
    uint32_t retry_ms = 0;
    if (all_digits && absl::SimpleAtoi(absl::string_view(value.data(), value.size()), &retry_ms)) {
      retry_ms_ = retry_ms;
    }
  }
  // Any other field is ignored.
}

}  // namespace ringcast::sse
