// stream_check_test.cc — bench/stream_check.h, what ringcast-load reads from each stream: a
// chunked SSE body split at every byte boundary (multi-line data, comments, CRLF and CR line
// ends, chunk boundaries inside fields), broken chunking, and the per-topic contiguity check by
// data "seq" and by ringcast ids.
#include "bench/stream_check.h"

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringcast::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;

// Wraps `body` in HTTP chunks of `chunk_size` bytes (hex sizes, CRLF), then the last chunk.
std::string Chunk(std::string_view body, size_t chunk_size) {
  std::string out;
  for (size_t at = 0; at < body.size(); at += chunk_size) {
    const std::string_view piece = body.substr(at, chunk_size);
    absl::StrAppend(&out, absl::Hex(piece.size()), "\r\n", std::string(piece), "\r\n");
  }
  return out + "0\r\n\r\n";
}

// Feeds `wire` to a reader in pieces of `step` bytes and collects the events.
std::vector<sse::ParsedEvent> ReadAll(std::string_view wire, bool chunked, size_t step,
                                      bool* ended = nullptr) {
  SseBodyReader reader(chunked);
  std::vector<sse::ParsedEvent> events;
  for (size_t at = 0; at < wire.size(); at += step) {
    EXPECT_TRUE(reader.Feed(wire.substr(at, step), [&](const sse::ParsedEvent& e) {
      events.push_back(e);
    }).ok());
  }
  if (ended != nullptr) *ended = reader.ended();
  return events;
}

constexpr std::string_view kBody =
    ": heartbeat\r\n"
    "retry: 2000\n"
    "id: 7:1\r\n"
    "data: {\"topic\":\"a\",\"seq\":1}\r\n"
    "\r\n"
    ":comment between events\n"
    "event: update\r"
    "id: 7:2\r"
    "data: first line\r"
    "data: second line\r"
    "\r"
    "id: 7:3\n"
    "data:\n"
    "data:  indented\n"
    "\n";

// Given an SSE body with comments, CRLF/CR/LF line ends and multi-line data, chunked in pieces
// of 1..13 bytes and fed in pieces of 1..kBody bytes, expect the same three events every time.
TEST(SseBodyReader, ChunkedBodySplitAnywhereGivesTheSameEvents) {
  for (size_t chunk_size = 1; chunk_size <= 13; ++chunk_size) {
    const std::string wire = Chunk(kBody, chunk_size);
    for (size_t step = 1; step <= wire.size(); step += (step < 16 ? 1 : 7)) {
      bool ended = false;
      const std::vector<sse::ParsedEvent> events = ReadAll(wire, true, step, &ended);
      ASSERT_EQ(events.size(), 3u) << "chunk " << chunk_size << " step " << step;
      EXPECT_EQ(events[0].data, R"({"topic":"a","seq":1})");
      EXPECT_EQ(events[0].id, "7:1");
      EXPECT_EQ(events[1].type, "update");
      EXPECT_EQ(events[1].data, "first line\nsecond line");
      EXPECT_EQ(events[2].data, "\n indented");
      EXPECT_EQ(events[2].id, "7:3");
      EXPECT_TRUE(ended);
    }
  }
}

// Given a body without chunking (read until close), expect the same events and never "ended".
TEST(SseBodyReader, UnchunkedBody) {
  bool ended = true;
  EXPECT_THAT(ReadAll(kBody, false, 5, &ended),
              ElementsAre(Field(&sse::ParsedEvent::id, "7:1"), Field(&sse::ParsedEvent::id, "7:2"),
                          Field(&sse::ParsedEvent::id, "7:3")));
  EXPECT_FALSE(ended);
}

// Given a chunk size that is not hex, expect an error, with the events before it delivered.
TEST(SseBodyReader, BrokenChunkingIsAnError) {
  SseBodyReader reader(true);
  std::vector<std::string> data;
  const auto collect = [&](const sse::ParsedEvent& e) { data.push_back(e.data); };
  EXPECT_TRUE(reader.Feed("9\r\ndata: x\n\n\r\n", collect).ok());
  EXPECT_FALSE(reader.Feed("zz\r\n", collect).ok());
  EXPECT_THAT(data, ElementsAre("x"));
  EXPECT_FALSE(reader.ended());
}

sse::ParsedEvent Event(std::string data, std::string id = "") {
  sse::ParsedEvent event;
  event.data = std::move(data);
  event.has_id = !id.empty();
  event.id = std::move(id);
  return event;
}

std::string SeqData(std::string_view topic, uint64_t seq) {
  return absl::StrCat(R"({"topic":")", std::string(topic), R"(","seq":)", seq, R"(,"sent_us":1,"pad":""})");
}

// Given data seq 1, 2, 4, 4, 3, 5 on one topic, expect first, next, gap of 1, two duplicates, next.
TEST(SequenceTracker, GapsAndDuplicatesByDataSeq) {
  SequenceTracker tracker;
  std::vector<Order> orders;
  std::vector<uint64_t> missing;
  for (uint64_t seq : {1, 2, 4, 4, 3, 5}) {
    const Observation o = tracker.Observe(Event(SeqData("t", seq), "99:1"));
    orders.push_back(o.order);
    missing.push_back(o.missing);
  }
  EXPECT_THAT(orders, ElementsAre(Order::kFirst, Order::kNext, Order::kGap, Order::kDuplicate,
                                  Order::kDuplicate, Order::kNext));
  EXPECT_EQ(missing[2], 1u);
}

// Given two topics interleaved on one stream, expect each checked on its own.
TEST(SequenceTracker, TopicsAreIndependent) {
  SequenceTracker tracker;
  EXPECT_EQ(tracker.Observe(Event(SeqData("a", 10))).order, Order::kFirst);
  EXPECT_EQ(tracker.Observe(Event(SeqData("b", 1))).order, Order::kFirst);
  EXPECT_EQ(tracker.Observe(Event(SeqData("a", 11))).order, Order::kNext);
  EXPECT_EQ(tracker.Observe(Event(SeqData("b", 3))).order, Order::kGap);
}

// Given ringcast ids without a data seq, expect offsets checked and a new epoch accepted.
TEST(SequenceTracker, RingcastIdsWhenNoSeq) {
  SequenceTracker tracker;
  EXPECT_EQ(tracker.Observe(Event("x", "5:1")).order, Order::kFirst);
  EXPECT_EQ(tracker.Observe(Event("x", "5:2")).order, Order::kNext);
  EXPECT_EQ(tracker.Observe(Event("x", "5:2")).order, Order::kDuplicate);
  EXPECT_EQ(tracker.Observe(Event("x", "5:9")).order, Order::kGap);
  EXPECT_EQ(tracker.Observe(Event("x", "6:1")).order, Order::kNewGeneration);
  EXPECT_EQ(tracker.Observe(Event("x", "6:2")).order, Order::kNext);
  EXPECT_EQ(tracker.Observe(Event("no id")).order, Order::kUnpositioned);
  EXPECT_EQ(tracker.Observe(Event("x", "1700000000:0")).order, Order::kNewGeneration);
}

// Given a resume point, expect the next event checked against it; Clear forgets everything.
TEST(SequenceTracker, ResumeAfterAndClear) {
  SequenceTracker tracker;
  tracker.ResumeAfter({.topic = "t", .generation = 0, .value = 100});
  EXPECT_EQ(tracker.Observe(Event(SeqData("t", 101))).order, Order::kNext);
  tracker.ResumeAfter({.topic = "t", .generation = 0, .value = 100});
  EXPECT_EQ(tracker.Observe(Event(SeqData("t", 100))).order, Order::kDuplicate);
  tracker.Clear();
  EXPECT_EQ(tracker.Observe(Event(SeqData("t", 50))).order, Order::kFirst);
}

// Given numbers with spaces, missing keys and non-numbers, expect exact field reading.
TEST(FindUnsignedField, ReadsOnlyWellFormedNumbers) {
  EXPECT_EQ(FindUnsignedField(R"({"seq": 42,"x":1})", "seq"), 42u);
  EXPECT_EQ(FindUnsignedField(R"({"sent_us":1732500000000000})", "sent_us"), 1732500000000000u);
  EXPECT_EQ(FindUnsignedField(R"({"seq":"42"})", "seq"), std::nullopt);
  EXPECT_EQ(FindUnsignedField(R"({"sequence":4})", "seq"), std::nullopt);
  EXPECT_EQ(FindUnsignedField("", "seq"), std::nullopt);
}

}  // namespace
}  // namespace ringcast::bench
