// multi_topic.cc — parsing multi-topic requests and encoding/decoding their ids (see
// multi_topic.h for the grammar). Pure functions and one per-stream class; thread-safe as
// stated there.
//
// Decisions:
//   - A topic named twice is a 400, not silently merged: the id holds one position per
//     parameter, so the list the client sent is exactly the list the id describes.
//   - The hash covers the order too: the same topics in another order are another stream
//     (positions are positional), and such an id resets every topic.
#include "router/multi_topic.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "ring/ring.h"
#include "sse/request.h"

namespace ringcast::router {
namespace {

// NOTE: char arrays, not std::string_view: Debian's absl::StrCat takes no std::string_view.
constexpr char kIdPrefix[] = "m1.";
constexpr char kTopicParam[] = "topic";
constexpr char kNoPosition[] = "-";
constexpr size_t kHashDigits = 16;

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseTopicList(std::string_view query, size_t max_topics,
                                                        size_t max_topic_bytes) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> params =
      sse::ParseQuery(query);
  if (!params.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("query: ", params.status().message()));
  }
  std::vector<std::string> topics;
  absl::flat_hash_set<std::string> seen;
  for (auto& [key, value] : *params) {
    if (key != kTopicParam) continue;
    if (topics.size() == max_topics) {
      return absl::InvalidArgumentError(
          absl::StrCat("too many topics; a stream may name at most ", max_topics));
    }
    if (absl::Status valid = sse::ValidateTopic(value, max_topic_bytes); !valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("topic ", topics.size() + 1, ": ", valid.message()));
    }
    if (!seen.insert(value).second) {
      return absl::InvalidArgumentError(absl::StrCat("topic '", value, "' is named twice"));
    }
    topics.push_back(std::move(value));
  }
  if (topics.empty()) {
    return absl::InvalidArgumentError(
        "no topic; name the topics as /v1/events?topic=a&topic=b");
  }
  return topics;
}

uint64_t TopicListHash(absl::Span<const std::string> topics) {
  return Ring::HashTopic(absl::StrJoin(topics, "\n"));
}

std::string EncodeMultiTopicId(uint64_t list_hash, absl::Span<const TopicPosition> positions) {
  std::string id = absl::StrCat(kIdPrefix, absl::Hex(list_hash, absl::kZeroPad16));
  for (const TopicPosition& position : positions) {
    if (position.has_value()) {
      absl::StrAppend(&id, ".", position->epoch, ":", position->offset);
    } else {
      absl::StrAppend(&id, ".", kNoPosition);
    }
  }
  return id;
}

absl::StatusOr<std::vector<TopicPosition>> DecodeMultiTopicId(
    std::string_view id, absl::Span<const std::string> topics) {
  const std::string_view prefix = kIdPrefix;
  if (!id.starts_with(prefix)) {
    return absl::InvalidArgumentError("multi-topic id must start with \"m1.\"");
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(
      absl::string_view(id.data() + prefix.size(), id.size() - prefix.size()), '.');
  uint64_t list_hash = 0;
  if (parts[0].size() != kHashDigits || !absl::SimpleHexAtoi(parts[0], &list_hash) ||
      absl::StrCat(absl::Hex(list_hash, absl::kZeroPad16)) != parts[0]) {
    return absl::InvalidArgumentError(
        "multi-topic id: the list hash must be 16 lowercase hex digits");
  }
  if (list_hash != TopicListHash(topics)) {
    return absl::InvalidArgumentError("multi-topic id was made for another list of topics");
  }
  if (parts.size() - 1 != topics.size()) {
    return absl::InvalidArgumentError(absl::StrCat("multi-topic id holds ", parts.size() - 1,
                                                   " positions for ", topics.size(), " topics"));
  }
  std::vector<TopicPosition> positions;
  positions.reserve(topics.size());
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i] == kNoPosition) {
      positions.emplace_back(std::nullopt);
      continue;
    }
    absl::StatusOr<sse::EventId> event_id =
        sse::ParseEventId(std::string_view(parts[i].data(), parts[i].size()));
    if (!event_id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("multi-topic id position ", i, ": ", event_id.status().message()));
    }
    positions.emplace_back(*event_id);
  }
  return positions;
}

std::string MultiTopicData(std::string_view topic, std::string_view data) {
  std::string out;
  out.reserve(topic.size() + 1 + data.size());
  out.append(topic);
  out.push_back('\n');
  out.append(data);
  return out;
}

MultiTopicCursor::MultiTopicCursor(std::vector<std::string> topics,
                                   std::vector<TopicPosition> positions)
    : topics_(std::move(topics)),
      list_hash_(TopicListHash(topics_)),
      positions_(std::move(positions)) {}

std::string MultiTopicCursor::Advance(size_t topic_index, const sse::EventId& id) {
  positions_[topic_index] = id;
  return this->id();
}

bool MultiTopicCursor::Place(size_t topic_index, const sse::EventId& start) {
  if (positions_[topic_index].has_value()) return false;
  positions_[topic_index] = start;
  return true;
}

std::string MultiTopicCursor::id() const { return EncodeMultiTopicId(list_hash_, positions_); }

}  // namespace ringcast::router
