// subscribe_fixture.h — verbs for the tests of the router's subscribe side: a real router in
// front of three real nodes (router_fixture.h), publishing straight to each topic's owner with
// the client library, subscribing through the router over real HTTP, and reading the nodes'
// /metrics to see which node served what.
//
//   StartCluster({.router_flags = {"--mode=redirect"}});
//   Publish("orders/42", "hello");                     // to the owner named by the ring
//   std::unique_ptr<SseConnection> sub = SubscribeVia("/v1/topics/orders%2F42/events");
//
// Thread safety: used by the test's thread only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/publisher_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ring/ring.h"
#include "tests/router/router_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/status_matchers.h"

namespace ringcast::testing {

class RouterSubscribeTest : public ::testing::Test {
 protected:
  // Starts a router and three nodes from one ring file (version 1 on all of them).
  void StartCluster(RouterClusterOptions options = {}) {
    absl::StatusOr<RouterCluster> cluster = StartRouterCluster(
        ::testing::UnitTest::GetInstance()->current_test_info()->name(), std::move(options));
    ASSERT_THAT(cluster, IsOk());
    cluster_ = *std::move(cluster);
    absl::StatusOr<Ring> ring = Ring::Build(cluster_.members, cluster_.partition_count);
    ASSERT_THAT(ring, IsOk());
    ring_ = std::make_unique<Ring>(*std::move(ring));
    for (const NodeProcess& node : cluster_.nodes) {
      publishers_.push_back(std::make_unique<client::PublisherClient>(node.grpc_address));
    }
  }

  // The index in cluster_.nodes of the node the ring names for `topic`.
  size_t OwnerIndex(const std::string& topic) const {
    const std::string& id = ring_->Lookup(topic).id;
    for (size_t i = 0; i < cluster_.members.size(); ++i) {
      if (cluster_.members[i].id == id) return i;
    }
    return 0;
  }

  // The first "<prefix>-<i>" owned by node index `node`.
  std::string TopicOn(size_t node, const std::string& prefix = "topic") const {
    return TopicOwnedBy(*ring_, cluster_.members[node].id, prefix);
  }

  // Publishes one event to the topic's owner; returns its id.
  std::string Publish(const std::string& topic, const std::string& data,
                      const std::string& type = "") {
    absl::StatusOr<client::PublishResult> result = publishers_[OwnerIndex(topic)]->Publish(
        {.topic = topic, .type = type, .data = data, .deadline = absl::Now() + absl::Seconds(10)});
    EXPECT_THAT(result, IsOk()) << topic;
    return result.ok() ? result->event_id : "";
  }

  // GET `target` on `router` (the cluster's own when null) as an event stream.
  std::unique_ptr<SseConnection> SubscribeVia(const std::string& target, HttpHeaders headers = {},
                                              const RouterProcess* router = nullptr) {
    absl::StatusOr<std::unique_ptr<SseConnection>> connection =
        SseConnection::Open((router != nullptr ? router : &cluster_.router)->http_address,
                            target, std::move(headers), absl::Seconds(10));
    EXPECT_THAT(connection, IsOk()) << target;
    return connection.ok() ? *std::move(connection) : nullptr;
  }

  static std::string TopicPath(const std::string& topic) {
    return absl::StrCat("/v1/topics/", EncodeTopic(topic), "/events");
  }

  // Waits until `predicate(value of the node's metric)` holds; returns the last value.
  template <typename Predicate>
  double AwaitNodeMetric(size_t node, const std::string& name, Predicate predicate,
                         absl::Duration timeout = absl::Seconds(10)) {
    const absl::Time deadline = absl::Now() + timeout;
    double value = Metric(cluster_.nodes[node], name);
    while (!predicate(value) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
      value = Metric(cluster_.nodes[node], name);
    }
    return value;
  }

  // One sample of the router's /metrics (same exposition as a node's); -1 when absent.
  double RouterMetric(const std::string& name, const std::string& labels = "") {
    NodeProcess router_http;
    router_http.http_address = cluster_.router.http_address;
    return Metric(router_http, name, labels);
  }

  RouterCluster cluster_;
  std::unique_ptr<Ring> ring_;
  std::vector<std::unique_ptr<client::PublisherClient>> publishers_;  // per node
};

}  // namespace ringcast::testing
