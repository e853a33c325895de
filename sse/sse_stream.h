// sse_stream.h — one open text/event-stream response: the socket, a bounded queue of shared
// frames, and coalesced gather writes. Used by nodes (and later routers) once an HttpSession
// has parsed a subscribe request and handed the socket over.
//
// Every frame is an immutable, shared buffer (encode once, send to many). Frames queued while a
// write is in flight go out together in the next write, as one HTTP chunk: under load a stream
// costs one writev per batch, not one write per event. The queue is bounded in bytes: a stream
// whose unsent bytes pass `max_queue_bytes` is cut (kSlowConsumer) rather than allowed to grow.
//
// An idle stream holds no read buffer and no timer: it waits for readability of the socket only
// to notice that the client went away (readable at EOF). Heartbeats and lifetimes are driven from
// outside by one timer per worker (see TakeActivity()).
//
// Thread safety: not thread-safe. Every method must be called on the stream's executor (the
// worker thread whose io_context owns the socket); the observer is called there too.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ringcast::sse {

// An encoded frame, shared by every stream that sends it.
using Frame = std::shared_ptr<const std::string>;

inline Frame MakeFrame(std::string bytes) {
  return std::make_shared<const std::string>(std::move(bytes));
}

class SseStream : public std::enable_shared_from_this<SseStream> {
 public:
  enum class CloseReason {
    kClientGone,    // the client closed the connection
    kSlowConsumer,  // unsent bytes passed max_queue_bytes
    kWriteError,    // a write failed
    kEnded,         // the server ended the stream with End()
    kAborted,       // the server dropped the connection with Abort()
  };

  class Observer {
   public:
    virtual ~Observer() = default;
    // Called exactly once per stream, when it closes, on the stream's executor.
    virtual void OnStreamClosed(SseStream& stream, CloseReason reason) = 0;
  };

  struct Options {
    // Bytes queued but not yet written to the socket before the stream is cut as a slow
    // consumer. Larger tolerates longer stalls at the cost of memory per connection.
    size_t max_queue_bytes = 256 * 1024;
  };

  // `observer` must outlive the stream. `token` is kept for the life of the stream.
  SseStream(boost::asio::ip::tcp::socket socket, Options options, Observer* observer,
            std::shared_ptr<void> token = nullptr);

  // Writes the response head (plain bytes, not chunked) and the first frames (one chunk) at
  // once, then starts watching for the client going away.
  void Start(std::string response_head, std::vector<Frame> first_frames);

  // Queues a frame and starts a write if none is in flight. Ignored after the stream closed or
  // began to end.
  void Send(Frame frame);

  // Queues a frame without starting a write, so that frames queued by several events go out in
  // one gather write at the next Flush(). Returns false when the stream is closed or was cut as
  // a slow consumer by this frame.
  bool Queue(Frame frame);

  // Starts a write of everything queued, unless one is in flight (its completion writes the
  // rest).
  void Flush();

  // Sends `final_frame` (e.g. a `retry:` hint) and the last chunk, then closes (kEnded).
  void End(Frame final_frame);

  // Closes the socket at once without the last chunk (kAborted).
  void Abort();

  // True if anything was queued since the previous call; clears the mark. Heartbeat timers call
  // this to find idle streams.
  bool TakeActivity();

  bool open() const { return open_; }
  absl::Time opened_at() const { return opened_at_; }
  size_t queued_bytes() const { return queued_bytes_; }
  // Frames written to the socket so far (for delivery metrics).
  uint64_t frames_written() const { return frames_written_; }

 private:
  void Enqueue(Frame frame);
  void DoWrite();
  void OnWrite(const boost::system::error_code& ec);
  void WatchForClose();
  void Close(CloseReason reason);

  boost::asio::ip::tcp::socket socket_;
  const Options options_;
  Observer* const observer_;
  std::shared_ptr<void> token_;
  const absl::Time opened_at_ = absl::Now();

  std::string head_;             // the response head, until the first write takes it
  std::vector<Frame> pending_;   // queued, not yet in a write
  std::vector<Frame> writing_;   // in the write in flight
  std::string chunk_line_;       // the size line of the chunk in flight
  size_t queued_bytes_ = 0;      // bytes of pending_ and writing_
  size_t initial_unsent_ = 0;    // bytes of Start()'s frames not yet written (not bounded)
  std::vector<boost::asio::const_buffer> buffers_;  // the gather list of the write in flight
  uint64_t frames_written_ = 0;
  bool writing_now_ = false;
  bool ending_ = false;          // End() called: last chunk goes out after pending_
  bool last_chunk_sent_ = false;
  bool open_ = true;
  bool active_ = false;
};

}  // namespace ringcast::sse
