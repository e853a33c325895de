// backoff.h — the jittered exponential backoff the ring watcher and the routing publisher share:
// each wait is a random 50-100% of the current step, so clients that lost the same server do not
// come back in lockstep; the step doubles up to a maximum.
//
// Thread safety: Jittered uses a thread-local generator; Backoff is used by one thread.
#pragma once

#include <algorithm>
#include <random>

#include "absl/time/time.h"

namespace ringcast::client {

// A random wait of 50-100% of `step`.
inline absl::Duration Jittered(absl::Duration step) {
  thread_local std::minstd_rand random(std::random_device{}());
  std::uniform_real_distribution<double> share(0.5, 1.0);
  return step * share(random);
}

// Steps initial, 2 x initial, 4 x initial, ... up to max.
class Backoff {
 public:
  Backoff(absl::Duration initial, absl::Duration max)
      : initial_(initial), max_(max), step_(initial) {}

  // The wait before the next try (jittered); the step then doubles.
  absl::Duration Next() {
    const absl::Duration wait = Jittered(step_);
    step_ = std::min(step_ * 2, max_);
    return wait;
  }
  // Back to the initial step (after a success).
  void Reset() { step_ = initial_; }

 private:
  absl::Duration initial_;
  absl::Duration max_;
  absl::Duration step_;
};

}  // namespace ringcast::client
