// routing_publisher.cc — routing by the ring, the retry rules of routing_publisher.h, and the
// async threads and owner streams built on them.
//
// Every path funnels into SendWithRetries: a round sends each unanswered event to its node
// (grouped by node address), then ShouldRetry decides per answer; before the next round the
// events wait for what they asked for (a newer ring, a backoff). Events of one topic stay in
// their order inside a round, and a round's groups are sent one after the other, so a topic's
// events reach its owner in order.
#include "client/routing_publisher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/backoff.h"
#include "client/status.h"

namespace ringcast::client {
namespace {

// How long a GetRing call may take when the watcher has not brought a wanted ring version.
constexpr absl::Duration kFetchRingTimeout = absl::Seconds(1);

absl::Duration FromProtoDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// Sends a node's events one unary Publish at a time (each with its own deadline).
std::vector<absl::StatusOr<PublishResult>> PublishOneByOne(
    PublisherClient& client, const std::vector<PublishOptions>& events, absl::Time) {
  std::vector<absl::StatusOr<PublishResult>> results;
  results.reserve(events.size());
  for (const PublishOptions& event : events) results.push_back(client.Publish(event));
  return results;
}

bool IsUnknownOutcome(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded ||
         code == absl::StatusCode::kCancelled;
}

}  // namespace

// One event on its way through SendWithRetries.
struct RoutingPublisher::Pending {
  explicit Pending(PublishOptions e, const RoutingPublisherOptions& options)
      : event(std::move(e)), backoff(options.initial_backoff, options.max_backoff) {}

  PublishOptions event;  // sequence assigned, deadline = the whole publish's
  int attempts = 0;
  // Set from a WrongOwner whose ring version ours has not reached: send there, with that version.
  std::string owner_override;
  uint64_t override_version = 0;
  uint64_t await_version = 0;            // ring version to wait for before the next send
  absl::Duration wait = absl::ZeroDuration();  // backoff before the next send
  Backoff backoff;
  std::optional<absl::StatusOr<PublishResult>> result;  // the final answer
};

// ---------------------------------------------------------------------------------------------
// RoutingPublisher

RoutingPublisher::RoutingPublisher(RoutingPublisherOptions options, std::string router_address)
    : options_(std::move(options)), router_address_(std::move(router_address)), ring_(nullptr) {
  const size_t threads = static_cast<size_t>(std::max(1, options_.async_threads));
  {
    absl::MutexLock lock(&async_mu_);
    async_queues_.resize(threads);
  }
  for (size_t i = 0; i < threads; ++i) {
    async_threads_.emplace_back([this, i] { RunAsyncThread(i); });
  }
}

RoutingPublisher::RoutingPublisher(std::shared_ptr<const Ring> ring,
                                   RoutingPublisherOptions options)
    : RoutingPublisher(std::move(options), "") {
  ring_.Publish(std::move(ring)).IgnoreError();  // the first ring is always newer than none
}

absl::StatusOr<std::unique_ptr<RoutingPublisher>> RoutingPublisher::Connect(
    std::string router_address, RoutingPublisherOptions options, absl::Time ring_deadline) {
  std::unique_ptr<RoutingPublisher> publisher(
      new RoutingPublisher(std::move(options), router_address));
  publisher->watcher_ = std::make_unique<RingWatcher>(std::move(router_address), publisher->ring_,
                                                      publisher->options_.watcher);
  if (absl::Status s = publisher->watcher_->WaitForRing(ring_deadline); !s.ok()) return s;
  return publisher;
}

RoutingPublisher::~RoutingPublisher() {
  {
    absl::MutexLock lock(&async_mu_);
    async_stopping_ = true;
  }
  for (std::thread& thread : async_threads_) thread.join();
  watcher_.reset();
}

RetryCounts RoutingPublisher::retries() const {
  return RetryCounts{.wrong_owner = wrong_owner_retries_.load(),
                     .unavailable = unavailable_retries_.load(),
                     .unknown_outcome = unknown_outcome_retries_.load(),
                     .sequence_gap = sequence_gap_retries_.load()};
}

void RoutingPublisher::AssignSequence(PublishOptions& event) {
  if (options_.producer_id.empty() || !event.producer_id.empty()) return;
  event.producer_id = options_.producer_id;
  absl::MutexLock lock(&mu_);
  event.sequence = ++last_sequence_[event.topic];
}

std::shared_ptr<PublisherClient> RoutingPublisher::ClientFor(const std::string& grpc_address) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<PublisherClient>& client = clients_[grpc_address];
  if (client == nullptr) client = std::make_shared<PublisherClient>(grpc_address);
  return client;
}

absl::StatusOr<PublishResult> RoutingPublisher::Publish(PublishOptions event) {
  if (absl::Status valid = ValidatePublishOptions(event); !valid.ok()) return valid;
  AssignSequence(event);
  if (event.deadline == absl::InfiniteFuture()) event.deadline = absl::Now() + options_.timeout;
  std::vector<Pending> pending;
  pending.emplace_back(std::move(event), options_);
  SendWithRetries(pending, PublishOneByOne);
  return *std::move(pending.front().result);
}

std::future<absl::StatusOr<PublishResult>> RoutingPublisher::PublishAsync(PublishOptions event) {
  const size_t queue = std::hash<std::string>()(event.topic) % async_threads_.size();
  std::packaged_task<absl::StatusOr<PublishResult>()> task(
      [this, event = std::move(event)]() mutable { return Publish(std::move(event)); });
  std::future<absl::StatusOr<PublishResult>> future = task.get_future();
  absl::MutexLock lock(&async_mu_);
  async_queues_[queue].push_back(std::move(task));
  return future;
}

void RoutingPublisher::RunAsyncThread(size_t index) {
  while (true) {
    std::packaged_task<absl::StatusOr<PublishResult>()> task;
    {
      absl::MutexLock lock(&async_mu_);
      auto ready = [this, index]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(async_mu_) {
        return async_stopping_ || !async_queues_[index].empty();
      };
      async_mu_.Await(absl::Condition(&ready));
      // NOTE: queued calls still run after the destructor starts, so no future is left broken.
      if (async_queues_[index].empty()) return;
      task = std::move(async_queues_[index].front());
      async_queues_[index].pop_front();
    }
    task();
  }
}

std::vector<StreamResult> RoutingPublisher::PublishBatch(std::vector<PublishOptions> events,
                                                         absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) deadline = absl::Now() + options_.timeout;
  std::vector<Pending> pending;
  pending.reserve(events.size());
  for (PublishOptions& event : events) {
    absl::Status valid = ValidatePublishOptions(event);
    if (valid.ok()) AssignSequence(event);
    event.deadline = deadline;
    pending.emplace_back(std::move(event), options_);
    if (!valid.ok()) pending.back().result = valid;
  }
  SendWithRetries(pending, [this](PublisherClient& client,
                                  const std::vector<PublishOptions>& group, absl::Time until) {
    std::vector<absl::StatusOr<PublishResult>> results;
    for (size_t start = 0; start < group.size(); start += options_.max_batch_events) {
      const size_t end = std::min(group.size(), start + options_.max_batch_events);
      const std::vector<PublishOptions> chunk(group.begin() + start, group.begin() + end);
      absl::StatusOr<std::vector<StreamResult>> answers = client.PublishBatch(chunk, until);
      for (size_t i = 0; i < chunk.size(); ++i) {
        if (!answers.ok()) {
          results.push_back(answers.status());
        } else if (i < answers->size()) {
          results.push_back((*answers)[i].result);
        } else {
          results.push_back(absl::InternalError("the node answered fewer events than were sent"));
        }
      }
    }
    return results;
  });
  std::vector<StreamResult> results;
  results.reserve(pending.size());
  for (size_t i = 0; i < pending.size(); ++i) {
    results.push_back({.request_id = i + 1, .result = *std::move(pending[i].result)});
  }
  return results;
}

void RoutingPublisher::SendWithRetries(std::vector<Pending>& pending, const SendGroup& send) {
  while (true) {
    // Waits asked for by the previous round: the newest ring any event needs, the longest backoff.
    uint64_t await_version = 0;
    absl::Duration wait = absl::ZeroDuration();
    absl::Time deadline = absl::InfiniteFuture();
    bool any = false;
    for (const Pending& p : pending) {
      if (p.result.has_value()) continue;
      any = true;
      await_version = std::max(await_version, p.await_version);
      wait = std::max(wait, p.wait);
      deadline = std::min(deadline, p.event.deadline);
    }
    if (!any) return;
    if (await_version > 0) AwaitRing(await_version, deadline);
    if (wait > absl::ZeroDuration()) absl::SleepFor(std::min(wait, deadline - absl::Now()));

    // Group this round's events by node, keeping their order within each group.
    const std::shared_ptr<const Ring> ring = ring_.Load();
    std::vector<std::string> order;  // node addresses in first-use order
    absl::flat_hash_map<std::string, std::vector<size_t>> groups;
    for (size_t i = 0; i < pending.size(); ++i) {
      Pending& p = pending[i];
      if (p.result.has_value()) continue;
      if (!p.owner_override.empty() && ring->version() > p.override_version) {
        p.owner_override.clear();
      }
      p.await_version = 0;
      p.wait = absl::ZeroDuration();
      const bool overridden = !p.owner_override.empty();
      p.event.ring_version = overridden ? p.override_version : ring->version();
      const std::string address =
          overridden ? p.owner_override : ring->Lookup(p.event.topic).grpc_address;
      std::vector<size_t>& group = groups[address];
      if (group.empty()) order.push_back(address);
      group.push_back(i);
    }
    for (const std::string& address : order) {
      const std::vector<size_t>& members = groups[address];
      std::vector<PublishOptions> events;
      absl::Time until = absl::InfiniteFuture();
      for (size_t i : members) {
        events.push_back(pending[i].event);
        until = std::min(until, pending[i].event.deadline);
      }
      std::vector<absl::StatusOr<PublishResult>> answers = send(*ClientFor(address), events, until);
      for (size_t k = 0; k < members.size(); ++k) {
        Pending& p = pending[members[k]];
        ++p.attempts;
        if (answers[k].ok() || !ShouldRetry(p, answers[k].status())) {
          p.result = std::move(answers[k]);
        }
      }
    }
  }
}

bool RoutingPublisher::ShouldRetry(Pending& p, const absl::Status& status) {
  if (p.attempts >= options_.max_attempts || absl::Now() >= p.event.deadline) return false;
  const absl::StatusCode code = status.code();
  if (code == absl::StatusCode::kFailedPrecondition) {
    std::optional<v1::WrongOwner> wrong = WrongOwnerOf(status);
    if (!wrong.has_value()) return false;
    ++wrong_owner_retries_;
    const uint64_t ours = ring_.Load()->version();
    if (wrong->ring_version() >= ours) {
      // The node's ring is newer (wait for it) or the same: trust the owner it names.
      if (wrong->ring_version() > ours) p.await_version = wrong->ring_version();
      p.owner_override = wrong->owner().grpc_address();
      p.override_version = wrong->ring_version();
    } else {
      // The node is behind our ring: give it a moment to catch up, then send again.
      p.owner_override.clear();
      p.wait = p.backoff.Next();
    }
    return true;
  }
  if (code == absl::StatusCode::kUnavailable) {
    if (std::optional<v1::RetryInfo> retry = RetryInfoOf(status)) {
      ++unavailable_retries_;
      p.wait = std::max(p.backoff.Next(), FromProtoDuration(retry->retry_delay()));
      // A draining node is leaving the ring: route by the ring again, not by an old override.
      p.owner_override.clear();
      return true;
    }
  }
  if (code == absl::StatusCode::kOutOfRange && p.event.sequence != 0) {
    std::optional<v1::SequenceGap> gap = SequenceGapOf(status);
    if (gap.has_value() && gap->expected_sequence() < p.event.sequence) {
      ++sequence_gap_retries_;
      p.wait = p.backoff.Next();
      return true;
    }
    return false;
  }
  if (IsUnknownOutcome(code) && p.event.sequence != 0) {
    ++unknown_outcome_retries_;
    p.wait = p.backoff.Next();
    p.owner_override.clear();
    return true;
  }
  return false;
}

void RoutingPublisher::AwaitRing(uint64_t version, absl::Time deadline) {
  if (ring_.Load()->version() >= version || watcher_ == nullptr) return;
  const absl::Time now = absl::Now();
  if (watcher_->WaitForVersion(version, std::min(deadline, now + options_.ring_wait)).ok()) {
    return;
  }
  absl::StatusOr<Ring> fetched =
      FetchRing(router_address_, std::min(deadline, absl::Now() + kFetchRingTimeout));
  if (fetched.ok() && fetched->version() > ring_.Load()->version()) {
    // NOTE: the watcher may publish the same or a newer version meanwhile; either is fine.
    ring_.Publish(std::make_shared<const Ring>(*std::move(fetched))).IgnoreError();
  }
}

std::unique_ptr<RoutingStream> RoutingPublisher::OpenStream(RoutingStreamOptions options) {
  return std::unique_ptr<RoutingStream>(new RoutingStream(*this, options));
}

// ---------------------------------------------------------------------------------------------
// RoutingStream

// One owner's PublishStream and the request ids of RoutingStream its local ids stand for.
struct RoutingStream::OwnerStream {
  std::unique_ptr<PublishStream> stream;
  // global_ids[local id - 1]; guarded by RoutingStream::mu_ (appended by Send, read by answers).
  std::vector<uint64_t> global_ids;
};

RoutingStream::RoutingStream(RoutingPublisher& publisher, RoutingStreamOptions options)
    : publisher_(publisher), options_(options) {}

RoutingStream::~RoutingStream() {
  if (!finished_) Finish();
}

RoutingStream::OwnerStream& RoutingStream::StreamTo(const std::string& grpc_address) {
  std::unique_ptr<OwnerStream>& owner = streams_[grpc_address];
  if (owner != nullptr) return *owner;
  owner = std::make_unique<OwnerStream>();
  OwnerStream* raw = owner.get();
  PublishStreamOptions stream_options;
  stream_options.deadline = options_.deadline;
  stream_options.max_in_flight = options_.max_in_flight;
  stream_options.on_result = [this, raw](StreamResult answer) {
    absl::MutexLock lock(&mu_);
    const uint64_t id = raw->global_ids[answer.request_id - 1];
    answers_[id - 1] = std::move(answer.result);
  };
  // NOTE: OpenStream cannot fail (it connects lazily); a dead node shows in Send and Finish.
  owner->stream =
      *std::move(publisher_.ClientFor(grpc_address)->OpenStream(std::move(stream_options)));
  return *owner;
}

absl::StatusOr<uint64_t> RoutingStream::Send(PublishOptions event) {
  if (finished_) return absl::FailedPreconditionError("Send after Finish");
  if (absl::Status valid = ValidatePublishOptions(event); !valid.ok()) return valid;
  publisher_.AssignSequence(event);
  const std::shared_ptr<const Ring> ring = publisher_.ring();
  event.ring_version = ring->version();
  OwnerStream& owner = StreamTo(ring->Lookup(event.topic).grpc_address);
  const uint64_t id = sent_.size() + 1;
  sent_.push_back(event);
  {
    absl::MutexLock lock(&mu_);
    answers_.emplace_back();
    owner.global_ids.push_back(id);
  }
  // An owner's stream that has ended leaves the event unanswered: Finish publishes it then.
  if (!owner.stream->Send(event).ok()) {
    absl::MutexLock lock(&mu_);
    owner.global_ids.pop_back();
  }
  return id;
}

std::vector<StreamResult> RoutingStream::Finish() {
  if (finished_) return {};
  finished_ = true;
  for (auto& [address, owner] : streams_) owner->stream->Finish().IgnoreError();
  std::vector<std::optional<absl::StatusOr<PublishResult>>> answers;
  {
    absl::MutexLock lock(&mu_);
    answers = std::move(answers_);
  }
  const absl::Time deadline = options_.deadline != absl::InfiniteFuture()
                                  ? options_.deadline
                                  : absl::Now() + publisher_.options_.timeout;
  std::vector<StreamResult> results;
  results.reserve(sent_.size());
  for (size_t i = 0; i < sent_.size(); ++i) {
    PublishOptions event = std::move(sent_[i]);
    event.deadline = deadline;
    std::vector<RoutingPublisher::Pending> retry;
    retry.emplace_back(std::move(event), publisher_.options_);
    RoutingPublisher::Pending& p = retry.front();
    if (answers[i].has_value()) {
      // Sent and answered (or ended unanswered): retried only where the rules allow.
      p.attempts = 1;
      if (answers[i]->ok() || !publisher_.ShouldRetry(p, answers[i]->status())) {
        p.result = *std::move(answers[i]);
      }
    }
    publisher_.SendWithRetries(retry, PublishOneByOne);
    results.push_back({.request_id = i + 1, .result = *std::move(p.result)});
  }
  sent_.clear();
  return results;
}

}  // namespace ringcast::client
