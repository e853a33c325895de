// ring_store.h — the coordinator's durable state: every committed ring snapshot is written under
// `state_dir` before the change is acknowledged, the rebalance moves (RebalanceTracker) next to
// it, and both are read back when the router restarts.
//
// On disk: `<state_dir>/ring.pb`, one binary ringcast.v1.RingSnapshot (ring.proto), and
// `<state_dir>/rebalance.pb`, one binary ringcast.v1.RebalanceSnapshot (cluster.proto). Each is
// replaced atomically (written to `<name>.tmp`, fsync'ed, renamed over `<name>`, directory
// fsync'ed), so a crash leaves either the old or the new file, never a torn one.
// `<state_dir>/LOCK` is held with flock() while the store is open, so two routers never share a
// state directory.
//
// Thread safety: every method is thread-safe (Save and SaveRebalance calls are serialised).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ring/ring.h"
#include "ringcast/v1/cluster.pb.h"

namespace ringcast::router {

class RingStore {
 public:
  // Opens `state_dir`, creating it if missing, and locks it. FAILED_PRECONDITION when another
  // process holds it; INTERNAL (with the errno text) when it cannot be created or locked.
  static absl::StatusOr<std::unique_ptr<RingStore>> Open(const std::string& state_dir);
  ~RingStore();  // releases the lock

  RingStore(const RingStore&) = delete;
  RingStore& operator=(const RingStore&) = delete;

  // The persisted ring, or nullopt when the directory holds none (a new cluster).
  // DATA_LOSS naming the file when it is unreadable, does not parse or fails validation.
  absl::StatusOr<std::optional<Ring>> Load();

  // Persists `ring` durably (see the file comment). Versions only grow: FAILED_PRECONDITION when
  // `ring` is not newer than the last snapshot loaded or saved. INTERNAL on an I/O error, in
  // which case the previous snapshot is still the persisted one.
  absl::Status Save(const Ring& ring);

  // The persisted rebalance moves, or nullopt when the directory holds none. DATA_LOSS naming
  // the file when it is unreadable or does not parse.
  absl::StatusOr<std::optional<v1::RebalanceSnapshot>> LoadRebalance();

  // Persists `snapshot` durably, replacing the previous one (see the file comment). INTERNAL on
  // an I/O error, in which case the previous one is still the persisted one.
  absl::Status SaveRebalance(const v1::RebalanceSnapshot& snapshot);

  // `<state_dir>/ring.pb`.
  const std::string& path() const { return path_; }
  // `<state_dir>/rebalance.pb`.
  const std::string& rebalance_path() const { return rebalance_path_; }

 private:
  RingStore(std::string dir, int lock_fd);

  // Replaces `path` (inside dir_) with `bytes` atomically and durably.
  absl::Status ReplaceFile(const std::string& path, const std::string& bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const std::string dir_;
  const std::string path_;
  const std::string rebalance_path_;
  const int lock_fd_;

  absl::Mutex mu_;
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;  // newest version loaded or saved
};

}  // namespace ringcast::router
