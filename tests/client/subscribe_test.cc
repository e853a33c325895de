// subscribe_test.cc — `ringcast subscribe` in the situations a real node cannot be made to
// produce, against a scripted HTTP server on port 0 that writes exact bytes: a stream cut off in
// the middle of an event (no last chunk), a redirect to a bare path, a 503 followed by recovery.
// Each connection the server accepts gets the next scripted reply, then is closed. Everything a
// real node can do (its 307s, resuming after it ends a stream, resets, 400s) is tested against
// real nodes in subscribe_node_test.cc.
#include "cli/subscribe.h"

#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sse/chunked.h"

namespace ringcast::cli {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// What the server saw of one request.
struct SeenRequest {
  std::string target;
  std::string last_event_id;  // "" when the header was absent
  std::string accept;
};

class ScriptedHttpServer {
 public:
  explicit ScriptedHttpServer(std::vector<std::string> replies)
      : replies_(std::move(replies)),
        acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { Serve(); });
  }

  ~ScriptedHttpServer() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    // Wakes a blocked accept(); the loop sees stopping_ and ends.
    beast::error_code ignored;
    tcp::socket poke(io_);
    poke.connect(acceptor_.local_endpoint(), ignored);
    thread_.join();
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }

  std::vector<SeenRequest> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  void Serve() {
    for (const std::string& reply : replies_) {
      tcp::socket socket(io_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      {
        absl::MutexLock lock(&mu_);
        if (ec || stopping_) return;
      }
      beast::flat_buffer buffer;
      http::request<http::empty_body> request;
      http::read(socket, buffer, request, ec);
      if (ec) continue;
      {
        absl::MutexLock lock(&mu_);
        requests_.push_back({std::string(request.target()), std::string(request["Last-Event-ID"]),
                             std::string(request[http::field::accept])});
      }
      net::write(socket, net::buffer(reply), ec);
      socket.shutdown(tcp::socket::shutdown_both, ec);
    }
  }

  const std::vector<std::string> replies_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<SeenRequest> requests_ ABSL_GUARDED_BY(mu_);
};

// A 200 event-stream response head, then `chunks` each as one HTTP chunk; no last chunk, so the
// connection's close ends the stream abruptly (like a node that went away).
std::string Stream(const std::vector<std::string>& chunks) {
  std::string reply =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
      "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string& chunk : chunks)
    reply += sse::ChunkSizeLine(chunk.size()) + chunk + "\r\n";
  return reply;
}

std::string Reply(std::string_view status_line, std::string_view headers, std::string_view body) {
  return std::string(status_line) + "\r\n" + std::string(headers) +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

TEST(Subscribe, ResumesAfterAStreamBrokenMidEvent) {
  // Given a 307 to a path, then a stream cut mid-event, expect a resume from 5:2 and ids carried.
  ScriptedHttpServer server({
      Reply("HTTP/1.1 307 Temporary Redirect", "Location: /owner/v1/topics/orders%2F42/events\r\n",
            ""),
      Stream({"retry: 10\n: open\n\n", "id: 5:1\ndata: one\n\nid: 5:2\nevent: price\n",
              "data: two\ndata: lines\n\n"}),
      Stream({": open\n\ndata: three\n\n", "id: 5:3\ndata: four\n\nid: 5:4\ndata: five\n\n"}),
  });
  SubscribeCommandOptions options;
  options.url = server.url();
  options.topic = "orders/42";
  options.count = 4;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunSubscribe(options, out, err), 0) << err.str();
  EXPECT_EQ(out.str(),
            "5:1 message one\n"
            "5:2 price two\\nlines\n"
            "5:2 message three\n"
            "5:3 message four\n");
  EXPECT_THAT(err.str(), HasSubstr("reconnecting in 10 ms from 5:2"));

  std::vector<SeenRequest> seen = server.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].target, "/v1/topics/orders%2F42/events");
  EXPECT_EQ(seen[0].accept, "text/event-stream");
  EXPECT_EQ(seen[0].last_event_id, "");
  EXPECT_EQ(seen[1].target, "/owner/v1/topics/orders%2F42/events");
  EXPECT_EQ(seen[2].target, "/v1/topics/orders%2F42/events");
  EXPECT_EQ(seen[2].last_event_id, "5:2");
}

TEST(Subscribe, ResumesFromAnIdOnlyMessage) {
  // Given a stream whose only id came in an id-only message (a router's multi-topic position
  // update), cut, expect nothing printed for it and the reconnect to send that id.
  ScriptedHttpServer server({
      Stream({"retry: 10\n\nid: m1.00000000000000ff.7:0\n\n"}),
      Stream({"id: m1.00000000000000ff.7:1\ndata: one\n\n"}),
  });
  SubscribeCommandOptions options;
  options.url = server.url();
  options.topic = "t";
  options.count = 1;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunSubscribe(options, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), "m1.00000000000000ff.7:1 message one\n");
  std::vector<SeenRequest> seen = server.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].last_event_id, "m1.00000000000000ff.7:0");
}

TEST(Subscribe, RetriesServerErrorsWithTheGivenWait) {
  // Given a 503 and then a stream, with --retry_ms=1, expect the event after one retry.
  ScriptedHttpServer server({
      Reply("HTTP/1.1 503 Service Unavailable", "", "no owner yet"),
      Stream({"id: 1:1\ndata: x\n\n"}),
  });
  SubscribeCommandOptions options;
  options.url = server.url();
  options.topic = "t";
  options.count = 1;
  options.retry = absl::Milliseconds(1);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunSubscribe(options, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), "1:1 message x\n");
  EXPECT_THAT(err.str(), HasSubstr("HTTP 503 Service Unavailable"));
  EXPECT_THAT(err.str(), HasSubstr("no owner yet; reconnecting in 1 ms"));
}

TEST(Subscribe, RejectsBadArguments) {
  // Given no topic, then an https URL, expect exit 1 and the reason, without connecting.
  SubscribeCommandOptions options;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunSubscribe(options, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("--topic is required"));
  options.topic = "t";
  options.url = "https://example.com";
  EXPECT_EQ(RunSubscribe(options, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("https is not supported"));
}

}  // namespace
}  // namespace ringcast::cli
