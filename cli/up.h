// up.h — `ringcast up`: a whole local cluster in one command, for a newcomer's first run and for
// demos. Starts one `ringcast-router` and N `ringcast-node` child processes on loopback, waits
// until each prints its ready line, prints the URLs and copy-paste example commands, and stops
// them all on Ctrl-C (SIGINT) or SIGTERM.
//
//   router  router-1 on 127.0.0.1:<http_port> (HTTP) and 127.0.0.1:<grpc_port> (gRPC), seeded
//           with --seed_nodes naming the nodes, ring in memory (or under --state_dir)
//   nodes   node-1..node-N on free loopback ports, each following the router's ring
//           (--ring_source = the router's gRPC address)
//
// When everything is ready, the last line printed is (key=value, like the binaries' ready lines)
//
//   ringcast up ready router_http=127.0.0.1:8000 router_grpc=127.0.0.1:9000 pids=11,12,13,14
//
// with the router's pid first. Afterwards any other stdout line of a child is copied to `out`
// prefixed with "[<name>] "; the children's stderr is the terminal's.
//
// Stopping: SIGTERM to each child by PID, SIGKILL to those still running after `stop_grace` (or
// at a second Ctrl-C), every child reaped; exit code 0. If a child exits on its own (or cannot
// start), `up` says which and how, stops the others the same way and exits 1. Children run in
// their own process group (a terminal's Ctrl-C reaches only `up`, which stops them in order)
// with PR_SET_PDEATHSIG = SIGTERM, so they stop even when `up` itself is killed outright.
//
// Thread safety: RunUp blocks SIGINT and SIGTERM in the calling thread and reads them with a
// signalfd, so call it from the main thread of a single-threaded process (the `ringcast` main).
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ringcast::cli {

// Filled from the flags (cli.cc); defaults are the flags' defaults.
struct UpOptions {
  int nodes = 3;         // ringcast-node processes, 1..64
  int http_port = 8000;  // the router's HTTP port on 127.0.0.1; 0 = any free port
  int grpc_port = 9000;  // the router's gRPC port on 127.0.0.1; 0 = any free port
  // The router's --state_dir ("" = ring in memory). A persisted ring names its nodes'
  // addresses, so with a state dir node-i listens on http_port+i and grpc_port+i (fixed ports
  // required) instead of free ports, and a restarted `up` finds its ring still true.
  std::string state_dir;
  // Where ringcast-router and ringcast-node are. "" = next to this binary (an installed bin/),
  // else the build tree's layout: <build>/cli/ringcast -> <build>/router/ringcast-router and
  // <build>/node/ringcast-node.
  std::string bin_dir;
  std::string cli_command = "ringcast";  // how the printed example commands call `ringcast`
  absl::Duration start_timeout = absl::Seconds(30);  // for each child's ready line
  absl::Duration stop_grace = absl::Seconds(10);     // SIGTERM, then SIGKILL after this
};

// INVALID_ARGUMENT naming the flag: nodes outside 1..64, a port outside 0..65535, --state_dir
// with a port 0 or with node ports that would pass 65535.
absl::Status ValidateUp(const UpOptions& options);

struct UpBinaries {
  std::string router;  // path of ringcast-router
  std::string node;    // path of ringcast-node
};

// The binaries `up` starts: in `bin_dir` when given, else next to `self_path` (the running
// `ringcast`), else in the build tree's layout beside it. NOT_FOUND naming the places looked in.
absl::StatusOr<UpBinaries> FindUpBinaries(std::string_view bin_dir, std::string_view self_path);

// Runs the cluster until SIGINT/SIGTERM (returns 0) or until a child fails (returns 1); 2 for
// bad options. Progress and URLs to `out`, errors to `err`.
int RunUp(const UpOptions& options, std::ostream& out, std::ostream& err);

}  // namespace ringcast::cli
