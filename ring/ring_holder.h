// ring_holder.h — publishes ring snapshots to readers on any thread.
//
// RingHolder owns the current snapshot. Writers (the control-plane watcher) call Publish() with
// a newer version; readers either take a reference-counted snapshot with Load(), or, on hot
// paths, keep a RingReader per thread: its Get() is one atomic pointer read when nothing
// changed, takes no lock and allocates nothing.
//
// Thread safety: every RingHolder method is safe from any thread. A RingReader belongs to one
// thread and must not outlive its holder.
#pragma once

#include <atomic>
#include <memory>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "ring/ring.h"

namespace ringcast {

class RingHolder {
 public:
  // `initial` may be null until the first Publish(); readers must not read before that.
  explicit RingHolder(std::shared_ptr<const Ring> initial);

  // Makes `ring` current. Versions only grow: FAILED_PRECONDITION when `ring` is not newer than
  // the current snapshot (the current one stays).
  absl::Status Publish(std::shared_ptr<const Ring> ring);

  std::shared_ptr<const Ring> Load() const { return current_.load(std::memory_order_acquire); }
  uint64_t version() const { return Load()->version(); }

 private:
  friend class RingReader;

  // Self-synchronised. `current_raw_` always equals a snapshot that `current_` held at or after
  // the time it was stored; readers compare it with their cached pointer.
  std::atomic<std::shared_ptr<const Ring>> current_;
  std::atomic<const Ring*> current_raw_;

  // Orders publishers so that the version check and the two stores are one step.
  absl::Mutex publish_mu_;
};

// A per-thread cache of the holder's current snapshot.
class RingReader {
 public:
  explicit RingReader(const RingHolder& holder) : holder_(holder), cached_(holder.Load()) {}

  // The current snapshot; valid until the next Get() on this reader.
  const Ring& Get() {
    // NOTE: the cached shared_ptr keeps its snapshot alive, so a raw pointer equal to it can
    // never be a new snapshot reusing freed memory (no ABA).
    if (holder_.current_raw_.load(std::memory_order_acquire) != cached_.get()) {
      cached_ = holder_.Load();
    }
    return *cached_;
  }

 private:
  const RingHolder& holder_;
  std::shared_ptr<const Ring> cached_;
};

}  // namespace ringcast
