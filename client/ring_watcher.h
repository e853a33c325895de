// ring_watcher.h — following the ring of a router: a thread that keeps a Cluster.WatchRing stream
// open and publishes every newer snapshot into a RingHolder, and a one-shot FetchRing.
//
//   RingHolder holder(nullptr);
//   RingWatcher watcher("127.0.0.1:9000", holder);
//   if (absl::Status s = watcher.WaitForRing(absl::Now() + absl::Seconds(10)); !s.ok()) ...
//   const Member& owner = holder.Load()->Lookup("orders/42");
//
// While the router is away the holder keeps its last ring; the watcher reconnects with
// exponential backoff (initial_backoff, doubling up to max_backoff, each wait jittered to
// 50-100% of its value) and starts again from the whole current snapshot, as cluster.proto says.
// Snapshots that are not newer than the holder's are ignored (versions only grow); a snapshot
// that fails validation is skipped and logged on stderr.
//
// Thread safety: RingWatcher's methods are thread-safe. `on_ring` runs on the watcher's thread,
// once per snapshot taken, after the holder has it; it must not destroy the watcher.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "ring/ring.h"
#include "ring/ring_holder.h"
#include "ringcast/v1/cluster.grpc.pb.h"

namespace ringcast::client {

struct RingWatcherOptions {
  // First wait before reconnecting after the stream fails; doubles per failure up to
  // max_backoff, and starts again from here once a stream delivered a snapshot. Shorter follows
  // a restarted router sooner; longer spares a router that many clients reconnect to.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
};

class RingWatcher {
 public:
  // Starts following Cluster.WatchRing at `address` ("host:port") on its own thread. Each newer
  // snapshot goes into `holder` (which must outlive the watcher), then to `on_ring` if set.
  RingWatcher(std::string address, RingHolder& holder, RingWatcherOptions options = {},
              std::function<void(std::shared_ptr<const Ring>)> on_ring = nullptr);
  // Stops the stream (cancelling it) and joins the thread.
  ~RingWatcher();

  RingWatcher(const RingWatcher&) = delete;
  RingWatcher& operator=(const RingWatcher&) = delete;

  // OK once the holder has a ring (from this watcher or from anyone else); DEADLINE_EXCEEDED
  // naming the address and the last stream error otherwise.
  absl::Status WaitForRing(absl::Time deadline) const;

  // OK once the holder has a ring of at least `version`; DEADLINE_EXCEEDED otherwise.
  absl::Status WaitForVersion(uint64_t version, absl::Time deadline) const;

  // Whether a WatchRing stream is open and has delivered its first snapshot.
  bool connected() const { return connected_.load(std::memory_order_acquire); }

  const std::string& address() const { return address_; }

 private:
  void Run();
  // One WatchRing call until it ends: true if it delivered at least one snapshot.
  bool WatchOnce();
  void Take(const v1::RingSnapshot& snapshot);
  // Sleeps up to `wait` or until the watcher stops; false when stopping.
  bool SleepUnlessStopping(absl::Duration wait);

  // Constant after construction.
  const std::string address_;
  RingHolder& holder_;
  const RingWatcherOptions options_;
  const std::function<void(std::shared_ptr<const Ring>)> on_ring_;
  const std::unique_ptr<v1::Cluster::Stub> stub_;

  // Self-synchronised.
  std::atomic<bool> connected_{false};

  // Guarded by mu_. Waiters are woken by every change of these (Take updates ring_version_).
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* call_ ABSL_GUARDED_BY(mu_) = nullptr;  // the open WatchRing call
  uint64_t ring_version_ ABSL_GUARDED_BY(mu_) = 0;            // newest version taken
  std::string last_error_ ABSL_GUARDED_BY(mu_);

  // Started last, joined in the destructor.
  std::thread thread_;
};

// One Cluster.GetRing call to `address`: the validated ring, or the call's error as status.h
// describes (UNAVAILABLE `no_ring` from a router that has none yet).
absl::StatusOr<Ring> FetchRing(const std::string& address, absl::Time deadline);

}  // namespace ringcast::client
