// http_session.cc — reading one request at a time and writing plain responses (see
// http_session.h).
#include "sse/http_session.h"

#include <boost/beast/http/write.hpp>

namespace ringcast::sse {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

HttpSession::HttpSession(asio::ip::tcp::socket socket, Limits limits, Handler* handler,
                         std::shared_ptr<void> token)
    : stream_(std::move(socket)), limits_(limits), handler_(handler), token_(std::move(token)) {}

void HttpSession::Start() { DoRead(); }

void HttpSession::DoRead() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
  parser_->body_limit(0);
  stream_.expires_after(absl::ToChronoNanoseconds(limits_.header_timeout));
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                     self->OnRead(ec);
                   });
}

void HttpSession::OnRead(const boost::system::error_code& ec) {
  if (ec == http::error::end_of_stream || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
    boost::system::error_code ignored;
    stream_.socket().close(ignored);
    return;
  }
  if (ec == beast::error::timeout) {
    // Only a request that had started counts as a rejection; an idle keep-alive just ends.
    if (buffer_.size() > 0 || parser_->got_some()) handler_->OnRejected(Rejection::kHeaderTimeout);
    boost::system::error_code ignored;
    stream_.socket().close(ignored);
    return;
  }
  if (ec == http::error::header_limit) {
    Reject(Rejection::kHeaderTooLarge, http::status::request_header_fields_too_large,
           "request line and headers exceed " + std::to_string(limits_.max_header_bytes) +
               " bytes\n");
    return;
  }
  if (ec == http::error::body_limit) {
    Reject(Rejection::kMalformed, http::status::bad_request, "request bodies are not accepted\n");
    return;
  }
  if (ec) {
    Reject(Rejection::kMalformed, http::status::bad_request,
           "malformed HTTP request: " + ec.message() + "\n");
    return;
  }
  stream_.expires_never();
  Request request = parser_->release();
  request_wants_close_ = !request.keep_alive();
  handler_->OnRequest(shared_from_this(), std::move(request));
}

void HttpSession::Reject(Rejection rejection, http::status status, std::string body) {
  handler_->OnRejected(rejection);
  request_wants_close_ = true;
  Respond(status, std::move(body), {}, /*keep_alive=*/false);
}

void HttpSession::Respond(http::status status, std::string body, std::vector<Header> headers,
                          bool keep_alive) {
  response_.emplace(status, 11);
  response_->set(http::field::server, "ringcast");
  response_->set(http::field::content_type, "text/plain; charset=utf-8");
  for (Header& header : headers) response_->set(header.name, std::move(header.value));
  response_->body() = std::move(body);
  const bool close = !keep_alive || request_wants_close_;
  response_->keep_alive(!close);
  response_->prepare_payload();
  stream_.expires_after(absl::ToChronoNanoseconds(limits_.header_timeout));
  http::async_write(stream_, *response_,
                    [self = shared_from_this(), close](const boost::system::error_code& ec,
                                                       size_t) { self->OnWrite(ec, close); });
}

void HttpSession::OnWrite(const boost::system::error_code& ec, bool close) {
  response_.reset();
  if (ec) {
    boost::system::error_code ignored;
    stream_.socket().close(ignored);
    return;
  }
  if (close) {
    boost::system::error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    DrainAndClose();
    return;
  }
  DoRead();
}

void HttpSession::DrainAndClose() {
  // NOTE: closing a socket with unread input makes the kernel send RST, which can destroy the
  // response before the client reads it. Read and discard until the client closes (bounded).
  stream_.expires_after(std::chrono::seconds(1));
  stream_.async_read_some(asio::buffer(drain_),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      size_t) {
                            if (!ec) {
                              self->DrainAndClose();
                              return;
                            }
                            boost::system::error_code ignored;
                            self->stream_.socket().close(ignored);
                          });
}

asio::ip::tcp::socket HttpSession::TakeSocket() {
  stream_.expires_never();
  return stream_.release_socket();
}

}  // namespace ringcast::sse
