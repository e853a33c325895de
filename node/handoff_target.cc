// handoff_target.cc — one Transfer stream at the target, message by message (see
// handoff_target.h and handoff.proto for the protocol and its status codes).
#include "node/handoff_target.h"

#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "ringcast/v1/errors.pb.h"
#include "sse/event.h"

namespace ringcast::node {
namespace {

grpc::Status Refuse(grpc::StatusCode code, std::string message) {
  return grpc::Status(code, std::move(message));
}

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::Status Unavailable(std::string reason, std::string message) {
  v1::RpcStatus status;
  status.set_code(grpc::StatusCode::UNAVAILABLE);
  status.set_message(message);
  v1::RetryInfo retry;
  retry.set_reason(std::move(reason));
  retry.mutable_retry_delay()->set_nanos(100'000'000);
  status.add_details()->PackFrom(retry);
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, std::move(message),
                      status.SerializeAsString());
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

}  // namespace

// The state of one Transfer stream: what `begin` announced and the copies it created.
class HandoffTarget::TransferSession {
 public:
  TransferSession(HandoffTarget& target,
                  grpc::ServerReaderWriter<v1::TransferResponse, v1::TransferRequest>* stream)
      : target_(target), stream_(stream) {}

  grpc::Status Run() {
    v1::TransferRequest request;
    if (!stream_->Read(&request)) return grpc::Status::OK;  // opened and closed: nothing to do
    if (grpc::Status s = OnBegin(request); !s.ok()) return s;
    const grpc::Status status = ReadUntilClosed();
    if (status.ok() && copies_.empty()) {
      // The source half-closed: every listed topic is active (or was reported so).
      target_.incoming_.OnTransferDone(partitions_);
    } else {
      DropUnfinishedCopies();
    }
    return status;
  }

 private:
  grpc::Status ReadUntilClosed() {
    v1::TransferRequest request;
    while (stream_->Read(&request)) {
      absl::StatusOr<std::shared_ptr<const Ring>> ring =
          target_.RingAtLeast(request.ring_version());
      if (!ring.ok()) return ToGrpcFencing(ring.status());
      grpc::Status s = grpc::Status::OK;
      switch (request.body_case()) {
        case v1::TransferRequest::kTopicSnapshot: s = OnSnapshot(request.topic_snapshot()); break;
        case v1::TransferRequest::kEvents: s = OnEvents(request.events()); break;
        case v1::TransferRequest::kSeal: s = OnSeal(**ring, request.seal()); break;
        default:
          s = Refuse(grpc::StatusCode::INVALID_ARGUMENT, "only the first message may be begin");
      }
      if (!s.ok()) return s;
    }
    return grpc::Status::OK;
  }

  // The stream ended (the source died or gave up: a broken stream reads like a half-close) or
  // failed with copies not yet sealed. Nobody will complete them: they are discarded (their
  // subscribers' streams end with retry:) and their topics wait again, like a begin's listed
  // topics, for the source's next transfer or the partitions' abandonment. Without this they
  // would stay kIncoming for good: publishes held, resuming subscribers waiting, no reset.
  void DropUnfinishedCopies() {
    if (copies_.empty()) return;
    std::vector<std::string> names;
    for (const auto& entry : copies_) names.push_back(entry.first);
    target_.incoming_.OnTransferBroken(partitions_, names, absl::Now());
    for (const auto& entry : copies_) target_.Discard(entry.second);
    copies_.clear();
  }

  static grpc::Status ToGrpcFencing(const absl::Status& status) {
    if (absl::IsUnavailable(status)) return Unavailable("ring_behind", std::string(status.message()));
    return ToGrpc(status);
  }

  grpc::Status OnBegin(const v1::TransferRequest& request) {
    if (!request.has_begin()) {
      return Refuse(grpc::StatusCode::INVALID_ARGUMENT, "the first message must be begin");
    }
    if (target_.draining_.load(std::memory_order_relaxed)) {
      return Unavailable("draining", "node is shutting down");
    }
    const v1::TransferBegin& begin = request.begin();
    if (begin.target_node_id() != target_.options_.node_id) {
      return Refuse(grpc::StatusCode::INVALID_ARGUMENT,
                    absl::StrCat("transfer addressed to ", begin.target_node_id(), ", this is ",
                                 target_.options_.node_id));
    }
    if (begin.partitions().empty()) {
      return Refuse(grpc::StatusCode::INVALID_ARGUMENT, "begin names no partition");
    }
    absl::StatusOr<std::shared_ptr<const Ring>> ring = target_.RingAtLeast(request.ring_version());
    if (!ring.ok()) return ToGrpcFencing(ring.status());
    for (uint32_t p : begin.partitions()) {
      if (p >= (*ring)->partition_count() || (*ring)->OwnerOf(p).id != target_.options_.node_id) {
        return Refuse(grpc::StatusCode::FAILED_PRECONDITION,
                      absl::StrCat("partition ", p, " is not this node's under ring version ",
                                   (*ring)->version()));
      }
      partitions_.push_back(p);
    }
    partition_set_.insert(partitions_.begin(), partitions_.end());
    const std::vector<std::string> listed(begin.topics().begin(), begin.topics().end());
    target_.incoming_.OnBegin(begin.source_node_id(), partitions_, listed, absl::Now());

    v1::TransferResponse response;
    response.set_ring_version((*ring)->version());
    v1::TransferReady* ready = response.mutable_ready();
    for (const std::string& name : listed) {
      std::shared_ptr<Topic> held = target_.topics_.Find(name);
      if (held == nullptr) continue;
      if (held->handoff_state() == HandoffState::kIncoming) {
        target_.Discard(held);  // from an interrupted transfer: it starts over
      } else if (held->handoff_state() == HandoffState::kOwned) {
        v1::TopicResume* resume = ready->add_topics();
        resume->set_topic(name);
        resume->set_state(v1::TOPIC_TRANSFER_STATE_ACTIVE);
        resume->set_epoch(held->epoch());
        resume->set_next_offset(held->next_offset());
        active_.insert(name);
      }
    }
    if (!stream_->Write(response)) return Refuse(grpc::StatusCode::CANCELLED, "source went away");
    return grpc::Status::OK;
  }

  grpc::Status OnSnapshot(const v1::TopicSnapshot& snapshot) {
    const std::shared_ptr<const Ring> ring = target_.ring_.Load();
    if (!partition_set_.contains(ring->PartitionOf(snapshot.topic()))) {
      return Refuse(grpc::StatusCode::INVALID_ARGUMENT,
                    absl::StrCat("topic '", snapshot.topic(), "' is not in the transfer's partitions"));
    }
    if (active_.contains(snapshot.topic())) return grpc::Status::OK;
    if (auto old = copies_.find(snapshot.topic()); old != copies_.end()) {
      target_.Discard(old->second);  // a second snapshot starts the copy over
      copies_.erase(old);
    }
    HandoffSnapshot start{snapshot.epoch(), snapshot.first_offset(), snapshot.next_offset(), {}, {}};
    for (const v1::ProducerMark& mark : snapshot.producers()) {
      absl::StatusOr<sse::EventId> id = sse::ParseEventId(mark.last_event_id());
      start.producers.push_back({mark.producer_id(), mark.last_sequence(),
                                 id.ok() ? *id : sse::EventId{}});
    }
    absl::StatusOr<std::shared_ptr<Topic>> copy =
        target_.topics_.CreateIncoming(snapshot.topic(), start);
    target_.incoming_.OnTopicArrived(snapshot.topic(), absl::Now());
    if (!copy.ok()) {
      // This node already holds the topic with a history of its own (it was created here before
      // the transfer reached it): that history wins, and the source's copy is answered as active.
      std::shared_ptr<Topic> held = target_.topics_.Find(snapshot.topic());
      active_.insert(snapshot.topic());
      return WriteActivated(snapshot.topic(), held == nullptr ? 0 : held->epoch(),
                            held == nullptr ? 0 : held->next_offset() - 1);
    }
    copies_[snapshot.topic()] = *std::move(copy);
    return WriteCopied(snapshot.topic(), snapshot.first_offset() - 1);
  }

  grpc::Status OnEvents(const v1::EventBatch& batch) {
    if (active_.contains(batch.topic())) return grpc::Status::OK;
    auto it = copies_.find(batch.topic());
    if (it == copies_.end()) {
      return Refuse(grpc::StatusCode::INVALID_ARGUMENT,
                    absl::StrCat("events for '", batch.topic(), "' before its snapshot"));
    }
    const std::shared_ptr<Topic>& copy = it->second;
    double bytes = 0;
    for (const v1::BufferedEvent& event : batch.events()) {
      absl::StatusOr<sse::EventId> id = sse::ParseEventId(event.event_id());
      if (!id.ok() || id->epoch != copy->epoch() || id->offset != event.offset()) {
        return Refuse(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat("event id '", event.event_id(), "' does not match offset ",
                                   event.offset(), " of epoch ", copy->epoch()));
      }
      sse::Frame frame = sse::MakeFrame(sse::EncodeEvent(*id, event.type(), event.data()));
      bytes += static_cast<double>(frame->size());
      absl::Status appended =
          copy->AppendCopied({event.offset(), FromProto(event.publish_time()), std::move(frame)});
      if (!appended.ok()) return ToGrpc(appended);
    }
    target_.metrics_.AddBytesIn(bytes);
    return WriteCopied(batch.topic(), copy->next_offset() - 1);
  }

  // Tells the source how far the copy of `topic` got, so it seals once the copy caught up.
  grpc::Status WriteCopied(const std::string& topic, uint64_t through_offset) {
    v1::TransferResponse response;
    response.set_ring_version(target_.ring_.Load()->version());
    v1::TopicCopied* copied = response.mutable_copied();
    copied->set_topic(topic);
    copied->set_through_offset(through_offset);
    if (!stream_->Write(response)) return Refuse(grpc::StatusCode::CANCELLED, "source went away");
    return grpc::Status::OK;
  }

  grpc::Status OnSeal(const Ring& ring, const v1::TopicSeal& seal) {
    if (active_.contains(seal.topic())) return grpc::Status::OK;
    auto it = copies_.find(seal.topic());
    if (it == copies_.end()) {
      return Refuse(grpc::StatusCode::INVALID_ARGUMENT,
                    absl::StrCat("seal of '", seal.topic(), "' before its snapshot"));
    }
    if (ring.Lookup(seal.topic()).id != target_.options_.node_id) {
      return Refuse(grpc::StatusCode::FAILED_PRECONDITION,
                    absl::StrCat("topic '", seal.topic(), "' is not this node's under ring version ",
                                 ring.version()));
    }
    HandoffSeal final_state{seal.last_offset(), {}};
    for (const v1::ProducerMark& mark : seal.producers()) {
      absl::StatusOr<sse::EventId> id = sse::ParseEventId(mark.last_event_id());
      final_state.producers.push_back({mark.producer_id(), mark.last_sequence(),
                                       id.ok() ? *id : sse::EventId{}});
    }
    const std::shared_ptr<Topic> copy = it->second;
    if (absl::Status s = copy->Activate(final_state); !s.ok()) return ToGrpc(s);
    copies_.erase(it);
    active_.insert(seal.topic());
    target_.metrics_.CountTopicMovedIn();
    return WriteActivated(seal.topic(), copy->epoch(), seal.last_offset());
  }

  grpc::Status WriteActivated(const std::string& topic, uint64_t epoch, uint64_t last_offset) {
    v1::TransferResponse response;
    response.set_ring_version(target_.ring_.Load()->version());
    v1::TopicActivated* activated = response.mutable_activated();
    activated->set_topic(topic);
    activated->set_epoch(epoch);
    activated->set_last_offset(last_offset);
    if (!stream_->Write(response)) return Refuse(grpc::StatusCode::CANCELLED, "source went away");
    return grpc::Status::OK;
  }

  HandoffTarget& target_;
  grpc::ServerReaderWriter<v1::TransferResponse, v1::TransferRequest>* const stream_;
  std::vector<uint32_t> partitions_;
  absl::flat_hash_set<uint32_t> partition_set_;
  absl::flat_hash_map<std::string, std::shared_ptr<Topic>> copies_;  // kIncoming, not sealed
  absl::flat_hash_set<std::string> active_;  // activated here, or this node's own already
};

HandoffTarget::HandoffTarget(const NodeOptions& options, TopicRegistry& topics,
                             const RingHolder& ring, IncomingPartitions& incoming,
                             HandoffMetrics& metrics, EndTopicStreams end_streams)
    : options_(options),
      topics_(topics),
      ring_(ring),
      incoming_(incoming),
      metrics_(metrics),
      end_streams_(std::move(end_streams)) {}

grpc::Status HandoffTarget::Transfer(
    grpc::ServerContext*,
    grpc::ServerReaderWriter<v1::TransferResponse, v1::TransferRequest>* stream) {
  return TransferSession(*this, stream).Run();
}

grpc::Status HandoffTarget::Abort(grpc::ServerContext*, const v1::AbortRequest* request,
                                  v1::AbortResponse* response) {
  if (request->target_node_id() != options_.node_id || request->partitions().empty()) {
    return Refuse(grpc::StatusCode::INVALID_ARGUMENT,
                  "abort needs partitions and this node's id as target_node_id");
  }
  absl::StatusOr<std::shared_ptr<const Ring>> ring = RingAtLeast(request->ring_version());
  if (!ring.ok()) return Unavailable("ring_behind", std::string(ring.status().message()));
  const absl::flat_hash_set<uint32_t> partitions(request->partitions().begin(),
                                                 request->partitions().end());
  for (const std::shared_ptr<Topic>& topic : topics_.All()) {
    if (!partitions.contains((*ring)->PartitionOf(topic->name()))) continue;
    const HandoffState state = topic->handoff_state();
    if (state == HandoffState::kIncoming) {
      Discard(topic);
      response->add_discarded_topics(topic->name());
    } else if (state == HandoffState::kOwned) {
      response->add_active_topics(topic->name());
    }
  }
  return grpc::Status::OK;
}

absl::StatusOr<std::shared_ptr<const Ring>> HandoffTarget::RingAtLeast(uint64_t version) const {
  const absl::Time deadline = absl::Now() + options_.handoff_hold;
  std::shared_ptr<const Ring> ring = ring_.Load();
  while (ring->version() < version) {
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(absl::StrCat("this node has ring version ", ring->version(),
                                                 ", the message ", version));
    }
    absl::SleepFor(absl::Milliseconds(1));
    ring = ring_.Load();
  }
  // NOTE: a message from an older ring is fine: ownership is checked under this node's newer
  // ring where it matters (begin and seal), which is what keeps one appender per topic.
  return ring;
}

void HandoffTarget::Discard(const std::shared_ptr<Topic>& topic) {
  topics_.Forget(topic);
  end_streams_(topic);
}

}  // namespace ringcast::node
