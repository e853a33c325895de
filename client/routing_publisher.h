// routing_publisher.h — the ring-aware publisher: computes each topic's owner from the ring,
// keeps one channel (PublisherClient) per node, publishes straight to the owner and retries
// where a retry cannot duplicate an event (DESIGN.md "Publish", publisher.proto).
//
//   absl::StatusOr<std::unique_ptr<RoutingPublisher>> publisher =
//       RoutingPublisher::Connect("127.0.0.1:9000", {.producer_id = "billing-7f3a"});
//   absl::StatusOr<PublishResult> r = (*publisher)->Publish({.topic = "orders/42", .data = "hi"});
//
// Four ways in, all with the same routing and retry rules:
//   Publish         unary, blocking;
//   PublishAsync    unary, returns a future; events of one topic are published in call order;
//   PublishBatch    many events, one PublishBatch call per owner (and round of retries);
//   OpenStream      a RoutingStream: one PublishStream per owner, answers correlated back.
//
// Retry rules (every retry is counted in retries()):
//   FAILED_PRECONDITION + WrongOwner   the ring moved: wait up to ring_wait for a ring of at
//                                      least the node's version (the watcher, then GetRing), and
//                                      retry at the owner WrongOwner names (by our ring again
//                                      once it is newer than the node's). A node whose ring is
//                                      older than ours gets a backoff to catch up. Nothing was
//                                      appended, so always safe.
//   UNAVAILABLE + RetryInfo            the node refused (draining, handoff_hold, ring_behind,
//                                      no_ring): nothing appended; back off (at least
//                                      retry_delay) and retry.
//   OUT_OF_RANGE + SequenceGap         only when an earlier sequence of ours is still in flight
//                                      is it retried (the batch/stream paths); otherwise returned.
//   UNAVAILABLE without details,       the outcome is unknown (the connection broke, or the
//   DEADLINE_EXCEEDED, CANCELLED       deadline hit while the node worked): retried ONLY when the
//                                      event has a (producer_id, sequence) pair, which the node
//                                      de-duplicates; otherwise returned to the caller.
//   anything else                      returned as is (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, ...).
// At most max_attempts sends per event; then the last error is returned.
//
// producer_id. When RoutingPublisherOptions::producer_id is set, every event without its own
// (producer_id, sequence) gets that id and the next sequence of its topic (1, 2, 3, ... per
// topic, in the order events are handed to the publisher), so every publish is retry-safe.
// Use a fresh id per process start (e.g. a UUID): the node only remembers the high-water mark,
// so a restarted producer reusing its id would have its first events taken as duplicates.
// NOTE: sequences are assigned when an event is handed over; an event that finally fails
// leaves a gap, and the node answers the topic's later sequences OUT_OF_RANGE until the caller
// resends the missing one (or switches to a new producer_id).
//
// ring_version in every request is the version of the ring used to pick the node.
//
// Thread safety: RoutingPublisher is thread-safe. A RoutingStream is used by one thread at a
// time. The publisher must outlive its streams and futures.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/publisher_client.h"
#include "client/ring_watcher.h"
#include "ring/ring.h"
#include "ring/ring_holder.h"

namespace ringcast::client {

struct RoutingPublisherOptions {
  // "" = events are retried only if they carry their own (producer_id, sequence). Otherwise the
  // publisher assigns this id and per-topic sequences (see the file comment).
  std::string producer_id;

  // Sends per event, the first included. More rides out longer ring changes and outages.
  int max_attempts = 8;

  // Backoff between retries after UNAVAILABLE (or an unknown outcome): starts here, doubles up
  // to max_backoff, jittered to 50-100%; never shorter than the node's RetryInfo.retry_delay.
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(2);

  // After a WrongOwner, how long to wait for the watcher to bring the node's ring version before
  // asking the router with GetRing (and, failing that, using the owner WrongOwner names).
  absl::Duration ring_wait = absl::Seconds(2);

  // Deadline of a whole publish (every attempt and wait) when the event has none.
  absl::Duration timeout = absl::Seconds(10);

  // Most events in one PublishBatch call; keep at or under the nodes' max_batch_events.
  size_t max_batch_events = 1000;

  // Threads running PublishAsync calls; each topic always goes to the same thread, so one
  // topic's events keep their order while different topics proceed in parallel.
  int async_threads = 4;

  // Reconnect backoff of the ring watcher (Connect only).
  RingWatcherOptions watcher;
};

// Retries made so far, by cause.
struct RetryCounts {
  uint64_t wrong_owner = 0;      // FAILED_PRECONDITION + WrongOwner
  uint64_t unavailable = 0;      // UNAVAILABLE + RetryInfo
  uint64_t unknown_outcome = 0;  // broken connection / deadline, retried thanks to a sequence
  uint64_t sequence_gap = 0;     // OUT_OF_RANGE behind an earlier event still being retried
};

struct RoutingStreamOptions {
  // Deadline of every owner's stream, and of Finish's retries (InfiniteFuture = the publisher's
  // timeout from Finish on).
  absl::Time deadline = absl::InfiniteFuture();
  // Per owner's stream: most requests sent and not answered (PublishStreamOptions).
  size_t max_in_flight = 1024;
};

class RoutingStream;

class RoutingPublisher {
 public:
  // Follows the ring of the router whose Cluster service is at `router_address`, waiting until
  // `ring_deadline` for the first ring (DEADLINE_EXCEEDED naming the router otherwise).
  static absl::StatusOr<std::unique_ptr<RoutingPublisher>> Connect(
      std::string router_address, RoutingPublisherOptions options = {},
      absl::Time ring_deadline = absl::Now() + absl::Seconds(10));

  // Routes by a fixed ring (tests, static clusters): no watcher. After a WrongOwner the event is
  // retried at the owner the node names.
  explicit RoutingPublisher(std::shared_ptr<const Ring> ring, RoutingPublisherOptions options = {});

  ~RoutingPublisher();
  RoutingPublisher(const RoutingPublisher&) = delete;
  RoutingPublisher& operator=(const RoutingPublisher&) = delete;

  // Publishes one event to its owner, retrying as the file comment says.
  absl::StatusOr<PublishResult> Publish(PublishOptions event);

  // Publish on one of the async threads (the topic's); the future holds Publish's answer.
  std::future<absl::StatusOr<PublishResult>> PublishAsync(PublishOptions event);

  // Publishes `events` grouped by owner (one PublishBatch call per owner and up to
  // max_batch_events), retrying the events that may be retried, in rounds. results[i] answers
  // events[i] (request_id = i + 1). `deadline` bounds the whole call (InfiniteFuture = timeout).
  std::vector<StreamResult> PublishBatch(std::vector<PublishOptions> events,
                                         absl::Time deadline = absl::InfiniteFuture());

  // A stream that sends each event on its owner's PublishStream.
  std::unique_ptr<RoutingStream> OpenStream(RoutingStreamOptions options = {});

  // The ring currently routed by (never null after Connect or the fixed-ring constructor).
  std::shared_ptr<const Ring> ring() const { return ring_.Load(); }
  RetryCounts retries() const;

 private:
  friend class RoutingStream;
  struct Pending;  // one event on its way (routing_publisher.cc)

  RoutingPublisher(RoutingPublisherOptions options, std::string router_address);

  // The sequence to give the next event of `topic` under options_.producer_id.
  void AssignSequence(PublishOptions& event);
  // The channel to the node at `grpc_address` (created on first use).
  std::shared_ptr<PublisherClient> ClientFor(const std::string& grpc_address);
  // Sends `pending` in rounds (grouped by node, with `send`) until each is answered or out of
  // attempts; fills their `result`.
  using SendGroup = std::function<std::vector<absl::StatusOr<PublishResult>>(
      PublisherClient&, const std::vector<PublishOptions>&, absl::Time)>;
  void SendWithRetries(std::vector<Pending>& pending, const SendGroup& send);
  // Decides about one answer: true when the event should be sent again (after the waits it
  // asks for, recorded in `pending`).
  bool ShouldRetry(Pending& pending, const absl::Status& status);
  // Waits for a ring of at least `version`: the watcher's up to ring_wait, then one GetRing.
  // Returns either way (the caller then routes by the owner a WrongOwner named).
  void AwaitRing(uint64_t version, absl::Time deadline);
  void RunAsyncThread(size_t index);

  // Constant after construction.
  const RoutingPublisherOptions options_;
  const std::string router_address_;  // "" for a fixed ring

  // Self-synchronised: the ring is published by the watcher (or fixed at construction).
  RingHolder ring_;
  std::unique_ptr<RingWatcher> watcher_;

  // Retry counters.
  std::atomic<uint64_t> wrong_owner_retries_{0};
  std::atomic<uint64_t> unavailable_retries_{0};
  std::atomic<uint64_t> unknown_outcome_retries_{0};
  std::atomic<uint64_t> sequence_gap_retries_{0};

  // Guarded by mu_.
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<PublisherClient>> clients_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint64_t> last_sequence_ ABSL_GUARDED_BY(mu_);

  // The async threads, each with its own queue guarded by async_mu_.
  absl::Mutex async_mu_;
  std::vector<std::deque<std::packaged_task<absl::StatusOr<PublishResult>()>>> async_queues_
      ABSL_GUARDED_BY(async_mu_);
  bool async_stopping_ ABSL_GUARDED_BY(async_mu_) = false;
  std::vector<std::thread> async_threads_;
};

// Events sent over one PublishStream per owner. Answers arrive per owner; those that may be
// retried (the rules of RoutingPublisher) are resent with unary Publish by Finish, in send order.
class RoutingStream {
 public:
  RoutingStream(const RoutingStream&) = delete;
  RoutingStream& operator=(const RoutingStream&) = delete;
  ~RoutingStream();

  // Sends one event to its owner's stream (opened on first use) and returns its request id
  // (1, 2, 3, ... across all owners). INVALID_ARGUMENT from validation (no id used);
  // FAILED_PRECONDITION after Finish. An owner's stream that has ended makes the event wait
  // for Finish, which publishes it with retries.
  absl::StatusOr<uint64_t> Send(PublishOptions event);

  // Half-closes every owner's stream, waits for their answers, retries what may be retried, and
  // returns one result per event sent, in request id order.
  std::vector<StreamResult> Finish();

 private:
  friend class RoutingPublisher;
  struct OwnerStream;
  RoutingStream(RoutingPublisher& publisher, RoutingStreamOptions options);
  OwnerStream& StreamTo(const std::string& grpc_address);

  // Constant after construction.
  RoutingPublisher& publisher_;
  const RoutingStreamOptions options_;

  // Used by the thread calling Send/Finish.
  absl::flat_hash_map<std::string, std::unique_ptr<OwnerStream>> streams_;  // by grpc address
  std::vector<PublishOptions> sent_;  // sent_[id - 1]: the event (with its sequence), for retries
  bool finished_ = false;

  // Guarded by mu_: answers written by the owner streams' reader threads.
  absl::Mutex mu_;
  std::vector<std::optional<absl::StatusOr<PublishResult>>> answers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ringcast::client
