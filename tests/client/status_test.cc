// status_test.cc — gRPC status → absl::Status conversion and the error-detail accessors of
// client/status.h, on grpc::Status values built by hand the way a node builds them (pure: no
// server; what a real node sends is checked in publisher_client_test.cc).
#include "client/status.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "google/protobuf/any.pb.h"
#include "grpcpp/support/status.h"
#include "tests/support/status_matchers.h"

namespace ringcast::client {
namespace {

using ::ringcast::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A gRPC error carrying RpcStatus{code, message, [detail]} in its details, as a node sends it.
template <typename Detail>
grpc::Status ErrorWith(grpc::StatusCode code, const std::string& message, const Detail& detail) {
  v1::RpcStatus rpc;
  rpc.set_code(code);
  rpc.set_message(message);
  rpc.add_details()->PackFrom(detail);
  return grpc::Status(code, message, rpc.SerializeAsString());
}

v1::RetryInfo RetryAfter(int ms, std::string reason) {
  v1::RetryInfo info;
  info.mutable_retry_delay()->set_nanos(ms % 1000 * 1000000);
  info.mutable_retry_delay()->set_seconds(ms / 1000);
  info.set_reason(std::move(reason));
  return info;
}

v1::WrongOwner OwnerNode2() {
  v1::WrongOwner wrong;
  wrong.set_ring_version(7);
  wrong.set_topic("orders/42");
  wrong.set_partition(12);
  wrong.mutable_owner()->set_id("node-2");
  wrong.mutable_owner()->set_grpc_address("10.0.0.2:9090");
  return wrong;
}

TEST(FromGrpcStatus, KeepsCodeMessageAndWrongOwner) {
  // Given FAILED_PRECONDITION with an RpcStatus holding WrongOwner, expect code, message, owner.
  const grpc::Status grpc_status =
      ErrorWith(grpc::StatusCode::FAILED_PRECONDITION, "not the owner", OwnerNode2());
  const absl::Status status = FromGrpcStatus(grpc_status);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition, "not the owner"));
  std::optional<v1::WrongOwner> wrong = WrongOwnerOf(status);
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->ring_version(), 7u);
  EXPECT_EQ(wrong->owner().grpc_address(), "10.0.0.2:9090");
  EXPECT_EQ(wrong->topic(), "orders/42");
  EXPECT_FALSE(RetryInfoOf(status).has_value());
  EXPECT_FALSE(LimitExceededOf(status).has_value());
  ASSERT_TRUE(RpcStatusOf(status).has_value());
  EXPECT_EQ(RpcStatusOf(status)->code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST(FromGrpcStatus, MapsEveryCodeOneToOne) {
  // Given each gRPC code 1..16, expect the absl code with the same number.
  for (int code = 1; code <= 16; ++code) {
    const absl::Status status =
        FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(code), "m"));
    EXPECT_EQ(static_cast<int>(status.code()), code);
    EXPECT_EQ(status.message(), "m");
  }
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(FromGrpcStatus, ToleratesMissingAndGarbageDetails) {
  // Given no details, or details that are not an RpcStatus, expect every accessor to be empty.
  const absl::Status plain =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"));
  EXPECT_THAT(plain, StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_FALSE(RpcStatusOf(plain).has_value());
  EXPECT_FALSE(WrongOwnerOf(plain).has_value());
  EXPECT_TRUE(DescribeDetails(plain).empty());

  const absl::Status garbage =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "x", "\xff\xff\xff"));
  EXPECT_THAT(garbage, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(RetryInfoOf(garbage).has_value());
}

TEST(FromGrpcStatus, SkipsUnknownDetailTypes) {
  // Given an unknown detail type before a RetryInfo, expect the RetryInfo to be found.
  v1::RpcStatus rpc;
  rpc.set_code(grpc::StatusCode::UNAVAILABLE);
  rpc.set_message("draining");
  google::protobuf::Any* unknown = rpc.add_details();
  unknown->set_type_url("type.googleapis.com/example.Unknown");
  unknown->set_value("abc");
  rpc.add_details()->PackFrom(RetryAfter(1500, "draining"));
  const absl::Status status = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "draining", rpc.SerializeAsString()));
  std::optional<v1::RetryInfo> retry = RetryInfoOf(status);
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->reason(), "draining");
  EXPECT_THAT(DescribeDetails(status), ElementsAre("retry: reason draining, after 1500 ms"));
}

TEST(FromRpcStatus, CarriesInBandErrors) {
  // Given a PublishStream's in-band RpcStatus, expect its code and details; 0 or 99 not OK.
  v1::RpcStatus rpc;
  rpc.set_code(grpc::StatusCode::RESOURCE_EXHAUSTED);
  rpc.set_message("event too large");
  v1::LimitExceeded limit;
  limit.set_limit("max_event_bytes");
  limit.set_limit_value(65536);
  limit.set_actual(70000);
  rpc.add_details()->PackFrom(limit);
  const absl::Status status = FromRpcStatus(rpc);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kResourceExhausted, "event too large"));
  ASSERT_TRUE(LimitExceededOf(status).has_value());
  EXPECT_EQ(LimitExceededOf(status)->actual(), 70000u);
  EXPECT_THAT(DescribeDetails(status),
              ElementsAre("limit exceeded: max_event_bytes is 65536, request reached 70000"));

  rpc.set_code(0);
  EXPECT_THAT(FromRpcStatus(rpc), StatusIs(absl::StatusCode::kUnknown));
  rpc.set_code(99);
  EXPECT_THAT(FromRpcStatus(rpc), StatusIs(absl::StatusCode::kUnknown));
}

TEST(DescribeDetails, NamesTheOwnerGapAndFields) {
  // Given details of each kind, expect one readable line each, the owner's address included.
  v1::RpcStatus rpc;
  rpc.set_code(grpc::StatusCode::INVALID_ARGUMENT);
  rpc.add_details()->PackFrom(OwnerNode2());
  v1::SequenceGap gap;
  gap.set_producer_id("p1");
  gap.set_topic("t");
  gap.set_expected_sequence(4);
  gap.set_actual_sequence(6);
  rpc.add_details()->PackFrom(gap);
  v1::FieldViolation violation;
  violation.set_field("topic");
  violation.set_description("must be 1-256 bytes");
  rpc.add_details()->PackFrom(violation);
  const absl::Status status = FromRpcStatus(rpc);
  ASSERT_EQ(FieldViolationsOf(status).size(), 1u);
  EXPECT_THAT(DescribeDetails(status),
              ElementsAre(HasSubstr("is owned by node-2 at 10.0.0.2:9090 (ring version 7)"),
                          "sequence gap: producer p1 topic \"t\" expected sequence 4, got 6",
                          "invalid field topic: must be 1-256 bytes"));
}

}  // namespace
}  // namespace ringcast::client
