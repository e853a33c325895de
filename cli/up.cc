// up.cc — `ringcast up`: fork/exec of the router and the nodes, one poll loop over their stdout
// pipes, their pidfds and a signalfd (no threads, no signal handlers), and the orderly stop.
#include "cli/up.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "cli/cli.h"

namespace ringcast::cli {
namespace {

constexpr int kMaxNodes = 64;
constexpr std::string_view kRouterReadyPrefix = "ringcast-router ready ";
constexpr std::string_view kNodeReadyPrefix = "ringcast-node ready ";
constexpr char kLoopback[] = "127.0.0.1";

absl::Status ErrnoStatus(int error, std::string_view what) {
  return absl::Status(absl::ErrnoToStatusCode(error),
                      absl::StrCat(std::string(what), ": ", std::strerror(error)));
}

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// A loopback port that was free a moment ago (bound with port 0, read back, closed).
absl::StatusOr<int> FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus(errno, "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                     getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  const int error = errno;
  close(fd);
  if (!bound) return ErrnoStatus(error, "bind 127.0.0.1:0");
  return static_cast<int>(ntohs(address.sin_port));
}

// The value of `key=` in a whitespace-separated ready line; "" when absent.
std::string ReadyField(const std::string& line, const std::string& key) {
  const std::string prefix = key + "=";
  for (absl::string_view token : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
    if (absl::StartsWith(token, prefix)) return std::string(token.substr(prefix.size()));
  }
  return "";
}

// How a reaped child ended, as a shell reports it: the exit code, or 128 + the signal number.
int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;
}

std::string DescribeExit(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    return absl::StrCat("was killed by signal ", WTERMSIG(wait_status), " (",
                        strsignal(WTERMSIG(wait_status)), ")");
  }
  return absl::StrCat("exited with code ", ExitCodeOf(wait_status));
}

// Between fork and exec only async-signal-safe calls on data prepared before the fork.
[[noreturn]] void RunChild(pid_t parent, int stdout_fd, int stdin_fd, const char* binary,
                           char* const* argv) {
  setpgid(0, 0);  // a terminal's Ctrl-C goes to `up` alone, which stops the children in order
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(127);  // `up` died before prctl
  if (dup2(stdout_fd, STDOUT_FILENO) < 0 || dup2(stdin_fd, STDIN_FILENO) < 0) _exit(127);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);  // `up` blocks SIGINT/SIGTERM; children must not
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &action, nullptr);
  }
  execv(binary, argv);
  _exit(127);  // the exec error shows as exit code 127, reported by the poll loop
}

// One child process of `up`.
struct Child {
  std::string name;          // router-1, node-1, ...
  std::string ready_prefix;  // the start of its ready line
  pid_t pid = -1;
  int stdout_fd = -1;  // read end of its stdout, non-blocking; -1 after EOF
  int pid_fd = -1;     // -1 once reaped
  std::string partial_line;
  std::optional<std::string> ready_line;
  std::optional<int> wait_status;  // set once reaped
};

// What one round of the poll loop saw.
struct PollResult {
  bool signalled = false;         // SIGINT or SIGTERM arrived
  const Child* exited = nullptr;  // a child that ended in this round
};

// The children and the signalfd; owns both. Not thread-safe: used by RunUp's thread only.
class LocalCluster {
 public:
  static absl::StatusOr<std::unique_ptr<LocalCluster>> Create(std::ostream& out) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    // NOTE: a signal that is ignored never becomes pending (a shell's `cmd &` ignores SIGINT),
    // so put the defaults back before blocking them for the signalfd.
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t old_mask;
    if (sigprocmask(SIG_BLOCK, &mask, &old_mask) != 0) return ErrnoStatus(errno, "sigprocmask");
    const int signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    const int dev_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (signal_fd < 0 || dev_null < 0) {
      const int error = errno;
      sigprocmask(SIG_SETMASK, &old_mask, nullptr);
      if (signal_fd >= 0) close(signal_fd);
      return ErrnoStatus(error, "signalfd or /dev/null");
    }
    return std::unique_ptr<LocalCluster>(new LocalCluster(out, signal_fd, dev_null, old_mask));
  }

  // SIGKILLs and reaps any child still running (normally none: StopAll ran), restores the mask.
  ~LocalCluster() {
    for (Child& child : children_) {
      if (!child.wait_status.has_value()) {
        kill(child.pid, SIGKILL);
        Reap(child);
      }
      CloseFd(child.stdout_fd);
    }
    CloseFd(signal_fd_);
    CloseFd(dev_null_);
    sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  }

  // Forks and execs `binary` with `args`; its stdout comes back to the poll loop.
  absl::StatusOr<Child*> Start(std::string name, std::string ready_prefix,
                               const std::string& binary, const std::vector<std::string>& args) {
    std::vector<std::string> storage = {binary};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : storage) argv.push_back(arg.data());
    argv.push_back(nullptr);

    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe2");
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) RunChild(parent, pipe_fds[1], dev_null_, binary.c_str(), argv.data());
    const int fork_error = errno;
    close(pipe_fds[1]);
    if (pid < 0) {
      close(pipe_fds[0]);
      return ErrnoStatus(fork_error, "fork");
    }
    fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
    Child& child = children_.emplace_back();
    child.name = std::move(name);
    child.ready_prefix = std::move(ready_prefix);
    child.pid = pid;
    child.stdout_fd = pipe_fds[0];
    child.pid_fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (child.pid_fd < 0) return ErrnoStatus(errno, "pidfd_open");
    return &child;
  }

  // Polls until `child` prints its ready line. CANCELLED at a signal, FAILED_PRECONDITION when
  // any child ends, DEADLINE_EXCEEDED after `timeout`.
  absl::Status WaitReady(const Child& child, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!child.ready_line.has_value()) {
      const PollResult result = Poll(deadline);
      if (result.signalled) return absl::CancelledError("interrupted while starting");
      if (result.exited != nullptr) return ExitedError(*result.exited);
      if (absl::Now() >= deadline && !child.ready_line.has_value()) {
        return absl::DeadlineExceededError(
            absl::StrCat(child.name, " (pid ", child.pid, ") printed no \"",
                         std::string(absl::StripSuffix(child.ready_prefix, " ")), "\" line in ",
                         absl::FormatDuration(timeout)));
      }
    }
    return absl::OkStatus();
  }

  // Polls until SIGINT/SIGTERM (OK) or until a child ends (FAILED_PRECONDITION saying which).
  absl::Status Watch() {
    while (true) {
      const PollResult result = Poll(absl::InfiniteFuture());
      if (result.signalled) return absl::OkStatus();
      if (result.exited != nullptr) return ExitedError(*result.exited);
    }
  }

  // SIGTERM to the nodes, then (once they are gone) to the router they follow, so that no node
  // sees its ring source vanish; SIGKILL to whatever is left after `grace` or at another signal.
  // Returns once every child is reaped.
  void StopAll(absl::Duration grace) {
    const int running = Running(0);
    if (running == 0) return;
    out_ << "ringcast up: stopping " << running << (running == 1 ? " process" : " processes")
         << " (SIGTERM, nodes first; Ctrl-C again to kill)\n"
         << std::flush;
    const absl::Time deadline = absl::Now() + grace;
    // children_[0] is the router, started first.
    if (TerminateAndWait(1, deadline)) TerminateAndWait(0, deadline);
    if (const int left = Signal(SIGKILL, 0); left > 0) {
      out_ << "ringcast up: killed " << left << " that did not stop in time (SIGKILL)\n";
    }
    for (Child& child : children_) {
      if (!child.wait_status.has_value()) Reap(child);
    }
    out_ << "ringcast up: stopped\n" << std::flush;
  }

 private:
  LocalCluster(std::ostream& out, int signal_fd, int dev_null, sigset_t old_mask)
      : out_(out), signal_fd_(signal_fd), dev_null_(dev_null), old_mask_(old_mask) {}

  static absl::Status ExitedError(const Child& child) {
    return absl::FailedPreconditionError(
        absl::StrCat(child.name, " (pid ", child.pid, ") ", DescribeExit(*child.wait_status)));
  }

  // How many of children_[first..] are not reaped yet.
  int Running(size_t first) const {
    int running = 0;
    for (size_t i = first; i < children_.size(); ++i) {
      running += children_[i].wait_status.has_value() ? 0 : 1;
    }
    return running;
  }

  // Sends `sig` to each of children_[first..] not yet reaped (so its PID is still its own);
  // returns how many.
  int Signal(int sig, size_t first) {
    int signalled = 0;
    for (size_t i = first; i < children_.size(); ++i) {
      if (children_[i].wait_status.has_value()) continue;
      kill(children_[i].pid, sig);
      ++signalled;
    }
    return signalled;
  }

  // SIGTERM to children_[first..], then polls until they are reaped: true; false when `deadline`
  // passes first or another signal says to hurry.
  bool TerminateAndWait(size_t first, absl::Time deadline) {
    Signal(SIGTERM, first);
    while (Running(first) > 0) {
      if (absl::Now() >= deadline || Poll(deadline).signalled) return false;
    }
    return true;
  }

  // Waits for `child` to end (callers know it has, or have SIGKILLed it) and records how.
  void Reap(Child& child) {
    int wait_status = 0;
    pid_t r;
    do {
      r = waitpid(child.pid, &wait_status, 0);
    } while (r < 0 && errno == EINTR);
    if (r == child.pid || (r < 0 && errno == ECHILD)) {
      child.wait_status = r == child.pid ? wait_status : 0;
      CloseFd(child.pid_fd);
    }
  }

  // Reads what `child` wrote: its ready line is kept, every other line is copied to out_.
  void ReadOutput(Child& child) {
    char buffer[4096];
    while (child.stdout_fd >= 0) {
      const ssize_t n = read(child.stdout_fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) {
        CloseFd(child.stdout_fd);
        break;
      }
      child.partial_line.append(buffer, static_cast<size_t>(n));
      size_t newline;
      while ((newline = child.partial_line.find('\n')) != std::string::npos) {
        HandleLine(child, child.partial_line.substr(0, newline));
        child.partial_line.erase(0, newline + 1);
      }
    }
    if (!child.partial_line.empty()) HandleLine(child, std::exchange(child.partial_line, ""));
  }

  void HandleLine(Child& child, std::string line) {
    if (!child.ready_line.has_value() && absl::StartsWith(line, child.ready_prefix)) {
      child.ready_line = std::move(line);
      return;
    }
    out_ << "[" << child.name << "] " << line << "\n" << std::flush;
  }

  // One poll over the signalfd, every open stdout and every unreaped pidfd, until something
  // happens or `deadline`.
  PollResult Poll(absl::Time deadline) {
    std::vector<pollfd> fds = {{signal_fd_, POLLIN, 0}};
    for (const Child& child : children_) {
      if (child.stdout_fd >= 0) fds.push_back({child.stdout_fd, POLLIN, 0});
      if (child.pid_fd >= 0) fds.push_back({child.pid_fd, POLLIN, 0});
    }
    int timeout_ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      timeout_ms = static_cast<int>(std::max<int64_t>(
          0, absl::ToInt64Milliseconds(absl::Ceil(deadline - absl::Now(), absl::Milliseconds(1)))));
    }
    PollResult result;
    if (poll(fds.data(), fds.size(), timeout_ms) <= 0) return result;  // timeout or EINTR
    if (fds[0].revents != 0) result.signalled = DrainSignals();
    for (Child& child : children_) {
      ReadOutput(child);  // non-blocking: cheap when there is nothing
      if (child.pid_fd < 0) continue;
      pollfd exited = {child.pid_fd, POLLIN, 0};
      if (poll(&exited, 1, 0) == 1) {
        ReadOutput(child);  // its last words first
        Reap(child);
        if (result.exited == nullptr) result.exited = &child;
      }
    }
    return result;
  }

  bool DrainSignals() {
    bool any = false;
    signalfd_siginfo info;
    while (read(signal_fd_, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
      out_ << "ringcast up: got " << strsignal(static_cast<int>(info.ssi_signo)) << "\n";
      any = true;
    }
    return any;
  }

  std::ostream& out_;
  int signal_fd_;
  int dev_null_;
  const sigset_t old_mask_;
  std::deque<Child> children_;  // a deque: Start hands out pointers that must stay valid
};

// Loopback host:port pairs for node i (1-based): fixed next to the router's ports with a state
// dir (see UpOptions::state_dir), else free ports.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> NodeAddresses(
    const UpOptions& options) {
  std::vector<std::pair<std::string, std::string>> addresses;
  for (int i = 1; i <= options.nodes; ++i) {
    int http_port = options.http_port + i;
    int grpc_port = options.grpc_port + i;
    if (options.state_dir.empty()) {
      absl::StatusOr<int> http = FreeLoopbackPort();
      absl::StatusOr<int> grpc = FreeLoopbackPort();
      if (!http.ok()) return http.status();
      if (!grpc.ok()) return grpc.status();
      http_port = *http;
      grpc_port = *grpc;
    }
    addresses.push_back(
        {absl::StrCat(kLoopback, ":", http_port), absl::StrCat(kLoopback, ":", grpc_port)});
  }
  return addresses;
}

std::string NodeId(int i) { return absl::StrCat("node-", i); }

void PrintBanner(const UpOptions& options, const std::vector<const Child*>& children,
                 std::ostream& out) {
  const std::string router_http = ReadyField(*children[0]->ready_line, "http");
  const std::string router_grpc = ReadyField(*children[0]->ready_line, "grpc");
  out << "\nringcast up: a router and " << options.nodes
      << (options.nodes == 1 ? " node" : " nodes") << " on loopback (Ctrl-C stops them all)\n\n";
  for (const Child* child : children) {
    out << absl::StrFormat("  %-9s http://%-22s grpc=%-22s pid=%d\n", child->name,
                           ReadyField(*child->ready_line, "http"),
                           ReadyField(*child->ready_line, "grpc"), child->pid);
  }
  const std::string& program = options.cli_command;
  out << "\nSubscribe through the router (it proxies each topic to the node that owns it):\n"
      << "  curl -N http://" << router_http << "/v1/topics/demo/events\n"
      << "  " << program << " subscribe --url=http://" << router_http << " --topic=demo\n"
      << "Publish (straight to the owning node, found through the router's ring):\n"
      << "  " << program << " publish --router=" << router_grpc << " --topic=demo --data=hello\n"
      << "The ring and the nodes' health:\n"
      << "  " << program << " ring show --router=" << router_grpc << "\n"
      << "Metrics:\n"
      << "  curl http://" << router_http << "/metrics\n\n";
  std::vector<std::string> pids;
  for (const Child* child : children) pids.push_back(absl::StrCat(child->pid));
  out << "ringcast up ready router_http=" << router_http << " router_grpc=" << router_grpc
      << " pids=" << absl::StrJoin(pids, ",") << "\n"
      << std::flush;
}

// Starts the router, then the nodes, each waited for in turn; returns them router first.
absl::StatusOr<std::vector<const Child*>> StartCluster(const UpOptions& options,
                                                       const UpBinaries& binaries,
                                                       LocalCluster& cluster) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> nodes = NodeAddresses(options);
  if (!nodes.ok()) return nodes.status();
  std::vector<std::string> seeds;
  for (size_t i = 0; i < nodes->size(); ++i) {
    seeds.push_back(absl::StrCat(NodeId(static_cast<int>(i + 1)), "=", (*nodes)[i].first, "=",
                                 (*nodes)[i].second));
  }
  std::vector<std::string> router_args = {
      "--router_id=router-1", absl::StrCat("--http_listen=", kLoopback, ":", options.http_port),
      absl::StrCat("--grpc_listen=", kLoopback, ":", options.grpc_port),
      absl::StrCat("--seed_nodes=", absl::StrJoin(seeds, ","))};
  if (!options.state_dir.empty()) router_args.push_back("--state_dir=" + options.state_dir);

  std::vector<const Child*> started;
  absl::StatusOr<Child*> router =
      cluster.Start("router-1", std::string(kRouterReadyPrefix), binaries.router, router_args);
  if (!router.ok()) return router.status();
  if (absl::Status s = cluster.WaitReady(**router, options.start_timeout); !s.ok()) {
    return s;
  }
  started.push_back(*router);
  const std::string ring_source = ReadyField(*(*router)->ready_line, "grpc");
  for (size_t i = 0; i < nodes->size(); ++i) {
    const std::string id = NodeId(static_cast<int>(i + 1));
    absl::StatusOr<Child*> node =
        cluster.Start(id, std::string(kNodeReadyPrefix), binaries.node,
                      {"--node_id=" + id, "--http_listen=" + (*nodes)[i].first,
                       "--grpc_listen=" + (*nodes)[i].second, "--ring_source=" + ring_source});
    if (!node.ok()) return node.status();
    if (absl::Status s = cluster.WaitReady(**node, options.start_timeout); !s.ok()) {
      return s;
    }
    started.push_back(*node);
  }
  return started;
}

absl::StatusOr<std::string> SelfPath() {
  std::error_code error;
  std::filesystem::path path = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return absl::InternalError("cannot read /proc/self/exe: " + error.message());
  return path.string();
}

bool IsExecutable(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error) && access(path.c_str(), X_OK) == 0;
}

// `name` in the first of `dirs` that has it.
absl::StatusOr<std::string> FindBinary(std::string_view name,
                                       const std::vector<std::filesystem::path>& dirs) {
  std::vector<std::string> tried;
  for (const std::filesystem::path& dir : dirs) {
    const std::filesystem::path path = (dir / name).lexically_normal();
    if (IsExecutable(path)) return path.string();
    tried.push_back(path.string());
  }
  return absl::NotFoundError(absl::StrCat("no executable ", std::string(name), " (looked at ",
                                          absl::StrJoin(tried, ", "),
                                          "); build it, or point --bin_dir at it"));
}

}  // namespace

absl::Status ValidateUp(const UpOptions& options) {
  if (options.nodes < 1 || options.nodes > kMaxNodes) {
    return absl::InvalidArgumentError(absl::StrCat("--nodes must be 1..", kMaxNodes));
  }
  for (const auto& [flag, port] :
       {std::pair{"--http_port", options.http_port}, std::pair{"--grpc_port", options.grpc_port}}) {
    if (port < 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(flag, " must be 0..65535"));
    }
    if (!options.state_dir.empty() && (port == 0 || port + options.nodes > 65535)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--state_dir needs a fixed ", flag, " with room for the nodes' ports after it (1..",
          65535 - options.nodes, ")"));
    }
  }
  if (options.start_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--start_timeout_ms must be > 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<UpBinaries> FindUpBinaries(std::string_view bin_dir, std::string_view self_path) {
  std::vector<std::filesystem::path> router_dirs;
  std::vector<std::filesystem::path> node_dirs;
  if (!bin_dir.empty()) {
    router_dirs = node_dirs = {std::filesystem::path(bin_dir)};
  } else {
    const std::filesystem::path self_dir = std::filesystem::path(self_path).parent_path();
    router_dirs = {self_dir, self_dir / ".." / "router"};
    node_dirs = {self_dir, self_dir / ".." / "node"};
  }
  UpBinaries binaries;
  absl::StatusOr<std::string> router = FindBinary("ringcast-router", router_dirs);
  if (!router.ok()) return router.status();
  absl::StatusOr<std::string> node = FindBinary("ringcast-node", node_dirs);
  if (!node.ok()) return node.status();
  return UpBinaries{*std::move(router), *std::move(node)};
}

int RunUp(const UpOptions& options, std::ostream& out, std::ostream& err) {
  if (absl::Status valid = ValidateUp(options); !valid.ok()) {
    err << "ringcast up: " << valid.message() << " (see `ringcast up --help`)\n";
    return kExitUsage;
  }
  absl::StatusOr<std::string> self = SelfPath();
  if (!self.ok()) {
    err << "ringcast up: " << self.status().message() << "\n";
    return kExitFailure;
  }
  absl::StatusOr<UpBinaries> binaries = FindUpBinaries(options.bin_dir, *self);
  if (!binaries.ok()) {
    err << "ringcast up: " << binaries.status().message() << "\n";
    return kExitFailure;
  }
  absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Create(out);
  if (!cluster.ok()) {
    err << "ringcast up: " << cluster.status().message() << "\n";
    return kExitFailure;
  }
  absl::StatusOr<std::vector<const Child*>> children = StartCluster(options, *binaries, **cluster);
  absl::Status ended = children.ok() ? absl::OkStatus() : children.status();
  if (children.ok()) {
    PrintBanner(options, *children, out);
    ended = (*cluster)->Watch();
  }
  if (!ended.ok() && !absl::IsCancelled(ended)) {
    err << "ringcast up: " << ended.message() << "; stopping the others\n" << std::flush;
  }
  (*cluster)->StopAll(options.stop_grace);
  return ended.ok() || absl::IsCancelled(ended) ? kExitOk : kExitFailure;
}

}  // namespace ringcast::cli
