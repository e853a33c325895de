// ring_proto_test.cc — rings survive the trip through ring.proto and ring files unchanged, and
// malformed wire data is rejected with INVALID_ARGUMENT rather than trusted.
#include "ring/ring_proto.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace ringcast {
namespace {

using ::ringcast::testing::IsOk;
using ::ringcast::testing::StatusIs;
using ::testing::HasSubstr;

Ring ThreeNodes() {
  absl::StatusOr<Ring> ring = Ring::Build(
      {{"a", 1, "127.0.0.1:8001", "127.0.0.1:9001", "https://a.example.com"},
       {"b", 2, "127.0.0.1:8002", "127.0.0.1:9002"},
       {"c", 1, "127.0.0.1:8003", "127.0.0.1:9003"}},
      64, 7);
  EXPECT_THAT(ring, IsOk());
  return *std::move(ring);
}

TEST(RingProto, SnapshotRoundTripKeepsVersionMembersAndOwners) {
  const Ring ring = ThreeNodes();
  absl::StatusOr<Ring> back = RingFromProto(RingToProto(ring));
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->version(), 7u);
  EXPECT_EQ(back->partition_count(), 64u);
  EXPECT_TRUE(std::equal(back->members().begin(), back->members().end(),
                         ring.members().begin(), ring.members().end()));
  EXPECT_TRUE(std::equal(back->owners().begin(), back->owners().end(), ring.owners().begin(),
                         ring.owners().end()));
}

TEST(RingProto, MalformedSnapshotsAreRejected) {
  v1::RingSnapshot short_table = RingToProto(ThreeNodes());
  short_table.mutable_owners()->RemoveLast();
  EXPECT_THAT(RingFromProto(short_table), StatusIs(absl::StatusCode::kInvalidArgument));

  v1::RingSnapshot bad_owner = RingToProto(ThreeNodes());
  bad_owner.set_owners(0, 3);
  EXPECT_THAT(RingFromProto(bad_owner), StatusIs(absl::StatusCode::kInvalidArgument));

  v1::RingSnapshot bad_url = RingToProto(ThreeNodes());
  bad_url.mutable_members(0)->set_public_url("https://a.example.com/");
  EXPECT_THAT(RingFromProto(bad_url),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("public_url")));
}

TEST(RingProto, MemberFromProtoDefaultsWeightAndValidates) {
  v1::Member proto;
  proto.set_id("n1");
  proto.set_http_address("127.0.0.1:8080");
  absl::StatusOr<Member> member = MemberFromProto(proto);
  ASSERT_THAT(member, IsOk());
  EXPECT_EQ(member->weight, 1);
  proto.set_id("no spaces");
  EXPECT_THAT(MemberFromProto(proto), StatusIs(absl::StatusCode::kInvalidArgument));
  proto.set_id("n1");
  proto.set_public_url("ftp://n1");
  EXPECT_THAT(MemberFromProto(proto), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RingProto, RingFileBuildsVersionOneWithDefaultPartitionCount) {
  const std::string path = ::testing::TempDir() + "/ring_proto_test.textproto";
  std::ofstream(path) << R"(members { id: "x" http_address: "h:1" grpc_address: "g:1" }
                           members { id: "y" weight: 3 http_address: "h:2" grpc_address: "g:2" })";
  absl::StatusOr<Ring> ring = LoadRingFile(path);
  ASSERT_THAT(ring, IsOk());
  EXPECT_EQ(ring->version(), 1u);
  EXPECT_EQ(ring->partition_count(), Ring::kDefaultPartitionCount);
  EXPECT_EQ(ring->FindMember("y")->weight, 3);

  std::ofstream(path) << "members { id: ";
  EXPECT_THAT(LoadRingFile(path), StatusIs(absl::StatusCode::kInvalidArgument));
  std::remove(path.c_str());
  EXPECT_THAT(LoadRingFile(path), StatusIs(absl::StatusCode::kNotFound));
}

TEST(RingProto, PublicUrlFallsBackToHttpAddress) {
  EXPECT_EQ(PublicUrlOf({"a", 1, "10.0.0.1:8080", "", ""}), "http://10.0.0.1:8080");
  EXPECT_EQ(PublicUrlOf({"a", 1, "10.0.0.1:8080", "", "https://sse.example.com"}),
            "https://sse.example.com");
}

}  // namespace
}  // namespace ringcast
