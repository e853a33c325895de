// ring_proto.h — converting rings to and from their wire and file forms (ring.proto,
// config.proto RingFile): what the control plane sends, what routers persist, what ring files
// hold. Every conversion from the wire validates as Ring::Build/FromTable do.
//
// Thread safety: free functions without shared state.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "ring/ring.h"
#include "ringcast/v1/config.pb.h"
#include "ringcast/v1/ring.pb.h"

namespace ringcast {

v1::Member MemberToProto(const Member& member);
// Weight 0 becomes the default weight 1. INVALID_ARGUMENT for a malformed member.
absl::StatusOr<Member> MemberFromProto(const v1::Member& member);

v1::RingSnapshot RingToProto(const Ring& ring);
// The owner table is taken as given (Ring::FromTable). INVALID_ARGUMENT as FromTable.
absl::StatusOr<Ring> RingFromProto(const v1::RingSnapshot& snapshot);

// Version 1 of a new cluster's ring (Ring::Build); partition_count 0 = the default.
absl::StatusOr<Ring> RingFromRingFile(const v1::RingFile& file);
// Reads a RingFile in protobuf text format. NOT_FOUND if unreadable, INVALID_ARGUMENT if it does
// not parse or its members are invalid.
absl::StatusOr<Ring> LoadRingFile(const std::string& path);

// The base URL clients are sent to for `member`: its public_url, else "http://" + http_address.
std::string PublicUrlOf(const Member& member);

}  // namespace ringcast
