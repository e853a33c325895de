// scripted_server.h — a real TCP server on 127.0.0.1:0 for the HTTP client's tests: a thread
// accepts one connection at a time and runs the test's handler on it, which writes exactly the
// bytes the test wants (split, malformed, slow). Helpers for the handler: ReadRequestHead, Send.
//
// Thread safety: construct, address() and requests() from the test thread; the handler runs on
// the server's thread, so it synchronises with the test through absl::Notification.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace ringcast::testing {

// How long a handler waits for the test (a bound, so a failed test cannot hang the server).
inline constexpr absl::Duration kHandlerWait = absl::Seconds(10);

// Writes all of `bytes` to `fd` (blocking); false when the peer went away.
inline bool Send(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads from `fd` until `end` has been read (returning everything read, `end` included), EOF,
// or 10 s of silence.
inline std::string ReadUntil(int fd, std::string_view end) {
  std::string data;
  char buffer[4096];
  while (data.find(end) == std::string::npos) {
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 10'000) <= 0) break;
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    data.append(buffer, static_cast<size_t>(n));
  }
  return data;
}

inline std::string ReadRequestHead(int fd) { return ReadUntil(fd, "\r\n\r\n"); }

class ScriptedServer {
 public:
  // Runs `handler(fd)` for each accepted connection, then closes the connection.
  // `send_buffer` > 0 sets SO_SNDBUF on accepted sockets (for slow-consumer tests).
  explicit ScriptedServer(std::function<void(int fd)> handler, int send_buffer = 0)
      : handler_(std::move(handler)), send_buffer_(send_buffer) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(listen_fd_, 0) << std::strerror(errno);
    sockaddr_in address;
    std::memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
        << std::strerror(errno);
    EXPECT_EQ(listen(listen_fd_, 16), 0) << std::strerror(errno);
    socklen_t size = sizeof(address);
    EXPECT_EQ(getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &size), 0);
    port_ = ntohs(address.sin_port);
    stop_fd_ = eventfd(0, EFD_CLOEXEC);
    thread_ = std::thread([this] { Run(); });
  }

  ~ScriptedServer() {
    const uint64_t one = 1;
    EXPECT_EQ(write(stop_fd_, &one, sizeof(one)), static_cast<ssize_t>(sizeof(one)));
    thread_.join();
    close(listen_fd_);
    close(stop_fd_);
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  int connections() const {
    absl::MutexLock lock(&mu_);
    return connections_;
  }

 private:
  void Run() {
    while (true) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents != 0) return;
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      if (send_buffer_ > 0) {
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_buffer_, sizeof(send_buffer_));
      }
      {
        absl::MutexLock lock(&mu_);
        ++connections_;
      }
      handler_(fd);
      close(fd);
    }
  }

  // Constant after construction.
  const std::function<void(int fd)> handler_;
  const int send_buffer_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  int port_ = 0;
  std::thread thread_;

  mutable absl::Mutex mu_;
  int connections_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ringcast::testing
