// upstream.h — an HTTP/1.1 client of one node's event stream, for the proxying router: connects
// to the owner, sends `GET <target>` with the client's resume point as Last-Event-ID, follows a
// node's 307 (its ring is newer) once, then parses the node's text/event-stream as it arrives
// and hands each event to its Listener at once. Nothing is buffered beyond the bytes of one read.
//
// One connection per upstream, no pool: an event stream is one response that lasts as long as
// the client's stream, so a kept-alive connection would never be free for reuse (see
// docs/router.md "Proxy settings").
//
// Like SseStream, an open upstream keeps no read buffer while idle: it waits for readability,
// then reads what arrived into a stack buffer and feeds the chunked decoder and the SSE parser.
//
// Thread safety: not thread-safe. Every method must be called on the executor given to the
// constructor (the worker thread of the client's stream); the Listener is called there too.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sse/chunked.h"
#include "sse/parser.h"

namespace ringcast::router {

class Upstream : public std::enable_shared_from_this<Upstream> {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // The node answered 200; events follow.
    virtual void OnUpstreamOpen(Upstream& upstream) = 0;
    // One event of the node's stream (id, type, data as EventSource would see them). The
    // listener may Close() any upstream from here.
    virtual void OnUpstreamEvent(Upstream& upstream, const sse::ParsedEvent& event) = 0;
    // The upstream is over; called once, and never after Close(). Before OnUpstreamOpen:
    //   UNAVAILABLE          connect refused or reset, or connect_timeout passed
    //   FAILED_PRECONDITION  the node answered another status than 200 or 307
    //   ABORTED              the node redirected more than max_redirects times, or to a URL
    //                        the router cannot follow (not http://host:port/...)
    // After it: OK when the node ended the stream (the last chunk, e.g. its shutdown retry:),
    // UNAVAILABLE when the connection broke, INTERNAL for broken chunked framing.
    virtual void OnUpstreamEnded(Upstream& upstream, const absl::Status& status) = 0;
  };

  struct Options {
    // Time for connecting, sending the request and receiving the response head.
    absl::Duration connect_timeout = absl::Seconds(2);
    // 307s from nodes followed per Open (a node with a newer ring names the owner).
    int max_redirects = 1;
  };

  // `listener` must stay valid until it calls Close() or receives OnUpstreamEnded.
  // `index` is the caller's name for this upstream (the topic's position in its stream).
  Upstream(boost::asio::any_io_executor executor, size_t index, Options options,
           Listener* listener);

  // Opens `GET <target>` at `address` (host:port); `last_event_id`, when set, is sent as the
  // Last-Event-ID header.
  void Open(std::string address, std::string target, std::optional<std::string> last_event_id);

  // Closes the connection at once; the listener hears nothing more.
  void Close();

  size_t index() const { return index_; }
  // Whether the node answered 200 and the stream has not ended.
  bool streaming() const { return streaming_; }
  // 307s followed during Open.
  int redirects_followed() const { return redirects_followed_; }
  // The address (host:port) the stream comes from, after any redirect.
  const std::string& address() const { return address_; }
  // The node's Ringcast-Position header on its 200 (the id its stream starts after), if sent.
  const std::optional<std::string>& position() const { return position_; }
  // Where a resumed upstream would continue: the last id received (an event's, or an id-only
  // message's); until then the node's Ringcast-Position (where its stream starts: after a
  // ringcast.reset, in the new history, so resuming there resets nothing twice), else the
  // resume point sent.
  const std::string& last_event_id() const { return last_event_id_; }
  // The last retry: the node sent (its stream-open hint, or the one it ended the stream with).
  std::optional<uint32_t> retry_ms() const { return parser_.retry_ms(); }

 private:
  void Connect();
  void OnResolved(const boost::system::error_code& ec,
                  const boost::asio::ip::tcp::resolver::results_type& results);
  void OnConnected(const boost::system::error_code& ec);
  void OnRequestWritten(const boost::system::error_code& ec);
  void OnHead(const boost::system::error_code& ec);
  absl::Status FollowRedirect(std::string_view location);
  void WaitForBytes();
  void OnReadable(const boost::system::error_code& ec);
  // Feeds body bytes (before chunked decoding) to the decoder and the parser.
  void FeedBody(std::string_view bytes);
  // Takes the parser's last event id, once the stream has sent one.
  void TakeParsedLastEventId();
  void End(absl::Status status);

  // Constant after construction.
  const size_t index_;
  const Options options_;
  boost::asio::any_io_executor executor_;

  Listener* listener_;  // null after Close() or End()
  std::string address_;
  std::string target_;
  std::string last_event_id_;
  bool send_last_event_id_ = false;
  std::optional<std::string> position_;
  int redirects_followed_ = 0;
  bool streaming_ = false;

  // While opening.
  boost::asio::ip::tcp::resolver resolver_;
  std::optional<boost::beast::tcp_stream> connecting_;
  std::string request_;
  boost::beast::flat_buffer head_buffer_;
  std::optional<boost::beast::http::response_parser<boost::beast::http::empty_body>> head_;

  // While streaming.
  boost::asio::ip::tcp::socket socket_;
  bool chunked_ = true;
  sse::ChunkedDecoder decoder_;
  sse::EventStreamParser parser_;
  std::string body_;  // decoded bytes of the current read, reused
};

}  // namespace ringcast::router
