// AsyncFile: positional reads and writes on a regular file. Regular files are always "ready" for
// epoll, so the processor performs these on worker threads (pread/pwrite).
//
// Operations of one file complete in initiation order (they are performed one after another);
// several may be outstanding. readAt completes with end_of_stream at end of file.
//
// Thread rule: every member is safe from any thread; handlers never run inside the initiating
// call. Counted handle, like AsyncSocket.
#pragma once

#include <fcntl.h>

#include <cstdint>
#include <future>
#include <string>
#include <system_error>
#include <utility>

#include "nioxx/proactor/async_socket.h"

namespace nioxx {

class AsyncFile {
 public:
  AsyncFile() = default;
  // open(2) with flags (O_CLOEXEC added); on failure returns a closed AsyncFile and sets ec.
  static AsyncFile open(Proactor& proactor, const std::string& path, int flags, std::error_code& ec,
                        int mode = 0644);

  bool isOpen() const noexcept { return channel_ && !channel_->isClosed(); }
  int fd() const noexcept { return channel_ ? channel_->fd() : -1; }
  std::int64_t size() const;  // -1 on error

  // Reads into [position, limit) from offset; whole = keep reading until full (or EOF).
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId readAt(ByteBuffer dst, std::int64_t offset,
                                                        Act act, H&& h, bool whole = true) {
    return file(OpKind::read_at, std::move(dst), offset, whole, std::move(act), std::forward<H>(h));
  }
  std::future<FileResult> readAt(ByteBuffer dst, std::int64_t offset, UseFuture, bool whole = true);
  // Writes [position, limit) at offset; whole = until drained.
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId writeAt(ByteBuffer src, std::int64_t offset,
                                                         Act act, H&& h, bool whole = true) {
    return file(OpKind::write_at, std::move(src), offset, whole, std::move(act),
                std::forward<H>(h));
  }
  std::future<FileResult> writeAt(ByteBuffer src, std::int64_t offset, UseFuture,
                                  bool whole = true);

  // Cancels a queued operation by id (one being performed completes normally).
  void cancel(OperationId operation);
  void close();

  AsyncChannel* channel() const noexcept { return channel_.get(); }
  explicit AsyncFile(ChannelRef channel) noexcept : channel_(std::move(channel)) {}

 private:
  AsyncChannel* checked() const;
  template <class Act, class H>
  OperationId file(OpKind kind, ByteBuffer buf, std::int64_t offset, bool whole, Act&& act, H&& h) {
    Operation* op = detail::makeOperation<FileResult>(kind, checked(), std::forward<Act>(act),
                                                      std::forward<H>(h));
    op->buffer = std::move(buf);
    op->offset = offset;
    op->whole = whole;
    const OperationId id = op->id();
    detail::initiate(op);
    return id;
  }
  ChannelRef channel_;
};

}  // namespace nioxx
