// ring_holder_test.cc — publication of ring snapshots: versions only grow, readers see new
// snapshots, and concurrent readers never see a torn or freed ring.
#include "ring/ring_holder.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace ringcast {
namespace {

using ::ringcast::testing::IsOk;
using ::ringcast::testing::StatusIs;

std::shared_ptr<const Ring> RingAt(uint64_t version, int members = 2) {
  std::vector<Member> list;
  for (int i = 0; i < members; ++i) list.push_back({std::to_string(i), 1, "", ""});
  absl::StatusOr<Ring> ring = Ring::Build(list, 64, version);
  EXPECT_THAT(ring, IsOk());
  return std::make_shared<const Ring>(*std::move(ring));
}

TEST(RingHolder, PublishesOnlyNewerVersions) {
  RingHolder holder(RingAt(3));
  EXPECT_THAT(holder.Publish(RingAt(3)), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(holder.Publish(RingAt(2)), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(holder.version(), 3u);
  EXPECT_THAT(holder.Publish(RingAt(4)), IsOk());
  EXPECT_EQ(holder.version(), 4u);
}

TEST(RingReader, SeesTheNewestSnapshot) {
  RingHolder holder(RingAt(1));
  RingReader reader(holder);
  EXPECT_EQ(reader.Get().version(), 1u);
  ASSERT_THAT(holder.Publish(RingAt(2, 3)), IsOk());
  EXPECT_EQ(reader.Get().version(), 2u);
  EXPECT_EQ(reader.Get().members().size(), 3u);
}

// Given two readers looking up while a writer publishes 200 versions, expect every snapshot a
// reader sees to be whole (Q owners, valid members) and versions seen by one reader never to
// go backwards.
TEST(RingReader, ConcurrentReadersSeeWholeSnapshotsInOrder) {
  RingHolder holder(RingAt(1));
  std::atomic<bool> done{false};
  auto read = [&] {
    RingReader reader(holder);
    uint64_t last = 0;
    while (!done.load()) {
      const Ring& ring = reader.Get();
      EXPECT_GE(ring.version(), last);
      last = ring.version();
      EXPECT_EQ(ring.owners().size(), 64u);
      EXPECT_FALSE(ring.Lookup("orders/42").id.empty());
    }
  };
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) readers.emplace_back(read);
  for (uint64_t v = 2; v <= 200; ++v) {
    ASSERT_THAT(holder.Publish(RingAt(v, 1 + static_cast<int>(v % 5))), IsOk());
  }
  done = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(holder.version(), 200u);
}

}  // namespace
}  // namespace ringcast
