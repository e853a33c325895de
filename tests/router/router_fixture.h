// router_fixture.h — a real ringcast-router process, alone or in front of N real ringcast-node
// processes, for the router tests (tests/support/process.h starts them on loopback):
//
//   absl::StatusOr<RouterCluster> cluster = StartRouterCluster("proxy", {.node_count = 3});
//   const std::string topic = cluster->TopicOwnedBy("node-2");   // by the router's current ring
//   HttpGet(cluster->router.http_address, "/v1/topics/" + EncodeTopic(topic) + "/events");
//   std::unique_ptr<v1::Cluster::Stub> admin = ClusterStub(cluster->router.grpc_address);
//
// The nodes' ports are picked free beforehand, one RingFile names them all (ids node-1..node-N,
// weight 1), and the router is seeded from that same file, so router and nodes agree on ring
// version 1. With `nodes_follow_router` the nodes instead follow the router's WatchRing
// (`--ring_source`), which makes membership changes through the router reach them;
// StartClusterWithSpare adds a spare node that follows the router's ring before it is a member,
// and a topic that moves to it once RouterCluster::AddMember adds it.
//
// The router binary comes from the compile definition RINGCAST_ROUTER_BINARY, which
// ringcast_router_test() in tests/router/CMakeLists.txt sets. Start processes from the test's
// main thread (process.h: PR_SET_PDEATHSIG follows the thread).
// Thread safety: the functions are thread-safe; a RouterCluster is used by one thread at a time.
#pragma once

#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/ring_watcher.h"
#include "client/status.h"
#include "gtest/gtest.h"
#include "ring/ring.h"
#include "ring/ring_proto.h"
#include "ringcast/v1/cluster.grpc.pb.h"
#include "tests/client/real_node.h"
#include "tests/support/process.h"

namespace ringcast::testing {

namespace v1 = ::ringcast::v1;

// The prefix of the line a router prints on stdout when it serves:
//   ringcast-router ready router_id=router-1 http=127.0.0.1:40711 grpc=127.0.0.1:40712 pid=4242
inline constexpr std::string_view kRouterReadyPrefix = "ringcast-router ready ";

// A running ringcast-router and what it reported when ready.
struct RouterProcess {
  std::unique_ptr<ChildProcess> process;
  std::string ready_line;    // the whole ready line, as printed
  std::string router_id;     // router_id=
  std::string http_address;  // http=, "host:port" for HttpGet / SseConnection::Open
  std::string grpc_address;  // grpc=, "host:port" of the Cluster service
};

// The router binary this test was built with.
inline std::string RouterBinaryPath() {
#ifdef RINGCAST_ROUTER_BINARY
  return RINGCAST_ROUTER_BINARY;
#else
  return "";
#endif
}

// Starts ringcast-router with `--http_listen=127.0.0.1:0 --grpc_listen=127.0.0.1:0` followed by
// `flags` (a later flag overrides an earlier one) and waits up to `timeout` for its ready line.
// Errors: those of ChildProcess::Start and WaitForLine (NOT_FOUND when the router exits first,
// e.g. on bad flags: its message has the output tail); INTERNAL for a malformed ready line.
inline absl::StatusOr<RouterProcess> StartRouter(std::vector<std::string> flags,
                                                 absl::Duration timeout = absl::Seconds(30)) {
  const std::string binary = RouterBinaryPath();
  if (binary.empty()) {
    return absl::FailedPreconditionError("built without RINGCAST_ROUTER_BINARY");
  }
  std::vector<std::string> args = {"--http_listen=127.0.0.1:0", "--grpc_listen=127.0.0.1:0"};
  for (std::string& flag : flags) args.push_back(std::move(flag));
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(binary, args);
  if (!child.ok()) return child.status();
  absl::StatusOr<std::string> line = (*child)->WaitForLine(kRouterReadyPrefix, timeout);
  if (!line.ok()) return line.status();
  std::map<std::string, std::string> fields = ParseReadyLine(*line);
  for (const char* key : {"router_id", "http", "grpc", "pid"}) {
    if (fields[key].empty()) {
      return absl::InternalError(absl::StrCat("ready line \"", *line, "\" has no ", key, "="));
    }
  }
  if (!ParseHostPort(fields["http"]).ok() || !ParseHostPort(fields["grpc"]).ok()) {
    return absl::InternalError(absl::StrCat("ready line \"", *line, "\" has a bad address"));
  }
  RouterProcess router;
  router.ready_line = *line;
  router.router_id = fields["router_id"];
  router.http_address = fields["http"];
  router.grpc_address = fields["grpc"];
  router.process = *std::move(child);
  return router;
}

// A Cluster client of the router (or any server) at `grpc_address`.
inline std::unique_ptr<v1::Cluster::Stub> ClusterStub(const std::string& grpc_address) {
  return v1::Cluster::NewStub(
      grpc::CreateChannel(grpc_address, grpc::InsecureChannelCredentials()));
}

// The first of "<prefix>-0", "<prefix>-1", ... that `ring` gives to member `id`; "" if none of
// the first 10,000 is.
inline std::string TopicOwnedBy(const Ring& ring, const std::string& id,
                                const std::string& prefix = "topic") {
  for (int i = 0; i < 10000; ++i) {
    std::string topic = absl::StrCat(prefix, "-", i);
    if (ring.Lookup(topic).id == id) return topic;
  }
  return "";
}

struct RouterClusterOptions {
  int node_count = 3;
  uint32_t partition_count = 64;
  std::vector<std::string> router_flags;  // e.g. {"--mode=redirect"}
  std::vector<std::string> node_flags;    // e.g. {"--heartbeat_interval_ms=60000"}
  // Nodes follow the router (`--ring_source=<router grpc>`) instead of reading the ring file.
  bool nodes_follow_router = false;
};

// One router and its nodes. Destroying it kills them all (ChildProcess).
struct RouterCluster {
  RouterProcess router;
  std::vector<NodeProcess> nodes;  // nodes[i] is member "node-<i+1>"
  std::vector<Member> members;     // as written to the ring file, with the nodes' real addresses
  uint32_t partition_count = 0;
  std::string ring_file;           // the RingFile both router and nodes started from

  // The node process of member `id`, or nullptr.
  NodeProcess* node(std::string_view id) {
    for (size_t i = 0; i < members.size(); ++i) {
      if (members[i].id == id) return &nodes[i];
    }
    return nullptr;
  }

  // The router's current ring (GetRing).
  absl::StatusOr<Ring> CurrentRing() const {
    return client::FetchRing(router.grpc_address, absl::Now() + absl::Seconds(10));
  }

  // A topic the router's current ring gives to node `id` (see the free TopicOwnedBy); "" when
  // the ring cannot be read.
  std::string TopicOwnedBy(const std::string& id, const std::string& prefix = "topic") const {
    absl::StatusOr<Ring> ring = CurrentRing();
    return ring.ok() ? ringcast::testing::TopicOwnedBy(*ring, id, prefix) : "";
  }

  // Adds `member` to the router's ring (Cluster.AddNode): the committed ring and its diff.
  absl::StatusOr<v1::AddNodeResponse> AddMember(const Member& member) const {
    v1::AddNodeRequest request;
    *request.mutable_member() = MemberToProto(member);
    v1::AddNodeResponse response;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    const grpc::Status status =
        ClusterStub(router.grpc_address)->AddNode(&context, request, &response);
    if (!status.ok()) return client::FromGrpcStatus(status);
    return response;
  }
};

// Writes a RingFile naming `members` to `path`.
inline absl::Status WriteRingFile(const std::string& path, uint32_t partition_count,
                                  const std::vector<Member>& members) {
  std::ofstream out(path);
  out << "partition_count: " << partition_count << "\n";
  for (const Member& m : members) {
    out << "members { id: \"" << m.id << "\" weight: " << m.weight << " http_address: \""
        << m.http_address << "\" grpc_address: \"" << m.grpc_address << "\" }\n";
  }
  out.close();
  return out ? absl::OkStatus() : absl::InternalError(absl::StrCat("cannot write ", path));
}

// Starts a router and `options.node_count` nodes (see the file comment). `name` keeps the ring
// files of concurrent tests apart. Retries with new ports when a node cannot start (a port
// picked free was taken meanwhile).
inline absl::StatusOr<RouterCluster> StartRouterCluster(const std::string& name,
                                                        RouterClusterOptions options = {}) {
  absl::Status last = absl::UnknownError("not started");
  for (int attempt = 0; attempt < 3; ++attempt) {
    RouterCluster cluster;
    cluster.partition_count = options.partition_count;
    for (int i = 1; i <= options.node_count; ++i) {
      absl::StatusOr<int> http_port = FreeLoopbackPort();
      absl::StatusOr<int> grpc_port = FreeLoopbackPort();
      if (!http_port.ok()) return http_port.status();
      if (!grpc_port.ok()) return grpc_port.status();
      cluster.members.push_back({absl::StrCat("node-", i), 1,
                                 absl::StrCat("127.0.0.1:", *http_port),
                                 absl::StrCat("127.0.0.1:", *grpc_port)});
    }
    cluster.ring_file = absl::StrCat(::testing::TempDir(), "/", name, "_", ::getpid(), "_",
                                     attempt, "_router_ring.textproto");
    if (absl::Status s = WriteRingFile(cluster.ring_file, cluster.partition_count,
                                       cluster.members);
        !s.ok()) {
      return s;
    }

    auto start_router = [&]() -> absl::Status {
      std::vector<std::string> flags = {"--ring_file=" + cluster.ring_file};
      flags.insert(flags.end(), options.router_flags.begin(), options.router_flags.end());
      absl::StatusOr<RouterProcess> router = StartRouter(std::move(flags));
      if (!router.ok()) return router.status();
      cluster.router = *std::move(router);
      return absl::OkStatus();
    };
    auto start_nodes = [&]() -> absl::Status {
      for (const Member& m : cluster.members) {
        std::vector<std::string> flags = {"--node_id=" + m.id, "--http_listen=" + m.http_address,
                                          "--grpc_listen=" + m.grpc_address};
        flags.push_back(options.nodes_follow_router
                            ? "--ring_source=" + cluster.router.grpc_address
                            : "--ring_file=" + cluster.ring_file);
        flags.insert(flags.end(), options.node_flags.begin(), options.node_flags.end());
        absl::StatusOr<NodeProcess> node = StartNode(std::move(flags));
        if (!node.ok()) return node.status();
        cluster.nodes.push_back(*std::move(node));
      }
      return absl::OkStatus();
    };
    // Followers need the router first; otherwise nodes first, so the router never routes to a
    // node that is not listening yet.
    absl::Status started = options.nodes_follow_router ? start_router() : start_nodes();
    if (started.ok()) started = options.nodes_follow_router ? start_nodes() : start_router();
    if (started.ok()) return cluster;
    last = started;
  }
  return last;
}

// The start of the tests of a node joining: a RouterCluster whose nodes follow the router, a
// spare node that follows the router's ring too but is no member yet, and a topic that moves to
// the spare once `cluster.AddMember(spare_member)` adds it (its old owner serves it until then).
struct ClusterWithSpare {
  RouterCluster cluster;
  NodeProcess spare;      // member "node-<node_count + 1>" once added
  Member spare_member;    // the spare at its real addresses, weight 1
  std::string topic;      // "moving-<i>": the ring with `spare_member` added gives it to the spare
  std::string old_owner;  // the member that owns `topic` before the spare is added
};

// Starts `node_count` nodes following a router (StartRouterCluster with nodes_follow_router) and
// the spare, and picks the topic (see ClusterWithSpare).
inline absl::StatusOr<ClusterWithSpare> StartClusterWithSpare(const std::string& name,
                                                              int node_count = 3) {
  absl::StatusOr<RouterCluster> cluster =
      StartRouterCluster(name, {.node_count = node_count, .nodes_follow_router = true});
  if (!cluster.ok()) return cluster.status();
  const std::string spare_id = absl::StrCat("node-", node_count + 1);
  absl::StatusOr<NodeProcess> spare =
      StartNode({"--node_id=" + spare_id, "--ring_source=" + cluster->router.grpc_address});
  if (!spare.ok()) return spare.status();
  absl::StatusOr<Ring> before = cluster->CurrentRing();
  if (!before.ok()) return before.status();
  const Member spare_member{spare_id, 1, spare->http_address, spare->grpc_address};
  absl::StatusOr<Ring> after = before->WithNodeAdded(spare_member);
  if (!after.ok()) return after.status();
  std::string topic = TopicOwnedBy(*after, spare_id, "moving");
  if (topic.empty()) return absl::InternalError("no topic moves to the spare");
  std::string old_owner = before->Lookup(topic).id;
  return ClusterWithSpare{*std::move(cluster), *std::move(spare), spare_member, std::move(topic),
                          std::move(old_owner)};
}

}  // namespace ringcast::testing
