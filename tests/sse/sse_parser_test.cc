// sse_parser_test.cc — EventStreamParser against the WHATWG event stream interpretation: line
// ends, fields, dispatch, ids, retry, comments, the BOM and ill-formed UTF-8.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sse/parser.h"

namespace ringcast::sse {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using std::string_literals::operator""s;

// A parsed event as one comparable string: "type|data|id|has_id".
std::string Show(const ParsedEvent& event) {
  return event.type + "|" + event.data + "|" + event.id + "|" + (event.has_id ? "id" : "-");
}

// Feeds each piece in turn and returns every event dispatched, shown.
class ParserTest : public ::testing::Test {
 protected:
  std::vector<std::string> FeedPieces(const std::vector<std::string>& pieces) {
    std::vector<std::string> events;
    for (const std::string& piece : pieces) {
      parser_.Feed(piece, [&](const ParsedEvent& event) { events.push_back(Show(event)); });
    }
    return events;
  }
  std::vector<std::string> Feed(const std::string& stream) { return FeedPieces({stream}); }
  // The same stream one byte at a time.
  std::vector<std::string> FeedBytes(const std::string& stream) {
    std::vector<std::string> pieces;
    for (char c : stream) pieces.emplace_back(1, c);
    return FeedPieces(pieces);
  }

  EventStreamParser parser_;
};

// Given an encoded event, expect its type, data, id and has_id.
TEST_F(ParserTest, OneEvent) {
  EXPECT_THAT(Feed("id: 7:3\nevent: price\ndata: a\ndata:b\n\n"), ElementsAre("price|a\nb|7:3|id"));
  EXPECT_EQ(parser_.last_event_id(), "7:3");
}

// Given no event: field, expect type "message".
TEST_F(ParserTest, DefaultTypeIsMessage) {
  EXPECT_THAT(Feed("data: x\n\n"), ElementsAre("message|x||-"));
  EXPECT_THAT(Feed("event:\ndata: y\n\n"), ElementsAre("message|y||-"));
}

// Given LF, CR and CRLF line ends, expect the same event from each.
TEST_F(ParserTest, AllThreeLineEnds) {
  EXPECT_THAT(Feed("data: a\ndata: b\n\n"), ElementsAre("message|a\nb||-"));
  EXPECT_THAT(Feed("data: a\rdata: b\r\r"), ElementsAre("message|a\nb||-"));
  EXPECT_THAT(Feed("data: a\r\ndata: b\r\n\r\n"), ElementsAre("message|a\nb||-"));
  EXPECT_THAT(Feed("data: a\r\ndata: b\rdata: c\n\r\n"), ElementsAre("message|a\nb\nc||-"));
}

// Given a CR ending one Feed and an LF starting the next, expect ONE line end (not a blank line).
TEST_F(ParserTest, CrLfSplitAcrossFeedsIsOneLineEnd) {
  EXPECT_THAT(FeedPieces({"data: a\r", "\ndata: b\r", "\n\r", "\n"}),
              ElementsAre("message|a\nb||-"));
}

// Given CR CR, expect two line ends: the second is a blank line that dispatches.
TEST_F(ParserTest, CrCrIsTwoLineEnds) {
  EXPECT_THAT(FeedPieces({"data: a\r", "\r"}), ElementsAre("message|a||-"));
}

// Given a stream fed one byte at a time, expect the same events as fed whole.
TEST_F(ParserTest, ByteAtATime) {
  EXPECT_THAT(FeedBytes("id: 1:1\r\nevent: t\r\ndata: \xF0\x9F\x98\x80\r\n\r\ndata: z\r\r"),
              ElementsAre("t|\xF0\x9F\x98\x80|1:1|id", "message|z|1:1|-"));
}

// Given "field:value" shapes, expect the split at the first colon and one leading space dropped.
TEST_F(ParserTest, FieldValueSplit) {
  EXPECT_THAT(Feed("data:a\n\n"), ElementsAre("message|a||-"));
  EXPECT_THAT(Feed("data:  a\n\n"), ElementsAre("message| a||-"));
  EXPECT_THAT(Feed("data: a:b: c\n\n"), ElementsAre("message|a:b: c||-"));
  EXPECT_THAT(Feed("data\ndata\n\n"), ElementsAre("message|\n||-"));  // no colon: empty value
  EXPECT_THAT(Feed("data:\n\n"), ElementsAre("message|||-"));
}

// Given a trailing empty data: line, expect only one trailing LF stripped.
TEST_F(ParserTest, OneTrailingLfStripped) {
  EXPECT_THAT(Feed("data: a\ndata: \n\n"), ElementsAre("message|a\n||-"));
  EXPECT_THAT(Feed("data: \ndata: \n\n"), ElementsAre("message|\n||-"));
}

// Given unknown fields and fields with trailing spaces in their names, expect them ignored.
TEST_F(ParserTest, UnknownFieldsIgnored) {
  EXPECT_THAT(Feed("foo: bar\nData: x\ndata : y\nDATA: z\ndata: w\n\n"),
              ElementsAre("message|w||-"));
}

// Given comment lines, expect them counted and nothing dispatched.
TEST_F(ParserTest, CommentsCounted) {
  EXPECT_THAT(Feed(": open\n\n:\n: hb\n\n"), IsEmpty());
  EXPECT_EQ(parser_.comment_count(), 3u);
  EXPECT_THAT(Feed("data: a\n: inside an event\ndata: b\n\n"), ElementsAre("message|a\nb||-"));
  EXPECT_EQ(parser_.comment_count(), 4u);
}

// Given retry: values, expect only all-digit ones that fit 32 bits kept.
TEST_F(ParserTest, RetryParsed) {
  EXPECT_EQ(parser_.retry_ms(), std::nullopt);
  Feed("retry: 3000\n\n");
  EXPECT_EQ(parser_.retry_ms(), 3000u);
  for (const char* ignored : {"retry: 30a0\n", "retry:\n", "retry:  5\n", "retry: -5\n",
                              "retry: +5\n", "retry: 5.0\n", "retry: 4294967296\n"}) {
    Feed(ignored);
    EXPECT_EQ(parser_.retry_ms(), 3000u) << ignored;
  }
  Feed("retry:0\n");
  EXPECT_EQ(parser_.retry_ms(), 0u);
  Feed("retry: 4294967295\n");
  EXPECT_EQ(parser_.retry_ms(), 4294967295u);
}

// Given a leading BOM, whole or split, expect it skipped.
TEST_F(ParserTest, LeadingBomSkipped) {
  EXPECT_THAT(Feed("\xEF\xBB\xBF"
                   "data: a\n\n"),
              ElementsAre("message|a||-"));
}
TEST_F(ParserTest, LeadingBomSkippedByteAtATime) {
  EXPECT_THAT(FeedBytes("\xEF\xBB\xBF"
                        "data: a\n\n"),
              ElementsAre("message|a||-"));
}

// Given a second BOM, expect it read as part of the field name (so that line is ignored).
TEST_F(ParserTest, OnlyTheFirstBomIsSkipped) {
  EXPECT_THAT(Feed("\xEF\xBB\xBF\xEF\xBB\xBF"
                   "data: a\n\ndata: b\n\n"),
              ElementsAre("message|b||-"));
}

// Given a stream that starts like a BOM but is not one, expect those bytes kept as data.
TEST_F(ParserTest, BomLookalikeKept) {
  EXPECT_THAT(FeedPieces({"\xEF", "\n", "data: a\n\n"}), ElementsAre("message|a||-"));
  EXPECT_THAT(FeedPieces({"data: b\n\n"}), ElementsAre("message|b||-"));
}
TEST_F(ParserTest, ShortFirstPiecesAreHeldNotLost) {
  EXPECT_THAT(FeedPieces({"d", "at", "a: a\n", "\n"}), ElementsAre("message|a||-"));
}

// Given an id containing NUL, expect the id ignored: the previous id stays, has_id false.
TEST_F(ParserTest, IdWithNulIgnored) {
  EXPECT_THAT(Feed("id: 5:1\ndata: a\n\nid: 5\0:2\ndata: b\n\n"s),
              ElementsAre("message|a|5:1|id", "message|b|5:1|-"));
  EXPECT_EQ(parser_.last_event_id(), "5:1");
}

// Given events after an id, expect the id to persist until an empty id: clears it.
TEST_F(ParserTest, IdPersistsAcrossEvents) {
  EXPECT_THAT(Feed("id: 1:1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n"),
              ElementsAre("message|a|1:1|id", "message|b|1:1|-", "message|c||id"));
  EXPECT_EQ(parser_.last_event_id(), "");
}

// Given an id: field, expect last_event_id() to change only at the blank line, even without data.
TEST_F(ParserTest, LastEventIdUpdatesAtBlankLine) {
  EXPECT_THAT(Feed("id: 9:9\n"), IsEmpty());
  EXPECT_EQ(parser_.last_event_id(), "");
  EXPECT_THAT(Feed("\n"), IsEmpty());
  EXPECT_EQ(parser_.last_event_id(), "9:9");
}

// Given an id-only message (a router's multi-topic position update), expect last_event_id()
// to take it, nothing dispatched, and the next event to carry it without an id: of its own.
TEST_F(ParserTest, IdOnlyMessageSetsLastIdAndDispatchesNothing) {
  EXPECT_THAT(Feed("id: m1.00000000000000ff.7:3.9:0\n\n"), IsEmpty());
  EXPECT_EQ(parser_.last_event_id(), "m1.00000000000000ff.7:3.9:0");
  EXPECT_THAT(Feed("data: x\n\n"), ElementsAre("message|x|m1.00000000000000ff.7:3.9:0|-"));
}

// Given an event with a type but no data, expect nothing dispatched and the type reset.
TEST_F(ParserTest, EventWithoutDataNotDispatched) {
  EXPECT_THAT(Feed("event: price\n\n"), IsEmpty());
  EXPECT_THAT(Feed("id: 1:1\nevent: price\n\n"), IsEmpty());
  EXPECT_THAT(Feed("data: x\n\n"), ElementsAre("message|x|1:1|-"));
}

// Given a blank line with no fields, expect nothing dispatched.
TEST_F(ParserTest, BlankLinesAlone) { EXPECT_THAT(Feed("\n\n\r\n\r"), IsEmpty()); }

// Given data without the final blank line, expect nothing dispatched yet.
TEST_F(ParserTest, IncompleteEventWaits) {
  EXPECT_THAT(Feed("data: a\n"), IsEmpty());
  EXPECT_THAT(Feed("data: b"), IsEmpty());
  EXPECT_THAT(Feed("\n\n"), ElementsAre("message|a\nb||-"));
}

// Given the ringcast.reset frame, expect its type and data, and no id change.
TEST_F(ParserTest, ResetEventKeepsId) {
  EXPECT_THAT(Feed("id: 7:3\ndata: a\n\n"
                   "event: ringcast.reset\ndata: {\"reason\":\"evicted\"}\n\n"),
              ElementsAre("message|a|7:3|id", "ringcast.reset|{\"reason\":\"evicted\"}|7:3|-"));
}

// Given ill-formed UTF-8, expect one U+FFFD per maximal ill-formed subpart, as browsers decode.
TEST_F(ParserTest, IllFormedUtf8BecomesReplacementCharacter) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_THAT(Feed("data: a\xFF"
                   "b\n\n"),
              ElementsAre("message|a" + fffd + "b||-"));
  EXPECT_THAT(Feed("data: \xF0\x9F\x98"
                   "x\n\n"),
              ElementsAre("message|" + fffd + "x||-"));
  EXPECT_THAT(Feed("data: \xED\xA0\x80\n\n"),
              ElementsAre("message|" + fffd + fffd + fffd + "||-"));  // a surrogate
  EXPECT_THAT(Feed("data: \xC3\n\n"), ElementsAre("message|" + fffd + "||-"));
}

// Given a UTF-8 sequence split across Feeds, expect it intact.
TEST_F(ParserTest, Utf8SplitAcrossFeeds) {
  EXPECT_THAT(FeedPieces({"data: \xF0\x9F", "\x98\x80\n\n"}),
              ElementsAre("message|\xF0\x9F\x98\x80||-"));
}

}  // namespace
}  // namespace ringcast::sse
