// utf8.h — one step of UTF-8 decoding, shared by the event encoder (JSON escaping, validation)
// and the event-stream parser (U+FFFD replacement as browsers do). Pure; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace ringcast::sse {

struct Utf8Step {
  size_t length;  // bytes consumed, at least 1
  bool valid;     // a well-formed sequence, or an ill-formed maximal subpart
};

// One step of UTF-8 decoding at `text[pos]` (pos < text.size()), following the Unicode
// "maximal subpart" rule (the same as the WHATWG decoder): a well-formed sequence is valid with
// its length; otherwise the ill-formed prefix is invalid with its length (at least 1), so a
// decoder emits one U+FFFD per step and resumes right after it.
Utf8Step NextUtf8(std::string_view text, size_t pos);

}  // namespace ringcast::sse
