// AsyncServerSocket: a listening TCP socket with asynchronous accept (Java NIO.2's
// AsynchronousServerSocketChannel, ACE's ACE_Asynch_Accept).
//
// One accept at a time: a second outstanding accept completes with read_pending. The accepted
// socket (AcceptResult::socket()) is attached to the same Proactor.
//
// Thread rule: every member is safe from any thread; handlers never run inside the initiating
// call. Counted handle, like AsyncSocket.
#pragma once

#include <chrono>
#include <future>
#include <optional>
#include <system_error>
#include <utility>

#include "nioxx/core/inet_socket_address.h"
#include "nioxx/proactor/async_socket.h"

namespace nioxx {

class AsyncServerSocket {
 public:
  using Nanos = std::chrono::nanoseconds;

  AsyncServerSocket() = default;
  static AsyncServerSocket open(Proactor& proactor, bool ipv6 = false);
  static AsyncServerSocket open(Proactor& proactor, Placement placement, bool ipv6 = false);
  // Where accepted connections go (default: the engine chooses, round-robin). Any thread; applies
  // to connections accepted from now on.
  void placeAccepted(Placement placement);
  std::uint32_t thread() const noexcept { return channel_ ? channel_->placement() : 0; }
  // bind(2) with SO_REUSEADDR, then listen(2).
  std::error_code bind(const InetSocketAddress& local, int backlog = 1024);
  std::optional<InetSocketAddress> localAddress() const;
  bool isOpen() const noexcept { return channel_ && !channel_->isClosed(); }
  int fd() const noexcept { return channel_ ? channel_->fd() : -1; }

  // accept: the handler gets an AcceptResult whose socket() is the new connection (attached to
  // this Proactor); with a timeout, timed_out if none arrives in time.
  // Descriptor exhaustion (EMFILE/ENFILE): the processor sheds the waiting connection (it keeps
  // one reserve descriptor, closes it, accepts and closes the connection at once so the client
  // sees a close instead of hanging in the backlog, then re-opens the reserve) and still
  // completes the accept with too_many_files_open (or ..._in_system), as Java NIO.2 and Netty
  // report it: the application knows it is turning clients away and can log, shed load or raise
  // the limit. While no client is waiting, an accept on a full table just waits (nobody was
  // turned away), so re-issuing the accept at once does not spin: it refuses each client that
  // arrives while the table is still full. Re-issuing after a pause (a timer) instead lets those
  // clients wait in the backlog for descriptors to free up.
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId accept(Act act, H&& h,
                                                        Nanos timeout = Nanos::zero()) {
    Operation* op = detail::makeOperation<AcceptResult>(OpKind::accept, checked(), std::move(act),
                                                        std::forward<H>(h));
    op->timeout = timeout;
    const OperationId id = op->id();
    detail::initiate(op);
    return id;
  }
  template <class H>
  requires detail::NotFutureTag<H> OperationId accept(H&& h) {
    return accept(NoAct{}, std::forward<H>(h));
  }
  std::future<AcceptResult> accept(UseFuture, Nanos timeout = Nanos::zero());
  // acceptEach: a multishot accept (io_uring's multishot accept): one handler call per accepted
  // connection, result.more() == true, until cancel()/close() (operation_aborted) or an error
  // ends it with a last call, more() == false. Descriptor exhaustion (too_many_files_open) is
  // reported as a non-final result: the stream of accepts goes on. Holds the accept slot.
  template <class Act, class H>
  requires detail::NotFutureTag<Act> OperationId acceptEach(Act act, H&& h) {
    Operation* op = detail::makeOperation<AcceptResult>(OpKind::accept, checked(), std::move(act),
                                                        std::forward<H>(h));
    op->multishot = true;
    const OperationId id = op->id();
    detail::initiate(op);
    return id;
  }
  template <class H>
  requires detail::NotFutureTag<H> OperationId acceptEach(H&& h) {
    return acceptEach(NoAct{}, std::forward<H>(h));
  }

  void cancel();                       // every outstanding accept (operation_aborted)
  void cancel(OperationId operation);  // just this one
  // Stops listening at once (pending accepts complete with operation_aborted); the descriptor
  // and its port are released when the last handle and operation are gone.
  void close();

  AsyncChannel* channel() const noexcept { return channel_.get(); }
  explicit AsyncServerSocket(ChannelRef channel) noexcept : channel_(std::move(channel)) {}

 private:
  AsyncChannel* checked() const;
  ChannelRef channel_;
};

}  // namespace nioxx
