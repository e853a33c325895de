// format.cc — one-line escaping and JSON quoting for the CLI's output.
#include "cli/format.h"

#include "absl/strings/str_format.h"

namespace ringcast::cli {

std::string EscapeLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          out += absl::StrFormat("\\x%02x", byte);
        } else {
          out += c;
        }
    }
  }
  return out;
}

}  // namespace ringcast::cli
