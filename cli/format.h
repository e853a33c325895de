// format.h — text escaping shared by the CLI's commands: one-line escaping for terminal output
// and JSON string quoting. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace ringcast::cli {

// `text` on one line: backslash becomes "\\", LF "\n", CR "\r", tab "\t", other ASCII control
// bytes "\xHH". Everything else (UTF-8 included) is copied.
//   EscapeLine("a\nb\\c") == R"(a\nb\\c)"
std::string EscapeLine(std::string_view text);

// `text` as a JSON string literal, quotes included: '"' and '\' escaped, control bytes as
// \n \r \t \b \f or \u00XX; other bytes (UTF-8) copied.
//   JsonQuote("say \"hi\"\n") == R"("say \"hi\"\n")"
std::string JsonQuote(std::string_view text);

}  // namespace ringcast::cli
