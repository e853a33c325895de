// server_main.cc — config files, stop signals and the ready line of the server binaries (see
// server_main.h).
#include "sse/server_main.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace ringcast::sse {
namespace {

// Collects the text-format parser's errors into one message.
class ErrorCollector final : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    absl::StrAppend(&errors_, errors_.empty() ? "" : "; ", "line ", line + 1, ":", column + 1,
                    ": ", message);
  }
  const std::string& errors() const { return errors_; }

 private:
  std::string errors_;
};

// Written by the SIGTERM/SIGINT handler (one byte: the signal number), read by
// WaitForStopSignal().
int g_stop_pipe[2] = {-1, -1};

void OnStopSignal(int signal_number) {
  const auto byte = static_cast<unsigned char>(signal_number);
  [[maybe_unused]] const ssize_t written = write(g_stop_pipe[1], &byte, 1);
}

}  // namespace

absl::Status ReadConfigFile(const std::string& path, google::protobuf::Message& message) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open config file ", path));
  std::stringstream text;
  text << in.rdbuf();
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text.str(), &message)) {
    return absl::InvalidArgumentError(absl::StrCat("config file ", path, ": ", errors.errors()));
  }
  return absl::OkStatus();
}

void SkipMutexDeadlockDetectionWhenOptimised() {
#ifdef NDEBUG
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
}

absl::Status CatchStopSignals() {
  // NOTE: a handler rather than a blocked mask and sigwait: a thread that a library starts
  // before main (or with its own mask) could otherwise take SIGTERM with the default action.
  if (pipe(g_stop_pipe) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  struct sigaction on_stop = {};
  on_stop.sa_handler = OnStopSignal;
  sigemptyset(&on_stop.sa_mask);
  sigaction(SIGTERM, &on_stop, nullptr);
  sigaction(SIGINT, &on_stop, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return absl::OkStatus();
}

int WaitForStopSignal() {
  unsigned char received = 0;
  while (read(g_stop_pipe[0], &received, 1) < 0 && errno == EINTR) {
  }
  return received;
}

void PrintReadyLine(std::string_view binary, std::string_view id_name, std::string_view id,
                    std::string_view http, std::string_view grpc) {
  const std::string line =
      absl::StrCat(std::string(binary), " ready ", std::string(id_name), "=", std::string(id),
                   " http=", std::string(http), " grpc=", std::string(grpc), " pid=", getpid(),
                   "\n");
  std::fputs(line.c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace ringcast::sse
