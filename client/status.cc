// status.cc — gRPC status ↔ absl::Status conversion and the ringcast error-detail accessors.
#include "client/status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/any.pb.h"

namespace ringcast::client {
namespace {

const std::string& TypeUrl() {
  static const std::string* const kUrl = new std::string(kRpcStatusTypeUrl);
  return *kUrl;
}

// gRPC and abseil number their codes identically (both follow google.rpc.Code), 0..16.
absl::StatusCode CodeFromInt(int code) {
  if (code <= 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::StatusCode::kUnknown;
  }
  return static_cast<absl::StatusCode>(code);
}

// The first detail of type `T` in the payload of `status`.
template <typename T>
std::optional<T> FirstDetailOf(const absl::Status& status) {
  std::optional<v1::RpcStatus> rpc = RpcStatusOf(status);
  if (!rpc.has_value()) return std::nullopt;
  for (const google::protobuf::Any& any : rpc->details()) {
    T detail;
    if (any.Is<T>() && any.UnpackTo(&detail)) return detail;
  }
  return std::nullopt;
}

std::string FormatDuration(const google::protobuf::Duration& duration) {
  const int64_t ms = duration.seconds() * 1000 + duration.nanos() / 1000000;
  return absl::StrCat(ms, " ms");
}

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status result(CodeFromInt(static_cast<int>(status.error_code())), status.error_message());
  // NOTE: the trailer is optional (gRPC's own errors have none) and may come from a server that
  // is not ringcast; attach it only when it parses, so accessors never see garbage.
  const std::string details = status.error_details();
  if (!details.empty()) {
    v1::RpcStatus rpc;
    if (rpc.ParseFromString(details)) result.SetPayload(TypeUrl(), absl::Cord(details));
  }
  return result;
}

absl::Status FromRpcStatus(const v1::RpcStatus& rpc) {
  absl::Status result(CodeFromInt(rpc.code()), rpc.message());
  result.SetPayload(TypeUrl(), absl::Cord(rpc.SerializeAsString()));
  return result;
}

std::optional<v1::RpcStatus> RpcStatusOf(const absl::Status& status) {
  // NOTE: Debian's abseil returns absl::optional, not std::optional.
  const auto payload = status.GetPayload(TypeUrl());
  if (!payload.has_value()) return std::nullopt;
  v1::RpcStatus rpc;
  if (!rpc.ParseFromString(std::string(*payload))) return std::nullopt;
  return rpc;
}

std::optional<v1::WrongOwner> WrongOwnerOf(const absl::Status& status) {
  return FirstDetailOf<v1::WrongOwner>(status);
}

std::optional<v1::RetryInfo> RetryInfoOf(const absl::Status& status) {
  return FirstDetailOf<v1::RetryInfo>(status);
}

std::optional<v1::LimitExceeded> LimitExceededOf(const absl::Status& status) {
  return FirstDetailOf<v1::LimitExceeded>(status);
}

std::optional<v1::SequenceGap> SequenceGapOf(const absl::Status& status) {
  return FirstDetailOf<v1::SequenceGap>(status);
}

std::vector<v1::FieldViolation> FieldViolationsOf(const absl::Status& status) {
  std::vector<v1::FieldViolation> violations;
  std::optional<v1::RpcStatus> rpc = RpcStatusOf(status);
  if (!rpc.has_value()) return violations;
  for (const google::protobuf::Any& any : rpc->details()) {
    v1::FieldViolation violation;
    if (any.Is<v1::FieldViolation>() && any.UnpackTo(&violation)) {
      violations.push_back(std::move(violation));
    }
  }
  return violations;
}

std::vector<std::string> DescribeDetails(const absl::Status& status) {
  std::vector<std::string> lines;
  if (std::optional<v1::WrongOwner> wrong = WrongOwnerOf(status)) {
    const v1::Member& owner = wrong->owner();
    lines.push_back(absl::StrCat("wrong owner: topic \"", wrong->topic(), "\" (partition ",
                                 wrong->partition(), ") is owned by ", owner.id(), " at ",
                                 owner.grpc_address(), " (ring version ", wrong->ring_version(),
                                 ")"));
  }
  if (std::optional<v1::RetryInfo> retry = RetryInfoOf(status)) {
    lines.push_back(absl::StrCat("retry: reason ", retry->reason(), ", after ",
                                 FormatDuration(retry->retry_delay())));
  }
  if (std::optional<v1::LimitExceeded> limit = LimitExceededOf(status)) {
    lines.push_back(absl::StrCat("limit exceeded: ", limit->limit(), " is ", limit->limit_value(),
                                 ", request reached ", limit->actual()));
  }
  if (std::optional<v1::SequenceGap> gap = SequenceGapOf(status)) {
    lines.push_back(absl::StrCat("sequence gap: producer ", gap->producer_id(), " topic \"",
                                 gap->topic(), "\" expected sequence ", gap->expected_sequence(),
                                 ", got ", gap->actual_sequence()));
  }
  for (const v1::FieldViolation& violation : FieldViolationsOf(status)) {
    lines.push_back(
        absl::StrCat("invalid field ", violation.field(), ": ", violation.description()));
  }
  return lines;
}

}  // namespace ringcast::client
