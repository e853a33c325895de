// ring.h — `ringcast ring show|add|remove`: reads and changes a router's ring through the
// ringcast.v1.Cluster service (cluster.proto).
//
//   ringcast ring show                       version, Q, moves in progress, and one row per node:
//                                            addresses, weight, partitions owned, share of the
//                                            keyspace, health
//   ringcast ring add --id=node-4 --http=127.0.0.1:8004 --grpc=127.0.0.1:9004
//   ringcast ring remove --id=node-4         both print the new version and the moved partitions
//
// Exit codes: 0 done; 1 the router refused or could not be reached (the gRPC status, its message
// and details go to `err`); 2 bad usage (a required flag missing), nothing sent.
//
// Thread safety: the Run functions block the calling thread on one gRPC call at a time; the
// Format functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cli/subscribe.h"
#include "ring/ring.h"
#include "ringcast/v1/cluster.pb.h"

namespace ringcast::cli {

// Where the Cluster service is and how long one call may take; shared by the three commands.
struct RouterCallOptions {
  std::string router = "127.0.0.1:9000";       // gRPC host:port of a router
  absl::Duration timeout = absl::Seconds(10);  // per call; 0 = none
};

struct RingShowOptions {
  RouterCallOptions call;
  OutputFormat format = OutputFormat::kText;  // text table, or one JSON object for scripts
};

struct RingAddOptions {
  RouterCallOptions call;
  Member member;                  // id, http_address and grpc_address required; weight 0 = 1
  uint64_t expected_version = 0;  // compare-and-set; 0 = whatever is current
};

struct RingRemoveOptions {
  RouterCallOptions call;
  std::string id;
  uint64_t expected_version = 0;  // compare-and-set; 0 = whatever is current
};

// INVALID_ARGUMENT naming the missing flag (--id, --http, --grpc). The router checks the rest.
absl::Status ValidateRingAdd(const RingAddOptions& options);
absl::Status ValidateRingRemove(const RingRemoveOptions& options);

// The table of `ring show`, e.g. (health from `health` and moves from `rebalance`, either of
// which may be null when unavailable; "last seen" relative to `now`):
//
//   ring version 4, 16384 partitions, 3 nodes
//   rebalance: in progress (moves of ring versions 4-4)
//     node-1 -> node-3  partitions: 1200 DONE, 166 PRE_COPY  topics 310/402  bytes 1843200
//
//   NODE    HTTP            GRPC            WEIGHT  PARTITIONS  SHARE    HEALTH   LAST SEEN
//   node-1  127.0.0.1:8001  127.0.0.1:9001  1       5462        33.34%   SERVING  0.4s ago
//   ...
//
// Nodes that report health without being members (a removed node still draining) follow the
// members with "-" for weight, partitions and share.
std::string FormatRingTable(const v1::RingSnapshot& ring, const v1::GetHealthResponse* health,
                            const v1::GetRebalanceStatusResponse* rebalance, absl::Time now);

// The rebalance lines of the table: "rebalance: settled" when no move is listed; otherwise
// "rebalance: in progress" or "rebalance: settled" with the ring versions of the listed moves,
// then one line per (from -> to): its partitions by state, topics moved/total, bytes copied. A
// source reports the same counters on every partition of one transfer, so each transfer
// (from, to, update_time) is counted once.
std::string FormatRebalance(const v1::GetRebalanceStatusResponse& rebalance);

// {"ring": <RingSnapshot>, "health": <GetHealthResponse or null>, "rebalance":
// <GetRebalanceStatusResponse or null>} on one line, in protobuf's JSON mapping with the .proto
// field names (uint64 values are strings, as the mapping says).
std::string FormatRingJson(const v1::RingSnapshot& ring, const v1::GetHealthResponse* health,
                           const v1::GetRebalanceStatusResponse* rebalance);

// What a committed change did, e.g.
//   added node-4: ring version 4 -> 5, 4096 of 16384 partitions moved (25.00%)
//     node-1 -> node-4  1366
//     ...
// one line per (from, to) pair, largest first. `what` is the first words ("added node-4").
std::string FormatRingChange(std::string_view what, const v1::RingSnapshot& ring,
                             const v1::RingDiff& diff);

// The commands: output to `out`, errors to `err`; return the exit code (see the file comment).
int RunRingShow(const RingShowOptions& options, std::ostream& out, std::ostream& err);
int RunRingAdd(const RingAddOptions& options, std::ostream& out, std::ostream& err);
int RunRingRemove(const RingRemoveOptions& options, std::ostream& out, std::ostream& err);

}  // namespace ringcast::cli
