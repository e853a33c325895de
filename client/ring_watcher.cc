// ring_watcher.cc — the WatchRing loop (sync streaming read on the watcher's own thread),
// reconnect backoff with jitter, and FetchRing.
#include "client/ring_watcher.h"

#include <algorithm>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/backoff.h"
#include "client/status.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "ring/ring_proto.h"

namespace ringcast::client {
namespace {

std::unique_ptr<v1::Cluster::Stub> NewClusterStub(const std::string& address) {
  return v1::Cluster::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

// Re-checks a condition that other threads may make true without touching our mutex (a holder
// published by someone else) at least this often.
constexpr absl::Duration kExternalCheck = absl::Milliseconds(20);

}  // namespace

RingWatcher::RingWatcher(std::string address, RingHolder& holder, RingWatcherOptions options,
                         std::function<void(std::shared_ptr<const Ring>)> on_ring)
    : address_(std::move(address)),
      holder_(holder),
      options_(options),
      on_ring_(std::move(on_ring)),
      stub_(NewClusterStub(address_)) {
  thread_ = std::thread([this] { Run(); });
}

RingWatcher::~RingWatcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    // NOTE: TryCancel before the call has started still cancels it once it starts.
    if (call_ != nullptr) call_->TryCancel();
  }
  thread_.join();
}

void RingWatcher::Run() {
  Backoff backoff(options_.initial_backoff, options_.max_backoff);
  while (true) {
    if (WatchOnce()) backoff.Reset();
    if (!SleepUnlessStopping(backoff.Next())) return;
  }
}

bool RingWatcher::WatchOnce() {
  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    call_ = &context;
  }
  bool delivered = false;
  std::unique_ptr<grpc::ClientReader<v1::RingSnapshot>> reader =
      stub_->WatchRing(&context, v1::WatchRingRequest());
  v1::RingSnapshot snapshot;
  while (reader->Read(&snapshot)) {
    delivered = true;
    connected_.store(true, std::memory_order_release);
    Take(snapshot);
  }
  const absl::Status status = FromGrpcStatus(reader->Finish());
  const bool was_connected = connected_.exchange(false, std::memory_order_acq_rel);
  absl::MutexLock lock(&mu_);
  call_ = nullptr;
  last_error_ = status.ok() ? "the WatchRing stream ended" : status.ToString();
  if (was_connected && !stopping_) {
    std::cerr << "ring watcher: lost " << address_ << " (" << last_error_
              << "); keeping ring version " << ring_version_ << " and reconnecting\n";
  }
  return delivered;
}

void RingWatcher::Take(const v1::RingSnapshot& snapshot) {
  const std::shared_ptr<const Ring> current = holder_.Load();
  if (current != nullptr && snapshot.version() <= current->version()) return;
  absl::StatusOr<Ring> ring = RingFromProto(snapshot);
  if (!ring.ok()) {
    std::cerr << "ring watcher: skipping invalid ring version " << snapshot.version() << " from "
              << address_ << ": " << ring.status() << "\n";
    return;
  }
  auto shared = std::make_shared<const Ring>(*std::move(ring));
  // NOTE: someone else may have published a newer ring meanwhile; then this one is not taken.
  if (!holder_.Publish(shared).ok()) return;
  if (on_ring_) on_ring_(shared);
  absl::MutexLock lock(&mu_);
  ring_version_ = std::max(ring_version_, shared->version());
}

bool RingWatcher::SleepUnlessStopping(absl::Duration wait) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), wait);
  return !stopping_;
}

absl::Status RingWatcher::WaitForRing(absl::Time deadline) const {
  return WaitForVersion(1, deadline);
}

absl::Status RingWatcher::WaitForVersion(uint64_t version, absl::Time deadline) const {
  auto reached = [&] {
    const std::shared_ptr<const Ring> ring = holder_.Load();
    return ring != nullptr && ring->version() >= version;
  };
  absl::MutexLock lock(&mu_);
  while (!reached()) {
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "no ring of version >= ", version, " from ", address_,
          last_error_.empty() ? "" : absl::StrCat(" (last error: ", last_error_, ")")));
    }
    auto taken = [this, version]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return ring_version_ >= version;
    };
    mu_.AwaitWithTimeout(absl::Condition(&taken), std::min(deadline - now, kExternalCheck));
  }
  return absl::OkStatus();
}

absl::StatusOr<Ring> FetchRing(const std::string& address, absl::Time deadline) {
  std::unique_ptr<v1::Cluster::Stub> stub = NewClusterStub(address);
  grpc::ClientContext context;
  if (deadline != absl::InfiniteFuture()) context.set_deadline(absl::ToChronoTime(deadline));
  v1::RingSnapshot snapshot;
  if (grpc::Status status = stub->GetRing(&context, v1::GetRingRequest(), &snapshot);
      !status.ok()) {
    return FromGrpcStatus(status);
  }
  return RingFromProto(snapshot);
}

}  // namespace ringcast::client
