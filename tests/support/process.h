// process.h — starting the real ringcast binaries (or any program) from tests: fork + exec a child
// with its stdout piped back to the test, wait for the line it prints when it is ready (never a
// sleep), signal it, reap it. `StartNode` runs `ringcast-node` on loopback port 0 and returns the
// addresses it reports in its ready line:
//
//   ringcast-node ready node_id=n1 http=127.0.0.1:40711 grpc=127.0.0.1:40712 pid=4242
//
//   absl::StatusOr<NodeProcess> node = StartNode({"--node_id=n1"});
//   ASSERT_THAT(node, IsOk());
//   HttpGet(node->http_address, "/healthz");
//
// Thread safety: a ChildProcess is used by one thread at a time (the test's); a background
// thread it owns drains the child's stdout into a buffer, so the child never blocks on a full
// pipe. ParseReadyLine and ParseHostPort are pure and thread-safe.
//
// NOTE: the child gets PR_SET_PDEATHSIG=SIGKILL so it dies with the test even when the test is
// killed outright (ctest timeout, crash). Linux ties that to the *thread* that forked: start
// children from the test's main thread or from a thread that outlives them.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ringcast::testing {

class ChildProcess {
 public:
  // Runs `binary` (a path; PATH is not searched) with `args` (argv[1..]); argv[0] is `binary`.
  // stdout is piped to this process, stderr and stdin are inherited, the signal mask and
  // signal dispositions are reset to defaults. NOT_FOUND / PERMISSION_DENIED / INTERNAL when
  // exec fails (the errno is in the message); the failed child is reaped.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(std::string binary,
                                                             std::vector<std::string> args);

  // SIGKILLs the child if it has not been reaped yet (this PID only, never its group), reaps it,
  // and stops the stdout reader.
  ~ChildProcess();

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  int pid() const { return pid_; }

  // Returns the first complete stdout line (without its "\n" or "\r\n") that starts with
  // `prefix` and comes after the line returned by the previous successful call: lines are
  // consumed, so waiting twice for the same prefix returns two different lines.
  // DEADLINE_EXCEEDED after `timeout`; NOT_FOUND as soon as the child closes its stdout (exits)
  // without printing such a line. Error messages carry the tail of the output so far.
  absl::StatusOr<std::string> WaitForLine(std::string_view prefix, absl::Duration timeout);

  // Everything the child has written to stdout so far (for diagnostics).
  std::string output() const;

  // Sends `sig` to the child. FAILED_PRECONDITION once it has been reaped (its PID may belong to
  // another process by then).
  absl::Status Signal(int sig);

  // Waits for the child to end and reaps it. Returns its exit code, or 128 + the signal number
  // when a signal ended it (as shells report it). DEADLINE_EXCEEDED when it is still running
  // after `timeout` (it keeps running). After the child is reaped, returns the same value again.
  absl::StatusOr<int> Wait(absl::Duration timeout);

  // Whether the child has been reaped (by Wait or a failed Start).
  bool reaped() const { return exit_status_.has_value(); }

 private:
  ChildProcess(int pid, int stdout_fd, int stop_fd, int pid_fd);
  void ReadStdout();           // the reader thread's body
  void Reap(int wait_status);  // records the exit status of a reaped child
  std::string OutputTail() const ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const int pid_;
  const int stdout_fd_;  // read end of the child's stdout pipe; owned, read by reader_ only
  const int stop_fd_;    // eventfd that tells reader_ to stop; owned
  const int pid_fd_;     // pidfd of the child, or -1 when the kernel has none; owned

  // Used by the owning thread only.
  std::optional<int> exit_status_;  // set once the child is reaped
  std::thread reader_;

  // Guarded by mu_: filled by reader_, consumed by WaitForLine; cv_ signals new output or EOF.
  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::string output_ ABSL_GUARDED_BY(mu_);
  size_t consumed_ ABSL_GUARDED_BY(mu_) = 0;  // output_ bytes already scanned by WaitForLine
  bool eof_ ABSL_GUARDED_BY(mu_) = false;     // the child closed its stdout (or a read failed)
};

// key=value tokens of a whitespace-separated line, split at the first '='; tokens without '='
// (e.g. "ringcast-node ready") are skipped; a repeated key keeps its last value.
//   "ringcast-node ready node_id=n1 http=127.0.0.1:80 pid=7"
//     -> {"http": "127.0.0.1:80", "node_id": "n1", "pid": "7"}
std::map<std::string, std::string> ParseReadyLine(std::string_view line);

// The port of "host:port" or "[v6]:port": 1..65535. INVALID_ARGUMENT otherwise.
absl::StatusOr<int> ParseHostPort(std::string_view host_port);

// A running ringcast-node and what it reported when ready.
struct NodeProcess {
  std::unique_ptr<ChildProcess> process;
  std::string ready_line;    // the whole ready line, as printed
  std::string node_id;       // node_id=
  std::string http_address;  // http=, "host:port" for HttpGet / SseConnection::Open
  std::string grpc_address;  // grpc=, "host:port" for a gRPC channel
  int http_port = 0;
  int grpc_port = 0;
};

// The prefix of the line a node prints on stdout when it serves.
inline constexpr std::string_view kNodeReadyPrefix = "ringcast-node ready ";

// The node binary this build was configured with (compile definition RINGCAST_NODE_BINARY), or
// nullopt when it was built without one.
std::optional<std::string> NodeBinaryPath();

// Starts `binary` with `--http_listen=127.0.0.1:0 --grpc_listen=127.0.0.1:0` followed by
// `extra_flags` (a later flag overrides an earlier one), waits up to `timeout` for its ready
// line and parses it. Errors: those of Start and WaitForLine; INTERNAL when the ready line lacks
// a field, has a bad address, or reports another pid than the child's.
absl::StatusOr<NodeProcess> StartNodeBinary(std::string binary,
                                            std::vector<std::string> extra_flags,
                                            absl::Duration timeout = absl::Seconds(30));

// StartNodeBinary(*NodeBinaryPath(), ...); FAILED_PRECONDITION when there is no node binary.
absl::StatusOr<NodeProcess> StartNode(std::vector<std::string> extra_flags,
                                      absl::Duration timeout = absl::Seconds(30));

}  // namespace ringcast::testing
