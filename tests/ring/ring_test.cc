// ring_test.cc — the ring's contract on small, pinned tables: build, add, remove, weight,
// lookup, preference lists, diff, and every error.
#include "ring/ring.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace ringcast {
namespace {

using ::ringcast::testing::IsOk;
using ::ringcast::testing::IsOkAndHolds;
using ::ringcast::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

Member Node(std::string id, int32_t weight = 1) {
  return Member{id, weight, id + ":80", id + ":90"};
}

// Owners as a string of member ids, one character per partition: "abab".
std::string Table(const Ring& ring) {
  std::string table;
  for (uint32_t p = 0; p < ring.partition_count(); ++p) table += ring.OwnerOf(p).id;
  return table;
}

Ring MustBuild(std::vector<Member> members, uint32_t q) {
  absl::StatusOr<Ring> ring = Ring::Build(std::move(members), q);
  EXPECT_THAT(ring, IsOk());
  return *std::move(ring);
}

// Given members a, b, c of equal weight and Q = 8, expect the partitions dealt round-robin by
// earliest deadline, quotas 3/3/2 going to the lowest ids on ties:
//   p:     0 1 2 3 4 5 6 7
//   owner: a b c a b c a b
TEST(RingBuild, DealsEqualWeightsRoundRobin) {
  Ring ring = MustBuild({Node("c"), Node("a"), Node("b")}, 8);
  EXPECT_EQ(Table(ring), "abcabcab");
  EXPECT_EQ(ring.version(), 1u);
  EXPECT_THAT(ring.partitions_per_member(), ElementsAre(3, 3, 2));
}

// Given weights a=3, b=1 and Q = 8, expect a owns 6 and b owns 2, spread out.
TEST(RingBuild, SharesInProportionToWeight) {
  Ring ring = MustBuild({Node("a", 3), Node("b", 1)}, 8);
  EXPECT_EQ(Table(ring), "aabaaaba");
  EXPECT_THAT(ring.partitions_per_member(), ElementsAre(6, 2));
}

TEST(RingBuild, AnyMemberOrderGivesTheSameTable) {
  std::vector<Member> members;
  for (int i = 0; i < 12; ++i) members.push_back(Node(absl::StrCat("n", i), 1 + i % 3));
  Ring forward = MustBuild(members, 1024);
  std::reverse(members.begin(), members.end());
  Ring backward = MustBuild(members, 1024);
  EXPECT_EQ(forward.owners(), backward.owners());
  EXPECT_EQ(forward.members(), backward.members());
}

TEST(RingBuild, OneMemberOwnsEverythingEvenWithOnePartition) {
  Ring ring = MustBuild({Node("solo")}, 1);
  EXPECT_EQ(ring.Lookup("orders/42").id, "solo");
  EXPECT_EQ(ring.PartitionOf("orders/42"), 0u);
}

TEST(RingBuild, RejectsBadInput) {
  EXPECT_THAT(Ring::Build({}, 8), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("at least one member")));
  EXPECT_THAT(Ring::Build({Node("a")}, 12),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("power of two")));
  EXPECT_THAT(Ring::Build({Node("a")}, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("power of two")));
  EXPECT_THAT(Ring::Build({Node("a"), Node("a")}, 8),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("duplicate member id")));
  Member same_address = Node("b");
  same_address.grpc_address = "a:90";
  EXPECT_THAT(Ring::Build({Node("a"), same_address}, 8),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reuses address 'a:90'")));
  EXPECT_THAT(Ring::Build({Node("a", 0)}, 8),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("weight 0")));
  EXPECT_THAT(Ring::Build({Node("a", -2)}, 8),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("weight -2")));
  EXPECT_THAT(Ring::Build({Node("a", 65536)}, 8),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("weight 65536")));
  EXPECT_THAT(Ring::Build({Node("")}, 8),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("member id ''")));
  EXPECT_THAT(Ring::Build({Node("a b")}, 8),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("member id 'a b'")));
  EXPECT_THAT(Ring::Build({Node(std::string(65, 'x'))}, 8),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 64 bytes")));
  EXPECT_THAT(Ring::Build({Node("a")}, 1u << 21),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("power of two")));
  EXPECT_THAT(Ring::Build({Node("a"), Node("b"), Node("c")}, 2),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("do not fit")));
}

// Given a b c a b c a b (Q = 8), adding d (quota round(8/4) = 2) takes one partition from each
// of a and b, the members above their new quota of 2 (the middle one of each one's list);
// c keeps its 2:
//   before: a b c a b c a b
//   after:  a b c d d c a b
TEST(RingAdd, TakesQuotaOnlyFromOthers) {
  Ring before = MustBuild({Node("a"), Node("b"), Node("c")}, 8);
  absl::StatusOr<Ring> after = before.WithNodeAdded(Node("d"));
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(Table(*after), "abcddcab");
  EXPECT_EQ(after->version(), 2u);
  EXPECT_THAT(Diff(before, *after),
              IsOkAndHolds(ElementsAre(PartitionMove{3, "a", "d"},
                                       PartitionMove{4, "b", "d"})));
}

TEST(RingAdd, RejectsDuplicatesAndBadMembers) {
  Ring ring = MustBuild({Node("a"), Node("b")}, 8);
  EXPECT_THAT(ring.WithNodeAdded(Node("a")),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("duplicate member id 'a'")));
  Member copycat = Node("c");
  copycat.http_address = "b:80";
  EXPECT_THAT(ring.WithNodeAdded(copycat),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("b:80")));
  EXPECT_THAT(ring.WithNodeAdded(Node("c", 0)), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ring.WithNodeAdded(Node("")), StatusIs(absl::StatusCode::kInvalidArgument));
  Ring full = MustBuild({Node("a"), Node("b")}, 2);
  EXPECT_THAT(full.WithNodeAdded(Node("c")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no room")));
}

// Given a b c a b c a b, removing b gives its three partitions to a and c; c (2, below its new
// ideal of 4) gets two, a (3) gets one:
//   before: a b c a b c a b
//   after:  a c c a a c a c
TEST(RingRemove, GivesPartitionsOnlyFromTheLeaver) {
  Ring before = MustBuild({Node("a"), Node("b"), Node("c")}, 8);
  absl::StatusOr<Ring> after = before.WithNodeRemoved("b");
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(Table(*after), "accaacac");
  EXPECT_EQ(after->FindMember("b"), nullptr);
  EXPECT_THAT(after->partitions_per_member(), ElementsAre(4, 4));
}

TEST(RingRemove, RejectsUnknownAndLastMember) {
  Ring ring = MustBuild({Node("a")}, 8);
  EXPECT_THAT(ring.WithNodeRemoved("zz"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no member 'zz'")));
  EXPECT_THAT(ring.WithNodeRemoved("a"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("last")));
}

// Given a b (4 each of Q = 8), raising a's weight to 3 gives a 6 and b 2; lowering it back to 1
// returns to 4 and 4. Every move involves a.
TEST(RingWeight, MovesOnlyToAndFromTheChangedMember) {
  Ring even = MustBuild({Node("a"), Node("b")}, 8);
  absl::StatusOr<Ring> heavy = even.WithWeight("a", 3);
  ASSERT_THAT(heavy, IsOk());
  EXPECT_THAT(heavy->partitions_per_member(), ElementsAre(6, 2));
  absl::StatusOr<Ring> back = heavy->WithWeight("a", 1);
  ASSERT_THAT(back, IsOk());
  EXPECT_THAT(back->partitions_per_member(), ElementsAre(4, 4));
  EXPECT_EQ(back->version(), 3u);
  EXPECT_THAT(even.WithWeight("zz", 2), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(even.WithWeight("a", 0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(even.WithWeight("a", -1), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Given a b c a b c a b, the preference list of partition 2 is its owner c, then the next
// distinct owners walking upwards: a, b. Partition 7 wraps around to 0.
TEST(RingPreferenceList, OwnerThenDistinctSuccessors) {
  Ring ring = MustBuild({Node("a"), Node("b"), Node("c")}, 8);
  auto ids = [&](uint32_t p, size_t k) {
    std::vector<std::string> out;
    for (const Member* m : ring.PreferenceList(p, k)) out.push_back(m->id);
    return out;
  };
  EXPECT_THAT(ids(2, 3), ElementsAre("c", "a", "b"));
  EXPECT_THAT(ids(7, 2), ElementsAre("b", "a"));
  EXPECT_THAT(ids(0, 1), ElementsAre("a"));
  EXPECT_THAT(ids(0, 10), ElementsAre("a", "b", "c"));
}

TEST(RingLookup, UsesTheTopBitsOfTheTopicHash) {
  Ring ring = MustBuild({Node("a"), Node("b"), Node("c")}, 8);
  const uint64_t hash = Ring::HashTopic("orders/42");
  EXPECT_EQ(ring.PartitionOf("orders/42"), hash >> 61);
  EXPECT_EQ(&ring.Lookup("orders/42"), &ring.OwnerOf(static_cast<uint32_t>(hash >> 61)));
}

TEST(RingFromTable, RestoresAGivenTableAndReindexesMembers) {
  // Members given out of id order: index 0 is "b", index 1 is "a".
  absl::StatusOr<Ring> ring = Ring::FromTable(7, 4, {Node("b"), Node("a")}, {0, 0, 1, 0});
  ASSERT_THAT(ring, IsOk());
  EXPECT_EQ(Table(*ring), "bbab");
  EXPECT_EQ(ring->version(), 7u);
  EXPECT_THAT(Ring::FromTable(1, 4, {Node("a")}, {0, 0, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("3 entries")));
  EXPECT_THAT(Ring::FromTable(1, 4, {Node("a")}, {0, 0, 0, 1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("owner index 1")));
}

TEST(RingDiff, RejectsDifferentPartitionCounts) {
  Ring small = MustBuild({Node("a")}, 8);
  Ring large = MustBuild({Node("a")}, 16);
  EXPECT_THAT(Diff(small, large), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Diff(small, small), IsOkAndHolds(::testing::IsEmpty()));
}

}  // namespace
}  // namespace ringcast
