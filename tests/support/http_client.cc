// http_client.cc — blocking HTTP/1.1 over non-blocking POSIX sockets: every wait is a poll()
// bounded by the caller's deadline. Thread safety: see http_client.h.
#include "tests/support/http_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace ringcast::testing {
namespace {

constexpr size_t kMaxHeadBytes = 64 * 1024;  // status line + headers
constexpr size_t kQuoteBytes = 2000;         // how much received data messages quote
constexpr size_t kReadBytes = 16 * 1024;     // one recv()

absl::Status ErrnoStatus(int error, std::string_view what) {
  return absl::Status(absl::ErrnoToStatusCode(error),
                      absl::StrCat(std::string(what), ": ", std::strerror(error)));
}

// C-escaped, at most kQuoteBytes of the end of `data`.
std::string Quote(std::string_view data) {
  if (data.size() <= kQuoteBytes)
    return absl::StrCat("\"", absl::CHexEscape(std::string(data)), "\"");
  return absl::StrCat("...\"",
                      absl::CHexEscape(std::string(data.substr(data.size() - kQuoteBytes))), "\" (",
                      data.size(), " bytes)");
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(a[i])) !=
        absl::ascii_tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Milliseconds left until `deadline` for poll(), rounded up; 0 when past.
int PollMillis(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)));
  return ms > 60'000 ? 60'000 : static_cast<int>(ms);
}

// Waits until `fd` has `events` or `deadline` passes: true when ready (or in error, which the
// next read or write reports).
bool PollUntil(int fd, short events, absl::Time deadline) {
  while (true) {
    pollfd p = {fd, events, 0};
    const int n = poll(&p, 1, PollMillis(deadline));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;
    if (n == 0 && absl::Now() >= deadline) return false;
  }
}

// An owned socket descriptor.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

// Connects to "host:port" ("[v6]:port" too) before `deadline`; a non-blocking socket.
absl::StatusOr<Socket> Connect(const std::string& host_port, absl::Time deadline,
                               int receive_buffer_bytes) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == host_port.size()) {
    return absl::InvalidArgumentError(absl::StrCat("bad host:port \"", host_port, "\""));
  }
  std::string host = host_port.substr(0, colon);
  const std::string port = host_port.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints;
  std::memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &addresses); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve \"", host_port, "\": ", gai_strerror(rc)));
  }
  absl::Status last = absl::UnavailableError(absl::StrCat("no address for ", host_port));
  for (addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    Socket socket(
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (socket.get() < 0) {
      last = ErrnoStatus(errno, "socket");
      continue;
    }
    if (receive_buffer_bytes > 0 &&
        setsockopt(socket.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes,
                   sizeof(receive_buffer_bytes)) != 0) {
      last = ErrnoStatus(errno, "setsockopt(SO_RCVBUF)");
      continue;
    }
    const int one = 1;
    setsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int error = 0;
    if (connect(socket.get(), a->ai_addr, a->ai_addrlen) != 0) {
      error = errno;
      if (error == EINPROGRESS) {
        if (!PollUntil(socket.get(), POLLOUT, deadline)) {
          freeaddrinfo(addresses);
          return absl::DeadlineExceededError(absl::StrCat("connecting to ", host_port));
        }
        socklen_t size = sizeof(error);
        if (getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
      }
    }
    if (error == 0) {
      freeaddrinfo(addresses);
      return socket;
    }
    last = ErrnoStatus(error, absl::StrCat("connect to ", host_port));
  }
  freeaddrinfo(addresses);
  return last;
}

absl::Status WriteAll(int fd, std::string_view data, absl::Time deadline, const std::string& peer) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!PollUntil(fd, POLLOUT, deadline)) {
        return absl::DeadlineExceededError(
            absl::StrCat("writing to ", peer, ": ", data.size(), " bytes not sent"));
      }
      continue;
    }
    const int error = errno;
    return ErrnoStatus(error, absl::StrCat("writing to ", peer));
  }
  return absl::OkStatus();
}

// What one read brought.
enum class ReadResult { kData, kEof, kReset };

// Appends what one recv() returns to `*out`, waiting until `deadline`. DEADLINE_EXCEEDED when
// nothing arrived; other errors as errno statuses.
absl::StatusOr<ReadResult> ReadSome(int fd, absl::Time deadline, std::string* out) {
  char buffer[kReadBytes];
  while (true) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n > 0) {
      out->append(buffer, static_cast<size_t>(n));
      return ReadResult::kData;
    }
    if (n == 0) return ReadResult::kEof;
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) return ReadResult::kReset;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return ErrnoStatus(errno, "recv");
    if (!PollUntil(fd, POLLIN, deadline)) return absl::DeadlineExceededError("no data");
  }
}

absl::Status Malformed(const std::string& peer, std::string_view why) {
  return absl::InternalError(
      absl::StrCat("malformed HTTP response from ", peer, ": ", std::string(why)));
}

// Parses "HTTP/1.x NNN reason" and the header lines of `head` (which ends with the blank line;
// CRLF or bare LF line ends) into `*response`.
absl::Status ParseHead(std::string_view head, const std::string& peer, HttpResponse* response) {
  response->headers.clear();
  bool first = true;
  while (!head.empty()) {
    const size_t end = head.find('\n');
    std::string_view line = head.substr(0, end);
    head.remove_prefix(end == std::string_view::npos ? head.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    if (first) {
      first = false;
      if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ' ||
          (line.size() > 12 && line[12] != ' ')) {
        return Malformed(peer, absl::StrCat("bad status line ", Quote(line)));
      }
      int status = 0;
      const auto [ptr, error] = std::from_chars(line.data() + 9, line.data() + 12, status);
      if (error != std::errc() || ptr != line.data() + 12 || status < 100) {
        return Malformed(peer, absl::StrCat("bad status code in ", Quote(line)));
      }
      response->status = status;
      response->reason = std::string(line.size() > 13 ? line.substr(13) : "");
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || line[0] == ' ' || line[0] == '\t') {
      return Malformed(peer, absl::StrCat("bad header line ", Quote(line)));
    }
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    response->headers.emplace_back(std::string(name), std::string(value));
  }
  if (first) return Malformed(peer, "no status line");
  return absl::OkStatus();
}

// Reads a response head into `*response`; bytes after it stay in `*buffer`.
absl::Status ReadHead(int fd, absl::Time deadline, const std::string& peer, std::string* buffer,
                      HttpResponse* response) {
  while (true) {
    // The head ends at the first blank line: CRLF CRLF, or LF LF (tolerated, as browsers do).
    const size_t crlf = buffer->find("\r\n\r\n");
    const size_t lf = buffer->find("\n\n");
    size_t end = std::string::npos;
    size_t skip = 0;
    if (crlf != std::string::npos && (lf == std::string::npos || crlf + 4 <= lf + 2)) {
      end = crlf;
      skip = 4;
    } else if (lf != std::string::npos) {
      end = lf;
      skip = 2;
    }
    if (end != std::string::npos) {
      absl::Status status =
          ParseHead(std::string_view(*buffer).substr(0, end + skip), peer, response);
      buffer->erase(0, end + skip);
      return status;
    }
    if (buffer->size() > kMaxHeadBytes) {
      return Malformed(peer,
                       absl::StrCat("no end of headers in the first ", kMaxHeadBytes, " bytes"));
    }
    absl::StatusOr<ReadResult> read = ReadSome(fd, deadline, buffer);
    if (!read.ok()) {
      return absl::Status(read.status().code(),
                          absl::StrCat("reading the response head from ", peer, ": ",
                                       read.status().message(), "; received ", Quote(*buffer)));
    }
    if (*read != ReadResult::kData) {
      return absl::UnavailableError(
          absl::StrCat(peer, " closed the connection before the end of the response head; ",
                       "received ", Quote(*buffer)));
    }
  }
}

bool IsChunked(const HttpResponse& response) {
  std::optional<std::string> coding = response.header("Transfer-Encoding");
  if (!coding.has_value()) return false;
  std::string lower = absl::AsciiStrToLower(*coding);
  const size_t comma = lower.rfind(',');
  std::string_view last =
      std::string_view(lower).substr(comma == std::string::npos ? 0 : comma + 1);
  while (!last.empty() && last.front() == ' ') last.remove_prefix(1);
  while (!last.empty() && last.back() == ' ') last.remove_suffix(1);
  return last == "chunked";
}

absl::StatusOr<std::optional<uint64_t>> ContentLength(const HttpResponse& response,
                                                      const std::string& peer) {
  std::optional<std::string> value = response.header("Content-Length");
  if (!value.has_value()) return std::nullopt;
  uint64_t length = 0;
  const auto [ptr, error] = std::from_chars(value->data(), value->data() + value->size(), length);
  if (value->empty() || error != std::errc() || ptr != value->data() + value->size()) {
    return Malformed(peer, absl::StrCat("bad Content-Length ", Quote(*value)));
  }
  return length;
}

bool HasNoBody(std::string_view method, int status) {
  return method == "HEAD" || (status >= 100 && status < 200) || status == 204 || status == 304;
}

// Reads the body of `*response` (whose head was read; `leftover` holds bytes after it).
absl::Status ReadBody(int fd, absl::Time deadline, const std::string& peer, std::string_view method,
                      std::string leftover, HttpResponse* response) {
  response->body.clear();
  if (HasNoBody(method, response->status)) return absl::OkStatus();
  const bool chunked = IsChunked(*response);
  absl::StatusOr<std::optional<uint64_t>> length = ContentLength(*response, peer);
  if (!length.ok()) return length.status();
  sse::ChunkedDecoder decoder;
  std::string raw = std::move(leftover);
  uint64_t raw_total = 0;
  while (true) {
    // Consume what is in `raw`.
    if (chunked) {
      if (absl::Status status = decoder.Feed(raw, &response->body); !status.ok()) {
        return Malformed(peer, absl::StrCat("chunked body: ", status.message()));
      }
      if (decoder.done()) return absl::OkStatus();
    } else {
      response->body += raw;
    }
    raw_total += raw.size();
    raw.clear();
    if (!chunked && length->has_value()) {
      if (response->body.size() >= **length) {
        response->body.resize(**length);
        return absl::OkStatus();
      }
    }
    absl::StatusOr<ReadResult> read = ReadSome(fd, deadline, &raw);
    if (!read.ok()) {
      return absl::Status(
          read.status().code(),
          absl::StrCat("reading the body of a ", response->status, " from ", peer, ": ",
                       read.status().message(), "; body so far ", Quote(response->body)));
    }
    if (*read != ReadResult::kData) {
      if (!chunked && !length->has_value()) return absl::OkStatus();  // close-delimited
      return Malformed(
          peer, absl::StrCat("connection closed after ", raw_total, " body bytes, inside the ",
                             chunked ? "chunked body" : "Content-Length body", "; body so far ",
                             Quote(response->body)));
    }
  }
}

bool HasHeader(const HttpHeaders& headers, std::string_view name) {
  return FindHeader(headers, name).has_value();
}

std::string RequestBytes(std::string_view method, std::string_view target,
                         const HttpHeaders& headers, const HttpHeaders& defaults,
                         std::string_view body) {
  std::string request =
      absl::StrCat(std::string(method), " ", std::string(target), " HTTP/1.1\r\n");
  for (const auto& [name, value] : defaults) {
    if (!HasHeader(headers, name)) absl::StrAppend(&request, name, ": ", value, "\r\n");
  }
  for (const auto& [name, value] : headers) absl::StrAppend(&request, name, ": ", value, "\r\n");
  if (!body.empty() && !HasHeader(headers, "Content-Length")) {
    absl::StrAppend(&request, "Content-Length: ", body.size(), "\r\n");
  }
  absl::StrAppend(&request, "\r\n", std::string(body));
  return request;
}

}  // namespace

std::optional<std::string> FindHeader(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

absl::StatusOr<HttpResponse> HttpRequest(std::string method, std::string host_port,
                                         std::string target, HttpHeaders headers, std::string body,
                                         absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<Socket> socket = Connect(host_port, deadline, 0);
  if (!socket.ok()) return socket.status();
  const std::string request =
      RequestBytes(method, target, headers, {{"Host", host_port}, {"Connection", "close"}}, body);
  if (absl::Status status = WriteAll(socket->get(), request, deadline, host_port); !status.ok()) {
    return status;
  }
  HttpResponse response;
  std::string buffer;
  do {  // interim 1xx responses (100 Continue, 103 Early Hints) precede the real one
    if (absl::Status status = ReadHead(socket->get(), deadline, host_port, &buffer, &response);
        !status.ok()) {
      return status;
    }
  } while (response.status >= 100 && response.status < 200 && response.status != 101);
  if (absl::Status status =
          ReadBody(socket->get(), deadline, host_port, method, std::move(buffer), &response);
      !status.ok()) {
    return status;
  }
  return response;
}

absl::StatusOr<HttpResponse> HttpGet(std::string host_port, std::string target, HttpHeaders headers,
                                     absl::Duration timeout) {
  return HttpRequest("GET", std::move(host_port), std::move(target), std::move(headers), "",
                     timeout);
}

absl::StatusOr<std::string> SendRaw(std::string host_port, std::string bytes,
                                    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<Socket> socket = Connect(host_port, deadline, 0);
  if (!socket.ok()) return socket.status();
  absl::Status written = WriteAll(socket->get(), bytes, deadline, host_port);
  // A server may answer and close before taking everything (EPIPE, ECONNRESET): read its answer
  // anyway. Only a write that timed out ends here.
  if (absl::IsDeadlineExceeded(written)) return written;
  std::string received;
  while (true) {
    absl::StatusOr<ReadResult> read = ReadSome(socket->get(), deadline, &received);
    if (!read.ok()) {
      return absl::Status(read.status().code(),
                          absl::StrCat(host_port, " did not close the connection within ",
                                       absl::FormatDuration(timeout), " (", read.status().message(),
                                       "); received ", Quote(received)));
    }
    if (*read != ReadResult::kData) return received;
  }
}

absl::StatusOr<std::unique_ptr<SseConnection>> SseConnection::Open(std::string host_port,
                                                                   std::string target,
                                                                   HttpHeaders headers,
                                                                   absl::Duration timeout,
                                                                   SseOptions options) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<Socket> socket = Connect(host_port, deadline, options.receive_buffer_bytes);
  if (!socket.ok()) return socket.status();
  const std::string request = RequestBytes(
      "GET", target, headers, {{"Host", host_port}, {"Accept", "text/event-stream"}}, "");
  if (absl::Status status = WriteAll(socket->get(), request, deadline, host_port); !status.ok()) {
    return status;
  }
  std::unique_ptr<SseConnection> connection(new SseConnection());
  connection->peer_ = host_port;
  std::string buffer;
  if (absl::Status status =
          ReadHead(socket->get(), deadline, host_port, &buffer, &connection->response_);
      !status.ok()) {
    return status;
  }
  if (connection->response_.status != 200) {
    if (absl::Status status = ReadBody(socket->get(), deadline, host_port, "GET", std::move(buffer),
                                       &connection->response_);
        !status.ok()) {
      return status;
    }
    connection->closed_ = true;
    connection->ended_cleanly_ = true;
    return connection;  // the socket closes here
  }
  absl::StatusOr<std::optional<uint64_t>> length = ContentLength(connection->response_, host_port);
  if (!length.ok()) return length.status();
  if (IsChunked(connection->response_)) {
    connection->framing_ = Framing::kChunked;
  } else if (length->has_value()) {
    connection->framing_ = Framing::kLength;
    connection->length_left_ = **length;
    if (**length == 0) connection->closed_ = connection->ended_cleanly_ = true;
  }
  connection->fd_ = socket->release();
  connection->FeedBody(buffer);
  return connection;
}

SseConnection::~SseConnection() { Close(); }

void SseConnection::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  closed_ = true;
}

void SseConnection::FeedBody(std::string_view bytes) {
  if (bytes.empty() || !stream_error_.ok()) return;
  bytes_received_ += bytes.size();
  std::string decoded;
  std::string_view body = bytes;
  switch (framing_) {
    case Framing::kChunked:
      if (absl::Status status = chunked_.Feed(bytes, &decoded); !status.ok()) {
        stream_error_ = Malformed(peer_, absl::StrCat("chunked event stream: ", status.message()));
      }
      if (chunked_.done()) closed_ = ended_cleanly_ = true;
      body = decoded;
      break;
    case Framing::kLength:
      if (body.size() > length_left_) body = body.substr(0, length_left_);
      length_left_ -= body.size();
      if (length_left_ == 0) closed_ = ended_cleanly_ = true;
      break;
    case Framing::kUntilClose:
      break;
  }
  parser_.Feed(body, [this](const sse::ParsedEvent& event) {
    events_.push_back(event);
    ++events_parsed_;
  });
}

absl::Status SseConnection::ReadMore(absl::Time deadline) {
  std::string bytes;
  absl::StatusOr<ReadResult> read = ReadSome(fd_, deadline, &bytes);
  if (!read.ok()) return read.status();
  switch (*read) {
    case ReadResult::kData:
      FeedBody(bytes);
      break;
    case ReadResult::kEof:
      ended_cleanly_ = ended_cleanly_ || framing_ == Framing::kUntilClose;
      closed_ = true;
      break;
    case ReadResult::kReset:
      closed_ = true;
      break;
  }
  return absl::OkStatus();
}

std::string SseConnection::Describe() const {
  return absl::StrCat(
      peer_, ": ", events_parsed_, " events parsed, ", comment_count(), " comments, ",
      bytes_received_, " body bytes; stream ",
      closed_ ? (ended_cleanly_ ? "ended cleanly" : "closed without a last chunk") : "open");
}

absl::StatusOr<sse::ParsedEvent> SseConnection::Next(absl::Duration timeout) {
  absl::StatusOr<std::vector<sse::ParsedEvent>> events = NextN(1, timeout);
  if (!events.ok()) return events.status();
  return std::move(events->front());
}

absl::StatusOr<std::vector<sse::ParsedEvent>> SseConnection::NextN(size_t n,
                                                                   absl::Duration timeout) {
  if (response_.status != 200) {
    return absl::FailedPreconditionError(
        absl::StrCat("no event stream: ", peer_, " answered ", response_.status));
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (events_.size() < n) {
    if (!stream_error_.ok()) return stream_error_;
    if (closed_) {
      return absl::OutOfRangeError(absl::StrCat("stream ended with ", events_.size(), " of ", n,
                                                " events left to return; ", Describe()));
    }
    absl::Status status = ReadMore(deadline);
    if (absl::IsDeadlineExceeded(status)) {
      return absl::DeadlineExceededError(
          absl::StrCat("only ", events_.size(), " of ", n, " events within ",
                       absl::FormatDuration(timeout), "; ", Describe()));
    }
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat(status.message(), "; ", Describe()));
    }
  }
  std::vector<sse::ParsedEvent> events;
  events.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    events.push_back(std::move(events_.front()));
    events_.pop_front();
  }
  return events;
}

bool SseConnection::WaitClosed(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!closed_) {
    if (!stream_error_.ok()) return false;
    absl::Status status = ReadMore(deadline);
    if (absl::IsDeadlineExceeded(status)) return false;
    if (!status.ok()) closed_ = true;  // a socket error other than reset: the stream is gone
  }
  return true;
}

}  // namespace ringcast::testing
