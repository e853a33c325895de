// request.cc — parsing the subscribe request target: topic rules, percent-decoding, the query,
// and classifying the path. Pure functions, no state: thread-safe.
//
// Worked example:
//   ParseTarget("/v1/topics/orders%2F42/events?lastEventId=7%3A3")
//   -> {kind: kTopicEvents, path: "/v1/topics/orders%2F42/events",
//       query: "lastEventId=7%3A3", topic: "orders/42", last_event_id: "7:3"}
// "/v1/topics/orders/42/events" names the same topic: the topic is everything between the
// prefix and the final "/events", so a raw '/' and an escaped one mean the same.
//
// Decisions a caller relies on:
//   - The query is parsed (and a bad escape is a 400) only for the two stream paths; /healthz
//     and /metrics ignore theirs.
//   - `last_event_id` is the first `lastEventId` parameter; later ones are ignored. It is
//     reported as sent (decoded), not validated: a malformed id is a reset, not a 400.
//   - For /v1/events the topics stay in `query`; the router reads them with ParseQuery and
//     checks each with ValidateTopic.
#include "sse/request.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace ringcast::sse {
namespace {

constexpr std::string_view kTopicsPrefix = "/v1/topics/";
constexpr std::string_view kEventsSuffix = "/events";
constexpr std::string_view kMultiEventsPath = "/v1/events";
constexpr std::string_view kHealthPath = "/healthz";
constexpr std::string_view kMetricsPath = "/metrics";
constexpr std::string_view kLastEventIdParam = "lastEventId";

bool IsTopicByte(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '.':
    case '_':
    case '~':
    case ':':
    case '@':
    case '-':
    case '/':
      return true;
    default:
      return false;
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes one query component, '+' meaning space (application/x-www-form-urlencoded).
absl::StatusOr<std::string> DecodeQueryComponent(std::string_view text) {
  std::string plus_as_space(text);
  for (char& c : plus_as_space) {
    if (c == '+') c = ' ';
  }
  return PercentDecode(plus_as_space);
}

}  // namespace

absl::Status ValidateTopic(std::string_view topic, size_t max_bytes) {
  if (topic.empty()) return absl::InvalidArgumentError("topic is empty");
  if (topic.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("topic is ", topic.size(), " bytes; the limit is ", max_bytes));
  }
  for (size_t i = 0; i < topic.size(); ++i) {
    const char c = topic[i];
    if (IsTopicByte(c)) continue;
    const auto byte = static_cast<unsigned char>(c);
    // Printable ASCII is shown as itself; anything else (controls, space, UTF-8) as hex.
    const std::string shown = absl::ascii_isgraph(byte)
                                  ? absl::StrCat("'", std::string(1, c), "'")
                                  : absl::StrCat("byte 0x", absl::Hex(byte, absl::kZeroPad2));
    return absl::InvalidArgumentError(
        absl::StrCat("topic may hold only A-Z a-z 0-9 . _ ~ : @ - /; ", shown, " at offset ", i));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    const int high = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
    const int low = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad percent-escape at offset ", i,
                                                     ": '%' must be followed by two hex "
                                                     "digits"));
    }
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.empty()) continue;  // "a=1&&b=2": empty parameters are skipped, as browsers do
    const size_t eq = param.find('=');
    absl::StatusOr<std::string> key = DecodeQueryComponent(param.substr(0, eq));
    if (!key.ok()) return key.status();
    absl::StatusOr<std::string> value = DecodeQueryComponent(
        eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1));
    if (!value.ok()) return value.status();
    params.emplace_back(*std::move(key), *std::move(value));
  }
  return params;
}

absl::StatusOr<Target> ParseTarget(std::string_view target, size_t max_topic_bytes) {
  Target out;
  const size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  out.path = std::string(path);
  if (question != std::string_view::npos) out.query = std::string(target.substr(question + 1));

  if (path.size() >= kTopicsPrefix.size() + kEventsSuffix.size() &&
      path.starts_with(kTopicsPrefix) && path.ends_with(kEventsSuffix)) {
    out.kind = TargetKind::kTopicEvents;
  } else if (path == kMultiEventsPath) {
    out.kind = TargetKind::kMultiEvents;
  } else if (path == kHealthPath) {
    out.kind = TargetKind::kHealth;
    return out;
  } else if (path == kMetricsPath) {
    out.kind = TargetKind::kMetrics;
    return out;
  } else {
    return out;  // kUnknown
  }

  if (out.kind == TargetKind::kTopicEvents) {
    const std::string_view raw_topic = path.substr(
        kTopicsPrefix.size(), path.size() - kTopicsPrefix.size() - kEventsSuffix.size());
    absl::StatusOr<std::string> topic = PercentDecode(raw_topic);
    if (!topic.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("topic: ", topic.status().message()));
    }
    if (absl::Status valid = ValidateTopic(*topic, max_topic_bytes); !valid.ok()) return valid;
    out.topic = *std::move(topic);
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> params = ParseQuery(out.query);
  if (!params.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("query: ", params.status().message()));
  }
  for (auto& [key, value] : *params) {
    if (key == kLastEventIdParam) {
      out.last_event_id = std::move(value);
      break;
    }
  }
  return out;
}

}  // namespace ringcast::sse
