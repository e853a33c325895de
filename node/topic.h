// topic.h — a node's topics: each topic's replay buffer, offsets, epoch, producer marks and the
// count of its subscribers on each worker; and the registry that finds, creates and frees them.
//
// Ordering and exactly-once delivery. A topic's mutex orders everything about it: Append
// assigns the next offset, stores the encoded frame and hands it to every worker that has
// subscribers of the topic, all under the lock. Attach computes a subscriber's replay and counts
// it on its worker under the same lock. So every event is either in the replay or handed to the
// worker after the attach; a hand-off that was already queued to the worker before the attach is
// filtered by offset (the subscriber skips offsets it already has). No gap, no duplicate.
//
// Handoff (handoff.proto, docs/rebalancing.md). A topic that changes owner goes through states:
// at the source kOwned -> kCopying (still appends; every append is also given to the move's
// HandoffTail) -> kSealed (appends nothing) -> kMoved (a tombstone naming the new owner, until
// it is forgotten); at the target it starts kIncoming (takes the source's events in order,
// serves subscribers, refuses publishes) and becomes kOwned on Activate. A failed move returns a
// source's topic to kOwned.
//
// Thread safety: Topic and TopicRegistry are thread-safe. Each topic has its own mutex; the
// registry's shards have theirs (lock order: shard, then topic). No lock is shared by all
// workers.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "sse/event.h"
#include "sse/sse_stream.h"

namespace ringcast::node {

class Topic;

// Receives each appended event for one worker's subscribers. Called with the topic's lock held:
// implementations must only queue the hand-off (e.g. post to the worker), never block.
class FanOut {
 public:
  virtual ~FanOut() = default;
  virtual void Deliver(size_t worker, const std::shared_ptr<Topic>& topic, uint64_t offset,
                       const sse::Frame& frame) = 0;
};

// Where a topic stands in a handoff (see the file comment).
enum class HandoffState { kOwned, kCopying, kSealed, kMoved, kIncoming };

// One buffered event as a handoff copies it.
struct CopiedEvent {
  uint64_t offset = 0;
  absl::Time published;
  sse::Frame frame;  // the encoded event, id included
};

// One producer's de-duplication mark as a handoff copies it.
struct ProducerMarkCopy {
  std::string producer_id;
  uint64_t sequence = 0;
  sse::EventId id;
};

// Receives the events a kCopying topic appends, in order. Called with the topic's lock held:
// implementations must only queue them, never block.
class HandoffTail {
 public:
  virtual ~HandoffTail() = default;
  virtual void OnAppended(const std::shared_ptr<Topic>& topic, const CopiedEvent& event) = 0;
};

// What a source sends first for a topic (handoff.proto TopicSnapshot).
struct HandoffSnapshot {
  uint64_t epoch = 0;
  uint64_t first_offset = 0;  // the oldest buffered offset, or next_offset when none
  uint64_t next_offset = 0;
  std::vector<CopiedEvent> events;
  std::vector<ProducerMarkCopy> producers;  // least recently used first
};

// What a source reports when it seals a topic (handoff.proto TopicSeal).
struct HandoffSeal {
  uint64_t last_offset = 0;
  std::vector<ProducerMarkCopy> producers;
};

struct BufferLimits {
  size_t max_events = 1000;
  size_t max_bytes = 1024 * 1024;
  absl::Duration max_age = absl::Hours(1);
  size_t max_producers = 1024;
};

// Node-wide totals of all replay buffers, for metrics. Self-synchronised.
struct BufferStats {
  std::atomic<int64_t> topics{0};
  std::atomic<int64_t> events{0};
  std::atomic<int64_t> bytes{0};
  std::atomic<uint64_t> evicted_by_count{0};
  std::atomic<uint64_t> evicted_by_bytes{0};
  std::atomic<uint64_t> evicted_by_age{0};
};

struct AppendRequest {
  std::string_view type;         // "" = message
  std::string_view data;
  std::string_view producer_id;  // "" = no de-duplication
  uint64_t sequence = 0;
};

struct AppendResult {
  sse::EventId id;         // offset 0 when a duplicate's original id is no longer known
  bool duplicate = false;  // nothing was appended: a retry of an appended sequence
  // Nonzero: nothing was appended because the producer's sequence skipped ahead; this is the
  // only sequence the topic accepts next from it (its high-water mark + 1).
  uint64_t expected_sequence = 0;
};

// What a new subscriber gets first, computed atomically with its registration.
struct Attachment {
  std::optional<sse::ResetReason> reset;  // the resume point could not be honoured exactly
  uint64_t epoch = 0;
  uint64_t resume_offset = 0;  // with reset: the first offset the stream continues from
  std::vector<sse::Frame> replay;  // buffered events after the resume point, in order
  uint64_t last_offset = 0;        // the newest offset covered; live events start after it

  // The id the stream starts after: its first event (replay, else live) has the next offset.
  // The replay is contiguous and ends at last_offset. Offset 0 when the stream delivers from
  // offset 1 (e.g. a topic with no event yet). Sent as the Ringcast-Position header.
  sse::EventId position() const { return {epoch, last_offset - replay.size()}; }
};

class Topic : public std::enable_shared_from_this<Topic> {
 public:
  // A topic of this node's own making (kOwned, offsets from 1), or with `incoming` the copy of a
  // topic a handoff brings (kIncoming, offsets from the snapshot's first_offset, its marks).
  Topic(std::string name, uint64_t epoch, const BufferLimits& limits, size_t worker_count,
        BufferStats* stats, FanOut* fan_out, const HandoffSnapshot* incoming = nullptr);
  ~Topic();

  const std::string& name() const { return name_; }

  // Appends one event, or recognises a producer's retry (`duplicate`) or gap
  // (`expected_sequence`). ABORTED when the topic was freed meanwhile (the registry retries on a
  // fresh topic); UNAVAILABLE while kSealed or kIncoming (a handoff holds the topic);
  // FAILED_PRECONDITION when kMoved.
  absl::StatusOr<AppendResult> Append(const AppendRequest& request, absl::Time now);

  // Registers one subscriber on `worker` and returns what it must be sent before live events.
  // `resume` is the client's Last-Event-ID, if any. ABORTED when the topic was freed meanwhile.
  absl::StatusOr<Attachment> Attach(size_t worker, const std::optional<std::string>& resume);

  // Unregisters one subscriber of `worker`.
  void Detach(size_t worker);

  HandoffState handoff_state() const;
  uint64_t epoch() const { return epoch_; }

  // Source, kOwned -> kCopying: the buffer and producer marks now; every later append also goes
  // to `tail` until Seal. FAILED_PRECONDITION in any other state, ABORTED when freed.
  absl::StatusOr<HandoffSnapshot> BeginHandoff(HandoffTail* tail);
  // Source, kCopying -> kSealed: no more appends. `on_sealed` runs under the topic's lock, after
  // the last append reached the tail, so the seal is ordered after every tailed event.
  HandoffSeal Seal(const std::function<void(const HandoffSeal&)>& on_sealed);
  // Source, kSealed -> kMoved: the target activated the topic.
  void MarkMoved();
  // Source, kCopying or kSealed -> kOwned: the move failed before activation.
  void CancelHandoff();

  // Target, kIncoming: stores the source's next event and hands it to this node's subscribers.
  // OUT_OF_RANGE unless it is the next offset, FAILED_PRECONDITION unless kIncoming.
  absl::Status AppendCopied(const CopiedEvent& event);
  // Target, kIncoming -> kOwned once every offset through `seal.last_offset` is held; the
  // seal's producer marks replace the topic's. OUT_OF_RANGE when some are missing.
  absl::Status Activate(const HandoffSeal& seal);
  // The offset the topic appends (or, kIncoming, expects) next.
  uint64_t next_offset() const;

  // Drops events older than the age limit. Returns true, and marks the topic freed, when it
  // then has neither subscribers nor events (the registry forgets it).
  bool SweepAndMaybeFree(absl::Time now);

 private:
  struct BufferedEvent {
    uint64_t offset;
    absl::Time published;
    sse::Frame frame;
  };
  struct ProducerMark {
    uint64_t sequence = 0;
    sse::EventId id;
  };

  // The answer for a request that must not be appended (duplicate or gap), if it is one.
  std::optional<AppendResult> CheckProducer(const AppendRequest& request) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RememberProducer(std::string_view producer_id, uint64_t sequence, const sse::EventId& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<ProducerMarkCopy> CopyProducers() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StoreAndFanOut(uint64_t offset, absl::Time published, sse::Frame frame, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictOverLimits(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PopOldest() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t OldestOffset() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const std::string name_;
  const BufferLimits limits_;
  BufferStats* const stats_;
  FanOut* const fan_out_;

  mutable absl::Mutex mu_;
  const uint64_t epoch_;
  uint64_t next_offset_ ABSL_GUARDED_BY(mu_) = 1;
  std::deque<BufferedEvent> buffer_ ABSL_GUARDED_BY(mu_);
  size_t buffer_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint32_t> subscribers_per_worker_ ABSL_GUARDED_BY(mu_);
  uint32_t subscribers_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, ProducerMark> producers_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> producer_order_ ABSL_GUARDED_BY(mu_);  // oldest first
  bool freed_ ABSL_GUARDED_BY(mu_) = false;
  HandoffState handoff_state_ ABSL_GUARDED_BY(mu_) = HandoffState::kOwned;
  HandoffTail* tail_ ABSL_GUARDED_BY(mu_) = nullptr;  // set while kCopying
};

// All topics of a node, sharded by name hash.
class TopicRegistry {
 public:
  TopicRegistry(const BufferLimits& limits, size_t worker_count, FanOut* fan_out);

  // Appends to `topic`, creating it if needed (`create`) or NOT_FOUND. The topic's handoff
  // state may refuse (see Topic::Append).
  absl::StatusOr<AppendResult> Append(std::string_view topic, const AppendRequest& request,
                                      absl::Time now, bool create = true);

  // Attaches a subscriber to `topic`, creating it if needed. Returns the topic with the plan.
  // FAILED_PRECONDITION when the topic moved away (kMoved).
  absl::StatusOr<std::pair<std::shared_ptr<Topic>, Attachment>> Attach(
      std::string_view topic, size_t worker, const std::optional<std::string>& resume);

  // The topic if this node holds it, else null.
  std::shared_ptr<Topic> Find(std::string_view topic) const;

  // Every topic this node holds, in no order.
  std::vector<std::shared_ptr<Topic>> All() const;

  // Target: the kIncoming copy of a topic a handoff brings (`snapshot`'s epoch, first offset and
  // marks; its events follow through AppendCopied). Replaces a kMoved tombstone. ALREADY_EXISTS
  // when this node holds the topic otherwise; the status message says in which state.
  absl::StatusOr<std::shared_ptr<Topic>> CreateIncoming(std::string_view topic,
                                                        const HandoffSnapshot& snapshot);

  // Forgets `topic` (a tombstone that expired, or an incoming copy that was abandoned), if it is
  // still the one held under its name.
  void Forget(const std::shared_ptr<Topic>& topic);

  // Applies age limits to every topic and forgets topics with no subscribers and no events.
  void Sweep(absl::Time now);

  const BufferStats& stats() const { return stats_; }

 private:
  static constexpr size_t kShards = 64;
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, std::shared_ptr<Topic>> topics ABSL_GUARDED_BY(mu);
  };

  Shard& ShardOf(std::string_view name);
  std::shared_ptr<Topic> GetOrCreate(std::string_view name);
  uint64_t NextEpoch();

  // Constant after construction.
  const BufferLimits limits_;
  const size_t worker_count_;
  FanOut* const fan_out_;

  // Self-synchronised.
  BufferStats stats_;
  std::atomic<uint64_t> last_epoch_{0};
  std::vector<Shard> shards_;
};

}  // namespace ringcast::node
