// http_session.h — one HTTP/1.1 connection until its request is handled: reads a request with
// bounded headers and a header deadline, hands it to a Handler, writes plain responses, and
// hands the socket over when the handler turns the connection into an event stream.
// Shared by nodes and routers (Beast's one-session-object-per-connection pattern).
//
// Limits: header bytes (request line included) over `max_header_bytes` get 431; a request
// whose headers do not arrive within `header_timeout` (slowloris, or an idle keep-alive
// connection) is closed; malformed requests and requests with a body get 400.
//
// Thread safety: not thread-safe; runs on the executor of its socket. The handler is called
// there.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "absl/time/time.h"

namespace ringcast::sse {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  using Request = boost::beast::http::request<boost::beast::http::empty_body>;

  enum class Rejection {
    kHeaderTooLarge,  // answered 431
    kHeaderTimeout,   // closed
    kMalformed,       // answered 400
  };

  class Handler {
   public:
    virtual ~Handler() = default;
    // A request was read. Answer it with session->Respond(), or take the connection with
    // session->TakeSocket().
    virtual void OnRequest(const std::shared_ptr<HttpSession>& session, Request request) = 0;
    // A request could not be read; the session has answered or closed.
    virtual void OnRejected(Rejection rejection) = 0;
  };

  struct Limits {
    // Bytes of request line plus headers. Larger requests get 431.
    size_t max_header_bytes = 8192;
    // Time for a whole request head to arrive (and for an idle keep-alive connection to send
    // its next request). Shorter resists slowloris; longer tolerates slow clients.
    absl::Duration header_timeout = absl::Seconds(10);
  };

  struct Header {
    std::string name;
    std::string value;
  };

  // `handler` must outlive the session. `token` is kept for the life of the connection (e.g. a
  // connection-count slot) and passes on with TakeSocket().
  HttpSession(boost::asio::ip::tcp::socket socket, Limits limits, Handler* handler,
              std::shared_ptr<void> token = nullptr);

  void Start();

  // Writes a complete response with a plain-text (or given) body, then reads the next request
  // unless `keep_alive` is false or the request asked to close.
  void Respond(boost::beast::http::status status, std::string body,
               std::vector<Header> headers = {}, bool keep_alive = true);

  // Takes the connection, and its token, out of the session (for an event stream). The session
  // does nothing more after this.
  boost::asio::ip::tcp::socket TakeSocket();
  std::shared_ptr<void> TakeToken() { return std::move(token_); }

 private:
  void DoRead();
  void OnRead(const boost::system::error_code& ec);
  void OnWrite(const boost::system::error_code& ec, bool close);
  void DrainAndClose();
  void Reject(Rejection rejection, boost::beast::http::status status, std::string body);

  boost::beast::tcp_stream stream_;
  const Limits limits_;
  Handler* const handler_;
  std::shared_ptr<void> token_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser_;
  std::optional<boost::beast::http::response<boost::beast::http::string_body>> response_;
  bool request_wants_close_ = false;
  std::array<char, 1024> drain_;  // discarded input after a final response
};

}  // namespace ringcast::sse
