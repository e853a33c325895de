// process.cc — fork/exec of test children, their stdout reader thread, reaping, and the ready
// line of ringcast-node. Thread safety: see process.h.
#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ringcast::testing {
namespace {

// How much of the child's output error messages quote.
constexpr size_t kOutputTailBytes = 2000;

absl::Status ErrnoStatus(int error, std::string_view what) {
  return absl::Status(absl::ErrnoToStatusCode(error),
                      absl::StrCat(std::string(what), ": ", std::strerror(error)));
}

void CloseFd(int fd) {
  if (fd >= 0) close(fd);
}

// Milliseconds left until `deadline` for poll(), rounded up, capped at `cap_ms`; 0 when past.
int PollMillis(absl::Time deadline, int cap_ms) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)));
  return ms > cap_ms ? cap_ms : static_cast<int>(ms);
}

// Everything the child does between fork and exec must be async-signal-safe: the parent may
// have other threads (holding malloc's lock, for example). So this only makes system calls on
// data prepared before fork.
[[noreturn]] void RunChild(pid_t parent, int stdout_fd, int error_fd, const char* binary,
                           char* const* argv) {
  // Die with the test even when it is SIGKILLed (ctest timeout); see NOTE in process.h.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the parent died before prctl
  int error = 0;
  if (stdout_fd == STDOUT_FILENO) {
    if (fcntl(stdout_fd, F_SETFD, 0) != 0) error = errno;  // dup2 would not clear CLOEXEC
  } else if (dup2(stdout_fd, STDOUT_FILENO) < 0) {
    error = errno;
  }
  if (error == 0) {
    // Defaults for every signal: the test runner may block or ignore some, and a child inherits
    // both (ignored signals even across exec).
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction action;
    std::memset(&action, 0, sizeof(action));
    action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &action, nullptr);
    }
    // Descriptors the test process opened without O_CLOEXEC must not leak into the child
    // (a leaked socket would keep a peer's connection open).
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    execv(binary, argv);
    error = errno;
  }
  ssize_t ignored = write(error_fd, &error, sizeof(error));
  (void)ignored;
  _exit(127);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(std::string binary,
                                                                  std::vector<std::string> args) {
  std::vector<std::string> arg_storage;
  arg_storage.reserve(args.size() + 1);
  arg_storage.push_back(binary);
  for (std::string& arg : args) arg_storage.push_back(std::move(arg));
  std::vector<char*> argv;
  for (std::string& arg : arg_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe2 for the child's stdout");
  int exec_error[2];
  if (pipe2(exec_error, O_CLOEXEC) != 0) {
    const int error = errno;
    CloseFd(out[0]);
    CloseFd(out[1]);
    return ErrnoStatus(error, "pipe2 for exec errors");
  }
  const int stop_fd = eventfd(0, EFD_CLOEXEC);
  if (stop_fd < 0) {
    const int error = errno;
    for (int fd : {out[0], out[1], exec_error[0], exec_error[1]}) CloseFd(fd);
    return ErrnoStatus(error, "eventfd");
  }

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) RunChild(parent, out[1], exec_error[1], binary.c_str(), argv.data());
  const int fork_error = errno;
  CloseFd(out[1]);
  CloseFd(exec_error[1]);
  if (pid < 0) {
    CloseFd(out[0]);
    CloseFd(exec_error[0]);
    CloseFd(stop_fd);
    return ErrnoStatus(fork_error, "fork");
  }

  // exec closes the CLOEXEC write end, so EOF here means the exec succeeded.
  int child_error = 0;
  ssize_t n;
  do {
    n = read(exec_error[0], &child_error, sizeof(child_error));
  } while (n < 0 && errno == EINTR);
  CloseFd(exec_error[0]);
  if (n == static_cast<ssize_t>(sizeof(child_error))) {
    int wait_status;
    while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
    }
    CloseFd(out[0]);
    CloseFd(stop_fd);
    return ErrnoStatus(child_error, absl::StrCat("cannot start ", binary));
  }

  // A pidfd lets Wait() block in poll() until the child ends; without one it polls waitpid.
  const int pid_fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, out[0], stop_fd, pid_fd));
}

ChildProcess::ChildProcess(int pid, int stdout_fd, int stop_fd, int pid_fd)
    : pid_(pid), stdout_fd_(stdout_fd), stop_fd_(stop_fd), pid_fd_(pid_fd) {
  reader_ = std::thread([this] { ReadStdout(); });
}

ChildProcess::~ChildProcess() {
  if (!exit_status_.has_value()) {
    // Not reaped yet, so pid_ is still our child (a zombie keeps its PID).
    kill(pid_, SIGKILL);
    int wait_status;
    pid_t r;
    do {
      r = waitpid(pid_, &wait_status, 0);
    } while (r < 0 && errno == EINTR);
    if (r == pid_) Reap(wait_status);
  }
  // The reader may still be blocked: a grandchild can hold the stdout pipe open.
  const uint64_t one = 1;
  ssize_t ignored = write(stop_fd_, &one, sizeof(one));
  (void)ignored;
  reader_.join();
  CloseFd(stdout_fd_);
  CloseFd(stop_fd_);
  CloseFd(pid_fd_);
}

void ChildProcess::ReadStdout() {
  char buffer[64 * 1024];
  while (true) {
    pollfd fds[2] = {{stdout_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    const ssize_t n = read(stdout_fd_, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    absl::MutexLock lock(&mu_);
    if (n <= 0) break;
    output_.append(buffer, static_cast<size_t>(n));
    cv_.SignalAll();
  }
  absl::MutexLock lock(&mu_);
  eof_ = true;
  cv_.SignalAll();
}

std::string ChildProcess::output() const {
  absl::MutexLock lock(&mu_);
  return output_;
}

std::string ChildProcess::OutputTail() const {
  absl::MutexLock lock(&mu_);
  if (output_.size() <= kOutputTailBytes) return output_;
  return absl::StrCat("...", output_.substr(output_.size() - kOutputTailBytes));
}

absl::StatusOr<std::string> ChildProcess::WaitForLine(std::string_view prefix,
                                                      absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  bool ended = false;
  {
    absl::MutexLock lock(&mu_);
    size_t scan = consumed_;
    while (true) {
      // Complete lines, and at EOF also an unterminated last line.
      while (scan < output_.size()) {
        size_t end = output_.find('\n', scan);
        if (end == std::string::npos) {
          if (!eof_) break;
          end = output_.size();
        }
        std::string_view line(output_.data() + scan, end - scan);
        scan = end + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.substr(0, prefix.size()) == prefix) {
          consumed_ = scan;
          return std::string(line);
        }
      }
      if (eof_) {
        ended = true;
        break;
      }
      if (absl::Now() >= deadline) break;
      cv_.WaitWithDeadline(&mu_, deadline);
    }
  }
  const std::string where =
      absl::StrCat("pid ", pid_, " ", ended ? "closed its stdout" : "is still running",
                   "; its stdout so far:\n", OutputTail());
  if (ended) {
    return absl::NotFoundError(
        absl::StrCat("no line starting with \"", std::string(prefix), "\": ", where));
  }
  return absl::DeadlineExceededError(absl::StrCat("no line starting with \"", std::string(prefix),
                                                  "\" within ", absl::FormatDuration(timeout), ": ",
                                                  where));
}

absl::Status ChildProcess::Signal(int sig) {
  if (exit_status_.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("pid ", pid_, " has already been reaped; not signalling it"));
  }
  if (kill(pid_, sig) != 0) {
    const int error = errno;
    return ErrnoStatus(error, absl::StrCat("kill(", pid_, ", ", sig, ")"));
  }
  return absl::OkStatus();
}

void ChildProcess::Reap(int wait_status) {
  if (WIFEXITED(wait_status)) {
    exit_status_ = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    exit_status_ = 128 + WTERMSIG(wait_status);
  } else {
    exit_status_ = 255;  // not reachable without WUNTRACED / WCONTINUED
  }
}

absl::StatusOr<int> ChildProcess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!exit_status_.has_value()) {
    int wait_status;
    const pid_t r = waitpid(pid_, &wait_status, WNOHANG);
    if (r == pid_) {
      Reap(wait_status);
      break;
    }
    if (r < 0 && errno != EINTR) {
      // ECHILD: someone else reaped it (SIGCHLD ignored?). Do not signal that PID again.
      const int error = errno;
      exit_status_ = 255;
      return ErrnoStatus(error, absl::StrCat("waitpid(", pid_, ")"));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("pid ", pid_, " still running after ", absl::FormatDuration(timeout)));
    }
    if (pid_fd_ >= 0) {
      pollfd fd = {pid_fd_, POLLIN, 0};
      poll(&fd, 1, PollMillis(deadline, 1000));
    } else {
      // No pidfd: a short bounded poll of waitpid.
      absl::SleepFor(std::min(absl::Milliseconds(2), deadline - absl::Now()));
    }
  }
  return *exit_status_;
}

std::map<std::string, std::string> ParseReadyLine(std::string_view line) {
  std::map<std::string, std::string> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t end = i;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
    const std::string_view token = line.substr(i, end - i);
    const size_t eq = token.find('=');
    if (eq != std::string_view::npos && eq > 0) {
      fields[std::string(token.substr(0, eq))] = std::string(token.substr(eq + 1));
    }
    i = end;
  }
  return fields;
}

absl::StatusOr<int> ParseHostPort(std::string_view host_port) {
  const size_t colon = host_port.rfind(':');
  const auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad host:port \"", std::string(host_port), "\": ", std::string(why)));
  };
  if (colon == std::string_view::npos || colon == 0) return invalid("no host:port");
  const std::string_view host = host_port.substr(0, colon);
  if (host.find(':') != std::string_view::npos && (host.front() != '[' || host.back() != ']')) {
    return invalid("an IPv6 host needs [brackets]");
  }
  const std::string_view digits = host_port.substr(colon + 1);
  int port = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() ||
      digits.front() == '+' || port < 1 || port > 65535) {
    return invalid("port is not 1..65535");
  }
  return port;
}

std::optional<std::string> NodeBinaryPath() {
#ifdef RINGCAST_NODE_BINARY
  return std::string(RINGCAST_NODE_BINARY);
#else
  return std::nullopt;
#endif
}

absl::StatusOr<NodeProcess> StartNodeBinary(std::string binary,
                                            std::vector<std::string> extra_flags,
                                            absl::Duration timeout) {
  std::vector<std::string> args = {"--http_listen=127.0.0.1:0", "--grpc_listen=127.0.0.1:0"};
  for (std::string& flag : extra_flags) args.push_back(std::move(flag));
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(binary, args);
  if (!child.ok()) return child.status();
  absl::StatusOr<std::string> line = (*child)->WaitForLine(kNodeReadyPrefix, timeout);
  if (!line.ok()) {
    return absl::Status(line.status().code(),
                        absl::StrCat(binary, " did not report ready: ", line.status().message()));
  }

  NodeProcess node;
  node.ready_line = *line;
  std::map<std::string, std::string> fields = ParseReadyLine(*line);
  const auto bad_line = [&](std::string_view why) {
    return absl::InternalError(
        absl::StrCat("bad ready line \"", *line, "\" from ", binary, ": ", std::string(why)));
  };
  for (const char* key : {"node_id", "http", "grpc", "pid"}) {
    if (fields[key].empty()) return bad_line(absl::StrCat("no ", key, "="));
  }
  if (fields["pid"] != absl::StrCat((*child)->pid())) {
    return bad_line(absl::StrCat("the child's pid is ", (*child)->pid()));
  }
  absl::StatusOr<int> http_port = ParseHostPort(fields["http"]);
  if (!http_port.ok()) return bad_line(std::string(http_port.status().message()));
  absl::StatusOr<int> grpc_port = ParseHostPort(fields["grpc"]);
  if (!grpc_port.ok()) return bad_line(std::string(grpc_port.status().message()));

  node.node_id = fields["node_id"];
  node.http_address = fields["http"];
  node.grpc_address = fields["grpc"];
  node.http_port = *http_port;
  node.grpc_port = *grpc_port;
  node.process = *std::move(child);
  return node;
}

absl::StatusOr<NodeProcess> StartNode(std::vector<std::string> extra_flags,
                                      absl::Duration timeout) {
  std::optional<std::string> binary = NodeBinaryPath();
  if (!binary.has_value()) {
    return absl::FailedPreconditionError(
        "this build has no ringcast-node binary (compile definition RINGCAST_NODE_BINARY)");
  }
  return StartNodeBinary(*std::move(binary), std::move(extra_flags), timeout);
}

}  // namespace ringcast::testing
