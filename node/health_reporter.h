// health_reporter.h — a node's periodic Cluster.ReportHealth to the router it follows
// (cluster.proto): state SERVING (DRAINING once shutdown starts), open connections, topics held
// and the ring version applied, plus the progress of the moves this node runs
// (ReportHealthRequest.moves), every `report_interval` the router's last reply asked for.
//
//   HealthReporter reporter("127.0.0.1:9000", [&] { return CurrentHealth(); },
//                           [&] { return source.TakeProgress(); });
//   ...
//   reporter.ReportDraining();   // on SIGTERM: a DRAINING report now, then every interval
//
// A report that fails (router away) is tried again at the next interval with fresh health; the
// moves it carried are kept and sent again with the next report (a newer progress of the same
// move replaces the kept one), so a move's final state is never lost to a failed report.
//
// Thread safety: every method is thread-safe. `sample` runs on the reporter's thread and must be
// thread-safe with respect to the node it reads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ringcast/v1/cluster.grpc.pb.h"

namespace ringcast::node {

class HealthReporter {
 public:
  // What to report, without `state` (the reporter sets it). Called once per report.
  using Sample = std::function<v1::NodeHealth()>;
  // The moves' progress since the previous call (HandoffSource::TakeProgress). Called once per
  // report; may be empty (null: the node reports no moves).
  using TakeMoves = std::function<std::vector<v1::MoveProgress>()>;

  // Starts reporting to the Cluster service at `address` at once, then every `interval` until a
  // reply names another. `interval` must be > 0.
  HealthReporter(std::string address, Sample sample, TakeMoves take_moves = nullptr,
                 absl::Duration interval = absl::Seconds(1));
  // Stops (cancelling a report in flight) and joins.
  ~HealthReporter();

  HealthReporter(const HealthReporter&) = delete;
  HealthReporter& operator=(const HealthReporter&) = delete;

  // From now on the state is DRAINING: sends a report now (on the reporter's thread) and waits
  // up to `wait` for it to be answered (or to fail), so the router hears of it before the node
  // stops.
  void ReportDraining(absl::Duration wait = absl::Seconds(1));

  // Reports sent and answered OK so far (tests, logs).
  uint64_t reports_ok() const;

 private:
  void Run();
  // One ReportHealth call; the reply's interval (or the current one) on success.
  void ReportOnce();
  // The moves for the next report: the unsent ones merged with take_moves_()'s (newer wins).
  std::vector<v1::MoveProgress> MovesToSend();

  // Constant after construction.
  const std::unique_ptr<v1::Cluster::Stub> stub_;
  const Sample sample_;
  const TakeMoves take_moves_;

  // Only the reporter's thread touches it: the moves of the last report that failed.
  std::vector<v1::MoveProgress> unsent_moves_;

  // Guarded by mu_.
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool report_now_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_reported_ ABSL_GUARDED_BY(mu_) = false;  // a DRAINING report has ended
  absl::Duration interval_ ABSL_GUARDED_BY(mu_);
  grpc::ClientContext* call_ ABSL_GUARDED_BY(mu_) = nullptr;  // the report in flight
  uint64_t reports_ok_ ABSL_GUARDED_BY(mu_) = 0;

  // Started last, joined in the destructor.
  std::thread thread_;
};

}  // namespace ringcast::node
