// options.cc — reading a RouterConfig file into RouterOptions, parsing the list-valued flags, and
// checking the result.
#include "router/options.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ring/ring_proto.h"
#include "ringcast/v1/config.pb.h"
#include "sse/server_main.h"

namespace ringcast::router {
namespace {

void ApplyLimits(const v1::RouterLimits& limits, RouterOptions& o) {
  sse::ApplyServingLimits(limits, o);
  if (limits.has_max_topics_per_stream()) o.max_topics_per_stream = limits.max_topics_per_stream();
  if (limits.has_upstream_resume_timeout_ms()) {
    o.upstream_resume_timeout = absl::Milliseconds(limits.upstream_resume_timeout_ms());
  }
  if (limits.has_upstream_connect_timeout_ms()) {
    o.upstream_connect_timeout = absl::Milliseconds(limits.upstream_connect_timeout_ms());
  }
}

absl::Status ApplyConfig(const v1::RouterConfig& config, RouterOptions& o) {
  if (!config.router_id().empty()) o.router_id = config.router_id();
  if (!config.http_listen().empty()) o.http_listen = config.http_listen();
  if (!config.grpc_listen().empty()) o.grpc_listen = config.grpc_listen();
  if (config.mode() == v1::ROUTER_MODE_PROXY) o.mode = RouterOptions::Mode::kProxy;
  if (config.mode() == v1::ROUTER_MODE_REDIRECT) o.mode = RouterOptions::Mode::kRedirect;
  if (!config.state_dir().empty()) o.state_dir = config.state_dir();
  if (!config.ring_file().empty()) o.ring_file = config.ring_file();
  if (!config.ring_source().empty()) o.ring_source = config.ring_source();
  if (config.has_partition_count()) o.partition_count = config.partition_count();
  if (config.seed_nodes_size() > 0) {
    o.seed_nodes.clear();
    for (const v1::Member& proto : config.seed_nodes()) {
      absl::StatusOr<Member> member = MemberFromProto(proto);
      if (!member.ok()) return member.status();
      o.seed_nodes.push_back(*std::move(member));
    }
  }
  if (config.cors_allowed_origins_size() > 0) {
    o.cors_allowed_origins.assign(config.cors_allowed_origins().begin(),
                                  config.cors_allowed_origins().end());
  }
  if (config.worker_threads() != 0) o.worker_threads = static_cast<int>(config.worker_threads());
  if (config.has_health_report_interval_ms()) {
    o.health_report_interval = absl::Milliseconds(config.health_report_interval_ms());
  }
  if (config.has_node_down_after_ms()) {
    o.node_down_after = absl::Milliseconds(config.node_down_after_ms());
  }
  if (config.has_shutdown_grace_ms()) {
    o.shutdown_grace = absl::Milliseconds(config.shutdown_grace_ms());
  }
  ApplyLimits(config.limits(), o);
  return absl::OkStatus();
}

// A DNS name or an IPv4 literal: letters, digits, '-' and '.', not empty.
bool IsHostName(std::string_view host) {
  if (host.empty()) return false;
  for (const char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  }
  return true;
}

// A bracketed IPv6 literal: "[" hex digits, ':' and '.' "]".
bool IsBracketedV6(std::string_view host) {
  if (host.size() < 4 || host.front() != '[' || host.back() != ']') return false;
  for (const char c : host.substr(1, host.size() - 2)) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
  }
  return true;
}

absl::Status Invalid(std::string_view what) {
  return absl::InvalidArgumentError(std::string(what));
}

// The ring comes from exactly one place (see RouterOptions).
absl::Status ValidateRingSource(const RouterOptions& o) {
  if (!o.ring_file.empty() && !o.seed_nodes.empty()) {
    return Invalid("give either --ring_file or --seed_nodes to seed a new cluster, not both");
  }
  if (!o.ring_source.empty()) {
    if (!o.ring_file.empty() || !o.seed_nodes.empty()) {
      return Invalid(
          "--ring_source (follow another router) excludes --ring_file and --seed_nodes: a "
          "follower takes its ring from the coordinator");
    }
    if (!o.state_dir.empty()) {
      return Invalid("--state_dir is for the coordinator; a follower (--ring_source) keeps no state");
    }
    return ValidateHostPort("--ring_source", o.ring_source);
  }
  for (const Member& m : o.seed_nodes) {
    for (const std::string* address : {&m.http_address, &m.grpc_address}) {
      if (absl::Status s = ValidateHostPort(absl::StrCat("--seed_nodes member '", m.id, "' address"),
                                            *address);
          !s.ok()) {
        return s;
      }
    }
  }
  if (o.ring_file.empty() && o.seed_nodes.empty() && o.state_dir.empty()) {
    return Invalid(
        "no ring: give --ring_file or --seed_nodes (a new cluster), --state_dir (a persisted "
        "ring), or --ring_source (follow another router)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyConfigFile(const std::string& path, RouterOptions& options) {
  v1::RouterConfig config;
  if (absl::Status s = sse::ReadConfigFile(path, config); !s.ok()) return s;
  if (absl::Status s = ApplyConfig(config, options); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("config file ", path, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Member>> ParseSeedNodes(std::string_view text) {
  std::vector<Member> members;
  for (absl::string_view entry : absl::StrSplit(std::string(text), ',', absl::SkipEmpty())) {
    const std::vector<std::string> fields = absl::StrSplit(entry, '=');
    auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("--seed_nodes entry '", std::string(entry),
                                                     "': ", std::string(why)));
    };
    if (fields.size() != 3 && fields.size() != 4) {
      return bad("expected ID=HTTP_ADDR=GRPC_ADDR or ID=HTTP_ADDR=GRPC_ADDR=WEIGHT");
    }
    Member member{fields[0], 1, fields[1], fields[2], ""};
    if (fields.size() == 4 && !absl::SimpleAtoi(fields[3], &member.weight)) {
      return bad("WEIGHT is not a number");
    }
    members.push_back(std::move(member));
  }
  return members;
}

absl::StatusOr<RouterOptions::Mode> ParseMode(std::string_view text) {
  if (text == "proxy") return RouterOptions::Mode::kProxy;
  if (text == "redirect") return RouterOptions::Mode::kRedirect;
  return absl::InvalidArgumentError(
      absl::StrCat("--mode must be proxy or redirect, not '", std::string(text), "'"));
}

absl::Status ValidateHostPort(std::string_view what, std::string_view value,
                              bool allow_any_port) {
  const size_t colon = value.rfind(':');
  int port = -1;
  const bool ok = colon != std::string_view::npos &&
                  absl::SimpleAtoi(std::string(value.substr(colon + 1)), &port) &&
                  port >= (allow_any_port ? 0 : 1) && port <= 65535 &&
                  (IsHostName(value.substr(0, colon)) || IsBracketedV6(value.substr(0, colon)));
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      std::string(what), " '", std::string(value), "' is not host:port (port ",
      allow_any_port ? "0" : "1", "-65535; IPv6 in brackets)"));
}

absl::Status Validate(const RouterOptions& o) {
  if (o.router_id.empty()) return Invalid("--router_id must not be empty");
  if (absl::Status s = ValidateHostPort("--http_listen", o.http_listen, true); !s.ok()) return s;
  if (absl::Status s = ValidateHostPort("--grpc_listen", o.grpc_listen, true); !s.ok()) return s;
  if (o.partition_count < 1 || o.partition_count > Ring::kMaxPartitionCount ||
      (o.partition_count & (o.partition_count - 1)) != 0) {
    return Invalid(absl::StrCat("--partition_count must be a power of two in 1..",
                                Ring::kMaxPartitionCount));
  }
  if (o.worker_threads < 0) return Invalid("--worker_threads must be >= 0");
  if (o.health_report_interval <= absl::ZeroDuration()) {
    return Invalid("--health_report_interval_ms must be > 0");
  }
  if (o.node_down_after <= absl::ZeroDuration()) return Invalid("--node_down_after_ms must be > 0");
  if (o.max_request_header_bytes < 256) return Invalid("--max_request_header_bytes must be >= 256");
  if (o.header_timeout <= absl::ZeroDuration()) return Invalid("--header_timeout_ms must be > 0");
  if (o.max_topic_bytes < 1 || o.max_topic_bytes > 256) {
    return Invalid("--max_topic_bytes must be 1..256");
  }
  if (o.max_connections < 1) return Invalid("--max_connections must be >= 1");
  if (o.max_queue_bytes_per_connection < 1) {
    return Invalid("--max_queue_bytes_per_connection must be >= 1");
  }
  if (o.heartbeat_interval <= absl::ZeroDuration()) {
    return Invalid("--heartbeat_interval_ms must be > 0");
  }
  if (o.retry < absl::ZeroDuration()) return Invalid("--retry_ms must be >= 0");
  if (o.max_stream_lifetime < absl::ZeroDuration()) {
    return Invalid("--max_stream_lifetime_seconds must be >= 0");
  }
  if (o.max_topics_per_stream < 1) return Invalid("--max_topics_per_stream must be >= 1");
  if (o.upstream_resume_timeout <= absl::ZeroDuration()) {
    return Invalid("--upstream_resume_timeout_ms must be > 0");
  }
  if (o.upstream_connect_timeout <= absl::ZeroDuration()) {
    return Invalid("--upstream_connect_timeout_ms must be > 0");
  }
  if (o.shutdown_grace < absl::ZeroDuration()) return Invalid("--shutdown_grace_ms must be >= 0");
  return ValidateRingSource(o);
}

}  // namespace ringcast::router
