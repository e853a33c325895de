// ring_proto.cc — ring <-> ring.proto / RingFile conversions (see ring_proto.h).
#include "ring/ring_proto.h"

#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"

namespace ringcast {

v1::Member MemberToProto(const Member& member) {
  v1::Member proto;
  proto.set_id(member.id);
  proto.set_weight(member.weight);
  proto.set_http_address(member.http_address);
  proto.set_grpc_address(member.grpc_address);
  proto.set_public_url(member.public_url);
  return proto;
}

absl::StatusOr<Member> MemberFromProto(const v1::Member& proto) {
  Member member{proto.id(), proto.weight() == 0 ? 1 : proto.weight(), proto.http_address(),
                proto.grpc_address(), proto.public_url()};
  // NOTE: a one-member ring of one partition runs every member check Build has.
  if (absl::StatusOr<Ring> check = Ring::Build({member}, 1); !check.ok()) return check.status();
  return member;
}

v1::RingSnapshot RingToProto(const Ring& ring) {
  v1::RingSnapshot proto;
  proto.set_version(ring.version());
  proto.set_partition_count(ring.partition_count());
  for (const Member& member : ring.members()) *proto.add_members() = MemberToProto(member);
  proto.mutable_owners()->Add(ring.owners().begin(), ring.owners().end());
  return proto;
}

absl::StatusOr<Ring> RingFromProto(const v1::RingSnapshot& snapshot) {
  std::vector<Member> members;
  members.reserve(snapshot.members_size());
  for (const v1::Member& m : snapshot.members()) {
    members.push_back({m.id(), m.weight(), m.http_address(), m.grpc_address(), m.public_url()});
  }
  return Ring::FromTable(snapshot.version(), snapshot.partition_count(), std::move(members),
                         {snapshot.owners().begin(), snapshot.owners().end()});
}

absl::StatusOr<Ring> RingFromRingFile(const v1::RingFile& file) {
  std::vector<Member> members;
  members.reserve(file.members_size());
  for (const v1::Member& m : file.members()) {
    members.push_back({m.id(), m.weight() == 0 ? 1 : m.weight(), m.http_address(),
                       m.grpc_address(), m.public_url()});
  }
  return Ring::Build(std::move(members), file.partition_count() == 0
                                             ? Ring::kDefaultPartitionCount
                                             : file.partition_count());
}

absl::StatusOr<Ring> LoadRingFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ring file ", path));
  std::stringstream text;
  text << in.rdbuf();
  v1::RingFile file;
  if (!google::protobuf::TextFormat::ParseFromString(text.str(), &file)) {
    return absl::InvalidArgumentError(absl::StrCat("ring file ", path, " is not a RingFile"));
  }
  absl::StatusOr<Ring> ring = RingFromRingFile(file);
  if (!ring.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ring file ", path, ": ", ring.status().message()));
  }
  return ring;
}

std::string PublicUrlOf(const Member& member) {
  return member.public_url.empty() ? absl::StrCat("http://", member.http_address)
                                   : member.public_url;
}

}  // namespace ringcast
