// multi_topic_id_test.cc — the multi-topic stream's codec (router/multi_topic.h): topic lists
// from the query, the id grammar `m1.<hash>.<pos>...`, and the data framing `topic\ndata`.
#include "router/multi_topic.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace ringcast::router {
namespace {

using ::ringcast::testing::IsOk;
using ::ringcast::testing::IsOkAndHolds;
using ::ringcast::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ParseTopicListTest, TopicsInOrderOtherParametersIgnored) {
  EXPECT_THAT(ParseTopicList("topic=b&lastEventId=x&topic=orders%2F42&topic=a", 64, 256),
              IsOkAndHolds(ElementsAre("b", "orders/42", "a")));
}

TEST(ParseTopicListTest, RefusesNoneTooManyDuplicatesAndBadTopics) {
  EXPECT_THAT(ParseTopicList("lastEventId=1:1", 64, 256),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no topic")));
  EXPECT_THAT(ParseTopicList("topic=a&topic=b&topic=c", 2, 256),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 2")));
  EXPECT_THAT(ParseTopicList("topic=a&topic=b&topic=a", 64, 256),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("named twice")));
  EXPECT_THAT(ParseTopicList("topic=a&topic=b%20c", 64, 256),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("topic 2")));
  EXPECT_THAT(ParseTopicList("topic=abcd", 64, 3), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseTopicList("topic=%zz", 64, 256), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseTopicList("topic=", 64, 256), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(MultiTopicIdTest, EncodesTheGrammar) {
  // Given topics [a, b], a at 7:3 and nothing of b, expect m1.<16 hex>.7:3.-
  const std::vector<std::string> topics = {"a", "b"};
  const uint64_t hash = TopicListHash(topics);
  const std::string id = EncodeMultiTopicId(hash, {sse::EventId{7, 3}, std::nullopt});
  EXPECT_EQ(id, absl::StrCat("m1.", absl::Hex(hash, absl::kZeroPad16), ".7:3.-"));
  EXPECT_EQ(id.size(), 3 + 16 + 6);
}

TEST(MultiTopicIdTest, RoundTrips) {
  const std::vector<std::string> topics = {"a", "orders/42", "x:y@z"};
  const std::vector<TopicPosition> positions = {std::nullopt, sse::EventId{1, 0},
                                                sse::EventId{18446744073709551615u, 99}};
  const std::string id = EncodeMultiTopicId(TopicListHash(topics), positions);
  EXPECT_THAT(DecodeMultiTopicId(id, topics), IsOkAndHolds(positions));
}

TEST(MultiTopicIdTest, HashBindsListAndOrder) {
  EXPECT_NE(TopicListHash({"a", "b"}), TopicListHash({"b", "a"}));
  EXPECT_NE(TopicListHash({"a", "b"}), TopicListHash({"a"}));
  // "\n" joins, and a topic never holds one: ["ab"] and ["a", "b"] differ.
  EXPECT_NE(TopicListHash({"ab"}), TopicListHash({"a", "b"}));

  const std::string id =
      EncodeMultiTopicId(TopicListHash({"a", "b"}), {sse::EventId{1, 1}, sse::EventId{1, 2}});
  EXPECT_THAT(DecodeMultiTopicId(id, {"b", "a"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("another list")));
}

TEST(MultiTopicIdTest, MalformedIdsAreErrorsNeverCrashes) {
  const std::vector<std::string> topics = {"a", "b"};
  const std::string hash = absl::StrCat(absl::Hex(TopicListHash(topics), absl::kZeroPad16));
  for (const std::string& bad : std::vector<std::string>{
           "", "7:3", "m1", "m1.", "m2." + hash + ".-.-", "m1." + hash, "m1." + hash + ".-",
           "m1." + hash + ".-.-.-", "m1." + hash + ".-.7", "m1." + hash + ".-.0:1",
           "m1." + hash + ".-.07:1", "m1." + hash + "..-", "m1." + hash.substr(1) + ".-.-",
           "m1.ZZZZZZZZZZZZZZZZ.-.-", "m1." + absl::AsciiStrToUpper(hash) + ".-.-x",
           "m1." + hash + ".-.1:99999999999999999999999"}) {
    EXPECT_THAT(DecodeMultiTopicId(bad, topics), StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
  EXPECT_THAT(DecodeMultiTopicId("m1." + hash + ".-.-", topics),
              IsOkAndHolds(ElementsAre(std::nullopt, std::nullopt)));
}

TEST(MultiTopicCursorTest, AdvanceKeepsOtherTopicsPositions) {
  // Given a stream resumed at [5:9, -], expect each event to move only its own topic.
  MultiTopicCursor cursor({"a", "b"}, {sse::EventId{5, 9}, std::nullopt});
  const std::string prefix =
      absl::StrCat("m1.", absl::Hex(TopicListHash({"a", "b"}), absl::kZeroPad16), ".");
  EXPECT_EQ(cursor.Advance(1, {3, 1}), prefix + "5:9.3:1");
  EXPECT_EQ(cursor.Advance(0, {5, 10}), prefix + "5:10.3:1");
  EXPECT_THAT(DecodeMultiTopicId(prefix + "5:10.3:1", cursor.topics()),
              IsOkAndHolds(cursor.positions()));
}

TEST(MultiTopicCursorTest, PlaceSetsOnlyTopicsWithoutPosition) {
  // Given [5:9, -], expect Place to fill "-" from the upstream's start (7:0) and to leave a
  // topic that has a position alone.
  MultiTopicCursor cursor({"a", "b"}, {sse::EventId{5, 9}, std::nullopt});
  const std::string prefix =
      absl::StrCat("m1.", absl::Hex(TopicListHash({"a", "b"}), absl::kZeroPad16), ".");
  EXPECT_EQ(cursor.id(), prefix + "5:9.-");
  EXPECT_TRUE(cursor.Place(1, {7, 0}));
  EXPECT_FALSE(cursor.Place(0, {5, 12}));
  EXPECT_FALSE(cursor.Place(1, {7, 4}));
  EXPECT_EQ(cursor.id(), prefix + "5:9.7:0");
}

TEST(MultiTopicDataTest, TopicThenNewlineThenData) {
  EXPECT_EQ(MultiTopicData("orders/42", "x\ny"), "orders/42\nx\ny");
  EXPECT_EQ(MultiTopicData("a", ""), "a\n");
  EXPECT_THAT(sse::EncodeEventFields("m1.x", "price", MultiTopicData("a", "1")),
              StartsWith("id: m1.x\nevent: price\ndata: a\ndata: 1\n\n"));
  // No id (the relayed ringcast.reset): no id: line; the default type: no event: line.
  EXPECT_EQ(sse::EncodeEventFields("", "message", MultiTopicData("a", "{}")),
            "data: a\ndata: {}\n\n");
}

}  // namespace
}  // namespace ringcast::router
