// request.h — parsing the subscribe request's target (DESIGN.md "Subscribe"): the topic from
// the path, the resume point from the query, and the topic rules. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringcast::sse {

inline constexpr size_t kDefaultMaxTopicBytes = 256;

// Topics: 1..max_bytes bytes of A-Z a-z 0-9 . _ ~ : @ - / (after percent-decoding).
// INVALID_ARGUMENT with a reason naming the first offending byte (as hex when unprintable).
absl::Status ValidateTopic(std::string_view topic, size_t max_bytes = kDefaultMaxTopicBytes);

// Decodes %XX escapes (either case of hex digit). '+' is left as '+'. INVALID_ARGUMENT for a
// '%' not followed by two hex digits.
absl::StatusOr<std::string> PercentDecode(std::string_view text);

// The query string's parameters, percent-decoded (here '+' does mean space), in order; a
// parameter without '=' has an empty value. INVALID_ARGUMENT for bad escapes.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    std::string_view query);

// What a request target names.
enum class TargetKind {
  kTopicEvents,  // /v1/topics/{topic}/events
  kMultiEvents,  // /v1/events (topics in the query)
  kHealth,       // /healthz
  kMetrics,      // /metrics
  kUnknown,      // anything else: 404
};

struct Target {
  TargetKind kind = TargetKind::kUnknown;
  std::string path;   // the path as received (before '?')
  std::string query;  // the raw query (after '?', without it), possibly empty
  std::string topic;  // kTopicEvents: the percent-decoded, validated topic
  std::optional<std::string> last_event_id;  // the `lastEventId` query parameter, if present
};

// Classifies a request target ("/v1/topics/orders%2F42/events?lastEventId=7:3"). The topic is
// everything between "/v1/topics/" and the final "/events", percent-decoded, then validated.
// INVALID_ARGUMENT with a plain-text reason for a bad topic or a bad query on a known path
// (the caller answers 400); unknown paths are kUnknown, not an error.
absl::StatusOr<Target> ParseTarget(std::string_view target,
                                   size_t max_topic_bytes = kDefaultMaxTopicBytes);

}  // namespace ringcast::sse
