// ring_property_test.cc — balance, minimal movement and zero bystander moves over long random
// sequences of add / remove / weight changes (fixed seeds, N between 1 and 200).
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ring/ring.h"
#include "tests/support/status_matchers.h"

namespace ringcast {
namespace {

using ::ringcast::testing::IsOk;
using ::ringcast::testing::StatusIs;

constexpr int kMaxMembers = 200;

// Every member owns floor(ideal) or ceil(ideal) partitions, ideal = Q * weight / total weight.
void ExpectWithinQuota(const Ring& ring) {
  int64_t total_weight = 0;
  for (const Member& m : ring.members()) total_weight += m.weight;
  int64_t owned = 0;
  for (size_t i = 0; i < ring.members().size(); ++i) {
    const int64_t scaled = int64_t{ring.partition_count()} * ring.members()[i].weight;
    const int64_t floor = scaled / total_weight;
    const int64_t ceil = floor + (scaled % total_weight != 0 ? 1 : 0);
    const int64_t count = ring.partitions_per_member()[i];
    EXPECT_TRUE(count == floor || count == ceil)
        << ring.members()[i].id << " owns " << count << ", quota " << scaled << "/"
        << total_weight << " in version " << ring.version();
    owned += count;
  }
  EXPECT_EQ(owned, ring.partition_count());
}

// Every move has `changed` at one end, and there are exactly as many as `changed`'s count
// changed by: the minimum possible.
void ExpectOnlyChangedMemberMoves(const Ring& before, const Ring& after,
                                  const std::string& changed) {
  absl::StatusOr<std::vector<PartitionMove>> moves = Diff(before, after);
  ASSERT_THAT(moves, IsOk());
  for (const PartitionMove& move : *moves) {
    ASSERT_TRUE(move.from == changed || move.to == changed)
        << "bystander move of partition " << move.partition << " from " << move.from << " to "
        << move.to << " while changing " << changed;
  }
  auto count_of = [&](const Ring& ring) -> int64_t {
    const Member* m = ring.FindMember(changed);
    return m == nullptr ? 0 : ring.partitions_per_member()[m - ring.members().data()];
  };
  EXPECT_EQ(static_cast<int64_t>(moves->size()), std::abs(count_of(after) - count_of(before)));
}

struct Scenario {
  uint64_t seed;
  int initial_members;
  uint32_t partition_count;
  int steps;
};

class RingPropertyTest : public ::testing::TestWithParam<Scenario> {};

// Given a random ring and a random walk of single-member changes, expect after every step:
// quotas hold, the version grew by one, and only the changed member's partitions moved.
TEST_P(RingPropertyTest, RandomChangesKeepQuotasAndMoveOnlyTheChangedMember) {
  const Scenario& scenario = GetParam();
  std::mt19937_64 random(scenario.seed);
  auto uniform = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(random);
  };
  int next_id = 0;
  auto new_member = [&] {
    const std::string id = absl::StrCat("node-", next_id++);
    return Member{id, uniform(1, 8), id + ":8080", id + ":9090"};
  };
  std::vector<Member> initial;
  for (int i = 0; i < scenario.initial_members; ++i) initial.push_back(new_member());
  absl::StatusOr<Ring> ring = Ring::Build(initial, scenario.partition_count);
  ASSERT_THAT(ring, IsOk());
  ExpectWithinQuota(*ring);

  for (int step = 0; step < scenario.steps; ++step) {
    const auto size = static_cast<int>(ring->members().size());
    const std::string some_id = ring->members()[uniform(0, size - 1)].id;
    absl::StatusOr<Ring> next;
    std::string changed;
    switch (uniform(0, 2)) {
      case 0: {
        if (size >= kMaxMembers) continue;
        Member added = new_member();
        changed = added.id;
        next = ring->WithNodeAdded(added);
        break;
      }
      case 1:
        if (size == 1) {
          EXPECT_THAT(ring->WithNodeRemoved(some_id),
                      StatusIs(absl::StatusCode::kFailedPrecondition));
          continue;
        }
        changed = some_id;
        next = ring->WithNodeRemoved(some_id);
        break;
      default:
        changed = some_id;
        next = ring->WithWeight(some_id, uniform(1, 8));
        break;
    }
    ASSERT_THAT(next, IsOk()) << "step " << step;
    ASSERT_EQ(next->version(), ring->version() + 1);
    ExpectWithinQuota(*next);
    ExpectOnlyChangedMemberMoves(*ring, *next, changed);
    if (::testing::Test::HasFailure()) FAIL() << "seed " << scenario.seed << " step " << step;
    ring = std::move(next);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Seeds, RingPropertyTest,
    ::testing::Values(Scenario{1, 1, 16384, 300}, Scenario{2, 3, 16384, 300},
                      Scenario{3, 50, 16384, 300}, Scenario{4, 190, 16384, 200},
                      Scenario{5, 10, 1024, 400}, Scenario{6, 2, 64, 400},
                      Scenario{7, 120, 256, 300}));

// Given the same ring and the same change, expect the same table: no hidden state.
TEST(RingDeterminism, SameChangeFromSameRingGivesSameTable) {
  std::vector<Member> members;
  for (int i = 0; i < 30; ++i) {
    members.push_back({absl::StrCat("n", i), 1 + i % 4, absl::StrCat("h", i), ""});
  }
  absl::StatusOr<Ring> ring = Ring::Build(members, 4096);
  ASSERT_THAT(ring, IsOk());
  absl::StatusOr<Ring> first = ring->WithNodeAdded({"late", 3, "", ""});
  absl::StatusOr<Ring> second = ring->WithNodeAdded({"late", 3, "", ""});
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(first->owners(), second->owners());
}

}  // namespace
}  // namespace ringcast
