// real_node.h — real ringcast-node processes for the client and CLI tests (tests/support/
// process.h starts them on loopback): a two-node ring whose ring file names the nodes' real
// addresses, picking a topic by its owner, reading /metrics, and holding a node in its drain
// phase after SIGTERM for as long as a test needs.
//
//   absl::StatusOr<TwoNodeRing> ring = StartTwoNodeRing("redirect");
//   const std::string topic = ring->TopicOwnedBy("b");   // node a answers it 307 / WrongOwner
//
// Start nodes from the test's main thread (process.h: PR_SET_PDEATHSIG follows the thread).
// Thread safety: the functions are thread-safe; a NodeProcess is used by one thread at a time.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/publisher_client.h"
#include "gtest/gtest.h"
#include "ring/ring.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"

namespace ringcast::testing {

// A loopback port that was free a moment ago: bound with port 0, read back and closed. Another
// process may take it before the caller binds it; StartTwoNodeRing retries for that reason.
inline absl::StatusOr<int> FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    ::close(fd);
    return absl::ErrnoToStatus(error, "bind 127.0.0.1:0");
  }
  ::close(fd);
  return static_cast<int>(ntohs(address.sin_port));
}

// Percent-encodes every byte outside A-Z a-z 0-9 - . _ ~ (so "orders/42" becomes orders%2F42).
inline std::string EncodeTopic(std::string_view topic) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : topic) {
    const auto byte = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

// An SSE subscription to `topic` on `node` (whatever the status; the caller checks it).
inline absl::StatusOr<std::unique_ptr<SseConnection>> SubscribeTo(const NodeProcess& node,
                                                                 const std::string& topic,
                                                                 HttpHeaders headers = {},
                                                                 SseOptions options = {}) {
  return SseConnection::Open(node.http_address,
                             absl::StrCat("/v1/topics/", EncodeTopic(topic), "/events"),
                             std::move(headers), absl::Seconds(10), options);
}

// One sample of the node's /metrics, e.g. Metric(node, "ringcast_publish_requests_total",
// "code=\"OK\""); -1 when the sample is absent or /metrics cannot be read.
inline double Metric(const NodeProcess& node, const std::string& name,
                     const std::string& labels = "") {
  absl::StatusOr<HttpResponse> response = HttpGet(node.http_address, "/metrics");
  if (!response.ok() || response->status != 200) return -1;
  const std::string key = labels.empty() ? std::string(name) : absl::StrCat(name, "{", labels, "}");
  for (absl::string_view line : absl::StrSplit(response->body, '\n')) {
    double value = 0;
    if (!absl::StartsWith(line, key + " ")) continue;
    if (absl::SimpleAtod(line.substr(key.size() + 1), &value)) return value;
  }
  return -1;
}

// Waits up to `timeout` for Metric(...) to reach at least `at_least`; returns the last value.
inline double AwaitMetric(const NodeProcess& node, const std::string& name,
                          const std::string& labels, double at_least,
                          absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  double value = Metric(node, name, labels);
  while (value < at_least && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
    value = Metric(node, name, labels);
  }
  return value;
}

// Two real nodes "a" and "b" started with one ring file naming both, at their real addresses
// (ports picked free beforehand), so each redirects and refuses for the other.
struct TwoNodeRing {
  NodeProcess a;
  NodeProcess b;
  std::vector<Member> members;  // as written to the ring file
  uint32_t partition_count = 0;

  // The first of "<prefix>-0", "<prefix>-1", ... that the ring gives to node `id`.
  std::string TopicOwnedBy(const std::string& id, const std::string& prefix = "topic") const {
    absl::StatusOr<Ring> ring = Ring::Build(members, partition_count);
    if (!ring.ok()) return "";
    for (int i = 0; i < 1000; ++i) {
      std::string topic = absl::StrCat(prefix, "-", i);
      if (ring->Lookup(topic).id == id) return topic;
    }
    return "";
  }
};

// Starts b, then a, on ports picked free, with `--node_id` and a shared ring file under
// TempDir named after `name` and this process; `extra_flags` go to both. Retries with new ports
// when a node cannot start (a picked port was taken meanwhile).
inline absl::StatusOr<TwoNodeRing> StartTwoNodeRing(const std::string& name,
                                                    std::vector<std::string> extra_flags = {}) {
  absl::Status last = absl::UnknownError("not started");
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::vector<int> ports;
    for (int i = 0; i < 4; ++i) {
      absl::StatusOr<int> port = FreeLoopbackPort();
      if (!port.ok()) return port.status();
      ports.push_back(*port);
    }
    TwoNodeRing ring;
    ring.partition_count = 64;
    ring.members = {
        {"a", 1, absl::StrCat("127.0.0.1:", ports[0]), absl::StrCat("127.0.0.1:", ports[1])},
        {"b", 1, absl::StrCat("127.0.0.1:", ports[2]), absl::StrCat("127.0.0.1:", ports[3])},
    };
    // The pid keeps concurrent runs of one test (several build trees) apart.
    const std::string ring_file =
        absl::StrCat(::testing::TempDir(), "/", name, "_", ::getpid(), "_ring.textproto");
    {
      std::ofstream out(ring_file);
      out << "partition_count: " << ring.partition_count << "\n";
      for (const Member& m : ring.members) {
        out << "members { id: \"" << m.id << "\" http_address: \"" << m.http_address
            << "\" grpc_address: \"" << m.grpc_address << "\" }\n";
      }
      if (!out) return absl::InternalError(absl::StrCat("cannot write ", ring_file));
    }
    auto start = [&](const Member& m) {
      std::vector<std::string> flags = {"--node_id=" + m.id, "--ring_file=" + ring_file,
                                        "--http_listen=" + m.http_address,
                                        "--grpc_listen=" + m.grpc_address};
      flags.insert(flags.end(), extra_flags.begin(), extra_flags.end());
      return StartNode(std::move(flags));
    };
    absl::StatusOr<NodeProcess> b = start(ring.members[1]);
    if (!b.ok()) {
      last = b.status();
      continue;
    }
    absl::StatusOr<NodeProcess> a = start(ring.members[0]);
    if (!a.ok()) {
      last = a.status();
      continue;
    }
    ring.a = *std::move(a);
    ring.b = *std::move(b);
    return ring;
  }
  return last;
}

// The flags that let HoldDraining keep a node in its drain phase: a long shutdown grace, and a
// per-stream queue big enough that a stalled subscriber is never cut as a slow consumer.
inline std::vector<std::string> DrainHoldFlags() {
  return {"--shutdown_grace_ms=60000", "--max_queue_bytes_per_connection=67108864"};
}

// Puts a node started with DrainHoldFlags() into its drain phase and keeps it there: a
// subscriber that never reads (tiny receive buffer) is sent ~10 MB, more than loopback's socket
// buffers hold, so after SIGTERM the node cannot flush that stream's final retry: and waits
// (up to the grace) before it stops gRPC. Returns the stalled subscription once a unary Publish
// has been refused with UNAVAILABLE: closing it lets the node finish shutting down.
inline absl::StatusOr<std::unique_ptr<SseConnection>> HoldDraining(NodeProcess& node) {
  absl::StatusOr<std::unique_ptr<SseConnection>> stalled =
      SubscribeTo(node, "stalled", {}, {.receive_buffer_bytes = 4096});
  if (!stalled.ok()) return stalled.status();
  if ((*stalled)->status() != 200) {
    return absl::InternalError(absl::StrCat("stalled subscribe got ", (*stalled)->status()));
  }
  client::PublisherClient publisher(node.grpc_address);
  absl::StatusOr<std::unique_ptr<client::PublishStream>> stream = publisher.OpenStream();
  if (!stream.ok()) return stream.status();
  const std::string payload(60000, 's');
  constexpr int kEvents = 170;  // ~10 MB
  for (int i = 0; i < kEvents; ++i) {
    absl::StatusOr<uint64_t> id = (*stream)->Send({.topic = "stalled", .data = payload});
    if (!id.ok()) return id.status();
  }
  absl::StatusOr<std::vector<client::StreamResult>> results = (*stream)->Finish();
  if (!results.ok()) return results.status();
  for (const client::StreamResult& r : *results) {
    if (!r.result.ok()) return r.result.status();
  }
  // Every frame beyond what the socket buffers hold stays queued in the node.
  const double written = Metric(node, "ringcast_frames_written_total");
  if (written >= kEvents) {
    return absl::InternalError(absl::StrCat("the stalled stream took all ", written, " frames"));
  }
  if (absl::Status s = node.process->Signal(SIGTERM); !s.ok()) return s;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    absl::StatusOr<client::PublishResult> probe = publisher.Publish(
        {.topic = "probe", .data = "x", .deadline = absl::Now() + absl::Seconds(5)});
    if (!probe.ok()) {
      if (probe.status().code() != absl::StatusCode::kUnavailable) return probe.status();
      return stalled;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return absl::DeadlineExceededError("the node kept accepting publishes after SIGTERM");
}

}  // namespace ringcast::testing
