// process_test.cc — the child-process launcher (tests/support/process.h) with real children:
// /bin/sh scripts that print ready lines, exit with codes, ignore SIGTERM or flood stdout, and a
// fake ringcast-node script for StartNodeBinary. No sleeps: every wait is on the child itself.
#include "tests/support/process.h"

#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace ringcast::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr absl::Duration kWait = absl::Seconds(10);

std::unique_ptr<ChildProcess> StartShell(const std::string& script) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start("/bin/sh", {"-c", script});
  EXPECT_THAT(child, IsOk());
  return child.ok() ? *std::move(child) : nullptr;
}

// Writes an executable /bin/sh script into the test's temporary directory; returns its path.
std::string WriteScript(const std::string& name, const std::string& body) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", name, "_", getpid(), ".sh");
  {
    std::ofstream out(path, std::ios::trunc);
    out << "#!/bin/sh\n" << body << "\n";
  }
  EXPECT_EQ(chmod(path.c_str(), 0755), 0);
  return path;
}

// Given a child that prints a ready line between other lines, expect WaitForLine to return it
// whole, with the child's pid in it.
TEST(ChildProcess, WaitForLineReturnsTheReadyLine) {
  std::unique_ptr<ChildProcess> child = StartShell(
      "echo starting; echo \"ringcast-node ready node_id=a http=127.0.0.1:1 pid=$$\"; "
      "echo after; exec sleep 60");
  ASSERT_NE(child, nullptr);
  absl::StatusOr<std::string> line = child->WaitForLine("ringcast-node ready", kWait);
  ASSERT_THAT(line, IsOk());
  EXPECT_EQ(*line,
            absl::StrCat("ringcast-node ready node_id=a http=127.0.0.1:1 pid=", child->pid()));
}

// Given lines "x 1", "y", "x 2", expect two waits for "x" to return both, in order; "y" stays
// skipped once a later line was returned.
TEST(ChildProcess, LinesAreConsumedInOrder) {
  std::unique_ptr<ChildProcess> child = StartShell("echo 'x 1'; echo y; printf 'x 2\\r\\n'");
  ASSERT_NE(child, nullptr);
  EXPECT_THAT(child->WaitForLine("x", kWait), IsOkAndHolds(std::string("x 1")));
  EXPECT_THAT(child->WaitForLine("x", kWait), IsOkAndHolds(std::string("x 2")));
  EXPECT_THAT(child->WaitForLine("y", kWait), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(child->Wait(kWait), IsOkAndHolds(0));
}

TEST(ChildProcess, ReadsAnUnterminatedLastLine) {
  std::unique_ptr<ChildProcess> child = StartShell("printf 'no newline'");
  ASSERT_NE(child, nullptr);
  EXPECT_THAT(child->WaitForLine("no", kWait), IsOkAndHolds(std::string("no newline")));
}

TEST(ChildProcess, PassesArgumentsVerbatim) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(
      "/bin/sh", {"-c", "printf '%s|%s|%s\\n' \"$0\" \"$1\" \"$2\"", "zero", "a b", "c\"d$x"});
  ASSERT_THAT(child, IsOk());
  EXPECT_THAT((*child)->WaitForLine("", kWait), IsOkAndHolds(std::string("zero|a b|c\"d$x")));
}

// stderr is inherited (it shows in the test log), not mixed into the captured stdout.
TEST(ChildProcess, CapturesStdoutOnly) {
  std::unique_ptr<ChildProcess> child = StartShell("echo to-stderr >&2; echo to-stdout");
  ASSERT_NE(child, nullptr);
  EXPECT_THAT(child->Wait(kWait), IsOkAndHolds(0));
  EXPECT_THAT(child->WaitForLine("to-", kWait), IsOkAndHolds(std::string("to-stdout")));
  EXPECT_EQ(child->output(), "to-stdout\n");
}

TEST(ChildProcess, WaitReturnsTheExitCode) {
  std::unique_ptr<ChildProcess> child = StartShell("exit 3");
  ASSERT_NE(child, nullptr);
  EXPECT_THAT(child->Wait(kWait), IsOkAndHolds(3));
  EXPECT_TRUE(child->reaped());
  EXPECT_THAT(child->Wait(kWait), IsOkAndHolds(3));  // the same answer again
}

// Given a child that ends on SIGTERM, expect 128 + SIGTERM; after that, signals are refused.
TEST(ChildProcess, WaitReportsTheSignalThatEndedTheChild) {
  std::unique_ptr<ChildProcess> child = StartShell("echo ready; exec sleep 60");
  ASSERT_NE(child, nullptr);
  ASSERT_THAT(child->WaitForLine("ready", kWait), IsOk());
  ASSERT_THAT(child->Signal(SIGTERM), IsOk());
  EXPECT_THAT(child->Wait(kWait), IsOkAndHolds(128 + SIGTERM));
  EXPECT_THAT(child->Signal(SIGTERM), StatusIs(absl::StatusCode::kFailedPrecondition));
}

// Given a child that ignores SIGTERM, expect Wait to time out with it still running, and the
// destructor to kill and reap it.
TEST(ChildProcess, DestructorKillsAChildThatIgnoresSigterm) {
  std::unique_ptr<ChildProcess> child = StartShell("trap '' TERM; echo ready; exec sleep 60");
  ASSERT_NE(child, nullptr);
  ASSERT_THAT(child->WaitForLine("ready", kWait), IsOk());
  ASSERT_THAT(child->Signal(SIGTERM), IsOk());
  EXPECT_THAT(child->Wait(absl::Milliseconds(200)),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("still running")));
  const int pid = child->pid();
  EXPECT_EQ(kill(pid, 0), 0);
  child.reset();
  EXPECT_EQ(kill(pid, 0), -1);  // reaped: the PID no longer exists
  EXPECT_EQ(errno, ESRCH);
}

// Given a grandchild that keeps the stdout pipe open, expect the destructor not to hang.
TEST(ChildProcess, DestructorReturnsWhileAGrandchildHoldsStdout) {
  std::unique_ptr<ChildProcess> child = StartShell("sleep 60 & echo \"grandchild $!\"; wait");
  ASSERT_NE(child, nullptr);
  absl::StatusOr<std::string> line = child->WaitForLine("grandchild ", kWait);
  ASSERT_THAT(line, IsOk());
  child.reset();
  kill(std::stoi(line->substr(11)), SIGKILL);  // the orphan sleep, now a child of init
}

TEST(ChildProcess, WaitForLineTimesOutWithTheOutputSoFar) {
  std::unique_ptr<ChildProcess> child = StartShell("echo hello; exec sleep 60");
  ASSERT_NE(child, nullptr);
  EXPECT_THAT(
      child->WaitForLine("never", absl::Milliseconds(100)),
      StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("its stdout so far:\nhello\n")));
}

// Given a child that exits without the line, expect NOT_FOUND (at once, not after 10 minutes).
TEST(ChildProcess, WaitForLineFailsWhenTheChildExits) {
  std::unique_ptr<ChildProcess> child = StartShell("echo crashed; exit 1");
  ASSERT_NE(child, nullptr);
  EXPECT_THAT(child->WaitForLine("ready", absl::Minutes(10)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("crashed")));
}

// Given a child that writes 1 MB (far over a pipe's 64 KiB) and never waits for a reader,
// expect it to finish: the launcher drains stdout in the background.
TEST(ChildProcess, DrainsStdoutSoAChattyChildNeverBlocks) {
  std::unique_ptr<ChildProcess> child = StartShell(
      "i=0; while [ $i -lt 20000 ]; do "
      "echo 'line of fifty bytes ...............................'; "
      "i=$((i+1)); done; echo done");
  ASSERT_NE(child, nullptr);
  EXPECT_THAT(child->Wait(absl::Seconds(60)), IsOkAndHolds(0));
  EXPECT_THAT(child->WaitForLine("done", kWait), IsOk());
  EXPECT_GT(child->output().size(), 1'000'000u);
}

TEST(ChildProcess, StartFailsForAMissingBinary) {
  EXPECT_THAT(ChildProcess::Start("/nonexistent/ringcast-node", {}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/ringcast-node")));
}

TEST(ChildProcess, StartFailsForANonExecutableFile) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/not_executable_", getpid());
  std::ofstream(path) << "data\n";
  EXPECT_THAT(ChildProcess::Start(path, {}), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(ParseReadyLine, SplitsKeyValueTokens) {
  EXPECT_THAT(ParseReadyLine("ringcast-node ready node_id=n1 http=127.0.0.1:40711 "
                             "grpc=[::1]:40712 pid=4242"),
              ElementsAre(Pair("grpc", "[::1]:40712"), Pair("http", "127.0.0.1:40711"),
                          Pair("node_id", "n1"), Pair("pid", "4242")));
}

TEST(ParseReadyLine, EdgeCases) {
  EXPECT_TRUE(ParseReadyLine("").empty());
  EXPECT_TRUE(ParseReadyLine("ringcast-node ready").empty());
  EXPECT_TRUE(ParseReadyLine("=x").empty());
  EXPECT_THAT(ParseReadyLine("  a=1\tb=  c==2 a=3 d="),
              ElementsAre(Pair("a", "3"), Pair("b", ""), Pair("c", "=2"), Pair("d", "")));
}

TEST(ParseHostPort, AcceptsPortsAndRejectsTheRest) {
  EXPECT_THAT(ParseHostPort("127.0.0.1:40711"), IsOkAndHolds(40711));
  EXPECT_THAT(ParseHostPort("[::1]:1"), IsOkAndHolds(1));
  EXPECT_THAT(ParseHostPort("localhost:65535"), IsOkAndHolds(65535));
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:+80", "127.0.0.1:8o", "::1:80", "127.0.0.1:-1"}) {
    EXPECT_THAT(ParseHostPort(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

// Given a fake node that echoes its flags and reports ready, expect the loopback port-0 flags
// before the extra ones, and the reported addresses parsed.
TEST(StartNodeBinary, ParsesTheReadyLine) {
  const std::string fake =
      WriteScript("fake_node",
                  "echo \"flags: $*\"\n"
                  "echo \"ringcast-node ready node_id=fake-1 http=127.0.0.1:4242 "
                  "grpc=[::1]:4343 pid=$$\"\n"
                  "exec sleep 60");
  absl::StatusOr<NodeProcess> node = StartNodeBinary(fake, {"--node_id=fake-1", "--x=y"});
  ASSERT_THAT(node, IsOk());
  EXPECT_EQ(node->node_id, "fake-1");
  EXPECT_EQ(node->http_address, "127.0.0.1:4242");
  EXPECT_EQ(node->http_port, 4242);
  EXPECT_EQ(node->grpc_address, "[::1]:4343");
  EXPECT_EQ(node->grpc_port, 4343);
  EXPECT_THAT(node->ready_line, HasSubstr("node_id=fake-1"));
  EXPECT_THAT(node->process->output(),
              HasSubstr("flags: --http_listen=127.0.0.1:0 --grpc_listen=127.0.0.1:0 "
                        "--node_id=fake-1 --x=y\n"));
}

TEST(StartNodeBinary, FailsWhenTheNodeExitsBeforeReady) {
  const std::string fake = WriteScript("fake_node_dies", "echo 'bad flag --x'; exit 2");
  EXPECT_THAT(StartNodeBinary(fake, {"--x"}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("bad flag --x")));
}

TEST(StartNodeBinary, RejectsAReadyLineFromAnotherPid) {
  const std::string fake =
      WriteScript("fake_node_pid",
                  "echo 'ringcast-node ready node_id=a http=127.0.0.1:1 grpc=127.0.0.1:2 "
                  "pid=1'; exec sleep 60");
  EXPECT_THAT(StartNodeBinary(fake, {}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("the child's pid is")));
}

TEST(StartNodeBinary, RejectsAReadyLineWithPortZero) {
  const std::string fake = WriteScript("fake_node_port",
                                       "echo \"ringcast-node ready node_id=a http=127.0.0.1:0 "
                                       "grpc=127.0.0.1:2 pid=$$\"; exec sleep 60");
  EXPECT_THAT(StartNodeBinary(fake, {}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("1..65535")));
}

}  // namespace
}  // namespace ringcast::testing
