// AsyncSocket::readUntil, composed of plain reads (included by async_socket.h).
//
// The state travels from read to read as the ACT-like capture of each internal handler, so the
// chain obeys the socket's rules as any read does: one read at a time, handlers of the socket
// never concurrent, the user's handler never inside the initiating call (when the delimiter is
// already buffered, a read with no room and a 1 ns timeout carries the completion to the
// socket's strand).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace nioxx::detail {

struct AsyncSocketAccess {
  static const ChannelRef& ref(const AsyncSocket& s) noexcept { return s.channel_; }
};

template <class Act, class H>
class ReadUntil : public std::enable_shared_from_this<ReadUntil<Act, H>> {
  using Storage = HandlerStorage<IoResult, Act, H>;
  using Clock = std::chrono::steady_clock;

 public:
  ReadUntil(AsyncSocket socket, std::string_view delimiter, std::size_t max, Act act, H&& h,
            std::chrono::nanoseconds timeout)
      : socket_(std::move(socket)),
        delimiter_(delimiter),
        max_(max),
        deadline_(timeout > std::chrono::nanoseconds::zero() ? Clock::now() + timeout
                                                             : Clock::time_point::max()),
        act_(std::move(act)),
        handler_(Storage::make(std::forward<H>(h))) {}

  OperationId start(ByteBuffer buffer) {
    if (found(buffer) != 0 || buffer.position() >= max_) {
      // Nothing to read: complete through the socket's strand, not inside this call (step()
      // searches again, from the start).
      searched_ = 0;
      auto self = this->shared_from_this();
      // A read with no room and the shortest timeout: some engines complete it with 0 bytes at
      // once, others wait for readiness first and end it with timed_out; either way it
      // completes on the socket's strand.
      const OperationId id = socket_.read(
          ByteBuffer(), NoAct{},
          [self, b = std::move(buffer)](IoResult& r) mutable {
            self->first_.store(r.operationId());
            // The bytes are already here: only a cancel or close stops the completion.
            if (r.aborted()) return self->finish(r.error(), std::move(b));
            self->step(std::move(b));
          },
          std::chrono::nanoseconds(1));
      first_.store(id);
      return id;
    }
    return readMore(std::move(buffer));
  }

 private:
  // Length up to and including the first delimiter in [0, position), or 0. Searches only the
  // bytes not searched before (and the delimiter's length - 1 before them).
  std::size_t found(const ByteBuffer& buffer) {
    const std::string_view bytes(reinterpret_cast<const char*>(buffer.array()), buffer.position());
    const std::size_t from = searched_ >= delimiter_.size() ? searched_ - delimiter_.size() + 1 : 0;
    searched_ = bytes.size();
    const auto at = bytes.find(delimiter_, from);
    return at == std::string_view::npos ? 0 : at + delimiter_.size();
  }

  void step(ByteBuffer buffer) {
    if (const std::size_t n = found(buffer); n != 0) return finish({}, std::move(buffer), n);
    if (buffer.position() >= max_) {
      return finish(make_error_code(Error::limit_exceeded), std::move(buffer));
    }
    try {
      readMore(std::move(buffer));
    } catch (const std::exception&) {  // the Proactor shut down meanwhile: handlers must not throw
      finish(make_error_code(Error::operation_aborted), ByteBuffer());
    }
  }

  OperationId readMore(ByteBuffer buffer) {
    if (buffer.position() >= buffer.capacity()) {  // full: a bigger copy, up to max
      const std::size_t capacity =
          std::min(max_, std::max<std::size_t>(buffer.capacity() * 2, 256));
      ByteBuffer bigger = ByteBuffer::allocate(capacity);
      bigger.put(std::span<const std::uint8_t>(buffer.array(), buffer.position()));
      buffer = std::move(bigger);
    }
    buffer.limit(std::min(buffer.capacity(), max_));  // never more than max buffered
    std::chrono::nanoseconds left = std::chrono::nanoseconds::zero();
    if (deadline_ != Clock::time_point::max()) {
      left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline_ - Clock::now());
      if (left <= std::chrono::nanoseconds::zero()) left = std::chrono::nanoseconds(1);
    }
    auto self = this->shared_from_this();
    const OperationId id = socket_.read(
        std::move(buffer), NoAct{},
        [self](IoResult& r) {
          OperationId none = 0;
          self->first_.compare_exchange_strong(none, r.operationId());
          self->transferred_ += r.bytesTransferred();
          if (!r.success()) return self->finish(r.error(), std::move(r.buffer()));
          self->step(std::move(r.buffer()));
        },
        left);
    OperationId none = 0;
    first_.compare_exchange_strong(none, id);
    return id;
  }

  void finish(std::error_code ec, ByteBuffer buffer, std::size_t messageLength = 0) {
    buffer.limit(buffer.capacity());
    IoResult result(first_.load(), ec ? transferred_ : messageLength, ec,
                    AsyncSocketAccess::ref(socket_), std::move(buffer));
    invokeHandler<IoResult, Act>(handler_, result, act_);
  }

  AsyncSocket socket_;
  std::string delimiter_;
  std::size_t max_;
  Clock::time_point deadline_;
  Act act_;
  typename Storage::type handler_;
  std::atomic<OperationId> first_{0};  // the id returned by readUntil (its first read)
  std::size_t searched_ = 0;
  std::size_t transferred_ = 0;
};

}  // namespace nioxx::detail
