// cli_ring_test.cc — `ringcast ring show|add|remove` (RunRingShow/Add/Remove) against a real
// ringcast-router on loopback, seeded with --seed_nodes for three nodes that need not run: the
// table and JSON of `show`, the version and moves printed by `add`/`remove`, and the router's
// refusals (unknown node, duplicate, last node, stale expected version) with the ring unchanged.
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "cli/ring.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/router/router_fixture.h"
#include "tests/support/status_matchers.h"

namespace ringcast::cli {
namespace {

using ::ringcast::testing::ClusterStub;
using ::ringcast::testing::FreeLoopbackPort;
using ::ringcast::testing::IsOk;
using ::ringcast::testing::RouterProcess;
using ::ringcast::testing::StartRouter;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr uint32_t kPartitions = 1024;

// node-1..node-3 at addresses nobody listens on: the ring only names them.
constexpr char kSeedNodes[] =
    "--seed_nodes=node-1=127.0.0.1:1=127.0.0.1:2,node-2=127.0.0.1:3=127.0.0.1:4,"
    "node-3=127.0.0.1:5=127.0.0.1:6";

// One row of the `ring show` table, split at its column gaps.
struct TableRow {
  std::string node;
  uint32_t partitions = 0;
  std::string share;
  std::string health;
};

// The rows after the header line "NODE ...".
std::vector<TableRow> ParseTable(const std::string& table) {
  std::vector<TableRow> rows;
  bool header_seen = false;
  for (absl::string_view line : absl::StrSplit(table, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "NODE ")) {
      header_seen = true;
      continue;
    }
    if (!header_seen) continue;
    const std::vector<std::string> cells = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (cells.size() < 7) continue;
    TableRow row{cells[0], 0, cells[5], cells[6]};
    if (!absl::SimpleAtoi(cells[4], &row.partitions)) row.partitions = 0;
    rows.push_back(row);
  }
  return rows;
}

// The commands' verbs against a router the fixture starts with three seed nodes.
class RingCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<RouterProcess> router =
        StartRouter({absl::StrCat("--partition_count=", kPartitions), kSeedNodes});
    ASSERT_THAT(router, IsOk());
    router_ = *std::move(router);
  }

  RouterCallOptions Call() const {
    RouterCallOptions call;
    call.router = router_.grpc_address;
    return call;
  }

  int Show(OutputFormat format = OutputFormat::kText) {
    RingShowOptions options;
    options.call = Call();
    options.format = format;
    return Run([&] { return RunRingShow(options, out_, err_); });
  }

  int Add(std::string id, std::string http, std::string grpc, uint64_t expected_version = 0) {
    RingAddOptions options;
    options.call = Call();
    options.member = {std::move(id), 0, std::move(http), std::move(grpc), ""};
    options.expected_version = expected_version;
    return Run([&] { return RunRingAdd(options, out_, err_); });
  }

  int Remove(std::string id, uint64_t expected_version = 0) {
    RingRemoveOptions options;
    options.call = Call();
    options.id = std::move(id);
    options.expected_version = expected_version;
    return Run([&] { return RunRingRemove(options, out_, err_); });
  }

  // The router's current ring version, read with GetRing.
  uint64_t Version() const {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::RingSnapshot ring;
    grpc::Status status = ClusterStub(router_.grpc_address)->GetRing(&context, {}, &ring);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return ring.version();
  }

  template <typename F>
  int Run(F command) {
    out_.str("");
    err_.str("");
    return command();
  }

  RouterProcess router_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(RingCommandTest, ShowListsEveryNodeWithPartitionsSummingToQ) {
  // Given a fresh ring of three equal nodes, expect version 1, Q, and three rows whose
  // partitions add up to Q, each about a third of the keyspace, none reported healthy yet.
  ASSERT_EQ(Show(), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("ring version 1, 1024 partitions, 3 nodes"));
  EXPECT_THAT(out_.str(), AllOf(HasSubstr("127.0.0.1:3"), HasSubstr("127.0.0.1:4")));
  const std::vector<TableRow> rows = ParseTable(out_.str());
  std::vector<std::string> nodes;
  uint32_t total = 0;
  for (const TableRow& row : rows) {
    nodes.push_back(row.node);
    total += row.partitions;
    EXPECT_THAT(row.share, ::testing::StartsWith("33.")) << row.node;
    EXPECT_NE(row.health, "SERVING") << row.node;  // nothing runs at these addresses
  }
  EXPECT_THAT(nodes, UnorderedElementsAre("node-1", "node-2", "node-3"));
  EXPECT_EQ(total, kPartitions);
}

TEST_F(RingCommandTest, ShowAsJsonHasTheRingAndHealth) {
  // Given --format=json, expect one object with the snapshot (proto field names) and health.
  ASSERT_EQ(Show(OutputFormat::kJson), 0) << err_.str();
  EXPECT_THAT(out_.str(),
              AllOf(::testing::StartsWith("{\"ring\":{"), HasSubstr("\"partition_count\":1024"),
                    HasSubstr("\"version\":\"1\""), HasSubstr("\"id\":\"node-2\""),
                    HasSubstr("\"health\":{")));
}

TEST_F(RingCommandTest, AddPrintsTheNewVersionAndMovesThenShowHasTheNode) {
  // Given node-4 added to three equal nodes (Q = 1024), expect version 2 and exactly a quarter
  // of the partitions moved to node-4; `show` then lists four nodes at version 2.
  ASSERT_EQ(Add("node-4", "127.0.0.1:7", "127.0.0.1:8"), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("added node-4: ring version 1 -> 2, 256 of 1024 partitions "
                                    "moved (25.00%)"));
  EXPECT_THAT(out_.str(), HasSubstr("-> node-4"));
  EXPECT_THAT(err_.str(), IsEmpty());

  ASSERT_EQ(Show(), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("ring version 2, 1024 partitions, 4 nodes"));
  uint32_t total = 0;
  for (const TableRow& row : ParseTable(out_.str())) {
    total += row.partitions;
    if (row.node == "node-4") {
      EXPECT_EQ(row.partitions, 256u);
    }
  }
  EXPECT_EQ(total, kPartitions);
}

TEST_F(RingCommandTest, AddOfADuplicateFailsAndKeepsTheVersion) {
  // Given an id or address already in the ring, expect exit 1 with ALREADY_EXISTS and version 1.
  EXPECT_EQ(Add("node-2", "127.0.0.1:7", "127.0.0.1:8"), 1);
  EXPECT_THAT(err_.str(),
              AllOf(HasSubstr("ringcast ring add: ALREADY_EXISTS"), HasSubstr("node-2")));
  EXPECT_EQ(Add("node-4", "127.0.0.1:1", "127.0.0.1:8"), 1);
  EXPECT_THAT(err_.str(), HasSubstr("ALREADY_EXISTS"));
  EXPECT_THAT(out_.str(), IsEmpty());
  EXPECT_EQ(Version(), 1u);
}

TEST_F(RingCommandTest, RemoveOfAnUnknownNodeFailsAndKeepsTheVersion) {
  // Given a node id not in the ring, expect exit 1, NOT_FOUND naming it, version still 1.
  EXPECT_EQ(Remove("node-9"), 1);
  EXPECT_THAT(err_.str(), AllOf(HasSubstr("ringcast ring remove: NOT_FOUND"), HasSubstr("node-9")));
  EXPECT_THAT(out_.str(), IsEmpty());
  EXPECT_EQ(Version(), 1u);
}

TEST_F(RingCommandTest, RemovingDownToTheLastNodeThenTheLastFails) {
  // Given node-1 and node-2 removed (each a new version, its partitions moved to the others),
  // expect removing node-3, the last member, to fail with FAILED_PRECONDITION at version 3.
  ASSERT_EQ(Remove("node-1"), 0) << err_.str();
  EXPECT_THAT(out_.str(), AllOf(HasSubstr("removed node-1: ring version 1 -> 2"),
                                HasSubstr("node-1 -> node-2"), HasSubstr("node-1 -> node-3")));
  ASSERT_EQ(Remove("node-2"), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("removed node-2: ring version 2 -> 3"));

  EXPECT_EQ(Remove("node-3"), 1);
  EXPECT_THAT(err_.str(), HasSubstr("ringcast ring remove: FAILED_PRECONDITION"));
  EXPECT_EQ(Version(), 3u);
  ASSERT_EQ(Show(), 0) << err_.str();
  ASSERT_EQ(ParseTable(out_.str()).size(), 1u);
  EXPECT_EQ(ParseTable(out_.str())[0].partitions, kPartitions);
}

TEST_F(RingCommandTest, AStaleExpectedVersionChangesNothing) {
  // Given --expected_version=7 while the ring is at 1, expect FAILED_PRECONDITION, version 1.
  EXPECT_EQ(Add("node-4", "127.0.0.1:7", "127.0.0.1:8", /*expected_version=*/7), 1);
  EXPECT_THAT(err_.str(), HasSubstr("FAILED_PRECONDITION"));
  EXPECT_EQ(Remove("node-1", /*expected_version=*/7), 1);
  EXPECT_THAT(err_.str(), HasSubstr("FAILED_PRECONDITION"));
  EXPECT_EQ(Version(), 1u);
  // The current version is accepted.
  EXPECT_EQ(Remove("node-1", /*expected_version=*/1), 0) << err_.str();
}

TEST_F(RingCommandTest, AMissingRequiredFlagIsAUsageErrorAndSendsNothing) {
  // Given add without --grpc, or remove without --id, expect exit 2 naming the flag.
  EXPECT_EQ(Add("node-4", "127.0.0.1:7", ""), 2);
  EXPECT_THAT(err_.str(), HasSubstr("--grpc"));
  EXPECT_EQ(Remove(""), 2);
  EXPECT_THAT(err_.str(), HasSubstr("--id"));
  EXPECT_EQ(Version(), 1u);
}

TEST(RingCommandUnreachableTest, NoRouterIsAnErrorNamingIt) {
  // Given a port nobody listens on, expect exit 1 with UNAVAILABLE.
  absl::StatusOr<int> port = FreeLoopbackPort();
  ASSERT_THAT(port, IsOk());
  RingShowOptions options;
  options.call.router = absl::StrCat("127.0.0.1:", *port);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunRingShow(options, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("ringcast ring show: UNAVAILABLE"));
  EXPECT_THAT(out.str(), IsEmpty());
}

}  // namespace
}  // namespace ringcast::cli
