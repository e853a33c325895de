// server_main.h — what the ringcast-node and ringcast-router binaries share around their
// options: a config file in protobuf text format, the limits both servers have, flags that
// override the file where given, stopping on SIGTERM/SIGINT, and the ready line.
//
// Typical main():
//   Options options;                                    // defaults
//   sse::ReadConfigFile(path, config); ...              // --config, then the flags:
//   sse::OverrideIfGiven(FLAGS_max_connections, options.max_connections);
//   sse::CatchStopSignals();  start the server;  sse::PrintReadyLine(...);
//   sse::WaitForStopSignal();  shut the server down.
//
// Thread safety: call from main() only (the stop signals use one process-wide pipe).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace ringcast::sse {

// Parses the protobuf text-format file at `path` into `message`. NOT_FOUND "cannot open config
// file <path>" when it cannot be read; INVALID_ARGUMENT "config file <path>: line L:C: ..." with
// every parser error when it does not parse.
absl::Status ReadConfigFile(const std::string& path, google::protobuf::Message& message);

// Copies the limits set in `limits` (a NodeLimits or RouterLimits) into the options struct of
// either server, which name them alike: request head size and time, topic size, connections,
// queue bytes per stream, heartbeat, retry hint and stream lifetime.
template <typename Limits, typename Options>
void ApplyServingLimits(const Limits& limits, Options& o) {
  if (limits.has_max_request_header_bytes()) {
    o.max_request_header_bytes = limits.max_request_header_bytes();
  }
  if (limits.has_header_timeout_ms()) {
    o.header_timeout = absl::Milliseconds(limits.header_timeout_ms());
  }
  if (limits.has_max_topic_bytes()) o.max_topic_bytes = limits.max_topic_bytes();
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
}

// Whether `flag` was given. NOTE: Debian's abseil keeps IsSpecifiedOnCommandLine() private, so
// "given" means "differs from its default": a flag set to its default value does not override
// the config file.
template <typename T>
bool FlagGiven(const absl::Flag<T>& flag) {
  const absl::CommandLineFlag& handle = absl::GetFlagReflectionHandle(flag);
  return handle.CurrentValue() != handle.DefaultValue();
}

// Sets `field` to the value of `flag` when the flag was given.
template <typename T, typename Field>
void OverrideIfGiven(const absl::Flag<T>& flag, Field& field) {
  if (FlagGiven(flag)) field = absl::GetFlag(flag);
}

// Likewise for a duration flag in milliseconds (`*_ms`) or seconds (`*_seconds`).
inline void OverrideMillisecondsIfGiven(const absl::Flag<uint32_t>& flag, absl::Duration& field) {
  if (FlagGiven(flag)) field = absl::Milliseconds(absl::GetFlag(flag));
}
inline void OverrideSecondsIfGiven(const absl::Flag<uint32_t>& flag, absl::Duration& field) {
  if (FlagGiven(flag)) field = absl::Seconds(absl::GetFlag(flag));
}

// Likewise for a comma-separated list; empty entries are dropped.
inline void OverrideListIfGiven(const absl::Flag<std::string>& flag,
                                std::vector<std::string>& field) {
  if (FlagGiven(flag)) field = absl::StrSplit(absl::GetFlag(flag), ',', absl::SkipEmpty());
}

// In optimised builds, stops abseil's Mutex from checking every lock order against a global
// graph. NOTE: Debian builds abseil without NDEBUG, so that check costs a tenth of the publish
// path's CPU; debug builds and the clang-tsa preset keep checking.
void SkipMutexDeadlockDetectionWhenOptimised();

// Makes SIGTERM and SIGINT wake WaitForStopSignal() and ignores SIGPIPE. INTERNAL naming the
// failed call if the signal pipe cannot be made.
absl::Status CatchStopSignals();

// Blocks until SIGTERM or SIGINT arrives (after CatchStopSignals()); returns its number.
int WaitForStopSignal();

// Prints "<binary> ready <id_name>=<id> http=<http> grpc=<grpc> pid=<pid>" as one line on stdout
// and flushes it (for operators and test launchers).
void PrintReadyLine(std::string_view binary, std::string_view id_name, std::string_view id,
                    std::string_view http, std::string_view grpc);

}  // namespace ringcast::sse
