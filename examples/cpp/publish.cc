// publish.cc — the smallest ring-aware publisher: follow a router's ring, publish N events to a
// topic straight to the node that owns it, print each event id (one per line).
//
//   build/release/examples/ringcast-example-publish --router=127.0.0.1:9000 --topic=orders/42
#include <unistd.h>

#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/routing_publisher.h"

ABSL_FLAG(std::string, router, "127.0.0.1:9000", "gRPC host:port of a ringcast router");
ABSL_FLAG(std::string, topic, "demo", "the topic to publish to");
ABSL_FLAG(int, count, 3, "how many events to publish");
ABSL_FLAG(std::string, data, "hello", "the payload; event n gets \" #n\" appended");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // A producer id of its own per run makes every publish retry-safe: the node drops duplicates.
  ringcast::client::RoutingPublisherOptions options;
  options.producer_id = absl::StrCat("example-", getpid(), "-", absl::ToUnixNanos(absl::Now()));
  auto publisher =
      ringcast::client::RoutingPublisher::Connect(absl::GetFlag(FLAGS_router), options);
  if (!publisher.ok()) {
    std::cerr << "cannot read the ring: " << publisher.status() << "\n";
    return 1;
  }
  const std::string topic = absl::GetFlag(FLAGS_topic);
  for (int n = 1; n <= absl::GetFlag(FLAGS_count); ++n) {
    auto result = (*publisher)->Publish(
        {.topic = topic, .data = absl::StrCat(absl::GetFlag(FLAGS_data), " #", n)});
    if (!result.ok()) {
      std::cerr << "publish failed: " << result.status() << "\n";
      return 1;
    }
    std::cout << result->event_id << std::endl;
  }
  return 0;
}
