// ring_holder.cc — versioned publication of ring snapshots (see ring_holder.h).
#include "ring/ring_holder.h"

#include "absl/strings/str_cat.h"

namespace ringcast {

RingHolder::RingHolder(std::shared_ptr<const Ring> initial)
    : current_(initial), current_raw_(initial.get()) {}

absl::Status RingHolder::Publish(std::shared_ptr<const Ring> ring) {
  absl::MutexLock lock(&publish_mu_);
  const std::shared_ptr<const Ring> current = current_.load(std::memory_order_relaxed);
  const uint64_t current_version = current == nullptr ? 0 : current->version();
  if (ring->version() <= current_version) {
    return absl::FailedPreconditionError(absl::StrCat(
        "ring version ", ring->version(), " is not newer than current ", current_version));
  }
  const Ring* raw = ring.get();
  current_.store(std::move(ring), std::memory_order_release);
  current_raw_.store(raw, std::memory_order_release);
  return absl::OkStatus();
}

}  // namespace ringcast
