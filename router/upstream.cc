// upstream.cc — opening and reading one node's event stream (see upstream.h).
//
// Steps: resolve -> connect -> write the request -> read the response head (all under
// connect_timeout) -> 200: take the socket out of the Beast stream and read the body as it
// comes; 307: follow the Location once; anything else: fail.
#include "router/upstream.h"

#include <array>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>

#include "absl/strings/str_cat.h"
#include "sse/serving.h"

namespace ringcast::router {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kMaxResponseHeadBytes = 16 * 1024;
// One read's worth of stream bytes, on the stack of the read handler.
constexpr size_t kReadChunkBytes = 16 * 1024;
constexpr std::string_view kHttpScheme = "http://";

bool IsQuietError(const boost::system::error_code& ec) {
  return ec == asio::error::operation_aborted;
}

// "host:port" or "[v6]:port" split for the resolver.
std::pair<std::string, std::string> SplitHostPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return {address, ""};
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {host, address.substr(colon + 1)};
}

}  // namespace

Upstream::Upstream(asio::any_io_executor executor, size_t index, Options options,
                   Listener* listener)
    : index_(index),
      options_(options),
      executor_(executor),
      listener_(listener),
      resolver_(executor),
      socket_(executor) {}

void Upstream::Open(std::string address, std::string target,
                    std::optional<std::string> last_event_id) {
  address_ = std::move(address);
  target_ = std::move(target);
  send_last_event_id_ = last_event_id.has_value();
  last_event_id_ = last_event_id.value_or("");
  Connect();
}

void Upstream::Close() {
  listener_ = nullptr;
  streaming_ = false;
  resolver_.cancel();
  boost::system::error_code ignored;
  if (connecting_.has_value()) connecting_->socket().close(ignored);
  socket_.close(ignored);
}

void Upstream::Connect() {
  const auto [host, port] = SplitHostPort(address_);
  connecting_.emplace(executor_);
  connecting_->expires_after(absl::ToChronoNanoseconds(options_.connect_timeout));
  resolver_.async_resolve(host, port,
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      const tcp::resolver::results_type& results) {
                            self->OnResolved(ec, results);
                          });
}

void Upstream::OnResolved(const boost::system::error_code& ec,
                          const tcp::resolver::results_type& results) {
  if (listener_ == nullptr || IsQuietError(ec)) return;
  if (ec) {
    End(absl::UnavailableError(absl::StrCat("cannot resolve ", address_, ": ", ec.message())));
    return;
  }
  connecting_->async_connect(results, [self = shared_from_this()](
                                          const boost::system::error_code& connect_ec,
                                          const tcp::endpoint&) {
    self->OnConnected(connect_ec);
  });
}

void Upstream::OnConnected(const boost::system::error_code& ec) {
  if (listener_ == nullptr) return;
  if (ec) {
    End(absl::UnavailableError(absl::StrCat("cannot connect to ", address_, ": ",
                                            ec == beast::error::timeout ? "timed out"
                                                                        : ec.message())));
    return;
  }
  boost::system::error_code ignored;
  connecting_->socket().set_option(tcp::no_delay(true), ignored);
  request_ = absl::StrCat("GET ", target_, " HTTP/1.1\r\nHost: ", address_,
                          "\r\nAccept: text/event-stream\r\nUser-Agent: ringcast-router\r\n");
  if (send_last_event_id_) absl::StrAppend(&request_, "Last-Event-ID: ", last_event_id_, "\r\n");
  request_ += "\r\n";
  asio::async_write(*connecting_, asio::buffer(request_),
                    [self = shared_from_this()](const boost::system::error_code& write_ec,
                                                size_t) { self->OnRequestWritten(write_ec); });
}

void Upstream::OnRequestWritten(const boost::system::error_code& ec) {
  if (listener_ == nullptr) return;
  if (ec) {
    End(absl::UnavailableError(absl::StrCat("cannot send to ", address_, ": ", ec.message())));
    return;
  }
  head_buffer_.clear();
  head_.emplace();
  head_->header_limit(kMaxResponseHeadBytes);
  http::async_read_header(*connecting_, head_buffer_, *head_,
                          [self = shared_from_this()](const boost::system::error_code& read_ec,
                                                      size_t) { self->OnHead(read_ec); });
}

void Upstream::OnHead(const boost::system::error_code& ec) {
  if (listener_ == nullptr) return;
  if (ec) {
    End(absl::UnavailableError(absl::StrCat("no response head from ", address_, ": ",
                                            ec == beast::error::timeout ? "timed out"
                                                                        : ec.message())));
    return;
  }
  const http::response_header<>& head = head_->get().base();
  if (head.result() == http::status::temporary_redirect) {
    const auto location = head.find(http::field::location);
    absl::Status followed =
        location == head.end()
            ? absl::AbortedError(absl::StrCat(address_, " answered 307 without a Location"))
            : FollowRedirect(std::string_view(location->value().data(), location->value().size()));
    if (!followed.ok()) End(std::move(followed));
    return;
  }
  if (head.result() != http::status::ok) {
    End(absl::FailedPreconditionError(
        absl::StrCat(address_, " answered ", head.result_int(), " ",
                     std::string(head.reason().data(), head.reason().size()))));
    return;
  }
  chunked_ = head_->chunked();
  if (const auto position = head.find(sse::kPositionHeader); position != head.end()) {
    position_ = std::string(position->value().data(), position->value().size());
    last_event_id_ = *position_;
  }
  // Body bytes that arrived with the head.
  std::string early(static_cast<const char*>(head_buffer_.data().data()), head_buffer_.size());
  head_.reset();
  head_buffer_ = beast::flat_buffer();
  connecting_->expires_never();
  socket_ = connecting_->release_socket();
  connecting_.reset();
  streaming_ = true;
  listener_->OnUpstreamOpen(*this);
  if (listener_ != nullptr && !early.empty()) FeedBody(early);
  if (listener_ != nullptr) WaitForBytes();
}

absl::Status Upstream::FollowRedirect(std::string_view location) {
  if (redirects_followed_ >= options_.max_redirects) {
    return absl::AbortedError(absl::StrCat(address_, " redirected again (to ",
                                           std::string(location), ") after ",
                                           redirects_followed_, " redirect(s)"));
  }
  if (!location.starts_with(kHttpScheme)) {
    return absl::AbortedError(
        absl::StrCat(address_, " redirected to ", std::string(location),
                     "; the router follows only http://host:port/... locations"));
  }
  const std::string_view rest = location.substr(kHttpScheme.size());
  const size_t slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos) {
    return absl::AbortedError(
        absl::StrCat(address_, " redirected to ", std::string(location), " without a path"));
  }
  ++redirects_followed_;
  boost::system::error_code ignored;
  connecting_->socket().close(ignored);
  address_ = std::string(rest.substr(0, slash));
  target_ = std::string(rest.substr(slash));
  Connect();
  return absl::OkStatus();
}

void Upstream::WaitForBytes() {
  socket_.async_wait(tcp::socket::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->OnReadable(ec);
                     });
}

void Upstream::OnReadable(const boost::system::error_code& ec) {
  if (listener_ == nullptr || IsQuietError(ec)) return;
  if (ec) {
    End(absl::UnavailableError(absl::StrCat("stream from ", address_, " broke: ", ec.message())));
    return;
  }
  std::array<char, kReadChunkBytes> bytes;
  boost::system::error_code read_ec;
  socket_.non_blocking(true, read_ec);
  const size_t n = read_ec ? 0 : socket_.read_some(asio::buffer(bytes), read_ec);
  if (read_ec == asio::error::would_block) {
    WaitForBytes();
    return;
  }
  if (read_ec == asio::error::eof) {
    // A close-delimited body ends here; a chunked one should have ended with its last chunk.
    End(chunked_ ? absl::UnavailableError(absl::StrCat("stream from ", address_,
                                                       " closed without its last chunk"))
                 : absl::OkStatus());
    return;
  }
  if (read_ec) {
    End(absl::UnavailableError(
        absl::StrCat("stream from ", address_, " broke: ", read_ec.message())));
    return;
  }
  FeedBody(std::string_view(bytes.data(), n));
  if (listener_ != nullptr) WaitForBytes();
}

void Upstream::FeedBody(std::string_view bytes) {
  std::string_view decoded = bytes;
  if (chunked_) {
    body_.clear();
    if (absl::Status s = decoder_.Feed(bytes, &body_); !s.ok()) {
      End(absl::InternalError(
          absl::StrCat("stream from ", address_, ": bad chunked framing: ", s.message())));
      return;
    }
    decoded = body_;
  }
  parser_.Feed(decoded, [this](const sse::ParsedEvent& event) {
    // NOTE: the listener may close this upstream (or its whole stream) from OnUpstreamEvent;
    // the rest of this read's events are then dropped.
    if (listener_ == nullptr) return;
    TakeParsedLastEventId();
    listener_->OnUpstreamEvent(*this, event);
  });
  TakeParsedLastEventId();  // an id-only message moves it without an event
  if (listener_ != nullptr && chunked_ && decoder_.done()) End(absl::OkStatus());
}

void Upstream::TakeParsedLastEventId() {
  if (!parser_.last_event_id().empty()) last_event_id_ = parser_.last_event_id();
}

void Upstream::End(absl::Status status) {
  Listener* listener = listener_;
  Close();
  if (listener != nullptr) listener->OnUpstreamEnded(*this, status);
}

}  // namespace ringcast::router
