// http_client_test.cc — the test HTTP client (tests/support/http_client.h) against real sockets:
// a ScriptedServer on 127.0.0.1:0 writes exact bytes (Content-Length, chunked, close-delimited
// bodies; event streams split across chunk boundaries; silence; broken framing) and the client
// must read them as a browser would, within its deadlines.
#include "tests/support/http_client.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support_test/scripted_server.h"

namespace ringcast::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Optional;
using ::testing::StartsWith;

constexpr std::string_view kSseHead =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/event-stream; charset=utf-8\r\n"
    "Cache-Control: no-cache\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n";

// One chunk carrying `data`.
std::string Chunk(std::string_view data) {
  return absl::StrCat(absl::Hex(data.size()), "\r\n", std::string(data), "\r\n");
}

// The request head the server read, shared with the test thread.
class Captured {
 public:
  void Set(std::string value) {
    absl::MutexLock lock(&mu_);
    value_ = std::move(value);
  }
  std::string Get() const {
    absl::MutexLock lock(&mu_);
    return value_;
  }

 private:
  mutable absl::Mutex mu_;
  std::string value_ ABSL_GUARDED_BY(mu_);
};

auto IsEvent(std::string type, std::string data, std::string id) {
  return AllOf(Field(&sse::ParsedEvent::type, type), Field(&sse::ParsedEvent::data, data),
               Field(&sse::ParsedEvent::id, id));
}

// A port nothing listens on: bound, then closed.
std::string ClosedPortAddress() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t size = sizeof(address);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size), 0);
  close(fd);
  return absl::StrCat("127.0.0.1:", ntohs(address.sin_port));
}

// Given a 200 with Content-Length: 5, expect the body, case-insensitive headers, and a request
// line with Host, Connection: close and the caller's header.
TEST(HttpGet, ReadsAContentLengthBody) {
  Captured request;
  ScriptedServer server([&](int fd) {
    request.Set(ReadRequestHead(fd));
    Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Two: a\r\nx-two: b\r\n\r\nhelloEXTRA");
  });
  absl::StatusOr<HttpResponse> response =
      HttpGet(server.address(), "/healthz?x=1", {{"X-Test", "yes"}});
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->reason, "OK");
  EXPECT_EQ(response->body, "hello");
  EXPECT_EQ(response->header("content-length"), "5");
  EXPECT_EQ(response->header("X-TWO"), "a");
  EXPECT_EQ(response->header("X-Missing"), std::nullopt);
  EXPECT_EQ(response->headers.size(), 3u);
  EXPECT_THAT(request.Get(), StartsWith("GET /healthz?x=1 HTTP/1.1\r\n"));
  EXPECT_THAT(request.Get(), HasSubstr(absl::StrCat("\r\nHost: ", server.address(), "\r\n")));
  EXPECT_THAT(request.Get(), HasSubstr("\r\nConnection: close\r\n"));
  EXPECT_THAT(request.Get(), HasSubstr("\r\nX-Test: yes\r\n"));
}

// Given a chunked body with a chunk extension and a trailer, expect the joined data.
TEST(HttpGet, ReadsAChunkedBody) {
  ScriptedServer server([](int fd) {
    ReadRequestHead(fd);
    Send(fd, "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n");
    Send(fd, "4;ext=1\r\nWiki\r\n");
    Send(fd, "5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n");
  });
  absl::StatusOr<HttpResponse> response = HttpGet(server.address(), "/nope");
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->reason, "Not Found");
  EXPECT_EQ(response->body, "Wikipedia");
}

// Given no Content-Length and no chunking, expect the body to run to the close.
TEST(HttpGet, ReadsACloseDelimitedBody) {
  ScriptedServer server([](int fd) {
    ReadRequestHead(fd);
    Send(fd, "HTTP/1.0 200 OK\r\n\r\nfirst ");
    Send(fd, "second");
  });
  absl::StatusOr<HttpResponse> response = HttpGet(server.address(), "/");
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->body, "first second");
}

// Given an interim 100 Continue, expect the final response.
TEST(HttpGet, SkipsInterimResponses) {
  ScriptedServer server([](int fd) {
    ReadRequestHead(fd);
    Send(fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
  });
  absl::StatusOr<HttpResponse> response = HttpGet(server.address(), "/");
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 204);
  EXPECT_EQ(response->body, "");
}

TEST(HttpRequest, SendsTheMethodAndBody) {
  Captured request;
  ScriptedServer server([&](int fd) {
    request.Set(ReadUntil(fd, "abc"));
    Send(fd, "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nContent-Length: 0\r\n\r\n");
  });
  absl::StatusOr<HttpResponse> response =
      HttpRequest("POST", server.address(), "/v1/topics/a/events", {}, "abc");
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 405);
  EXPECT_EQ(response->header("allow"), "GET");
  EXPECT_THAT(request.Get(), StartsWith("POST /v1/topics/a/events HTTP/1.1\r\n"));
  EXPECT_THAT(request.Get(), HasSubstr("\r\nContent-Length: 3\r\n\r\nabc"));
}

// Given a server that reads the request and never answers, expect DEADLINE_EXCEEDED on time.
TEST(HttpGet, TimesOutOnASilentServer) {
  absl::Notification done;
  ScriptedServer server([&](int fd) {
    ReadRequestHead(fd);
    done.WaitForNotificationWithTimeout(kHandlerWait);
  });
  EXPECT_THAT(HttpGet(server.address(), "/", {}, absl::Milliseconds(100)),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("response head")));
  done.Notify();
}

TEST(HttpGet, RefusedConnectionIsUnavailable) {
  EXPECT_THAT(HttpGet(ClosedPortAddress(), "/"), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(HttpGet, RejectsABadAddress) {
  EXPECT_THAT(HttpGet("127.0.0.1", "/"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Given a body cut short of its Content-Length, expect INTERNAL quoting what arrived.
TEST(HttpGet, TruncatedBodyIsAnError) {
  ScriptedServer server([](int fd) {
    ReadRequestHead(fd);
    Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
  });
  EXPECT_THAT(HttpGet(server.address(), "/"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("short")));
}

TEST(HttpGet, GarbageStatusLineIsAnError) {
  ScriptedServer server([](int fd) {
    ReadRequestHead(fd);
    Send(fd, "SSH-2.0-OpenSSH\r\n\r\n");
  });
  EXPECT_THAT(HttpGet(server.address(), "/"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("status line")));
}

// Given a malformed request the server answers with 400 and closes, expect that answer.
TEST(SendRaw, ReturnsEverythingUntilTheServerCloses) {
  Captured request;
  ScriptedServer server([&](int fd) {
    request.Set(ReadRequestHead(fd));
    Send(fd, "HTTP/1.1 400 Bad Request\r\n");
    Send(fd, "Content-Length: 3\r\n\r\nbad");
  });
  absl::StatusOr<std::string> answer =
      SendRaw(server.address(), "GET /v1/topics/%zz/events HTTP/1.1\r\n\r\n", absl::Seconds(10));
  ASSERT_THAT(answer, IsOk());
  EXPECT_EQ(*answer, "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad");
  EXPECT_EQ(request.Get(), "GET /v1/topics/%zz/events HTTP/1.1\r\n\r\n");
}

// Given a server that answers partly and keeps the connection, expect DEADLINE_EXCEEDED with the
// partial answer in the message.
TEST(SendRaw, DeadlineQuotesThePartialAnswer) {
  absl::Notification done;
  ScriptedServer server([&](int fd) {
    ReadUntil(fd, "\n");
    Send(fd, "HTTP/1.1 408 partial\r\n");
    done.WaitForNotificationWithTimeout(kHandlerWait);
  });
  EXPECT_THAT(
      SendRaw(server.address(), "GET / HTTP/1.1\r\n", absl::Milliseconds(200)),
      StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("HTTP/1.1 408 partial\\r\\n")));
  done.Notify();
}

// Given an event stream whose chunks split lines, a CRLF pair and a field name, with a comment,
// a retry and a multi-line event, expect the events EventSource would dispatch, then a clean end.
TEST(SseConnection, ParsesEventsSplitAcrossChunks) {
  Captured request;
  ScriptedServer server([&](int fd) {
    request.Set(ReadRequestHead(fd));
    Send(fd, kSseHead);
    for (std::string_view piece : {
             "retry: 2500\r\n: open\r\n\r\nid: 1:1\r",    // CR | LF split
             "\ndata: first\r\n\r\nid: 1:2\r\nev",        // inside a field name
             "ent: price\r\ndata: line one\r\ndata: li",  // inside a data line
             "ne two\r\n\r\n",                            // a chunk ending an event
             "id: 1:3\r\ndata: third\r\n\r\n",            // a whole event
         }) {
      Send(fd, Chunk(piece));
    }
    Send(fd, "0\r\n\r\n");
  });
  absl::StatusOr<std::unique_ptr<SseConnection>> sub = SseConnection::Open(
      server.address(), "/v1/topics/orders%2F42/events", {{"Last-Event-ID", "1:0"}});
  ASSERT_THAT(sub, IsOk());
  SseConnection& stream = **sub;
  EXPECT_EQ(stream.status(), 200);
  EXPECT_EQ(stream.header("content-type"), "text/event-stream; charset=utf-8");
  EXPECT_THAT(stream.NextN(3, absl::Seconds(10)),
              IsOkAndHolds(ElementsAre(IsEvent("message", "first", "1:1"),
                                       IsEvent("price", "line one\nline two", "1:2"),
                                       IsEvent("message", "third", "1:3"))));
  EXPECT_TRUE(stream.WaitClosed(absl::Seconds(10)));
  EXPECT_TRUE(stream.ended_cleanly());
  EXPECT_EQ(stream.comment_count(), 1u);
  EXPECT_THAT(stream.retry_ms(), Optional(2500u));
  EXPECT_EQ(stream.last_event_id(), "1:3");
  EXPECT_THAT(stream.Next(absl::Seconds(10)), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(request.Get(), StartsWith("GET /v1/topics/orders%2F42/events HTTP/1.1\r\n"));
  EXPECT_THAT(request.Get(), HasSubstr("\r\nAccept: text/event-stream\r\n"));
  EXPECT_THAT(request.Get(), HasSubstr("\r\nLast-Event-ID: 1:0\r\n"));
}

// Given a server that sends one event at a time when the test says so, expect Next to return
// each as it comes and to time out (DEADLINE_EXCEEDED, not an error) in between.
TEST(SseConnection, NextWaitsForEachEvent) {
  absl::Notification second, end;
  ScriptedServer server([&](int fd) {
    ReadRequestHead(fd);
    Send(fd, kSseHead);
    Send(fd, Chunk("id: 7:1\ndata: one\n\n"));
    second.WaitForNotificationWithTimeout(kHandlerWait);
    Send(fd, Chunk("id: 7:2\ndata: two\n\n"));
    end.WaitForNotificationWithTimeout(kHandlerWait);
    Send(fd, Chunk("retry: 10\n\n"));
    Send(fd, "0\r\n\r\n");
  });
  absl::StatusOr<std::unique_ptr<SseConnection>> sub =
      SseConnection::Open(server.address(), "/v1/topics/a/events");
  ASSERT_THAT(sub, IsOk());
  SseConnection& stream = **sub;
  EXPECT_THAT(stream.Next(absl::Seconds(10)), IsOkAndHolds(IsEvent("message", "one", "7:1")));
  EXPECT_THAT(stream.Next(absl::Milliseconds(50)),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("1 events parsed")));
  EXPECT_FALSE(stream.WaitClosed(absl::Milliseconds(50)));
  second.Notify();
  EXPECT_THAT(stream.Next(absl::Seconds(10)), IsOkAndHolds(IsEvent("message", "two", "7:2")));
  end.Notify();
  EXPECT_TRUE(stream.WaitClosed(absl::Seconds(10)));
  EXPECT_THAT(stream.retry_ms(), Optional(10u));
}

// Given two events and then silence, expect NextN(3) to time out without consuming them.
TEST(SseConnection, NextNIsAllOrNothing) {
  absl::Notification done;
  ScriptedServer server([&](int fd) {
    ReadRequestHead(fd);
    Send(fd, kSseHead);
    Send(fd, Chunk("data: a\n\ndata: b\n\n"));
    done.WaitForNotificationWithTimeout(kHandlerWait);
  });
  absl::StatusOr<std::unique_ptr<SseConnection>> sub =
      SseConnection::Open(server.address(), "/v1/topics/a/events");
  ASSERT_THAT(sub, IsOk());
  EXPECT_THAT((*sub)->NextN(3, absl::Milliseconds(100)),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("only 2 of 3")));
  EXPECT_EQ((*sub)->buffered_events(), 2u);
  EXPECT_THAT((*sub)->NextN(2, absl::Seconds(10)),
              IsOkAndHolds(ElementsAre(IsEvent("message", "a", ""), IsEvent("message", "b", ""))));
  done.Notify();
}

// Given a 404 with a plain-text reason, expect the status and body, and no event stream.
TEST(SseConnection, NonOkAnswerHasStatusAndBody) {
  ScriptedServer server([](int fd) {
    ReadRequestHead(fd);
    Send(fd, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n");
    Send(fd, "bad topic\r\n\n");
  });
  absl::StatusOr<std::unique_ptr<SseConnection>> sub =
      SseConnection::Open(server.address(), "/v1/topics/%00/events");
  ASSERT_THAT(sub, IsOk());
  EXPECT_EQ((*sub)->status(), 400);
  EXPECT_EQ((*sub)->body(), "bad topic\r\n\n");
  EXPECT_EQ((*sub)->header("Content-Type"), "text/plain");
  EXPECT_THAT((*sub)->Next(absl::Seconds(1)), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE((*sub)->WaitClosed(absl::Seconds(1)));
}

TEST(SseConnection, RedirectExposesLocation) {
  ScriptedServer server([](int fd) {
    ReadRequestHead(fd);
    Send(fd,
         "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:1/v1/topics/a/events"
         "\r\nContent-Length: 0\r\n\r\n");
  });
  absl::StatusOr<std::unique_ptr<SseConnection>> sub =
      SseConnection::Open(server.address(), "/v1/topics/a/events");
  ASSERT_THAT(sub, IsOk());
  EXPECT_EQ((*sub)->status(), 307);
  EXPECT_EQ((*sub)->header("location"), "http://127.0.0.1:1/v1/topics/a/events");
}

// Given a stream cut without the last chunk, in the middle of an event, expect the complete
// event, then a closed stream that did not end cleanly (the partial event is dropped).
TEST(SseConnection, EofWithoutLastChunkIsNotClean) {
  ScriptedServer server([](int fd) {
    ReadRequestHead(fd);
    Send(fd, kSseHead);
    Send(fd, Chunk("id: 1:1\ndata: whole\n\nid: 1:2\ndata: cut"));
  });
  absl::StatusOr<std::unique_ptr<SseConnection>> sub =
      SseConnection::Open(server.address(), "/v1/topics/a/events");
  ASSERT_THAT(sub, IsOk());
  EXPECT_TRUE((*sub)->WaitClosed(absl::Seconds(10)));
  EXPECT_FALSE((*sub)->ended_cleanly());
  EXPECT_THAT((*sub)->Next(absl::Seconds(1)), IsOkAndHolds(IsEvent("message", "whole", "1:1")));
  EXPECT_THAT((*sub)->Next(absl::Seconds(1)),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("without a last chunk")));
}

TEST(SseConnection, BrokenChunkFramingIsInternal) {
  absl::Notification done;
  ScriptedServer server([&](int fd) {
    ReadRequestHead(fd);
    Send(fd, kSseHead);
    Send(fd, "zz\r\ndata: x\n\n\r\n");
    done.WaitForNotificationWithTimeout(kHandlerWait);
  });
  absl::StatusOr<std::unique_ptr<SseConnection>> sub =
      SseConnection::Open(server.address(), "/v1/topics/a/events");
  ASSERT_THAT(sub, IsOk());
  EXPECT_THAT((*sub)->Next(absl::Seconds(10)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("chunked")));
  done.Notify();
}

TEST(SseConnection, OpenTimesOutWithoutAResponseHead) {
  absl::Notification done;
  ScriptedServer server([&](int fd) {
    ReadRequestHead(fd);
    Send(fd, "HTTP/1.1 200 OK\r\n");
    done.WaitForNotificationWithTimeout(kHandlerWait);
  });
  EXPECT_THAT(
      SseConnection::Open(server.address(), "/v1/topics/a/events", {}, absl::Milliseconds(100)),
      StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("HTTP/1.1 200 OK")));
  done.Notify();
}

// Given a subscriber with a 4 KiB receive buffer that does not call Next, and a server that
// writes 8 MiB of events, expect the server's writes to stall well before 8 MiB (the client reads
// nothing in the background); then Next reads every event in order.
TEST(SseConnection, SmallReceiveBufferBacksUpTheServer) {
  constexpr int kEvents = 8192;
  const std::string padding(1000, 'x');
  absl::Notification stalled, release;
  size_t written_at_stall = 0;  // written before `stalled`, read after it
  ScriptedServer server(
      [&](int fd) {
        ReadRequestHead(fd);
        Send(fd, kSseHead);
        size_t written = 0;
        for (int i = 1; i <= kEvents; ++i) {
          const std::string frame =
              Chunk(absl::StrCat("id: 1:", i, "\ndata: ", i, " ", padding, "\n\n"));
          std::string_view rest = frame;
          while (!rest.empty()) {
            const ssize_t n = send(fd, rest.data(), rest.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
              rest.remove_prefix(static_cast<size_t>(n));
              written += static_cast<size_t>(n);
              continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return;
            pollfd p = {fd, POLLOUT, 0};
            // No room for 200 ms: the client is not reading. Report once, then wait for it.
            if (!stalled.HasBeenNotified() && poll(&p, 1, 200) == 0) {
              written_at_stall = written;
              stalled.Notify();
              release.WaitForNotificationWithTimeout(kHandlerWait);
            }
            poll(&p, 1, 10'000);
          }
        }
        Send(fd, "0\r\n\r\n");
      },
      /*send_buffer=*/8192);
  absl::StatusOr<std::unique_ptr<SseConnection>> sub =
      SseConnection::Open(server.address(), "/v1/topics/a/events", {}, absl::Seconds(10),
                          SseOptions{.receive_buffer_bytes = 4096});
  ASSERT_THAT(sub, IsOk());
  ASSERT_TRUE(stalled.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_LT(written_at_stall, size_t{1} << 20);
  // Open may have read a few events along with the head, never more than one read's worth.
  EXPECT_LE((*sub)->bytes_received(), 16u * 1024);
  RecordProperty("written_at_stall", static_cast<int>(written_at_stall));
  release.Notify();
  for (int i = 1; i <= kEvents; ++i) {
    absl::StatusOr<sse::ParsedEvent> event = (*sub)->Next(absl::Seconds(10));
    ASSERT_THAT(event, IsOk());
    ASSERT_EQ(event->id, absl::StrCat("1:", i));
  }
  EXPECT_TRUE((*sub)->WaitClosed(absl::Seconds(10)));
  EXPECT_TRUE((*sub)->ended_cleanly());
}

// Given a client that closes its stream, expect the server to read EOF.
TEST(SseConnection, CloseEndsTheConnection) {
  absl::Notification saw_eof;
  ScriptedServer server([&](int fd) {
    ReadRequestHead(fd);
    Send(fd, kSseHead);
    char byte;
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 10'000) == 1 && recv(fd, &byte, 1, 0) == 0) saw_eof.Notify();
  });
  absl::StatusOr<std::unique_ptr<SseConnection>> sub =
      SseConnection::Open(server.address(), "/v1/topics/a/events");
  ASSERT_THAT(sub, IsOk());
  (*sub)->Close();
  EXPECT_TRUE((*sub)->closed());
  EXPECT_TRUE(saw_eof.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

}  // namespace
}  // namespace ringcast::testing
