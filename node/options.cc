// options.cc — reading a NodeConfig file into NodeOptions, and checking the result.
#include "node/options.h"

#include <fstream>
#include <sstream>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "absl/strings/str_cat.h"
#include "ringcast/v1/config.pb.h"

namespace ringcast::node {
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

void ApplyLimits(const v1::NodeLimits& limits, NodeOptions& o) {
  if (limits.has_max_request_header_bytes()) {
    o.max_request_header_bytes = limits.max_request_header_bytes();
  }
  if (limits.has_header_timeout_ms()) o.header_timeout = absl::Milliseconds(limits.header_timeout_ms());
  if (limits.has_max_topic_bytes()) o.max_topic_bytes = limits.max_topic_bytes();
  if (limits.has_max_event_bytes()) o.max_event_bytes = limits.max_event_bytes();
  if (limits.has_max_batch_events()) o.max_batch_events = limits.max_batch_events();
  if (limits.has_buffer_max_events()) o.buffer_max_events = limits.buffer_max_events();
  if (limits.has_buffer_max_bytes()) o.buffer_max_bytes = limits.buffer_max_bytes();
  if (limits.has_buffer_max_age_seconds()) {
    o.buffer_max_age = absl::Seconds(limits.buffer_max_age_seconds());
  }
  if (limits.has_max_connections()) o.max_connections = limits.max_connections();
  if (limits.has_max_queue_bytes_per_connection()) {
    o.max_queue_bytes_per_connection = limits.max_queue_bytes_per_connection();
  }
  if (limits.has_heartbeat_interval_ms()) {
    o.heartbeat_interval = absl::Milliseconds(limits.heartbeat_interval_ms());
  }
  if (limits.has_retry_ms()) o.retry = absl::Milliseconds(limits.retry_ms());
  if (limits.has_max_stream_lifetime_seconds()) {
    o.max_stream_lifetime = absl::Seconds(limits.max_stream_lifetime_seconds());
  }
  if (limits.has_max_producers_per_topic()) {
    o.max_producers_per_topic = limits.max_producers_per_topic();
  }
}

}  // namespace

absl::Status ApplyConfigFile(const std::string& path, NodeOptions& options) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open config file ", path));
  std::stringstream text;
  text << in.rdbuf();
  v1::NodeConfig config;
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text.str(), &config)) {
    return absl::InvalidArgumentError(absl::StrCat("config file ", path, ": ", errors.errors()));
  }
  if (!config.node_id().empty()) options.node_id = config.node_id();
  if (!config.http_listen().empty()) options.http_listen = config.http_listen();
  if (!config.grpc_listen().empty()) options.grpc_listen = config.grpc_listen();
  if (!config.public_url().empty()) options.public_url = config.public_url();
  if (!config.ring_file().empty()) options.ring_file = config.ring_file();
  if (!config.ring_source().empty()) options.ring_source = config.ring_source();
  if (!config.state_dir().empty()) options.state_dir = config.state_dir();
  if (config.worker_threads() != 0) options.worker_threads = static_cast<int>(config.worker_threads());
  if (config.cors_allowed_origins_size() > 0) {
    options.cors_allowed_origins.assign(config.cors_allowed_origins().begin(),
                                        config.cors_allowed_origins().end());
  }
  ApplyLimits(config.limits(), options);
  return absl::OkStatus();
}

absl::Status Validate(const NodeOptions& o) {
  auto invalid = [](std::string_view what) {
    return absl::InvalidArgumentError(std::string(what));
  };
  if (o.node_id.empty()) return invalid("node_id must not be empty");
  if (o.worker_threads < 0) return invalid("worker_threads must be >= 0");
  if (o.max_topic_bytes < 1 || o.max_topic_bytes > 256) {
    return invalid("max_topic_bytes must be 1..256");
  }
  if (o.max_request_header_bytes < 256) return invalid("max_request_header_bytes must be >= 256");
  if (o.buffer_max_events < 1) return invalid("buffer_max_events must be >= 1");
  if (o.max_event_bytes < 1) return invalid("max_event_bytes must be >= 1");
  if (o.max_batch_events < 1) return invalid("max_batch_events must be >= 1");
  if (o.heartbeat_interval <= absl::ZeroDuration()) {
    return invalid("heartbeat_interval_ms must be > 0");
  }
  if (o.header_timeout <= absl::ZeroDuration()) return invalid("header_timeout_ms must be > 0");
  if (o.max_connections < 1) return invalid("max_connections must be >= 1");
  if (!o.ring_file.empty() && !o.ring_source.empty()) {
    return invalid("ring_file and ring_source exclude each other: give at most one");
  }
  if (o.ring_wait <= absl::ZeroDuration()) return invalid("ring_wait_ms must be > 0");
  return absl::OkStatus();
}

}  // namespace ringcast::node
