// sse_event_test.cc — the SSE wire format byte for byte: event frames, ids, comments, retry,
// the ringcast.reset event, event-type rules and UTF-8 validation.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sse/event.h"
#include "tests/support/status_matchers.h"

namespace ringcast::sse {
namespace {

using ::ringcast::testing::IsOk;
using ::ringcast::testing::IsOkAndHolds;
using ::ringcast::testing::StatusIs;
using ::testing::Eq;
using ::testing::HasSubstr;

constexpr EventId kId{7, 3};

// Given a one-line payload and the default type, expect id and data lines and no event: line.
TEST(FindLineEnd, FindsTheFirstCrOrLfFromThePosition) {
  EXPECT_EQ(FindLineEnd("ab\r\ncd"), 2u);
  EXPECT_EQ(FindLineEnd("ab\r\ncd", 3), 3u);
  EXPECT_EQ(FindLineEnd("ab\r\ncd\n", 4), 6u);
  EXPECT_EQ(FindLineEnd("\n"), 0u);
  EXPECT_EQ(FindLineEnd("no line end"), std::string_view::npos);
  EXPECT_EQ(FindLineEnd("ab\n", 3), std::string_view::npos);
  EXPECT_EQ(FindLineEnd(""), std::string_view::npos);
}

TEST(EncodeEvent, SingleLineDefaultType) {
  EXPECT_EQ(EncodeEvent({1732500000000000, 42}, "", "hello"),
            "id: 1732500000000000:42\n"
            "data: hello\n"
            "\n");
}

// Given the type "message" spelled out, expect it omitted like the empty type.
TEST(EncodeEvent, MessageTypeIsOmitted) {
  EXPECT_EQ(EncodeEvent(kId, "message", "x"), "id: 7:3\ndata: x\n\n");
}

// Given a custom type, expect an event: line between id: and data:.
TEST(EncodeEvent, CustomType) {
  EXPECT_EQ(EncodeEvent(kId, "price", "1.5"), "id: 7:3\nevent: price\ndata: 1.5\n\n");
}

// Given lines split by LF, expect one data: line each.
TEST(EncodeEvent, LfSplitsLines) {
  EXPECT_EQ(EncodeEvent(kId, "", "a\nb\nc"), "id: 7:3\ndata: a\ndata: b\ndata: c\n\n");
}

// Given lines split by CR, expect one data: line each.
TEST(EncodeEvent, CrSplitsLines) {
  EXPECT_EQ(EncodeEvent(kId, "", "a\rb"), "id: 7:3\ndata: a\ndata: b\n\n");
}

// Given lines split by CRLF, expect CRLF to count as one line end.
TEST(EncodeEvent, CrLfIsOneLineEnd) {
  EXPECT_EQ(EncodeEvent(kId, "", "a\r\nb"), "id: 7:3\ndata: a\ndata: b\n\n");
}

// Given mixed line ends, including LF then CR (two ends), expect one data: line per line.
TEST(EncodeEvent, MixedLineEnds) {
  EXPECT_EQ(EncodeEvent(kId, "", "a\r\nb\rc\nd\n\re"),
            "id: 7:3\ndata: a\ndata: b\ndata: c\ndata: d\ndata: \ndata: e\n\n");
}

// Given a trailing newline, expect a trailing empty data: line (EventSource restores the LF).
TEST(EncodeEvent, TrailingNewlineGivesEmptyLastLine) {
  EXPECT_EQ(EncodeEvent(kId, "", "a\n"), "id: 7:3\ndata: a\ndata: \n\n");
  EXPECT_EQ(EncodeEvent(kId, "", "a\r\n"), "id: 7:3\ndata: a\ndata: \n\n");
}

// Given only a line end, expect two empty data: lines.
TEST(EncodeEvent, OnlyALineEnd) {
  EXPECT_EQ(EncodeEvent(kId, "", "\r\n"), "id: 7:3\ndata: \ndata: \n\n");
}

// Given empty data, expect one empty data: line, which EventSource delivers as "".
TEST(EncodeEvent, EmptyData) { EXPECT_EQ(EncodeEvent(kId, "", ""), "id: 7:3\ndata: \n\n"); }

// Given UTF-8 data and payload text that looks like fields, expect the bytes copied unchanged.
TEST(EncodeEvent, Utf8AndFieldLikeTextPassThrough) {
  EXPECT_EQ(EncodeEvent(kId, "", "h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80"),
            "id: 7:3\ndata: h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80\n\n");
  EXPECT_EQ(EncodeEvent(kId, "", "id: 9:9\n: x"), "id: 7:3\ndata: id: 9:9\ndata: : x\n\n");
}

// Given the largest ids, expect all twenty digits of each.
TEST(EncodeEvent, LargestId) {
  EXPECT_EQ(EncodeEvent({UINT64_MAX, UINT64_MAX}, "t", "d"),
            "id: 18446744073709551615:18446744073709551615\nevent: t\ndata: d\n\n");
}

// Given ids, expect "<epoch>:<offset>" and ordering by epoch, then offset.
TEST(EventId, ToStringAndOrder) {
  EXPECT_EQ((EventId{7, 3}).ToString(), "7:3");
  EXPECT_EQ((EventId{1, 0}).ToString(), "1:0");
  EXPECT_LT((EventId{7, 3}), (EventId{7, 4}));
  EXPECT_LT((EventId{7, 99}), (EventId{8, 1}));
  EXPECT_EQ((EventId{7, 3}), (EventId{7, 3}));
}

// Given canonical ids, expect them parsed, up to 2^64 - 1 in each part.
TEST(ParseEventId, AcceptsCanonicalIds) {
  EXPECT_THAT(ParseEventId("7:3"), IsOkAndHolds(Eq(EventId{7, 3})));
  EXPECT_THAT(ParseEventId("1:0"), IsOkAndHolds(Eq(EventId{1, 0})));
  EXPECT_THAT(ParseEventId("1732500000000000:42"), IsOkAndHolds(Eq(EventId{1732500000000000, 42})));
  EXPECT_THAT(ParseEventId("18446744073709551615:18446744073709551615"),
              IsOkAndHolds(Eq(EventId{UINT64_MAX, UINT64_MAX})));
}

// Given anything EventId::ToString would not emit, expect INVALID_ARGUMENT.
TEST(ParseEventId, RejectsMalformedIds) {
  for (const char* text : {"",     "7",    "7:",    ":3",   ":",          "7:3:1", "7::3", "-7:3",
                           "7:-3", "+7:3", "7:+3",  " 7:3", "7:3 ",       "7 :3",  "7: 3", "0x7:3",
                           "7:3a", "a:3",  "7.0:3", "7;3",  "\xD9\xA7:3", "7:3\n"}) {
    EXPECT_THAT(ParseEventId(text), StatusIs(absl::StatusCode::kInvalidArgument)) << text;
  }
  EXPECT_THAT(ParseEventId(std::string("7\0:3", 4)), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Given leading zeros, expect rejection: "007:1" is not an id we emit. "0" alone is an offset.
TEST(ParseEventId, RejectsLeadingZeros) {
  EXPECT_THAT(ParseEventId("007:1"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseEventId("7:01"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseEventId("7:00"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseEventId("7:0"), IsOkAndHolds(Eq(EventId{7, 0})));
}

// Given epoch 0, expect rejection: epochs are nonzero.
TEST(ParseEventId, RejectsEpochZero) {
  EXPECT_THAT(ParseEventId("0:5"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nonzero")));
}

// Given 2^64 (one past the largest) in either part, expect rejection for overflow.
TEST(ParseEventId, RejectsOverflow) {
  EXPECT_THAT(ParseEventId("18446744073709551616:1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("64 bits")));
  EXPECT_THAT(ParseEventId("1:18446744073709551616"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("64 bits")));
  EXPECT_THAT(ParseEventId("99999999999999999999999999:1"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// Given a heartbeat text, expect ": <text>" and a blank line.
TEST(EncodeComment, ExactBytes) {
  EXPECT_EQ(EncodeComment("hb"), ": hb\n\n");
  EXPECT_EQ(EncodeComment(""), ": \n\n");
}

// Given CR/LF in the text, expect each replaced by a space so the comment stays one line.
TEST(EncodeComment, LineEndsBecomeSpaces) {
  EXPECT_EQ(EncodeComment("a\r\nb\rc\nd"), ": a  b c d\n\n");
}

// Given a reconnection delay, expect "retry: <ms>" and a blank line.
TEST(EncodeIdOnly, ExactBytesNoDataLine) {
  EXPECT_EQ(EncodeIdOnly("m1.00000000000000ff.7:3.-"), "id: m1.00000000000000ff.7:3.-\n\n");
}

TEST(EncodeRetry, ExactBytes) {
  EXPECT_EQ(EncodeRetry(3000), "retry: 3000\n\n");
  EXPECT_EQ(EncodeRetry(0), "retry: 0\n\n");
  EXPECT_EQ(EncodeRetry(4294967295u), "retry: 4294967295\n\n");
}

// Given each reason, expect its documented name.
TEST(ResetReasonName, Names) {
  EXPECT_EQ(ResetReasonName(ResetReason::kEvicted), "evicted");
  EXPECT_EQ(ResetReasonName(ResetReason::kEpoch), "epoch");
  EXPECT_EQ(ResetReasonName(ResetReason::kMalformed), "malformed");
  EXPECT_EQ(ResetReasonName(ResetReason::kFuture), "future");
}

// Given the documented example, expect the documented bytes: no id: line.
TEST(EncodeReset, DocumentedExample) {
  EXPECT_EQ(EncodeReset(ResetReason::kEvicted, "7:3", 7, 120),
            "event: ringcast.reset\n"
            R"(data: {"reason":"evicted","requested":"7:3","epoch":7,"resume_offset":120})"
            "\n\n");
}

// Given an empty resume point and other reasons, expect the same shape.
TEST(EncodeReset, OtherReasons) {
  EXPECT_EQ(EncodeReset(ResetReason::kEpoch, "", 9, 1),
            "event: ringcast.reset\n"
            R"(data: {"reason":"epoch","requested":"","epoch":9,"resume_offset":1})"
            "\n\n");
  EXPECT_EQ(EncodeReset(ResetReason::kFuture, "7:99", 7, 5),
            "event: ringcast.reset\n"
            R"(data: {"reason":"future","requested":"7:99","epoch":7,"resume_offset":5})"
            "\n\n");
}

// Given quotes, backslashes and control characters, expect JSON escapes and no raw line end.
TEST(EncodeReset, EscapesRequested) {
  EXPECT_EQ(EncodeReset(ResetReason::kMalformed, "a\"b\\c\nd\re\tf\x01g\x7F", 7, 1),
            "event: ringcast.reset\n"
            R"(data: {"reason":"malformed","requested":"a\"b\\c\nd\re\tf\u0001g\u007f",)"
            R"("epoch":7,"resume_offset":1})"
            "\n\n");
}

// Given UTF-8 text, expect it kept; given ill-formed bytes, expect U+FFFD in their place.
TEST(EncodeReset, KeepsUtf8ReplacesIllFormedBytes) {
  EXPECT_EQ(EncodeReset(ResetReason::kMalformed, "\xC3\xA9\xFF", 7, 1),
            "event: ringcast.reset\n"
            "data: {\"reason\":\"malformed\",\"requested\":\"\xC3\xA9\xEF\xBF\xBD\","
            "\"epoch\":7,\"resume_offset\":1}\n\n");
}

std::string RequestedOf(const std::string& frame) {
  const std::string key = "\"requested\":\"";
  const size_t start = frame.find(key) + key.size();
  return frame.substr(start, frame.find("\",\"epoch\"") - start);
}

// Given more than 128 bytes, expect the first 128 of the input, counted before escaping.
TEST(EncodeReset, TruncatesTo128BytesBeforeEscaping) {
  EXPECT_EQ(RequestedOf(EncodeReset(ResetReason::kMalformed, std::string(200, 'x'), 7, 1)),
            std::string(128, 'x'));
  std::string escaped_quotes;
  for (int i = 0; i < 128; ++i) escaped_quotes += "\\\"";
  EXPECT_EQ(RequestedOf(EncodeReset(ResetReason::kMalformed, std::string(200, '"'), 7, 1)),
            escaped_quotes);
}

// Given a UTF-8 sequence across the 128-byte cut, expect the cut before it, never inside it.
TEST(EncodeReset, TruncationNeverSplitsUtf8) {
  const std::string e_acute = "\xC3\xA9";           // 2 bytes
  const std::string grinning = "\xF0\x9F\x98\x80";  // 4 bytes
  EXPECT_EQ(RequestedOf(EncodeReset(ResetReason::kMalformed,
                                    std::string(126, 'x') + e_acute + "tail", 7, 1)),
            std::string(126, 'x') + e_acute);  // ends exactly at 128
  EXPECT_EQ(
      RequestedOf(EncodeReset(ResetReason::kMalformed, std::string(127, 'x') + e_acute, 7, 1)),
      std::string(127, 'x'));  // would end at 129
  EXPECT_EQ(
      RequestedOf(EncodeReset(ResetReason::kMalformed, std::string(125, 'x') + grinning, 7, 1)),
      std::string(125, 'x'));  // would end at 129
}

// Given allowed event types, expect OK: empty, "message", up to 64 bytes of A-Z a-z 0-9 . _ -.
TEST(ValidateEventType, AcceptsAllowedTypes) {
  for (const std::string type : {"", "message", "price", "a.b_c-D9", "ringcast", "Ringcast.x"}) {
    EXPECT_THAT(ValidateEventType(type), IsOk()) << type;
  }
  EXPECT_THAT(ValidateEventType(std::string(64, 'a')), IsOk());
}

// Given 65 bytes, other bytes or the reserved prefix, expect INVALID_ARGUMENT with the reason.
TEST(ValidateEventType, RejectsBadTypes) {
  EXPECT_THAT(ValidateEventType(std::string(65, 'a')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("65 bytes")));
  EXPECT_THAT(ValidateEventType("has space"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0x20")));
  for (const std::string type : {"new\nline", "a:b", "a/b", "caf\xC3\xA9", "a\r"}) {
    EXPECT_THAT(ValidateEventType(type), StatusIs(absl::StatusCode::kInvalidArgument)) << type;
  }
  EXPECT_THAT(ValidateEventType(kResetEventType),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reserved")));
  EXPECT_THAT(ValidateEventType("ringcast.x"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Given well-formed UTF-8 up to its edges (U+D7FF, U+E000, U+10FFFF), expect true.
TEST(IsValidUtf8, AcceptsWellFormed) {
  for (const std::string text :
       {"", "ascii", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xED\x9F\xBF", "\xEE\x80\x80",
        "\xF4\x8F\xBF\xBF", "\xC2\x80", "\xEF\xBF\xBF"}) {
    EXPECT_TRUE(IsValidUtf8(text)) << text;
  }
  EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));
}

// Given overlongs, surrogates, values above U+10FFFF, truncations or stray bytes, expect false.
TEST(IsValidUtf8, RejectsIllFormed) {
  for (const std::string text :
       {"\xC0\xAF", "\xC1\xBF", "\xE0\x80\xAF", "\xE0\x9F\xBF", "\xF0\x8F\xBF\xBF", "\xED\xA0\x80",
        "\xED\xBF\xBF", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xE2\x82", "\xF0\x9F\x98", "\x80",
        "a\xBF", "\xFF", "\xFE", "\xC3\xA9\xC3"}) {
    EXPECT_FALSE(IsValidUtf8(text)) << text;
  }
}

TEST(JsonQuote, EscapesQuotesControlsAndRepairsUtf8) {
  // Given quotes, a newline, a control byte, UTF-8 and a stray byte, expect valid JSON.
  EXPECT_EQ(JsonQuote("say \"hi\"\n\\ \x1f é"), R"("say \"hi\"\n\\ \u001f é")");
  EXPECT_EQ(JsonQuote("a\xff"), "\"a\xEF\xBF\xBD\"");
  EXPECT_EQ(JsonQuote(""), R"("")");
}

}  // namespace
}  // namespace ringcast::sse
