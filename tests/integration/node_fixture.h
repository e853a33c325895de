// node_fixture.h — verbs for tests that run a real ringcast-node: start it on loopback port 0,
// publish through the client library, subscribe over real HTTP, read its /metrics.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/strings/str_split.h"
#include "client/publisher_client.h"
#include "sse/event.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/status_matchers.h"

namespace ringcast::testing {

class NodeTest : public ::testing::Test {
 protected:
  // Starts a node with `flags` added to the loopback listen flags.
  void StartNodeWith(std::vector<std::string> flags) {
    absl::StatusOr<NodeProcess> node = StartNode(std::move(flags));
    ASSERT_THAT(node, IsOk());
    node_ = *std::move(node);
    publisher_ = std::make_unique<client::PublisherClient>(node_.grpc_address);
  }

  // Publishes one event; returns its id.
  std::string Publish(const std::string& topic, const std::string& data,
                      const std::string& type = "") {
    absl::StatusOr<client::PublishResult> result =
        publisher_->Publish({.topic = topic, .type = type, .data = data});
    EXPECT_THAT(result, IsOk());
    return result.ok() ? result->event_id : "";
  }

  // Publishes data "1".."n"; returns the ids.
  std::vector<std::string> PublishNumbered(const std::string& topic, int n) {
    std::vector<std::string> ids;
    for (int i = 1; i <= n; ++i) ids.push_back(Publish(topic, std::to_string(i)));
    return ids;
  }

  std::unique_ptr<SseConnection> Subscribe(const std::string& topic, HttpHeaders headers = {},
                                           SseOptions options = {}) {
    absl::StatusOr<std::unique_ptr<SseConnection>> connection =
        SseConnection::Open(node_.http_address, absl::StrCat("/v1/topics/", topic, "/events"),
                            std::move(headers), absl::Seconds(10), options);
    EXPECT_THAT(connection, IsOk());
    return connection.ok() ? *std::move(connection) : nullptr;
  }

  // Reads events and expects their data to be first..last, in order.
  void ExpectNumbered(SseConnection& connection, int first, int last) {
    absl::StatusOr<std::vector<sse::ParsedEvent>> events =
        connection.NextN(static_cast<size_t>(last - first + 1), absl::Seconds(20));
    ASSERT_THAT(events, IsOk());
    for (int i = first; i <= last; ++i) {
      ASSERT_EQ((*events)[i - first].data, std::to_string(i)) << "event " << i;
    }
  }

  // The value of one sample of /metrics, e.g. Metric("ringcast_http_rejected_total",
  // "reason=\"method\""); -1 when absent.
  double Metric(const std::string& name, const std::string& labels = "") {
    absl::StatusOr<HttpResponse> response = HttpGet(node_.http_address, "/metrics");
    EXPECT_THAT(response, IsOk());
    if (!response.ok()) return -1;
    const std::string key = labels.empty() ? name : absl::StrCat(name, "{", labels, "}");
    for (absl::string_view line : absl::StrSplit(response->body, '\n')) {
      if (absl::StartsWith(line, key + " ")) {
        double value = 0;
        if (absl::SimpleAtod(line.substr(key.size() + 1), &value)) return value;
      }
    }
    return -1;
  }

  // Metric() once it reaches `at_least`, or its last value after `timeout`. For counters the
  // node updates after the client has already seen the effect (e.g. a stream's close).
  double MetricReaching(const std::string& name, const std::string& labels, double at_least,
                        absl::Duration timeout = absl::Seconds(5)) {
    const absl::Time deadline = absl::Now() + timeout;
    double value = Metric(name, labels);
    while (value < at_least && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
      value = Metric(name, labels);
    }
    return value;
  }

  NodeProcess node_;
  std::unique_ptr<client::PublisherClient> publisher_;
};

}  // namespace ringcast::testing
