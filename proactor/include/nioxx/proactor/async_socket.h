// AsyncSocket: a TCP connection with asynchronous operations (Java NIO.2's
// AsynchronousSocketChannel, ACE's ACE_Asynch_Read_Stream/Write_Stream).
//
// Every operation comes in three forms: (buffer, act, handler[, timeout]), (buffer, handler),
// and (buffer, use_future[, timeout]) -> std::future<Result>. The handler forms return the
// operation's id (cancel(id) cancels just that operation; results carry it too). The buffer is
// moved into the operation and handed back in the result (no dangling memory). Reads fill
// [position, limit) and advance position; writes drain [position, limit) and advance position (Java
// NIO.2).
//
// When and where handlers run: never inside the initiating call; then according to the
// Proactor's DispatchStrategy. Per direction, completions arrive in initiation order; handlers of
// one socket never run concurrently.
//
// Rules (docs/parts/proactor.md):
// - One read at a time (read/readv/readExactly): a second one completes with read_pending.
// - Writes queue in FIFO order (write/writev/writeAll may be initiated back to back from any
//   thread); beyond ProactorOptions::writeQueueLimit writes, or beyond the write buffer limit in
//   bytes, a write completes with queue_full (after the writes before it).
// - Backpressure (Netty's water marks): isWritable() turns false once pendingWriteBytes() is
//   above the high water mark and true again once it is at or below the low one;
//   onWritabilityChanged() reports each transition like a completion of this socket.
// - A timeout (0 = none) completes the operation with timed_out and the bytes moved so far; after
//   a write timed out mid-buffer the stream content is undefined: close the socket.
//
// Thread rule: every member is safe from any thread. An AsyncSocket is a counted handle: copies
// refer to the same socket; the descriptor is closed by close() or when the last handle and the
// last outstanding operation are gone.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "nioxx/core/buffer_pool.h"
#include "nioxx/core/byte_buffer.h"
#include "nioxx/core/inet_socket_address.h"
#include "nioxx/proactor/async_result.h"
#include "nioxx/proactor/buffer_group.h"
#include "nioxx/proactor/completion_handler.h"
#include "nioxx/proactor/detail/typed_operation.h"
#include "nioxx/proactor/placement.h"
#include "nioxx/proactor/spi/async_channel.h"

namespace nioxx {

class Proactor;
class AsyncFile;

namespace detail {
struct AsyncSocketAccess;
template <class Act, class H>
class ReadUntil;
template <class T>
concept NotFutureTag = !std::is_same_v<std::remove_cvref_t<T>, UseFuture>;
}  // namespace detail

class AsyncSocket {
 public:
  using Nanos = std::chrono::nanoseconds;

  AsyncSocket() = default;  // no socket; isOpen() is false
  // A new, unconnected TCP socket attached to the proactor (throws std::system_error if the OS
  // refuses a descriptor).
  static AsyncSocket open(Proactor& proactor, bool ipv6 = false);
  // The same, on a chosen engine thread (Placement::onThread(i), or next to another socket:
  // Placement::onThread(other.thread())).
  static AsyncSocket open(Proactor& proactor, Placement placement, bool ipv6 = false);
  // Adopts a connected stream descriptor (made non-blocking here).
  static AsyncSocket adopt(Proactor& proactor, int fd, Placement placement = {});
  // The engine thread the socket lives on (its I/O, and with call_through its handlers).
  std::uint32_t thread() const noexcept { return channel_ ? channel_->placement() : 0; }

  bool isOpen() const noexcept { return channel_ && !channel_->isClosed(); }
  explicit operator bool() const noexcept { return static_cast<bool>(channel_); }
  int fd() const noexcept { return channel_ ? channel_->fd() : -1; }
  std::size_t pendingWriteBytes() const noexcept;
  std::size_t pendingWrites() const noexcept;

  // ---- backpressure: a write buffer bounded in bytes ----
  // Bytes of writes accepted but not completed count against the socket's write buffer
  // (defaults: ProactorOptions::writeBufferLowWatermark / HighWatermark / Limit).
  // False from the write that took pendingWriteBytes() above the high water mark until a
  // completion brings it to the low one or below. A hint for the initiator: a write on an
  // unwritable socket is still accepted up to the limit.
  bool isWritable() const noexcept { return !channel_ || channel_->isWritable(); }
  // New water marks (low <= high, else std::invalid_argument); a transition they cause is
  // reported like any other. Any thread.
  void setWriteBufferWatermarks(std::size_t low, std::size_t high);
  // Beyond `bytes` queued, a write completes with queue_full, in order after the writes before
  // it; a write alone in the queue is always accepted. Any thread.
  void setWriteBufferLimit(std::size_t bytes);
  // handler(socket, writable) runs once per transition, alternating false / true, under the
  // rules of this socket's completion handlers: never inside an API call, never concurrently
  // with them, in order with them ("unwritable" before the completion of the write that crossed
  // the high water mark, "writable" after the completion that crossed the low one). Set it once
  // (std::logic_error otherwise), before writing; transitions before it are not reported.
  void onWritabilityChanged(std::function<void(AsyncSocket&, bool writable)> handler);
  std::optional<InetSocketAddress> localAddress() const;
  std::optional<InetSocketAddress> remoteAddress() const;
  std::error_code setNoDelay(bool on);

  // ---- connect -> ConnectResult ----
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId connect(const InetSocketAddress& to, Act act,
                                                         H&& h, Nanos timeout = Nanos::zero()) {
    Operation* op = detail::makeOperation<ConnectResult>(OpKind::connect, checked(), std::move(act),
                                                         std::forward<H>(h));
    op->address = std::make_unique<InetSocketAddress>(to);
    return start(op, timeout);
  }
  template <class H>
  requires detail::NotFutureTag<H> OperationId connect(const InetSocketAddress& to, H&& h) {
    return connect(to, NoAct{}, std::forward<H>(h));
  }
  std::future<ConnectResult> connect(const InetSocketAddress& to, UseFuture,
                                     Nanos timeout = Nanos::zero());

  // ---- read: completes as soon as some bytes arrived (end_of_stream if the peer closed) ----
  // A buffer with no room (position == limit) completes at once with 0 bytes, as in Java: clear()
  // or compact() a reused buffer first, or a read loop spins.
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId read(ByteBuffer dst, Act act, H&& h,
                                                      Nanos timeout = Nanos::zero()) {
    return io(OpKind::read, false, std::move(dst), std::move(act), std::forward<H>(h), timeout);
  }
  template <class H>
  requires detail::NotFutureTag<H> OperationId read(ByteBuffer dst, H&& h) {
    return read(std::move(dst), NoAct{}, std::forward<H>(h));
  }
  std::future<IoResult> read(ByteBuffer dst, UseFuture, Nanos timeout = Nanos::zero());

  // ---- read into a pooled buffer: the buffer is taken from pool only when data arrives ----
  // (io_uring's provided buffers, Netty's read allocator): a socket waiting for input holds no
  // read buffer. The result's buffer() holds the bytes in [0, position); dropping it (and every
  // copy) returns the chunk to the pool. The pool must outlive the operation.
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId read(BufferPool& pool, Act act, H&& h,
                                                      Nanos timeout = Nanos::zero()) {
    Operation* op = detail::makeOperation<IoResult>(OpKind::read, checked(), std::move(act),
                                                    std::forward<H>(h));
    op->pool = &pool;
    return start(op, timeout);
  }
  template <class H>
  requires detail::NotFutureTag<H> OperationId read(BufferPool& pool, H&& h) {
    return read(pool, NoAct{}, std::forward<H>(h));
  }

  // ---- readEach: a multishot read into pooled buffers: one handler call per arrival ----
  // (io_uring's multishot receive). Each call's buffer() holds the bytes of one arrival in
  // [0, position) with result.more() == true; the operation holds the read slot until its last
  // call (end_of_stream, an error, operation_aborted after cancel()/close(), or timed_out when no
  // data arrived for `idleTimeout`), which has more() == false. Calls are never concurrent and
  // come in arrival order. The pool must outlive the operation.
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId readEach(BufferPool& pool, Act act, H&& h,
                                                          Nanos idleTimeout = Nanos::zero()) {
    Operation* op = detail::makeOperation<IoResult>(OpKind::read, checked(), std::move(act),
                                                    std::forward<H>(h));
    op->pool = &pool;
    op->multishot = true;
    return start(op, idleTimeout);
  }
  template <class H>
  requires detail::NotFutureTag<H> OperationId readEach(BufferPool& pool, H&& h) {
    return readEach(pool, NoAct{}, std::forward<H>(h));
  }

  // ---- read / readEach into the engine's provided buffers (Proactor::provideBuffers) ----
  // As the pooled forms above, but the buffer comes from a fixed group owned by the engine (the
  // kernel picks it, with io_uring): when the socket's thread has none free, the read waits until
  // one is dropped (buffer_group.h). Throws std::invalid_argument for an empty group or one of
  // another Proactor.
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId read(const BufferGroup& group, Act act, H&& h,
                                                      Nanos timeout = Nanos::zero()) {
    ProvidedBuffers* g = checked(group);
    Operation* op = detail::makeOperation<IoResult>(OpKind::read, checked(), std::move(act),
                                                    std::forward<H>(h));
    op->group = g;
    return start(op, timeout);
  }
  template <class H>
  requires detail::NotFutureTag<H> OperationId read(const BufferGroup& group, H&& h) {
    return read(group, NoAct{}, std::forward<H>(h));
  }
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId readEach(const BufferGroup& group, Act act, H&& h,
                                                          Nanos idleTimeout = Nanos::zero()) {
    ProvidedBuffers* g = checked(group);
    Operation* op = detail::makeOperation<IoResult>(OpKind::read, checked(), std::move(act),
                                                    std::forward<H>(h));
    op->group = g;
    op->multishot = true;
    return start(op, idleTimeout);
  }
  template <class H>
  requires detail::NotFutureTag<H> OperationId readEach(const BufferGroup& group, H&& h) {
    return readEach(group, NoAct{}, std::forward<H>(h));
  }

  // ---- readExactly: completes when dst has no remaining room (or on error/EOF) ----
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId readExactly(ByteBuffer dst, Act act, H&& h,
                                                             Nanos timeout = Nanos::zero()) {
    return io(OpKind::read, true, std::move(dst), std::move(act), std::forward<H>(h), timeout);
  }
  template <class H>
  requires detail::NotFutureTag<H> OperationId readExactly(ByteBuffer dst, H&& h) {
    return readExactly(std::move(dst), NoAct{}, std::forward<H>(h));
  }
  std::future<IoResult> readExactly(ByteBuffer dst, UseFuture, Nanos timeout = Nanos::zero());

  // ---- readUntil: reads until the buffer holds `delimiter` (Asio's read_until) ----
  // dst is in fill mode; the bytes already in [0, position) (what a previous readUntil read past
  // its message) are searched first. At most maxBytes are buffered: dst is replaced by a bigger
  // copy when full (growing up to maxBytes), so a small dst is fine. The result's buffer holds
  // every byte read in [0, position) (limit = capacity), and:
  // - success: bytesTransferred() is the length of the message, up to and including the first
  //   delimiter; the bytes after it belong to what follows: to keep them for the next readUntil,
  //   flip(), advance(bytesTransferred()), compact();
  // - Error::limit_exceeded: maxBytes were buffered without a delimiter (a protocol error: reply
  //   and close, or give up);
  // - end_of_stream before a delimiter, timed_out (`timeout` bounds the whole operation), or an
  //   error of a read: bytesTransferred() is what this operation read.
  // The returned id is its first read's: cancel(id) works until that read completes; cancel()
  // and close() work throughout. Throws std::invalid_argument for an empty delimiter or maxBytes
  // of 0.
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId readUntil(ByteBuffer dst,
                                                           std::string_view delimiter,
                                                           std::size_t maxBytes, Act act, H&& h,
                                                           Nanos timeout = Nanos::zero()) {
    if (delimiter.empty()) throw std::invalid_argument("AsyncSocket::readUntil: empty delimiter");
    if (maxBytes == 0) throw std::invalid_argument("AsyncSocket::readUntil: maxBytes is 0");
    checked();
    auto op = std::make_shared<detail::ReadUntil<Act, H>>(
        *this, delimiter, maxBytes, std::move(act), std::forward<H>(h), timeout);
    return op->start(std::move(dst));
  }
  template <class H>
  requires detail::NotFutureTag<H> OperationId readUntil(ByteBuffer dst, std::string_view delimiter,
                                                         std::size_t maxBytes, H&& h) {
    return readUntil(std::move(dst), delimiter, maxBytes, NoAct{}, std::forward<H>(h));
  }
  std::future<IoResult> readUntil(ByteBuffer dst, std::string_view delimiter, std::size_t maxBytes,
                                  UseFuture, Nanos timeout = Nanos::zero());

  // ---- write: completes after some bytes were written (at least one) ----
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId write(ByteBuffer src, Act act, H&& h,
                                                       Nanos timeout = Nanos::zero()) {
    return io(OpKind::write, false, std::move(src), std::move(act), std::forward<H>(h), timeout);
  }
  template <class H>
  requires detail::NotFutureTag<H> OperationId write(ByteBuffer src, H&& h) {
    return write(std::move(src), NoAct{}, std::forward<H>(h));
  }
  std::future<IoResult> write(ByteBuffer src, UseFuture, Nanos timeout = Nanos::zero());

  // ---- writeAll: completes when src is drained (or on error) ----
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId writeAll(ByteBuffer src, Act act, H&& h,
                                                          Nanos timeout = Nanos::zero()) {
    return io(OpKind::write, true, std::move(src), std::move(act), std::forward<H>(h), timeout);
  }
  template <class H>
  requires detail::NotFutureTag<H> OperationId writeAll(ByteBuffer src, H&& h) {
    return writeAll(std::move(src), NoAct{}, std::forward<H>(h));
  }
  std::future<IoResult> writeAll(ByteBuffer src, UseFuture, Nanos timeout = Nanos::zero());

  // ---- scatter/gather -> ScatterResult; `whole` = complete only when every buffer is full/drained
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId readv(std::vector<ByteBuffer> dsts, Act act, H&& h,
                                                       Nanos timeout = Nanos::zero(),
                                                       bool whole = false) {
    return iov(OpKind::readv, whole, std::move(dsts), std::move(act), std::forward<H>(h), timeout);
  }
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId writev(std::vector<ByteBuffer> srcs, Act act,
                                                        H&& h, Nanos timeout = Nanos::zero(),
                                                        bool whole = true) {
    return iov(OpKind::writev, whole, std::move(srcs), std::move(act), std::forward<H>(h), timeout);
  }
  std::future<ScatterResult> writev(std::vector<ByteBuffer> srcs, UseFuture,
                                    Nanos timeout = Nanos::zero(), bool whole = true);

  // ---- transmitFile: sends `count` bytes of a file from `offset` (the paper's TransmitFile) ----
  // The kernel moves the bytes from the page cache to the socket (sendfile(2) in the emulated
  // engine, splice through a pipe with io_uring): they are never copied into a user buffer. A
  // write: it queues in FIFO order with write/writev/writeAll and completes, like writeAll, when
  // all `count` bytes were sent, or with an error and bytesTransferred() = the bytes sent. The
  // result is an IoResult with an empty buffer.
  // - count == kToEndOfFile: up to the end of the file (success at end of file); otherwise a file
  //   that ends before offset + count completes with Error::end_of_stream after sending what it
  //   has (a file truncated meanwhile, a wrong size). count == 0 completes with 0 bytes.
  // - Backpressure: it takes a place in the write queue (ProactorOptions::writeQueueLimit), but
  //   its file bytes do not count in pendingWriteBytes() (they are not in memory), so it never
  //   turns the socket unwritable and is never refused by the write buffer limit.
  // - The file is duplicated (dup) at initiation: the caller may close its AsyncFile/descriptor
  //   at once. A descriptor the process has no room to duplicate completes with that error.
  // - Timeout, cancel(id), cancel() and close() as for writes (bytes already sent stay sent).
  static constexpr std::uint64_t kToEndOfFile = Operation::kToEndOfFile;
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId transmitFile(const AsyncFile& file,
                                                              std::uint64_t offset,
                                                              std::uint64_t count, Act act, H&& h,
                                                              Nanos timeout = Nanos::zero()) {
    return transmitFile(fdOf(file), offset, count, std::move(act), std::forward<H>(h), timeout);
  }
  template <class H>
  requires detail::NotFutureTag<H> OperationId transmitFile(const AsyncFile& file,
                                                            std::uint64_t offset,
                                                            std::uint64_t count, H&& h) {
    return transmitFile(fdOf(file), offset, count, NoAct{}, std::forward<H>(h));
  }
  std::future<IoResult> transmitFile(const AsyncFile& file, std::uint64_t offset,
                                     std::uint64_t count, UseFuture, Nanos timeout = Nanos::zero());
  // The same from any readable regular file descriptor (the caller keeps it).
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId transmitFile(int fileFd, std::uint64_t offset,
                                                              std::uint64_t count, Act act, H&& h,
                                                              Nanos timeout = Nanos::zero()) {
    Operation* op = detail::makeOperation<IoResult>(OpKind::transmit_file, checked(),
                                                    std::move(act), std::forward<H>(h));
    prepareTransmit(*op, fileFd, offset, count);
    return start(op, timeout);
  }
  template <class H>
  requires detail::NotFutureTag<H> OperationId transmitFile(int fileFd, std::uint64_t offset,
                                                            std::uint64_t count, H&& h) {
    return transmitFile(fileFd, offset, count, NoAct{}, std::forward<H>(h));
  }

  // Requests cancellation of every outstanding operation: each completes with operation_aborted
  // (or, where the engine had already finished it, with its real result); the socket stays
  // usable and the next operation is unaffected. Asynchronous: no handler runs inside this call.
  void cancel();
  // The same for one operation, by the id its initiation returned; ignored if it is no longer
  // outstanding. (A std::stop_callback can call this to tie an operation to a std::stop_token.)
  void cancel(OperationId operation);
  // Cancels everything (operation_aborted) and shuts the connection down, so the peer sees the
  // close; later operations complete with Error::closed. The descriptor itself is released when
  // the last handle and the last operation are gone, so fd() and the getters never refer to a
  // connection that reused its number. Idempotent, asynchronous.
  void close();
  // Half-close (shutdown(2)): no more input (reads then see end_of_stream once the data already
  // received is consumed) / no more output (the peer sees end of stream after the bytes written
  // so far; initiate it after the last write completed). Any thread.
  std::error_code shutdownInput();
  std::error_code shutdownOutput();

  AsyncChannel* channel() const noexcept { return channel_.get(); }
  explicit AsyncSocket(ChannelRef channel) noexcept : channel_(std::move(channel)) {}

 private:
  AsyncChannel* checked() const;  // throws std::logic_error on a default-constructed socket
  ProvidedBuffers* checked(const BufferGroup& group) const;  // throws std::invalid_argument
  static OperationId start(Operation* op, Nanos timeout) {
    op->timeout = timeout;
    const OperationId id = op->id();  // op may be gone once initiated
    detail::initiate(op);
    return id;
  }
  template <class Act, class H>
  OperationId io(OpKind kind, bool whole, ByteBuffer buf, Act&& act, H&& h, Nanos timeout) {
    Operation* op = detail::makeOperation<IoResult>(kind, checked(), std::forward<Act>(act),
                                                    std::forward<H>(h));
    op->buffer = std::move(buf);
    op->whole = whole;
    return start(op, timeout);
  }
  template <class Act, class H>
  OperationId iov(OpKind kind, bool whole, std::vector<ByteBuffer> bufs, Act&& act, H&& h,
                  Nanos timeout) {
    Operation* op = detail::makeOperation<ScatterResult>(kind, checked(), std::forward<Act>(act),
                                                         std::forward<H>(h));
    op->buffers = std::move(bufs);
    op->whole = whole;
    return start(op, timeout);
  }
  std::future<IoResult> ioFuture(OpKind kind, bool whole, ByteBuffer buf, Nanos timeout);
  static int fdOf(const AsyncFile& file);  // throws std::logic_error on an empty AsyncFile
  // Fills a transmit_file request; a file it cannot use (no room to duplicate it, an offset
  // beyond off_t) sets op.error: the operation then completes with it, in order.
  static void prepareTransmit(Operation& op, int fileFd, std::uint64_t offset,
                              std::uint64_t count) noexcept;

  friend struct detail::AsyncSocketAccess;
  ChannelRef channel_;
};

}  // namespace nioxx

#include "nioxx/proactor/detail/read_until.h"  // readUntil's composition of reads
