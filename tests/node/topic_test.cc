// topic_test.cc — node::TopicRegistry's attach plan: where a new stream starts (the epoch and
// position sent as Ringcast-Position) and what it replays, for a fresh stream and for resume
// points of every kind, including "<epoch>:0" (a stream that received nothing of the topic).
#include "node/topic.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "sse/event.h"
#include "tests/support/status_matchers.h"

namespace ringcast::node {
namespace {

using ::ringcast::testing::IsOk;

// Counts hand-offs; the attach plan is what these tests look at.
class CountingFanOut final : public FanOut {
 public:
  void Deliver(size_t, const std::shared_ptr<Topic>&, uint64_t, const sse::Frame&) override {
    ++delivered;
  }
  int delivered = 0;
};

class TopicAttachTest : public ::testing::Test {
 protected:
  Attachment Attach(std::optional<std::string> resume = std::nullopt) {
    absl::StatusOr<std::pair<std::shared_ptr<Topic>, Attachment>> attached =
        topics_.Attach("room", /*worker=*/0, resume);
    EXPECT_THAT(attached, IsOk());
    return attached.ok() ? attached->second : Attachment{};
  }
  void Publish(int count) {
    for (int i = 0; i < count; ++i) {
      EXPECT_THAT(topics_.Append("room", {.data = std::to_string(i + 1)}, absl::Now()), IsOk());
    }
  }

  CountingFanOut fan_out_;
  TopicRegistry topics_{BufferLimits{.max_events = 3}, /*worker_count=*/1, &fan_out_};
};

TEST_F(TopicAttachTest, TopicWithoutEventsStartsAtOffsetZeroWithAStableEpoch) {
  // Given a topic nobody published to, expect every stream positioned at <epoch>:0, one epoch.
  const Attachment first = Attach();
  EXPECT_NE(first.epoch, 0u);
  EXPECT_EQ(first.position(), (sse::EventId{first.epoch, 0}));
  EXPECT_TRUE(first.replay.empty());
  const Attachment second = Attach();
  EXPECT_EQ(second.position(), first.position());
}

TEST_F(TopicAttachTest, ResumeFromOffsetZeroReplaysFromOffsetOneWithoutReset) {
  // Given a stream positioned at <epoch>:0 and two events published after it, expect a resume
  // from <epoch>:0 to replay both, no reset.
  const sse::EventId start = Attach().position();
  Publish(2);
  const Attachment resumed = Attach(start.ToString());
  EXPECT_FALSE(resumed.reset.has_value());
  ASSERT_EQ(resumed.replay.size(), 2u);
  EXPECT_EQ(*resumed.replay[0], sse::EncodeEvent({start.epoch, 1}, "", "1"));
  EXPECT_EQ(resumed.position(), start);
  EXPECT_EQ(resumed.last_offset, 2u);
}

TEST_F(TopicAttachTest, PositionIsWhereTheStreamStarts) {
  // Given events 1..2, expect: live stream at :2, resume from :1 at :1 (replays 2), a
  // malformed resume point reset to the oldest held (:0, replays 1..2).
  Publish(2);
  const Attachment live = Attach();
  EXPECT_EQ(live.position(), (sse::EventId{live.epoch, 2}));
  EXPECT_TRUE(live.replay.empty());
  const Attachment from_one = Attach(sse::EventId{live.epoch, 1}.ToString());
  EXPECT_EQ(from_one.position(), (sse::EventId{live.epoch, 1}));
  EXPECT_EQ(from_one.replay.size(), 1u);
  const Attachment malformed = Attach("not-an-id");
  EXPECT_EQ(malformed.reset, sse::ResetReason::kMalformed);
  EXPECT_EQ(malformed.position(), (sse::EventId{live.epoch, 0}));
  EXPECT_EQ(malformed.replay.size(), 2u);
}

TEST_F(TopicAttachTest, ResumeFromOffsetZeroAfterEvictionIsAReset) {
  // Given 5 events in a 3-event buffer, expect <epoch>:0 to reset "evicted" and the stream to
  // start after the last evicted offset (:2, replaying 3..5).
  const sse::EventId start = Attach().position();
  Publish(5);
  const Attachment resumed = Attach(start.ToString());
  EXPECT_EQ(resumed.reset, sse::ResetReason::kEvicted);
  EXPECT_EQ(resumed.position(), (sse::EventId{start.epoch, 2}));
  EXPECT_EQ(resumed.replay.size(), 3u);
}

}  // namespace
}  // namespace ringcast::node
