// stream_check.cc — SseBodyReader and SequenceTracker (see stream_check.h).
#include "bench/stream_check.h"

#include <charconv>
#include <utility>

#include "absl/status/statusor.h"
#include "sse/event.h"

namespace ringcast::bench {
namespace {

// Finds `"<key>":"<string without escapes>"` in `data`.
std::optional<std::string_view> FindStringField(std::string_view data, std::string_view key) {
  const std::string pattern = "\"" + std::string(key) + "\":\"";
  const size_t at = data.find(pattern);
  if (at == std::string_view::npos) return std::nullopt;
  const size_t begin = at + pattern.size();
  const size_t end = data.find('"', begin);
  if (end == std::string_view::npos) return std::nullopt;
  return data.substr(begin, end - begin);
}

}  // namespace

absl::Status SseBodyReader::Feed(std::string_view bytes,
                                 const sse::EventStreamParser::EventHandler& on_event) {
  if (!chunked_) {
    // A body without chunking (HTTP/1.0-style servers) runs until the connection closes.
    parser_.Feed(bytes, on_event);
    return absl::OkStatus();
  }
  decoded_.clear();
  absl::Status status = decoder_.Feed(bytes, &decoded_);
  parser_.Feed(decoded_, on_event);
  return status;
}

std::optional<uint64_t> FindUnsignedField(std::string_view data, std::string_view key) {
  const std::string pattern = "\"" + std::string(key) + "\":";
  const size_t at = data.find(pattern);
  if (at == std::string_view::npos) return std::nullopt;
  const char* begin = data.data() + at + pattern.size();
  const char* end = data.data() + data.size();
  while (begin < end && *begin == ' ') ++begin;
  uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr == begin) return std::nullopt;
  return value;
}

std::optional<EventPosition> PositionOf(const sse::ParsedEvent& event) {
  if (std::optional<uint64_t> seq = FindUnsignedField(event.data, "seq"); seq.has_value()) {
    EventPosition position{.generation = 0, .value = *seq};
    if (std::optional<std::string_view> topic = FindStringField(event.data, "topic")) {
      position.topic = std::string(*topic);
    }
    return position;
  }
  if (!event.has_id) return std::nullopt;
  absl::StatusOr<sse::EventId> id = sse::ParseEventId(event.id);
  if (!id.ok()) return std::nullopt;
  return EventPosition{.generation = id->epoch, .value = id->offset};
}

Observation SequenceTracker::Observe(const sse::ParsedEvent& event) {
  Observation observation;
  observation.position = PositionOf(event);
  if (!observation.position.has_value()) return observation;
  const EventPosition& position = *observation.position;
  const auto [it, inserted] =
      last_.try_emplace(position.topic, Last{position.generation, position.value});
  Last& last = it->second;
  if (inserted) {
    observation.order = Order::kFirst;
  } else if (last.generation != position.generation) {
    observation.order = Order::kNewGeneration;
    last = Last{position.generation, position.value};
  } else if (position.value <= last.value) {
    observation.order = Order::kDuplicate;
  } else {
    observation.order = position.value == last.value + 1 ? Order::kNext : Order::kGap;
    observation.missing = position.value - last.value - 1;
    last.value = position.value;
  }
  return observation;
}

void SequenceTracker::ResumeAfter(const EventPosition& position) {
  last_[position.topic] = Last{position.generation, position.value};
}

}  // namespace ringcast::bench
