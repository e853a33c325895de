// node_smoke_test.cc — StartNode() against the real ringcast-node, when the build names one
// (RINGCAST_NODE_BINARY on ringcast_test_support); skipped otherwise. Given a node started on
// port 0, expect its /healthz to answer 200 and SIGTERM to stop it with exit code 0.
#include <signal.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/status_matchers.h"

namespace ringcast::testing {
namespace {

TEST(StartNode, ServesHealthzAndStopsOnSigterm) {
  if (!NodeBinaryPath().has_value()) {
    EXPECT_THAT(StartNode({}), StatusIs(absl::StatusCode::kFailedPrecondition));
    GTEST_SKIP() << "built without RINGCAST_NODE_BINARY";
  }
  absl::StatusOr<NodeProcess> node = StartNode({});
  ASSERT_THAT(node, IsOk());
  EXPECT_GT(node->http_port, 0);
  EXPECT_GT(node->grpc_port, 0);
  absl::StatusOr<HttpResponse> health = HttpGet(node->http_address, "/healthz");
  ASSERT_THAT(health, IsOk());
  EXPECT_EQ(health->status, 200);
  ASSERT_THAT(node->process->Signal(SIGTERM), IsOk());
  EXPECT_THAT(node->process->Wait(absl::Seconds(30)), IsOkAndHolds(0));
}

}  // namespace
}  // namespace ringcast::testing
