// multi_topic.h — the multi-topic stream's contract (DESIGN.md "Subscribe", docs/router.md
// "Multi-topic streams"): which topics a `GET /v1/events?topic=a&topic=b` request names, how an
// event of one topic is framed on the merged stream, and the stream's event ids, which hold every
// topic's position so that one Last-Event-ID resumes each topic exactly.
//
// Id grammar (one line, no spaces):
//   id       = "m1." list-hash 1*( "." position )       one position per topic, in request order
//   list-hash = 16 lowercase hex digits                  XXH3-64 (seed 0) of the topics joined
//                                                        by "\n", in request order
//   position = "-" / epoch ":" offset                   "-": the topic's upstream has not
//                                                        opened yet (resume live); else the
//                                                        topic's last event id received, or,
//                                                        before its first event, the id its
//                                                        node's stream started after (the
//                                                        Ringcast-Position header; offset 0 =
//                                                        the topic had no event)
// Worked example: topics ["a", "b"], "a" at 7:3, "b" opened at 9:0 with no event yet:
//   m1.<hash of "a\nb">.7:3.9:0
// On the stream, an event of topic "a" with type "price" and data "x\ny" becomes
//   id: m1.<hash>.7:4.9:0
//   event: price
//   data: a
//   data: x
//   data: y
// so a browser's `event.data.split("\n", 1)` gives ["a", "x\ny"] (a topic never holds a newline).
// When positions move without an event (topics placed at their start position as the stream
// opens), the stream carries an id-only message, "id: m1.<hash>.7:3.9:0\n\n": EventSource sets
// lastEventId from it and dispatches nothing.
//
// Thread safety: free functions are pure; a MultiTopicCursor belongs to one stream (one thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "sse/event.h"

namespace ringcast::router {

// One topic's position on a multi-topic stream: its last event id received (or the id its
// upstream started after), or nullopt before its upstream opened (that topic then resumes
// live, as a single-topic stream without Last-Event-ID).
using TopicPosition = std::optional<sse::EventId>;

// The `topic` parameters of a /v1/events query, in order, each validated with
// sse::ValidateTopic. INVALID_ARGUMENT (the caller answers 400) for: no topic, more than
// `max_topics`, a bad topic, a topic named twice, a bad percent-escape. Other parameters
// (lastEventId) are ignored here.
absl::StatusOr<std::vector<std::string>> ParseTopicList(std::string_view query, size_t max_topics,
                                                        size_t max_topic_bytes);

// XXH3-64 of `topics` joined by "\n": binds an id to its topic list and its order.
uint64_t TopicListHash(absl::Span<const std::string> topics);

// The id text for `positions` (one per topic) under `list_hash`.
std::string EncodeMultiTopicId(uint64_t list_hash, absl::Span<const TopicPosition> positions);

// The positions of `id` for the stream of `topics`. INVALID_ARGUMENT when the id is malformed,
// was made for another topic list (hash), or holds another number of positions: the caller
// then resets every topic (ringcast.reset per topic), never answers 400.
absl::StatusOr<std::vector<TopicPosition>> DecodeMultiTopicId(
    std::string_view id, absl::Span<const std::string> topics);

// The data of an event of `topic` on a multi-topic stream: topic, "\n", then the data.
std::string MultiTopicData(std::string_view topic, std::string_view data);

// The running position of every topic of one multi-topic stream.
class MultiTopicCursor {
 public:
  // Starts at `positions` (one per topic; all nullopt for a fresh stream).
  MultiTopicCursor(std::vector<std::string> topics, std::vector<TopicPosition> positions);

  // Records that `topic_index`'s event `id` was relayed; returns the stream's id after it.
  std::string Advance(size_t topic_index, const sse::EventId& id);

  // Gives a topic that has no position yet ("-") the position its upstream's stream starts
  // after (the node's Ringcast-Position). Returns false, changing nothing, when the topic
  // already has a position.
  bool Place(size_t topic_index, const sse::EventId& start);

  // The stream's id for the positions as they are now.
  std::string id() const;

  const std::vector<std::string>& topics() const { return topics_; }
  const std::vector<TopicPosition>& positions() const { return positions_; }

 private:
  const std::vector<std::string> topics_;
  const uint64_t list_hash_;
  std::vector<TopicPosition> positions_;
};

}  // namespace ringcast::router
