// sse_roundtrip_test.cc — property tests with a fixed seed: what EncodeEvent writes, the
// EventStreamParser reads back (type, LF-joined data, id), whatever the payload and however the
// bytes are split, directly and through chunked coding.
#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sse/chunked.h"
#include "sse/event.h"
#include "sse/parser.h"
#include "tests/support/status_matchers.h"

namespace ringcast::sse {
namespace {

using ::ringcast::testing::IsOk;

constexpr uint32_t kSeed = 20240601;
constexpr int kEvents = 3000;

// Payload tokens that stress the format: all three line ends (and LF CR, which is two), text
// that looks like fields or comments, colons, spaces, NUL, tabs and multi-byte UTF-8.
std::string RandomPayload(std::mt19937& rng) {
  static const std::vector<std::string> kTokens = {"a",
                                                   "Z",
                                                   " ",
                                                   ":",
                                                   "\r",
                                                   "\n",
                                                   "\r\n",
                                                   "\n\r",
                                                   "data: ",
                                                   "id: 1:1",
                                                   "event: x",
                                                   "retry: 1",
                                                   ": c",
                                                   "\xC3\xA9",
                                                   "\xE2\x82\xAC",
                                                   "\xF0\x9F\x98\x80",
                                                   std::string(1, '\0'),
                                                   "\t"};
  std::uniform_int_distribution<size_t> count(0, 12);
  std::uniform_int_distribution<size_t> pick(0, kTokens.size() - 1);
  std::string payload;
  for (size_t n = count(rng); n > 0; --n) payload += kTokens[pick(rng)];
  return payload;
}

// The payload as EventSource delivers it: every CRLF, CR and LF becomes LF.
std::string NormalizeLineEnds(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// `frame` with each of its LF line ends (EncodeEvent writes only LF, and never a CR inside a
// line) replaced by LF, CRLF or CR at random, as another conforming server might write it. A CR
// is never followed by a lone LF, which would merge two line ends into one CRLF.
std::string VaryLineEnds(std::string_view frame, std::mt19937& rng, bool* ended_with_cr) {
  std::uniform_int_distribution<int> pick(0, 2);
  std::string out;
  for (char c : frame) {
    if (c != '\n') {
      out.push_back(c);
      continue;
    }
    int kind = pick(rng);
    if (*ended_with_cr && kind == 0) kind = 1 + pick(rng) % 2;
    out += kind == 0 ? "\n" : kind == 1 ? "\r\n" : "\r";
    *ended_with_cr = kind == 2;
  }
  return out;
}

struct Stream {
  std::vector<std::string> frames;  // what a server writes, one frame per event or control
  std::vector<ParsedEvent> expected;
};

// A stream opening with retry: and a comment, then kEvents random events, with heartbeats and
// an occasional ringcast.reset (which carries no id, so the last id stays).
Stream RandomStream(std::mt19937& rng) {
  static const std::vector<std::string> kTypes = {"", "message", "price", "a.b_c-9", "x"};
  std::uniform_int_distribution<size_t> pick_type(0, kTypes.size() - 1);
  std::uniform_int_distribution<uint64_t> epoch(1, UINT64_MAX);
  std::uniform_int_distribution<int> percent(0, 99);
  Stream stream;
  stream.frames.push_back(EncodeRetry(2500));
  stream.frames.push_back(EncodeComment("open"));
  EventId id{epoch(rng), 0};
  std::string last_id;
  for (int i = 0; i < kEvents; ++i) {
    const int roll = percent(rng);
    if (roll < 5) {
      stream.frames.push_back(EncodeComment("hb"));
      continue;
    }
    if (roll < 7) {
      id = EventId{epoch(rng), 1};
      const std::string frame = EncodeReset(ResetReason::kEpoch, last_id, id.epoch, id.offset);
      const std::string_view data_prefix = "event: ringcast.reset\ndata: ";
      stream.frames.push_back(frame);
      stream.expected.push_back(ParsedEvent{
          .type = "ringcast.reset",
          .data = frame.substr(data_prefix.size(), frame.size() - data_prefix.size() - 2),
          .id = last_id,
          .has_id = false});
      continue;
    }
    ++id.offset;
    const std::string& type = kTypes[pick_type(rng)];
    const std::string payload = RandomPayload(rng);
    stream.frames.push_back(EncodeEvent(id, type, payload));
    last_id = id.ToString();
    stream.expected.push_back(ParsedEvent{.type = type.empty() ? "message" : type,
                                          .data = NormalizeLineEnds(payload),
                                          .id = last_id,
                                          .has_id = true});
  }
  return stream;
}

// Splits `bytes` into pieces of 1..7 bytes; counts the splits that fall between a CR and an LF.
std::vector<std::string_view> RandomPieces(std::string_view bytes, std::mt19937& rng,
                                           int* cr_lf_splits) {
  std::uniform_int_distribution<size_t> size(1, 7);
  std::vector<std::string_view> pieces;
  for (size_t pos = 0; pos < bytes.size();) {
    const size_t n = std::min(size(rng), bytes.size() - pos);
    pieces.push_back(bytes.substr(pos, n));
    pos += n;
    if (pos < bytes.size() && bytes[pos - 1] == '\r' && bytes[pos] == '\n') ++*cr_lf_splits;
  }
  return pieces;
}

void ExpectSameEvents(const std::vector<ParsedEvent>& got,
                      const std::vector<ParsedEvent>& expected) {
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].type, expected[i].type) << "event " << i;
    EXPECT_EQ(got[i].data, expected[i].data) << "event " << i;
    EXPECT_EQ(got[i].id, expected[i].id) << "event " << i;
    EXPECT_EQ(got[i].has_id, expected[i].has_id) << "event " << i;
  }
}

// Given 3000 random events (seed 20240601) written back to back, their line ends varied among
// LF, CRLF and CR, and fed to the parser in random 1..7-byte pieces, expect every event back:
// type, data with line ends as LF, id; the retry and every comment seen; and (so the property
// covers it) some piece boundaries falling between a CR and its LF.
TEST(RoundTrip, EncodeThenParseInRandomPieces) {
  std::mt19937 rng(kSeed);
  const Stream stream = RandomStream(rng);
  std::string wire;
  bool ended_with_cr = false;
  for (const std::string& frame : stream.frames) wire += VaryLineEnds(frame, rng, &ended_with_cr);

  EventStreamParser parser;
  std::vector<ParsedEvent> got;
  int cr_lf_splits = 0;
  for (std::string_view piece : RandomPieces(wire, rng, &cr_lf_splits)) {
    parser.Feed(piece, [&](const ParsedEvent& event) { got.push_back(event); });
  }
  ExpectSameEvents(got, stream.expected);
  EXPECT_GT(cr_lf_splits, 0);
  EXPECT_EQ(parser.retry_ms(), 2500u);
  EXPECT_EQ(parser.comment_count(),
            static_cast<uint64_t>(
                std::count(stream.frames.begin(), stream.frames.end(), EncodeComment("hb"))) +
                1);
  EXPECT_EQ(parser.last_event_id(), stream.expected.back().id);
}

// Given the same kind of stream cut into chunks of random size 1..100 bytes (ChunkSizeLine,
// bytes, CRLF, then kLastChunk; so a chunk boundary can fall between a CR and its LF) and fed to
// ChunkedDecoder in random 1..7-byte pieces, expect the body intact and every event parsed.
TEST(RoundTrip, EncodeChunkDecodeParse) {
  std::mt19937 rng(kSeed + 1);
  const Stream stream = RandomStream(rng);
  std::string body;
  bool ended_with_cr = false;
  for (const std::string& frame : stream.frames) body += VaryLineEnds(frame, rng, &ended_with_cr);

  std::uniform_int_distribution<size_t> chunk_size(1, 100);
  std::string wire;
  int cr_lf_chunk_splits = 0;
  for (size_t pos = 0; pos < body.size();) {
    const size_t n = std::min(chunk_size(rng), body.size() - pos);
    wire += ChunkSizeLine(n);
    wire.append(body, pos, n);
    wire += "\r\n";
    pos += n;
    if (pos < body.size() && body[pos - 1] == '\r' && body[pos] == '\n') ++cr_lf_chunk_splits;
  }
  wire += kLastChunk;

  ChunkedDecoder decoder;
  EventStreamParser parser;
  std::string decoded;
  std::vector<ParsedEvent> got;
  int unused = 0;
  for (std::string_view piece : RandomPieces(wire, rng, &unused)) {
    std::string bytes;
    ASSERT_THAT(decoder.Feed(piece, &bytes), IsOk());
    decoded += bytes;
    parser.Feed(bytes, [&](const ParsedEvent& event) { got.push_back(event); });
  }
  EXPECT_TRUE(decoder.done());
  EXPECT_EQ(decoded, body);
  ExpectSameEvents(got, stream.expected);
  EXPECT_GT(cr_lf_chunk_splits, 0);
}

// Given each payload alone, expect the parser to read back exactly one event with that payload.
TEST(RoundTrip, EachPayloadAlone) {
  std::mt19937 rng(kSeed + 2);
  for (int i = 0; i < 1000; ++i) {
    const std::string payload = RandomPayload(rng);
    EventStreamParser parser;
    std::vector<ParsedEvent> got;
    parser.Feed(EncodeEvent({3, static_cast<uint64_t>(i)}, "t", payload),
                [&](const ParsedEvent& event) { got.push_back(event); });
    ASSERT_EQ(got.size(), 1u) << absl::CEscape(absl::string_view(payload.data(), payload.size()));
    EXPECT_EQ(got[0].data, NormalizeLineEnds(payload));
  }
}

}  // namespace
}  // namespace ringcast::sse
