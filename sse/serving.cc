// serving.cc — listen addresses, SO_REUSEPORT listeners, CORS, the event-stream head and the
// over-capacity 503 (see serving.h).
#include "sse/serving.h"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <memory>

#include <boost/asio/socket_base.hpp>
#include <boost/asio/write.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ringcast::sse {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

absl::StatusOr<tcp::endpoint> ParseEndpoint(std::string_view text) {
  const size_t colon = text.rfind(':');
  int port = -1;
  if (colon == std::string_view::npos ||
      !absl::SimpleAtoi(std::string(text.substr(colon + 1)), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("'", std::string(text), "' is not host:port"));
  }
  std::string host(text.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("'", host, "' is not an IP address"));
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  const std::string host = endpoint.address().to_string();
  return endpoint.address().is_v6() ? absl::StrCat("[", host, "]:", endpoint.port())
                                    : absl::StrCat(host, ":", endpoint.port());
}

absl::StatusOr<tcp::endpoint> ListenReusePort(tcp::acceptor& acceptor,
                                              const tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) {
    const int on = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
      ec.assign(errno, boost::system::system_category());
    }
  }
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", FormatEndpoint(endpoint), ": ", ec.message()));
  }
  return acceptor.local_endpoint();
}

std::string_view HeaderValue(const HttpSession::Request& request, http::field field) {
  auto it = request.find(field);
  if (it == request.end()) return {};
  return {it->value().data(), it->value().size()};
}

std::vector<HttpSession::Header> CorsHeaders(const HttpSession::Request& request,
                                             absl::Span<const std::string> allowed_origins) {
  const std::string_view origin = HeaderValue(request, http::field::origin);
  if (origin.empty()) return {};
  for (const std::string& allowed : allowed_origins) {
    if (allowed == "*" || allowed == origin) {
      return {{"Access-Control-Allow-Origin", std::string(origin)}, {"Vary", "Origin"}};
    }
  }
  return {};
}

std::vector<HttpSession::Header> PreflightHeaders(std::vector<HttpSession::Header> cors) {
  cors.push_back({"Access-Control-Allow-Methods", "GET"});
  cors.push_back({"Access-Control-Allow-Headers", "Last-Event-ID, Cache-Control"});
  return cors;
}

HttpSession::Header PositionHeader(const EventId& position) {
  return {kPositionHeader, position.ToString()};
}

std::string EventStreamHead(absl::Span<const HttpSession::Header> extra) {
  std::string head =
      "HTTP/1.1 200 OK\r\n"
      "Server: ringcast\r\n"
      "Content-Type: text/event-stream; charset=utf-8\r\n"
      "Cache-Control: no-cache\r\n"
      "X-Accel-Buffering: no\r\n"
      "Transfer-Encoding: chunked\r\n";
  for (const HttpSession::Header& header : extra) {
    absl::StrAppend(&head, header.name, ": ", header.value, "\r\n");
  }
  head += "\r\n";
  return head;
}

void RefuseConnection(tcp::socket socket, std::string_view reason, int retry_after_seconds) {
  const std::string body = absl::StrCat(std::string(reason), "\n");
  auto response = std::make_shared<const std::string>(absl::StrCat(
      "HTTP/1.1 503 Service Unavailable\r\nServer: ringcast\r\n"
      "Content-Type: text/plain; charset=utf-8\r\nRetry-After: ",
      retry_after_seconds, "\r\nConnection: close\r\nContent-Length: ", body.size(), "\r\n\r\n",
      body));
  auto held = std::make_shared<tcp::socket>(std::move(socket));
  asio::async_write(*held, asio::buffer(*response),
                    [held, response](const boost::system::error_code&, size_t) {
                      boost::system::error_code ignored;
                      held->shutdown(tcp::socket::shutdown_both, ignored);
                      held->close(ignored);
                    });
}

void StopAndJoin(asio::io_context& io, std::thread& thread) {
  if (!thread.joinable()) return;
  io.stop();
  thread.join();
  io.restart();
  io.run_for(std::chrono::milliseconds(100));
}

}  // namespace ringcast::sse
