// status.h — how the publisher client reports gRPC errors as absl::Status, and how callers read
// the ringcast error details (errors.proto) back out of them.
//
// A failed call becomes an absl::Status with the same code (grpc::StatusCode and
// absl::StatusCode share their numbering) and the server's message. When the server attached
// a `ringcast.v1.RpcStatus` (the `grpc-status-details-bin` trailer, or the in-band error of a
// PublishStream response), it rides along as the status payload under kRpcStatusTypeUrl, and
// the accessors below decode the typed details from it:
//
//   absl::StatusOr<PublishResult> result = client.Publish(options);
//   if (std::optional<v1::WrongOwner> wrong = WrongOwnerOf(result.status())) {
//     // refresh the ring to >= wrong->ring_version(), retry at wrong->owner().grpc_address()
//   }
//
// Errors produced by gRPC itself (deadline, unreachable node) carry no payload; every accessor
// then returns std::nullopt. Unknown detail types are kept in the payload and ignored here.
//
// Thread safety: pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"
#include "ringcast/v1/errors.pb.h"

namespace ringcast::client {

namespace v1 = ::ringcast::v1;

// The payload type URL under which a status carries its serialized v1::RpcStatus.
inline constexpr std::string_view kRpcStatusTypeUrl = "type.googleapis.com/ringcast.v1.RpcStatus";

// The absl::Status of a gRPC status: same code and message, plus the RpcStatus decoded from
// `status.error_details()` as the kRpcStatusTypeUrl payload when it parses. OK stays OK.
absl::Status FromGrpcStatus(const grpc::Status& status);

// The absl::Status of an in-band RpcStatus (a PublishStream per-request error): its code and
// message, and `rpc` itself as the payload. A code outside 1..16 becomes UNKNOWN; code 0 (never
// sent by a node for an error) becomes UNKNOWN as well, so the result is never OK.
absl::Status FromRpcStatus(const v1::RpcStatus& rpc);

// The RpcStatus payload of `status`, if any.
std::optional<v1::RpcStatus> RpcStatusOf(const absl::Status& status);

// The first detail of each type in the RpcStatus payload of `status`, if any.
std::optional<v1::WrongOwner> WrongOwnerOf(const absl::Status& status);
std::optional<v1::RetryInfo> RetryInfoOf(const absl::Status& status);
std::optional<v1::LimitExceeded> LimitExceededOf(const absl::Status& status);
std::optional<v1::SequenceGap> SequenceGapOf(const absl::Status& status);

// Every FieldViolation detail (INVALID_ARGUMENT carries one per bad field), in order.
std::vector<v1::FieldViolation> FieldViolationsOf(const absl::Status& status);

// One human-readable line per known detail of `status`, for logs and the CLI, e.g.
// "wrong owner: topic \"t\" (partition 12) is owned by node-2 at 127.0.0.1:9091 (ring
// version 7)". Empty when there are none.
std::vector<std::string> DescribeDetails(const absl::Status& status);

}  // namespace ringcast::client
