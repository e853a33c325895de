// chunked.h — HTTP/1.1 chunked transfer coding (RFC 9112 section 7.1) for SSE streams: the
// size line a server writes before each chunk, and an incremental decoder for clients.
//
// Thread safety: ChunkedDecoder is one per stream, used from one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace ringcast::sse {

// "<size in hex>\r\n", the line that opens a chunk of `size` bytes (size > 0). The chunk's data
// follows, then "\r\n".
std::string ChunkSizeLine(size_t size);

// The bytes that end a chunked body: the zero-size chunk with no trailers.
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

class ChunkedDecoder {
 public:
  // Appends the body bytes contained in `bytes` (split anywhere) to `*body`. Chunk extensions
  // and trailers are skipped. INVALID_ARGUMENT for malformed framing (the stream is unusable
  // after that). Bytes after the last chunk are ignored.
  absl::Status Feed(std::string_view bytes, std::string* body);

  // True once the zero-size last chunk and its trailer section have been read.
  bool done() const { return state_ == State::kDone; }

 private:
  enum class State { kSize, kSizeLineEnd, kData, kDataCr, kDataLf, kTrailer, kDone, kError };
  State state_ = State::kSize;
  uint64_t remaining_ = 0;       // bytes left in the current chunk
  std::string line_;             // the size line or trailer line being read
};

}  // namespace ringcast::sse
