// sse_stream.cc — queueing, coalescing and writing frames of one event stream (see
// sse_stream.h). Each write is one gather write of: the response head (first write only), one
// HTTP chunk holding every frame queued so far, and the last chunk when the stream ends.
#include "sse/sse_stream.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>

#include "sse/chunked.h"

namespace ringcast::sse {
namespace {

constexpr std::string_view kCrlf = "\r\n";

}  // namespace

namespace asio = boost::asio;

SseStream::SseStream(asio::ip::tcp::socket socket, Options options, Observer* observer,
                     std::shared_ptr<void> token)
    : socket_(std::move(socket)),
      options_(options),
      observer_(observer),
      token_(std::move(token)) {}

void SseStream::Start(std::string response_head, std::vector<Frame> first_frames) {
  head_ = std::move(response_head);
  for (Frame& frame : first_frames) Enqueue(std::move(frame));
  // The first frames (stream-open comment, retry, reset, replay) may exceed the queue bound on
  // their own; the bound applies to what is queued after them.
  initial_unsent_ = queued_bytes_;
  DoWrite();
  WatchForClose();
}

void SseStream::Send(Frame frame) {
  if (Queue(std::move(frame))) Flush();
}

bool SseStream::Queue(Frame frame) {
  if (!open_ || ending_) return false;
  Enqueue(std::move(frame));
  if (queued_bytes_ - initial_unsent_ > options_.max_queue_bytes) {
    Close(CloseReason::kSlowConsumer);
    return false;
  }
  return true;
}

void SseStream::Flush() {
  if (open_ && !writing_now_ && !pending_.empty()) DoWrite();
}

void SseStream::End(Frame final_frame) {
  if (!open_ || ending_) return;
  Enqueue(std::move(final_frame));
  ending_ = true;
  if (!writing_now_) DoWrite();
}

void SseStream::Abort() { Close(CloseReason::kAborted); }

bool SseStream::TakeActivity() {
  const bool active = active_;
  active_ = false;
  return active;
}

void SseStream::Enqueue(Frame frame) {
  // NOTE: an empty chunk would end the chunked body, so empty frames are never queued.
  if (frame == nullptr || frame->empty()) return;
  queued_bytes_ += frame->size();
  pending_.push_back(std::move(frame));
  active_ = true;
}

void SseStream::DoWrite() {
  writing_.swap(pending_);
  buffers_.clear();
  if (!head_.empty()) buffers_.push_back(asio::buffer(head_));
  if (!writing_.empty()) {
    size_t chunk_bytes = 0;
    for (const Frame& frame : writing_) chunk_bytes += frame->size();
    chunk_line_ = ChunkSizeLine(chunk_bytes);
    buffers_.push_back(asio::buffer(chunk_line_));
    for (const Frame& frame : writing_) buffers_.push_back(asio::buffer(*frame));
    buffers_.push_back(asio::buffer(kCrlf.data(), kCrlf.size()));
  }
  if (ending_) {
    buffers_.push_back(asio::buffer(kLastChunk.data(), kLastChunk.size()));
    last_chunk_sent_ = true;
  }
  if (buffers_.empty()) return;
  writing_now_ = true;
  asio::async_write(socket_, buffers_,
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      self->OnWrite(ec);
                    });
}

void SseStream::OnWrite(const boost::system::error_code& ec) {
  writing_now_ = false;
  if (!open_) return;
  if (ec) {
    Close(CloseReason::kWriteError);
    return;
  }
  head_.clear();
  size_t written_bytes = 0;
  for (const Frame& frame : writing_) written_bytes += frame->size();
  queued_bytes_ -= written_bytes;
  initial_unsent_ = initial_unsent_ > written_bytes ? initial_unsent_ - written_bytes : 0;
  frames_written_ += writing_.size();
  writing_.clear();
  if (last_chunk_sent_) {
    boost::system::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    Close(CloseReason::kEnded);
    return;
  }
  if (!pending_.empty() || ending_) DoWrite();
}

void SseStream::WatchForClose() {
  // No read buffer while idle: wait for readability, then read what little arrived.
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       if (!self->open_ || ec == asio::error::operation_aborted) return;
                       if (ec) {
                         self->Close(CloseReason::kClientGone);
                         return;
                       }
                       char discard[256];
                       boost::system::error_code read_ec;
                       self->socket_.read_some(asio::buffer(discard), read_ec);
                       if (read_ec && read_ec != asio::error::would_block) {
                         self->Close(CloseReason::kClientGone);
                         return;
                       }
                       self->WatchForClose();
                     });
}

void SseStream::Close(CloseReason reason) {
  if (!open_) return;
  const std::shared_ptr<SseStream> keep_alive = shared_from_this();
  open_ = false;
  boost::system::error_code ignored;
  socket_.close(ignored);
  pending_.clear();
  queued_bytes_ = 0;
  token_.reset();
  observer_->OnStreamClosed(*this, reason);
}

}  // namespace ringcast::sse
