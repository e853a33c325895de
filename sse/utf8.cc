// utf8.cc — the UTF-8 decoding step (see utf8.h): Unicode's "maximal subpart" rule.
#include "sse/utf8.h"

namespace ringcast::sse {

Utf8Step NextUtf8(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return {1, true};
  size_t need;
  unsigned char lower = 0x80;
  unsigned char upper = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2;
    if (lead == 0xE0) lower = 0xA0;  // overlong
    if (lead == 0xED) upper = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3;
    if (lead == 0xF0) lower = 0x90;  // overlong
    if (lead == 0xF4) upper = 0x8F;  // above U+10FFFF
  } else {
    return {1, false};  // a continuation byte, C0/C1 (overlong) or F5..FF
  }
  size_t length = 1;
  for (size_t k = 0; k < need; ++k) {
    if (pos + length >= text.size()) return {length, false};  // truncated
    const unsigned char next = byte(pos + length);
    if (next < lower || next > upper) return {length, false};
    lower = 0x80;
    upper = 0xBF;
    ++length;
  }
  return {length, true};
}

}  // namespace ringcast::sse
