// sse_chunked_test.cc — HTTP/1.1 chunked coding: ChunkSizeLine's exact bytes, and
// ChunkedDecoder on sizes, extensions, trailers, every split position and malformed framing.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sse/chunked.h"
#include "tests/support/status_matchers.h"

namespace ringcast::sse {
namespace {

using ::ringcast::testing::IsOk;
using ::ringcast::testing::StatusIs;
using ::testing::HasSubstr;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

// Decodes `wire` in one Feed; returns the status, fills *body and *done.
absl::Status DecodeAll(const std::string& wire, std::string* body, bool* done = nullptr) {
  ChunkedDecoder decoder;
  absl::Status status = decoder.Feed(wire, body);
  if (done != nullptr) *done = decoder.done();
  return status;
}

// Given sizes, expect lower-case hex and CRLF.
TEST(ChunkSizeLine, ExactBytes) {
  EXPECT_EQ(ChunkSizeLine(1), "1\r\n");
  EXPECT_EQ(ChunkSizeLine(10), "a\r\n");
  EXPECT_EQ(ChunkSizeLine(89), "59\r\n");
  EXPECT_EQ(ChunkSizeLine(255), "ff\r\n");
  EXPECT_EQ(ChunkSizeLine(4096), "1000\r\n");
  EXPECT_EQ(ChunkSizeLine(0xdeadbeef), "deadbeef\r\n");
  EXPECT_EQ(kLastChunk, "0\r\n\r\n");
}

// Given one chunk and the last chunk, expect the data and done().
TEST(ChunkedDecoder, OneChunk) {
  std::string body;
  bool done = false;
  EXPECT_THAT(DecodeAll("5\r\nhello\r\n0\r\n\r\n", &body, &done), IsOk());
  EXPECT_EQ(body, "hello");
  EXPECT_TRUE(done);
}

// Given sizes in upper and lower case hex with leading zeros, expect the same data.
TEST(ChunkedDecoder, HexSizesEitherCase) {
  const std::string sixteen = "0123456789abcdef";
  for (const std::string size : {"a", "A", "00A", "0a"}) {
    std::string body;
    EXPECT_THAT(DecodeAll(size + "\r\n0123456789\r\n", &body), IsOk()) << size;
    EXPECT_EQ(body, "0123456789") << size;
  }
  for (const std::string size : {"1f", "1F"}) {
    std::string body;
    EXPECT_THAT(DecodeAll(size + "\r\n" + std::string(31, 'x') + "\r\n", &body), IsOk());
    EXPECT_EQ(body, std::string(31, 'x'));
  }
  std::string body;
  EXPECT_THAT(DecodeAll("10\r\n" + sixteen + "\r\n", &body), IsOk());
  EXPECT_EQ(body, sixteen);
}

// Given chunk extensions, with or without values and whitespace, expect them skipped.
TEST(ChunkedDecoder, ExtensionsSkipped) {
  std::string body;
  EXPECT_THAT(DecodeAll("5;name=value\r\nhello\r\n"
                        "1 ; a\r\n,\r\n"
                        "6\t;q=\"x;y\"\r\n world\r\n"
                        "0;last\r\n\r\n",
                        &body),
              IsOk());
  EXPECT_EQ(body, "hello, world");
}

// Given trailers after the last chunk, expect them skipped and done() only at the blank line.
TEST(ChunkedDecoder, LastChunkWithTrailers) {
  ChunkedDecoder decoder;
  std::string body;
  EXPECT_THAT(decoder.Feed("3\r\nabc\r\n0\r\n", &body), IsOk());
  EXPECT_FALSE(decoder.done());
  EXPECT_THAT(decoder.Feed("Expires: never\r\nX-Count: 1\r\n", &body), IsOk());
  EXPECT_FALSE(decoder.done());
  EXPECT_THAT(decoder.Feed("\r\n", &body), IsOk());
  EXPECT_TRUE(decoder.done());
  EXPECT_EQ(body, "abc");
}

// Given bytes after the last chunk, expect them ignored.
TEST(ChunkedDecoder, BytesAfterLastChunkIgnored) {
  ChunkedDecoder decoder;
  std::string body;
  EXPECT_THAT(decoder.Feed("1\r\nx\r\n0\r\n\r\ngarbage", &body), IsOk());
  EXPECT_THAT(decoder.Feed("5\r\nmore!\r\n", &body), IsOk());
  EXPECT_EQ(body, "x");
  EXPECT_TRUE(decoder.done());
}

// Given a body with several chunks, an extension and trailers, split at every byte position
// (and fed a byte at a time), expect the same body and done() every time.
TEST(ChunkedDecoder, SplitAtEveryPosition) {
  const std::string wire =
      "4\r\nid: \r\n"
      "c;ext=1\r\n7:3\ndata: a\n\r\n"
      "1\r\n\n\r\n"
      "0\r\nTrailer: t\r\n\r\n";
  const std::string expected = "id: 7:3\ndata: a\n\n";
  for (size_t split = 0; split <= wire.size(); ++split) {
    ChunkedDecoder decoder;
    std::string body;
    EXPECT_THAT(decoder.Feed(wire.substr(0, split), &body), IsOk()) << split;
    EXPECT_THAT(decoder.Feed(wire.substr(split), &body), IsOk()) << split;
    EXPECT_EQ(body, expected) << split;
    EXPECT_TRUE(decoder.done()) << split;
  }
  ChunkedDecoder decoder;
  std::string body;
  for (char c : wire) ASSERT_THAT(decoder.Feed(std::string(1, c), &body), IsOk());
  EXPECT_EQ(body, expected);
  EXPECT_TRUE(decoder.done());
}

// Given what a server writes (ChunkSizeLine, data, CRLF, kLastChunk), expect the data back.
TEST(ChunkedDecoder, DecodesWhatChunkSizeLineFrames) {
  const std::string frame = "id: 7:3\ndata: hello\n\n";
  std::string body;
  bool done = false;
  EXPECT_THAT(DecodeAll(ChunkSizeLine(frame.size()) + frame + "\r\n" + ChunkSizeLine(frame.size()) +
                            frame + "\r\n" + std::string(kLastChunk),
                        &body, &done),
              IsOk());
  EXPECT_EQ(body, frame + frame);
  EXPECT_TRUE(done);
}

// Given the largest size that fits 64 bits, expect it accepted (data still to come).
TEST(ChunkedDecoder, LargestSizeAccepted) {
  ChunkedDecoder decoder;
  std::string body;
  EXPECT_THAT(decoder.Feed("FFFFFFFFFFFFFFFF\r\nabc", &body), IsOk());
  EXPECT_EQ(body, "abc");
  EXPECT_FALSE(decoder.done());
}

// Given malformed size lines, expect INVALID_ARGUMENT.
TEST(ChunkedDecoder, MalformedSizesRejected) {
  for (const std::string wire :
       {"\r\n", "x\r\n", "-1\r\n", "+1\r\n", " 5\r\n", "5 x\r\n", "0x5\r\n", "5\n", "5\rx", "g\r\n",
        "5 \r\n", ";ext\r\n", "10000000000000000\r\n", "1FFFFFFFFFFFFFFFF\r\n"}) {
    std::string body;
    EXPECT_THAT(DecodeAll(wire, &body), StatusIs(kInvalid)) << wire;
  }
  std::string body;
  EXPECT_THAT(DecodeAll("1FFFFFFFFFFFFFFFF\r\n", &body), StatusIs(kInvalid, HasSubstr("64 bits")));
  EXPECT_THAT(DecodeAll(std::string(5000, '0'), &body), StatusIs(kInvalid, HasSubstr("too long")));
}

// Given chunk data not followed by exactly CRLF, or a bad trailer line end, expect rejection.
TEST(ChunkedDecoder, MalformedFramingRejected) {
  for (const std::string wire :
       {"5\r\nhelloX", "5\r\nhello\rX", "5\r\nhello\n", "0\r\nT: v\n", "0\r\nT: v\rX", "0\r\n\n"}) {
    std::string body;
    EXPECT_THAT(DecodeAll(wire, &body), StatusIs(kInvalid)) << wire;
  }
}

// Given an error, expect every later Feed to fail too: the stream is unusable.
TEST(ChunkedDecoder, ErrorsAreSticky) {
  ChunkedDecoder decoder;
  std::string body;
  EXPECT_THAT(decoder.Feed("zz\r\n", &body), StatusIs(kInvalid));
  EXPECT_THAT(decoder.Feed("1\r\nx\r\n", &body), StatusIs(kInvalid, HasSubstr("already failed")));
  EXPECT_THAT(decoder.Feed("", &body), StatusIs(kInvalid));
  EXPECT_EQ(body, "");
  EXPECT_FALSE(decoder.done());
}

}  // namespace
}  // namespace ringcast::sse
