// chunked.cc — HTTP/1.1 chunked transfer coding (RFC 9112 section 7.1): the size line servers
// write, and a strict incremental decoder for clients. ChunkedDecoder is one per stream, used
// from one thread at a time.
//
// The decoder's states, for the body "5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n":
//   kSize        "5;x=y"   hex size, then an optional extension after ';' (skipped), up to CR
//   kSizeLineEnd "\n"      -> kData, or kTrailer after a zero size
//   kData        "hello"   copied to the body
//   kDataCr      "\r"
//   kDataLf      "\n"      -> kSize
//   kTrailer     "T: v\r\n" skipped line by line; "\r\n" -> kDone
// It is strict on purpose (our clients read our servers, and tests should see framing bugs):
// every line ends in CRLF (a bare LF or a CR without LF is an error), the size is 1 or more hex
// digits of either case (leading zeros allowed) that fit in 64 bits, and only optional spaces or
// tabs may stand between it and a ';'. Lines are bounded by kMaxLineBytes.
#include "sse/chunked.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ringcast::sse {
namespace {

// The longest size line (with extensions) or trailer line accepted, without its CRLF.
constexpr size_t kMaxLineBytes = 4096;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::Status ParseSizeLine(std::string_view line, uint64_t* size) {
  uint64_t value = 0;
  size_t pos = 0;
  for (; pos < line.size(); ++pos) {
    const int digit = HexValue(line[pos]);
    if (digit < 0) break;
    if (value > (std::numeric_limits<uint64_t>::max() >> 4)) {
      return absl::InvalidArgumentError("chunked: chunk size does not fit in 64 bits");
    }
    value = value << 4 | static_cast<uint64_t>(digit);
  }
  if (pos == 0) {
    return absl::InvalidArgumentError("chunked: chunk size line does not start with a hex digit");
  }
  // Nothing more, or an extension: optional spaces or tabs, then ';' and anything up to CR.
  size_t semicolon = pos;
  while (semicolon < line.size() && (line[semicolon] == ' ' || line[semicolon] == '\t')) {
    ++semicolon;
  }
  if (pos < line.size() && (semicolon == line.size() || line[semicolon] != ';')) {
    return absl::InvalidArgumentError(
        "chunked: chunk size followed by something other than an extension");
  }
  *size = value;
  return absl::OkStatus();
}

}  // namespace

std::string ChunkSizeLine(size_t size) { return absl::StrCat(absl::Hex(size), "\r\n"); }

absl::Status ChunkedDecoder::Feed(std::string_view bytes, std::string* body) {
  const auto fail = [this](std::string_view reason) {
    state_ = State::kError;
    line_.clear();
    return absl::InvalidArgumentError(
        absl::StrCat("chunked: ", absl::string_view(reason.data(), reason.size())));
  };

  while (!bytes.empty()) {
    switch (state_) {
      case State::kSize: {
        const size_t end = bytes.find_first_of("\r\n");
        const std::string_view part = bytes.substr(0, end);
        if (line_.size() + part.size() > kMaxLineBytes) return fail("chunk size line too long");
        line_.append(part);
        if (end == std::string_view::npos) return absl::OkStatus();
        if (bytes[end] == '\n') return fail("chunk size line ends in LF without CR");
        bytes.remove_prefix(end + 1);
        if (absl::Status parsed = ParseSizeLine(line_, &remaining_); !parsed.ok()) {
          state_ = State::kError;
          line_.clear();
          return parsed;
        }
        line_.clear();
        state_ = State::kSizeLineEnd;
        break;
      }
      case State::kSizeLineEnd:
        if (bytes.front() != '\n') return fail("chunk size line: CR not followed by LF");
        bytes.remove_prefix(1);
        state_ = remaining_ == 0 ? State::kTrailer : State::kData;
        break;
      case State::kData: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, bytes.size()));
        body->append(bytes.substr(0, n));
        bytes.remove_prefix(n);
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::kDataCr;
        break;
      }
      case State::kDataCr:
        if (bytes.front() != '\r') return fail("chunk data not followed by CRLF");
        bytes.remove_prefix(1);
        state_ = State::kDataLf;
        break;
      case State::kDataLf:
        if (bytes.front() != '\n') return fail("chunk data not followed by CRLF");
        bytes.remove_prefix(1);
        state_ = State::kSize;
        break;
      case State::kTrailer: {
        // line_ holds the trailer line so far; a CR at its end awaits its LF.
        const char c = bytes.front();
        bytes.remove_prefix(1);
        if (!line_.empty() && line_.back() == '\r') {
          if (c != '\n') return fail("trailer line: CR not followed by LF");
          const bool blank = line_.size() == 1;
          line_.clear();
          if (blank) state_ = State::kDone;
        } else if (c == '\n') {
          return fail("trailer line ends in LF without CR");
        } else if (line_.size() >= kMaxLineBytes) {
          return fail("trailer line too long");
        } else {
          line_.push_back(c);
        }
        break;
      }
      case State::kDone:
        return absl::OkStatus();  // bytes after the last chunk are ignored
      case State::kError:
        return absl::InvalidArgumentError("chunked: the stream already failed");
    }
  }
  if (state_ == State::kError) {
    return absl::InvalidArgumentError("chunked: the stream already failed");
  }
  return absl::OkStatus();
}

}  // namespace ringcast::sse
