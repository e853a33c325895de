// health_reporter.cc — the report loop: one sync ReportHealth call per interval on the reporter's
// own thread, woken early by ReportDraining and stopped by the destructor.
#include "node/health_reporter.h"

#include <iterator>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace ringcast::node {
namespace {

// A report slower than this is abandoned; the next interval tries again.
constexpr absl::Duration kReportTimeout = absl::Seconds(2);

}  // namespace

HealthReporter::HealthReporter(std::string address, Sample sample, TakeMoves take_moves,
                               absl::Duration interval)
    : stub_(v1::Cluster::NewStub(
          grpc::CreateChannel(std::move(address), grpc::InsecureChannelCredentials()))),
      sample_(std::move(sample)),
      take_moves_(std::move(take_moves)),
      interval_(interval) {
  thread_ = std::thread([this] { Run(); });
}

HealthReporter::~HealthReporter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (call_ != nullptr) call_->TryCancel();
  }
  thread_.join();
}

void HealthReporter::ReportDraining(absl::Duration wait) {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  report_now_ = true;
  auto reported = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return draining_reported_ || stopping_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&reported), wait);
}

uint64_t HealthReporter::reports_ok() const {
  absl::MutexLock lock(&mu_);
  return reports_ok_;
}

void HealthReporter::Run() {
  while (true) {
    ReportOnce();
    absl::MutexLock lock(&mu_);
    auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || report_now_; };
    mu_.AwaitWithTimeout(absl::Condition(&woken), interval_);
    if (stopping_) return;
    report_now_ = false;
  }
}

std::vector<v1::MoveProgress> HealthReporter::MovesToSend() {
  std::vector<v1::MoveProgress> moves = std::move(unsent_moves_);
  unsent_moves_.clear();
  if (take_moves_ == nullptr) return moves;
  // One entry per move (ring version, partition, target): the latest progress wins.
  absl::flat_hash_map<std::tuple<uint64_t, uint32_t, std::string>, size_t> index;
  for (size_t i = 0; i < moves.size(); ++i) {
    index[{moves[i].ring_version(), moves[i].partition(), moves[i].to_node()}] = i;
  }
  for (v1::MoveProgress& taken : take_moves_()) {
    auto [it, inserted] =
        index.try_emplace({taken.ring_version(), taken.partition(), taken.to_node()},
                          moves.size());
    if (inserted) {
      moves.push_back(std::move(taken));
    } else {
      moves[it->second] = std::move(taken);
    }
  }
  return moves;
}

void HealthReporter::ReportOnce() {
  v1::ReportHealthRequest request;
  *request.mutable_health() = sample_();
  for (v1::MoveProgress& move : MovesToSend()) *request.add_moves() = std::move(move);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kReportTimeout));
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    request.mutable_health()->set_state(draining_ ? v1::NODE_STATE_DRAINING
                                                  : v1::NODE_STATE_SERVING);
    call_ = &context;
  }
  v1::ReportHealthResponse response;
  const grpc::Status status = stub_->ReportHealth(&context, request, &response);
  if (!status.ok()) {
    unsent_moves_.assign(std::make_move_iterator(request.mutable_moves()->begin()),
                         std::make_move_iterator(request.mutable_moves()->end()));
  }
  absl::MutexLock lock(&mu_);
  call_ = nullptr;
  if (request.health().state() == v1::NODE_STATE_DRAINING) draining_reported_ = true;
  if (!status.ok()) return;
  ++reports_ok_;
  const absl::Duration asked = absl::Seconds(response.report_interval().seconds()) +
                               absl::Nanoseconds(response.report_interval().nanos());
  if (asked > absl::ZeroDuration()) interval_ = asked;
}

}  // namespace ringcast::node
