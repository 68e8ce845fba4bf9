// Results of asynchronous operations, after ACE's ACE_Asynch_Result: bytes transferred, the error
// (empty on success), the buffer(s) handed back, and the channel. The ACT is the handler's second
// argument, typed (see completion_handler.h).
//
// A result is built on the dispatching thread right before the handler runs and is passed to it
// as a mutable reference: the handler may move the buffer out and reuse it for the next operation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <system_error>
#include <utility>
#include <vector>

#include "nioxx/core/byte_buffer.h"
#include "nioxx/core/error.h"
#include "nioxx/proactor/spi/async_channel.h"

namespace nioxx {

class AsyncSocket;
class AsyncServerSocket;
class AsyncFile;
namespace detail {
template <class Result>
struct ResultBuilder;
}  // namespace detail

// Common part of every result.
class AsyncResult {
 public:
  std::size_t bytesTransferred() const noexcept { return transferred_; }
  const std::error_code& error() const noexcept { return error_; }
  bool success() const noexcept { return !error_; }
  // Convenience checks for the outcomes every caller meets.
  bool aborted() const noexcept { return error_ == Error::operation_aborted; }
  bool timedOut() const noexcept { return error_ == Error::timed_out; }
  bool endOfStream() const noexcept { return error_ == Error::end_of_stream; }
  std::uint64_t operationId() const noexcept { return id_; }
  // Multishot operations (acceptEach, readEach): true while more results of this operation will
  // follow; the last result (an error, end of stream, abort) has more() == false.
  bool more() const noexcept { return more_; }

 protected:
  template <class>
  friend struct detail::ResultBuilder;
  AsyncResult() = default;
  AsyncResult(std::uint64_t id, std::size_t n, std::error_code ec, ChannelRef ch) noexcept
      : id_(id), transferred_(n), error_(ec), channel_(std::move(ch)) {}
  std::uint64_t id_ = 0;
  std::size_t transferred_ = 0;
  std::error_code error_;
  ChannelRef channel_;
  bool more_ = false;
};

// read / write / readExactly / writeAll. The buffer's position was advanced by the bytes moved.
class IoResult : public AsyncResult {
 public:
  IoResult() = default;
  IoResult(std::uint64_t id, std::size_t n, std::error_code ec, ChannelRef ch, ByteBuffer buf)
      : AsyncResult(id, n, ec, std::move(ch)), buffer_(std::move(buf)) {}
  ByteBuffer& buffer() noexcept { return buffer_; }
  const ByteBuffer& buffer() const noexcept { return buffer_; }
  AsyncSocket socket() const;  // the socket the operation ran on

 private:
  ByteBuffer buffer_;
};

// readv / writev (scatter/gather): the buffers in the order given, each advanced.
class ScatterResult : public AsyncResult {
 public:
  ScatterResult() = default;
  ScatterResult(std::uint64_t id, std::size_t n, std::error_code ec, ChannelRef ch,
                std::vector<ByteBuffer> bufs)
      : AsyncResult(id, n, ec, std::move(ch)), buffers_(std::move(bufs)) {}
  std::vector<ByteBuffer>& buffers() noexcept { return buffers_; }
  AsyncSocket socket() const;

 private:
  std::vector<ByteBuffer> buffers_;
};

class ConnectResult : public AsyncResult {
 public:
  ConnectResult() = default;
  ConnectResult(std::uint64_t id, std::error_code ec, ChannelRef ch)
      : AsyncResult(id, 0, ec, std::move(ch)) {}
  AsyncSocket socket() const;
};

// accept: on success socket() is the new connection, attached to the same Proactor.
class AcceptResult : public AsyncResult {
 public:
  AcceptResult() = default;
  AcceptResult(std::uint64_t id, std::error_code ec, ChannelRef server, ChannelRef accepted)
      : AsyncResult(id, 0, ec, std::move(server)), accepted_(std::move(accepted)) {}
  AsyncSocket socket() const;        // the accepted connection (invalid on failure)
  AsyncServerSocket server() const;  // the listening socket

 private:
  ChannelRef accepted_;
};

// AsyncFile readAt / writeAt.
class FileResult : public AsyncResult {
 public:
  FileResult() = default;
  FileResult(std::uint64_t id, std::size_t n, std::error_code ec, ChannelRef ch, ByteBuffer buf,
             std::int64_t offset)
      : AsyncResult(id, n, ec, std::move(ch)), buffer_(std::move(buf)), offset_(offset) {}
  ByteBuffer& buffer() noexcept { return buffer_; }
  std::int64_t offset() const noexcept { return offset_; }
  AsyncFile file() const;

 private:
  ByteBuffer buffer_;
  std::int64_t offset_ = 0;
};

// Proactor::scheduleTimer: success when the delay elapsed, operation_aborted when cancelled.
class TimerResult : public AsyncResult {
 public:
  TimerResult() = default;
  TimerResult(std::uint64_t id, std::error_code ec) : AsyncResult(id, 0, ec, ChannelRef()) {}
  std::uint64_t timerId() const noexcept { return id_; }
};

}  // namespace nioxx
