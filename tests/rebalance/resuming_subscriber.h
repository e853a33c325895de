// resuming_subscriber.h — a test subscriber that behaves like a browser's EventSource: it follows
// one subscribe URL, follows 307 redirects, and when a stream ends (a handoff ends it with a
// short retry:) it reconnects with the last event id it saw as Last-Event-ID. Every event it
// receives is kept, so a test can check a topic's sequence across any number of moves.
//
// Thread safety: one thread at a time (tests give each poller thread its own subscribers).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/support/http_client.h"

namespace ringcast::testing {

class ResumingSubscriber {
 public:
  // `host_port` and `target` name the first request (a node or a router).
  ResumingSubscriber(std::string host_port, std::string target)
      : home_(std::move(host_port)), target_(std::move(target)) {}

  // Reads what arrives within `budget`, reconnecting as often as needed. An error only when a
  // reconnect got something other than a stream or a redirect repeatedly for `give_up`.
  absl::Status Poll(absl::Duration budget, absl::Duration give_up = absl::Seconds(15)) {
    const absl::Time deadline = absl::Now() + budget;
    while (absl::Now() < deadline) {
      if (connection_ != nullptr && connection_->closed()) {
        if (ended_at_ == absl::InfiniteFuture()) ended_at_ = absl::Now();
        // What arrived before the end still counts; Last-Event-ID covers it.
        while (connection_->buffered_events() > 0) {
          events_.push_back(*connection_->Next(absl::ZeroDuration()));
        }
      }
      if (connection_ == nullptr || connection_->closed()) {
        if (absl::Status s = Reconnect(give_up); !s.ok()) return s;
        if (connection_ == nullptr) return absl::OkStatus();  // retry at the next Poll
      }
      absl::StatusOr<sse::ParsedEvent> event = connection_->Next(deadline - absl::Now());
      if (event.ok()) {
        events_.push_back(*std::move(event));
        continue;
      }
      if (!connection_->closed()) return absl::OkStatus();  // nothing more within the budget
    }
    return absl::OkStatus();
  }

  const std::vector<sse::ParsedEvent>& events() const { return events_; }
  // For each reconnect: from seeing the old stream end to the new stream's 200.
  const std::vector<absl::Duration>& resume_times() const { return resume_times_; }
  int connects() const { return connects_; }
  // Where the current stream comes from, and its last event id, for failure messages.
  std::string Describe() const {
    return absl::StrCat(connects_, " connections, now at ", where_, ", last id ", last_id_,
                        connection_ != nullptr ? connection_->last_event_id() : "");
  }

 private:
  absl::Status Reconnect(absl::Duration give_up) {
    HttpHeaders headers;
    if (connection_ != nullptr && !connection_->last_event_id().empty()) {
      last_id_ = connection_->last_event_id();
    }
    if (!last_id_.empty()) headers.push_back({"Last-Event-ID", last_id_});
    connection_.reset();
    std::string host_port = home_;
    std::string target = target_;
    for (int redirects = 0; redirects < 3; ++redirects) {
      absl::StatusOr<std::unique_ptr<SseConnection>> opened =
          SseConnection::Open(host_port, target, headers, absl::Seconds(5));
      if (!opened.ok() || (*opened)->status() == 503) {
        if (failing_since_ == absl::InfiniteFuture()) failing_since_ = absl::Now();
        if (absl::Now() - failing_since_ > give_up) {
          return absl::UnavailableError(absl::StrCat(
              "cannot resume ", target_, ": ",
              opened.ok() ? (*opened)->body() : std::string(opened.status().message())));
        }
        return absl::OkStatus();
      }
      if ((*opened)->status() == 307) {
        const std::string location = (*opened)->header("Location").value_or("");
        // http://host:port/path
        const std::string rest = location.substr(location.find("//") + 2);
        host_port = rest.substr(0, rest.find('/'));
        target = rest.substr(rest.find('/'));
        continue;
      }
      if ((*opened)->status() != 200) {
        return absl::FailedPreconditionError(
            absl::StrCat(target_, " answered ", (*opened)->status(), ": ", (*opened)->body()));
      }
      connection_ = *std::move(opened);
      if (ended_at_ != absl::InfiniteFuture()) resume_times_.push_back(absl::Now() - ended_at_);
      ended_at_ = absl::InfiniteFuture();
      where_ = host_port;
      failing_since_ = absl::InfiniteFuture();
      ++connects_;
      return absl::OkStatus();
    }
    return absl::FailedPreconditionError(absl::StrCat(target_, ": too many redirects"));
  }

  const std::string home_;
  const std::string target_;
  std::unique_ptr<SseConnection> connection_;
  std::string last_id_;
  std::string where_;
  std::vector<sse::ParsedEvent> events_;
  int connects_ = 0;
  absl::Time failing_since_ = absl::InfiniteFuture();
  absl::Time ended_at_ = absl::InfiniteFuture();  // the current stream's end, until resumed
  std::vector<absl::Duration> resume_times_;
};

}  // namespace ringcast::testing
