// format.h — one-line escaping of event text for terminal output (JSON quoting is
// sse::JsonQuote). Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace ringcast::cli {

// `text` on one line: backslash becomes "\\", LF "\n", CR "\r", tab "\t", other ASCII control
// bytes "\xHH". Everything else (UTF-8 included) is copied.
//   EscapeLine("a\nb\\c") == R"(a\nb\\c)"
std::string EscapeLine(std::string_view text);

}  // namespace ringcast::cli
