// ring_golden_test.cc — checks ringcast's hashing and tables against the golden vectors in
// tests/data/, which other implementations can check themselves against too:
//   topic_partitions.tsv  topic -> XXH3-64 -> partition, computed with xxhsum, not with our code
//   ring_small.tsv        owner tables of a small ring through a pinned sequence of changes
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ring/ring.h"
#include "tests/support/status_matchers.h"

namespace ringcast {
namespace {

using ::ringcast::testing::IsOk;

// The data lines of a tab-separated file, split into fields ('#' lines are comments).
std::vector<std::vector<std::string>> ReadTsv(const std::string& name) {
  std::ifstream in(std::string(RINGCAST_TEST_DATA_DIR) + "/" + name);
  EXPECT_TRUE(in.good()) << "cannot open " << name;
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    rows.push_back(absl::StrSplit(line, '\t'));
  }
  return rows;
}

Ring SoloRing(uint32_t partition_count) {
  absl::StatusOr<Ring> ring = Ring::Build({{"solo", 1, "", ""}}, partition_count);
  EXPECT_THAT(ring, IsOk());
  return *std::move(ring);
}

TEST(RingGolden, TopicHashesAndPartitionsMatchXxhsum) {
  const std::vector<std::vector<std::string>> rows = ReadTsv("topic_partitions.tsv");
  ASSERT_GE(rows.size(), 50u);
  const Ring q16384 = SoloRing(16384), q1024 = SoloRing(1024), q1 = SoloRing(1);
  for (const std::vector<std::string>& row : rows) {
    ASSERT_EQ(row.size(), 5u);
    const std::string& topic = row[0];
    uint64_t hash = 0;
    uint32_t p16384 = 0, p1024 = 0, p1 = 0;
    ASSERT_TRUE(absl::SimpleHexAtoi(row[1], &hash));
    ASSERT_TRUE(absl::SimpleAtoi(row[2], &p16384) && absl::SimpleAtoi(row[3], &p1024) &&
                absl::SimpleAtoi(row[4], &p1));
    EXPECT_EQ(Ring::HashTopic(topic), hash) << topic;
    EXPECT_EQ(q16384.PartitionOf(topic), p16384) << topic;
    EXPECT_EQ(q1024.PartitionOf(topic), p1024) << topic;
    EXPECT_EQ(q1.PartitionOf(topic), p1) << topic;
  }
}

// Members "id:weight" separated by commas.
std::vector<Member> ParseMembers(const std::string& text) {
  std::vector<Member> members;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    std::vector<std::string> parts = absl::StrSplit(item, ':');
    int32_t weight = 0;
    EXPECT_TRUE(parts.size() == 2 && absl::SimpleAtoi(parts[1], &weight)) << item;
    members.push_back({parts[0], weight, "", ""});
  }
  return members;
}

std::string OwnerIds(const Ring& ring) {
  std::string ids;
  for (uint32_t p = 0; p < ring.partition_count(); ++p) {
    if (p > 0) ids += ',';
    ids += ring.OwnerOf(p).id;
  }
  return ids;
}

// Replays ring_small.tsv: each row is one step (build / add / remove / weight) and the owner
// of every partition afterwards.
TEST(RingGolden, SmallRingTablesMatchThroughChanges) {
  const std::vector<std::vector<std::string>> rows = ReadTsv("ring_small.tsv");
  ASSERT_GE(rows.size(), 4u);
  absl::StatusOr<Ring> ring = absl::UnknownError("no build row");
  for (const std::vector<std::string>& row : rows) {
    ASSERT_EQ(row.size(), 4u);
    const std::string& op = row[0];
    if (op == "build") {
      uint32_t partition_count = 0;
      ASSERT_TRUE(absl::SimpleAtoi(row[1], &partition_count));
      ring = Ring::Build(ParseMembers(row[2]), partition_count);
    } else if (op == "add") {
      ring = ring->WithNodeAdded(ParseMembers(row[2])[0]);
    } else if (op == "remove") {
      ring = ring->WithNodeRemoved(row[2]);
    } else if (op == "weight") {
      const Member changed = ParseMembers(row[2])[0];
      ring = ring->WithWeight(changed.id, changed.weight);
    } else {
      FAIL() << "unknown step " << op;
    }
    ASSERT_THAT(ring, IsOk()) << op << " " << row[2];
    EXPECT_EQ(OwnerIds(*ring), row[3]) << op << " " << row[2];
  }
}

}  // namespace
}  // namespace ringcast
