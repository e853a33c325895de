// rebalance_tracker.cc — tracked moves: added per commit, advanced by reports, abandoned when
// their source goes silent or a newer change moves their partition again, persisted on every
// state change and restored at startup (rebalance_tracker.h).
#include "router/rebalance_tracker.h"

#include <algorithm>
#include <iostream>
#include <optional>

#include <google/protobuf/timestamp.pb.h>

namespace ringcast::router {
namespace {

void SetTimestamp(absl::Time time, google::protobuf::Timestamp& out) {
  const int64_t nanos = absl::ToUnixNanos(time);
  out.set_seconds(nanos / 1'000'000'000);
  out.set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
}

}  // namespace

bool RebalanceTracker::IsFinal(v1::MoveState state) {
  return state == v1::MOVE_STATE_DONE || state == v1::MOVE_STATE_ABANDONED;
}

bool RebalanceTracker::SettledLocked() const {
  return std::all_of(moves_.begin(), moves_.end(),
                     [](const auto& entry) { return IsFinal(entry.second.progress.state()); });
}

void RebalanceTracker::Abandon(TrackedMove& move, absl::Time now) {
  move.progress.set_state(v1::MOVE_STATE_ABANDONED);
  SetTimestamp(now, *move.progress.mutable_update_time());
}

absl::Status RebalanceTracker::Restore(uint64_t ring_version, absl::Time now) {
  if (store_ == nullptr) return absl::OkStatus();
  absl::StatusOr<std::optional<v1::RebalanceSnapshot>> snapshot = store_->LoadRebalance();
  if (!snapshot.ok()) return snapshot.status();
  if (!snapshot->has_value()) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  last_commit_version_ = std::min((*snapshot)->ring_version(), ring_version);
  for (const v1::MoveProgress& progress : (*snapshot)->moves()) {
    if (progress.ring_version() > ring_version) continue;
    moves_[{progress.partition(), progress.ring_version()}] = {progress, now};
  }
  return absl::OkStatus();
}

void RebalanceTracker::Persist() {
  if (store_ == nullptr) return;
  absl::MutexLock persist_lock(&persist_mu_);
  v1::RebalanceSnapshot snapshot;
  {
    absl::ReaderMutexLock lock(&mu_);
    snapshot.set_ring_version(last_commit_version_);
    for (const auto& [key, move] : moves_) *snapshot.add_moves() = move.progress;
  }
  if (absl::Status s = store_->SaveRebalance(snapshot); !s.ok()) {
    std::cerr << "ringcast-router: cannot persist the rebalance moves (kept in memory, written "
              << "again at the next state change): " << s.message() << "\n";
  }
}

void RebalanceTracker::OnCommit(uint64_t version, const std::vector<PartitionMove>& moves,
                                absl::Time now) {
  {
    absl::MutexLock lock(&mu_);
    AddCommitLocked(version, moves, now);
  }
  Persist();
}

void RebalanceTracker::AddCommitLocked(uint64_t version, const std::vector<PartitionMove>& moves,
                                       absl::Time now) {
  AbandonSilentSourcesLocked(now);
  if (SettledLocked()) moves_.clear();
  last_commit_version_ = version;
  for (const PartitionMove& move : moves) {
    // The partition's earlier moves not yet active follow this one instead.
    for (auto it = moves_.lower_bound({move.partition, 0});
         it != moves_.end() && it->first.first == move.partition; ++it) {
      const v1::MoveState state = it->second.progress.state();
      if (!IsFinal(state) && state < v1::MOVE_STATE_ACTIVE) Abandon(it->second, now);
    }
    TrackedMove& tracked = moves_[{move.partition, version}];
    tracked.created = now;
    v1::MoveProgress& progress = tracked.progress;
    progress.set_ring_version(version);
    progress.set_partition(move.partition);
    progress.set_from_node(move.from);
    progress.set_to_node(move.to);
    progress.set_state(v1::MOVE_STATE_PENDING);
    SetTimestamp(now, *progress.mutable_update_time());
  }
}

RebalanceTracker::TrackedMove* RebalanceTracker::MatchLocked(const v1::MoveProgress& reported) {
  TrackedMove* match = nullptr;
  for (auto it = moves_.lower_bound({reported.partition(), 0});
       it != moves_.end() && it->first.first == reported.partition() &&
       it->first.second <= reported.ring_version();
       ++it) {
    const v1::MoveProgress& tracked = it->second.progress;
    if (tracked.from_node() == reported.from_node() && tracked.to_node() == reported.to_node()) {
      match = &it->second;  // the newest so far: keys ascend by version
    }
  }
  return match;
}

void RebalanceTracker::OnReport(const std::string& reporter,
                                const google::protobuf::RepeatedPtrField<v1::MoveProgress>& moves,
                                absl::Time now) {
  bool state_changed = false;
  {
    absl::MutexLock lock(&mu_);
    state_changed = ApplyReportLocked(reporter, moves, now);
  }
  if (state_changed) Persist();
}

bool RebalanceTracker::ApplyReportLocked(
    const std::string& reporter,
    const google::protobuf::RepeatedPtrField<v1::MoveProgress>& moves, absl::Time now) {
  bool state_changed = false;
  last_report_[reporter] = now;
  // A node silent that long counts as never heard from (see AbandonSilentSourcesLocked).
  absl::erase_if(last_report_,
                 [&](const auto& entry) { return now - entry.second >= node_down_after_; });
  for (const v1::MoveProgress& reported : moves) {
    TrackedMove* tracked = MatchLocked(reported);
    if (tracked == nullptr) continue;
    v1::MoveProgress& progress = tracked->progress;
    if (IsFinal(progress.state()) || reported.state() < progress.state()) continue;
    state_changed |= reported.state() != progress.state();
    progress.set_state(reported.state());
    progress.set_topics_total(reported.topics_total());
    progress.set_topics_moved(reported.topics_moved());
    progress.set_bytes_moved(reported.bytes_moved());
    *progress.mutable_update_time() = reported.update_time();
  }
  return state_changed;
}

bool RebalanceTracker::AbandonSilentSourcesLocked(absl::Time now) {
  bool abandoned = false;
  for (auto& [key, move] : moves_) {
    if (IsFinal(move.progress.state())) continue;
    absl::Time heard = move.created;
    if (auto it = last_report_.find(move.progress.from_node()); it != last_report_.end()) {
      heard = std::max(heard, it->second);
    }
    if (now - heard >= node_down_after_) {
      Abandon(move, now);
      abandoned = true;
    }
  }
  return abandoned;
}

v1::GetRebalanceStatusResponse RebalanceTracker::Status(uint64_t ring_version,
                                                        const std::string& node_id,
                                                        absl::Time now) {
  bool abandoned = false;
  v1::GetRebalanceStatusResponse response;
  {
    absl::MutexLock lock(&mu_);
    abandoned = AbandonSilentSourcesLocked(now);
    response = StatusLocked(ring_version, node_id);
  }
  if (abandoned) Persist();
  return response;
}

v1::GetRebalanceStatusResponse RebalanceTracker::StatusLocked(uint64_t ring_version,
                                                              const std::string& node_id) const {
  v1::GetRebalanceStatusResponse response;
  response.set_ring_version(ring_version);
  response.set_settled(SettledLocked());
  for (const auto& [key, move] : moves_) {
    const v1::MoveProgress& progress = move.progress;
    if (node_id.empty() || progress.from_node() == node_id || progress.to_node() == node_id) {
      *response.add_moves() = progress;
    }
  }
  std::stable_sort(response.mutable_moves()->begin(), response.mutable_moves()->end(),
                   [](const v1::MoveProgress& a, const v1::MoveProgress& b) {
                     return a.ring_version() < b.ring_version();
                   });
  return response;
}

}  // namespace ringcast::router
