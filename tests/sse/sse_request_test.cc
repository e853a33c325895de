// sse_request_test.cc — the subscribe request target: topic rules, percent-decoding, query
// parameters and path classification, with the exact inputs a router and a node see.
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sse/request.h"
#include "tests/support/status_matchers.h"

namespace ringcast::sse {
namespace {

using ::ringcast::testing::IsOk;
using ::ringcast::testing::IsOkAndHolds;
using ::ringcast::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

// Given each allowed byte alone, expect a valid one-byte topic.
TEST(ValidateTopic, AcceptsEachAllowedByte) {
  const std::string allowed =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~:@-/";
  for (char c : allowed) EXPECT_THAT(ValidateTopic(std::string(1, c)), IsOk()) << c;
  EXPECT_THAT(ValidateTopic(allowed), IsOk());
  EXPECT_THAT(ValidateTopic("orders/42"), IsOk());
}

// Given 256 bytes, expect OK; 257, expect the limit named; a custom limit applies the same way.
TEST(ValidateTopic, LengthLimit) {
  EXPECT_THAT(ValidateTopic(std::string(256, 'a')), IsOk());
  EXPECT_THAT(ValidateTopic(std::string(257, 'a')),
              StatusIs(kInvalid, HasSubstr("257 bytes; the limit is 256")));
  EXPECT_THAT(ValidateTopic("abc", 3), IsOk());
  EXPECT_THAT(ValidateTopic("abcd", 3), StatusIs(kInvalid));
}

// Given an empty topic, expect INVALID_ARGUMENT.
TEST(ValidateTopic, RejectsEmpty) {
  EXPECT_THAT(ValidateTopic(""), StatusIs(kInvalid, HasSubstr("empty")));
}

// Given a disallowed byte, expect it named: printable as itself, others as hex, with its offset.
TEST(ValidateTopic, NamesTheFirstOffendingByte) {
  EXPECT_THAT(ValidateTopic("a b"), StatusIs(kInvalid, HasSubstr("byte 0x20 at offset 1")));
  EXPECT_THAT(ValidateTopic("50%"), StatusIs(kInvalid, HasSubstr("'%' at offset 2")));
  EXPECT_THAT(ValidateTopic("a?"), StatusIs(kInvalid, HasSubstr("'?'")));
  EXPECT_THAT(ValidateTopic("a#"), StatusIs(kInvalid, HasSubstr("'#'")));
  EXPECT_THAT(ValidateTopic("caf\xC3\xA9"), StatusIs(kInvalid, HasSubstr("byte 0xc3 at offset 3")));
  EXPECT_THAT(ValidateTopic("a\x01"), StatusIs(kInvalid, HasSubstr("byte 0x01")));
  EXPECT_THAT(ValidateTopic(std::string("a\0", 2)), StatusIs(kInvalid, HasSubstr("byte 0x00")));
  for (const std::string topic : {"a+b", "a,b", "a*", "a\\b", "a\"", "a<b", "a%2F"}) {
    EXPECT_THAT(ValidateTopic(topic), StatusIs(kInvalid)) << topic;
  }
}

// Given %XX escapes in either case, expect the bytes; '+' stays '+'.
TEST(PercentDecode, DecodesEscapes) {
  EXPECT_THAT(PercentDecode("orders%2F42"), IsOkAndHolds(Eq("orders/42")));
  EXPECT_THAT(PercentDecode("orders%2f42"), IsOkAndHolds(Eq("orders/42")));
  EXPECT_THAT(PercentDecode("%41%62c"), IsOkAndHolds(Eq("Abc")));
  EXPECT_THAT(PercentDecode("a+b"), IsOkAndHolds(Eq("a+b")));
  EXPECT_THAT(PercentDecode("%25"), IsOkAndHolds(Eq("%")));
  EXPECT_THAT(PercentDecode("%C3%A9"), IsOkAndHolds(Eq("\xC3\xA9")));
  EXPECT_THAT(PercentDecode("%00"), IsOkAndHolds(Eq(std::string("\0", 1))));
  EXPECT_THAT(PercentDecode(""), IsOkAndHolds(Eq("")));
}

// Given '%' without two hex digits after it, expect INVALID_ARGUMENT naming the offset.
TEST(PercentDecode, RejectsBadEscapes) {
  EXPECT_THAT(PercentDecode("a%"), StatusIs(kInvalid, HasSubstr("offset 1")));
  for (const char* text : {"%", "%4", "%zz", "%4z", "%%41", "%+1", "% 1"}) {
    EXPECT_THAT(PercentDecode(text), StatusIs(kInvalid)) << text;
  }
}

// Given parameters, expect them in order, decoded, '+' as space, repeated keys all kept.
TEST(ParseQuery, ParametersInOrder) {
  EXPECT_THAT(ParseQuery("topic=a&topic=b&lastEventId=7%3A3&topic=c"),
              IsOkAndHolds(ElementsAre(Pair("topic", "a"), Pair("topic", "b"),
                                       Pair("lastEventId", "7:3"), Pair("topic", "c"))));
}

// Given '+' and %2B, expect a space and a literal '+'.
TEST(ParseQuery, PlusIsSpace) {
  EXPECT_THAT(ParseQuery("q=a+b%2Bc&k+ey=v"),
              IsOkAndHolds(ElementsAre(Pair("q", "a b+c"), Pair("k ey", "v"))));
}

// Given parameters without '=', empty ones and extra '=', expect the documented shapes.
TEST(ParseQuery, EdgeShapes) {
  EXPECT_THAT(ParseQuery(""), IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(ParseQuery("flag"), IsOkAndHolds(ElementsAre(Pair("flag", ""))));
  EXPECT_THAT(ParseQuery("a=&=b"), IsOkAndHolds(ElementsAre(Pair("a", ""), Pair("", "b"))));
  EXPECT_THAT(ParseQuery("a=1&&b=2&"), IsOkAndHolds(ElementsAre(Pair("a", "1"), Pair("b", "2"))));
  EXPECT_THAT(ParseQuery("a=b=c"), IsOkAndHolds(ElementsAre(Pair("a", "b=c"))));
}

// Given a bad escape in a key or a value, expect INVALID_ARGUMENT.
TEST(ParseQuery, RejectsBadEscapes) {
  EXPECT_THAT(ParseQuery("a=%zz"), StatusIs(kInvalid));
  EXPECT_THAT(ParseQuery("%g=1"), StatusIs(kInvalid));
}

// Given an escaped slash in the topic and an escaped id, expect both decoded.
TEST(ParseTarget, TopicWithEscapedSlashAndResumePoint) {
  absl::StatusOr<Target> target = ParseTarget("/v1/topics/orders%2F42/events?lastEventId=7%3A3");
  ASSERT_THAT(target, IsOk());
  EXPECT_EQ(target->kind, TargetKind::kTopicEvents);
  EXPECT_EQ(target->path, "/v1/topics/orders%2F42/events");
  EXPECT_EQ(target->query, "lastEventId=7%3A3");
  EXPECT_EQ(target->topic, "orders/42");
  EXPECT_EQ(target->last_event_id, "7:3");
}

// Given a raw slash in the topic and no query, expect the same topic and no resume point.
TEST(ParseTarget, TopicWithRawSlash) {
  absl::StatusOr<Target> target = ParseTarget("/v1/topics/orders/42/events");
  ASSERT_THAT(target, IsOk());
  EXPECT_EQ(target->kind, TargetKind::kTopicEvents);
  EXPECT_EQ(target->topic, "orders/42");
  EXPECT_EQ(target->query, "");
  EXPECT_EQ(target->last_event_id, std::nullopt);
}

// Given "/events" inside the topic, expect only the final "/events" to end it.
TEST(ParseTarget, OnlyTheFinalEventsEndsTheTopic) {
  absl::StatusOr<Target> target = ParseTarget("/v1/topics/a/events/b/events");
  ASSERT_THAT(target, IsOk());
  EXPECT_EQ(target->topic, "a/events/b");
}

// Given a resume point that is present but empty or malformed, expect it reported as sent.
TEST(ParseTarget, ResumePointIsNotValidatedHere) {
  EXPECT_EQ(ParseTarget("/v1/topics/x/events?lastEventId=")->last_event_id, "");
  EXPECT_EQ(ParseTarget("/v1/topics/x/events?lastEventId=007:x")->last_event_id, "007:x");
  EXPECT_EQ(ParseTarget("/v1/topics/x/events?lastEventId=1:1&lastEventId=2:2")->last_event_id,
            "1:1");
}

// Given an empty topic, a raw space, a bad escape or an escape to a bad byte, expect 400.
TEST(ParseTarget, BadTopicsAreInvalid) {
  EXPECT_THAT(ParseTarget("/v1/topics//events"), StatusIs(kInvalid, HasSubstr("empty")));
  EXPECT_THAT(ParseTarget("/v1/topics/a b/events"), StatusIs(kInvalid, HasSubstr("0x20")));
  EXPECT_THAT(ParseTarget("/v1/topics/a%20b/events"), StatusIs(kInvalid, HasSubstr("0x20")));
  EXPECT_THAT(ParseTarget("/v1/topics/a%zz/events"), StatusIs(kInvalid, HasSubstr("topic")));
  EXPECT_THAT(ParseTarget("/v1/topics/a%00/events"), StatusIs(kInvalid));
  EXPECT_THAT(ParseTarget("/v1/topics/caf%C3%A9/events"), StatusIs(kInvalid));
}

// Given a topic over the limit, expect 400; at the limit, OK.
TEST(ParseTarget, TopicLimit) {
  EXPECT_THAT(ParseTarget("/v1/topics/abc/events", 3), IsOk());
  EXPECT_THAT(ParseTarget("/v1/topics/abcd/events", 3), StatusIs(kInvalid));
}

// Given a bad query on a stream path, expect 400; on /healthz the query is ignored.
TEST(ParseTarget, BadQuery) {
  EXPECT_THAT(ParseTarget("/v1/topics/x/events?lastEventId=%zz"),
              StatusIs(kInvalid, HasSubstr("query")));
  EXPECT_THAT(ParseTarget("/v1/events?topic=%zz"), StatusIs(kInvalid));
  EXPECT_THAT(ParseTarget("/healthz?x=%zz"), IsOk());
}

// Given /v1/events, expect kMultiEvents with the raw query kept for the router.
TEST(ParseTarget, MultiEvents) {
  absl::StatusOr<Target> target = ParseTarget("/v1/events?topic=a&topic=b&lastEventId=x");
  ASSERT_THAT(target, IsOk());
  EXPECT_EQ(target->kind, TargetKind::kMultiEvents);
  EXPECT_EQ(target->query, "topic=a&topic=b&lastEventId=x");
  EXPECT_EQ(target->topic, "");
  EXPECT_EQ(target->last_event_id, "x");
  EXPECT_EQ(ParseTarget("/v1/events?topic=a")->kind, TargetKind::kMultiEvents);
}

// Given the service paths, expect their kinds.
TEST(ParseTarget, ServicePaths) {
  EXPECT_EQ(ParseTarget("/healthz")->kind, TargetKind::kHealth);
  EXPECT_EQ(ParseTarget("/metrics")->kind, TargetKind::kMetrics);
  EXPECT_EQ(ParseTarget("/metrics?x=1")->kind, TargetKind::kMetrics);
}

// Given any other path, expect kUnknown (404), not an error.
TEST(ParseTarget, UnknownPaths) {
  for (const char* path :
       {"/nope", "/", "", "/v1/topics/x/events/extra", "/v1/topics/events", "/v1/topics/",
        "/v1/topics/x", "/v1/events/", "/healthz/", "/v1/topics/x/EVENTS", "/V1/topics/x/events",
        "/v1%2Ftopics/x/events", "/metricsz"}) {
    absl::StatusOr<Target> target = ParseTarget(path);
    ASSERT_THAT(target, IsOk()) << path;
    EXPECT_EQ(target->kind, TargetKind::kUnknown) << path;
    EXPECT_EQ(target->path, path);
  }
}

}  // namespace
}  // namespace ringcast::sse
