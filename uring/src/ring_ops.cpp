// A socket's operations on its ring thread. Each direction is a queue whose head alone is in the
// kernel: later writes wait behind the one in flight (bytes never interleave), and completions
// leave in queue order. An operation's result arrives as a completion queue entry; a whole
// (readExactly/writeAll) operation is issued again until done, a multishot one reports each
// entry with completeMore() and ends at an entry without IORING_CQE_F_MORE.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <new>

#include "detail/engine.h"
#include "detail/ring_transmit.h"
#include "nioxx/core/buffer_pool.h"
#include "nioxx/core/error.h"
#include "nioxx/core/fd_reserve.h"
#include "nioxx/core/pre_close.h"

namespace nioxx::uring_detail {
namespace {

bool isReadKind(OpKind k) noexcept {
  return k == OpKind::read || k == OpKind::readv || k == OpKind::accept;
}

int dirOf(const SocketState& s, const Operation& op) noexcept {
  if (s.kind == ChannelKind::file) return kWrite;  // one queue: a file's operations in order
  return isReadKind(op.kind()) ? kRead : kWrite;
}

std::error_code sysError(int e) noexcept {
  return {e, std::system_category()};
}

unsigned gather(std::vector<ByteBuffer>& bufs, iovec* iov, bool writing) noexcept {
  unsigned n = 0;
  for (auto& b : bufs) {
    if (!b.hasRemaining()) continue;
    if (n == 64) break;
    auto span = b.remainingSpan();
    iov[n++] = {span.data(), span.size()};
  }
  (void)writing;
  return n;
}

void advance(std::vector<ByteBuffer>& bufs, std::size_t n) noexcept {
  for (auto& b : bufs) {
    if (n == 0) break;
    const std::size_t step = std::min(n, b.remaining());
    b.advance(step);
    n -= step;
  }
}

bool anyRemaining(const std::vector<ByteBuffer>& bufs) noexcept {
  return std::any_of(bufs.begin(), bufs.end(),
                     [](const ByteBuffer& b) { return b.hasRemaining(); });
}

// A multishot accept goes on after a connection and after a full descriptor table.
// The head's final state once the kernel gave it back after requestAbort(); `completed`: it
// already has its result (an error that ended a multishot operation).
void resolve(Operation& op, OpState as) noexcept {
  if (as == OpState::completed) {
    op.tryTransition(OpState::pending, OpState::completed);
  } else {
    op.tryAbort(as);
  }
}

bool acceptGoesOn(const std::error_code& e) noexcept {
  return !e || e == std::errc::too_many_files_open || e == std::errc::too_many_files_open_in_system;
}

}  // namespace

io_uring_sqe* Engine::sqe(Ring& r) noexcept {
  io_uring_sqe* e = io_uring_get_sqe(&r.ring);
  if (e == nullptr) {
    (void)io_uring_submit(&r.ring);  // the queue is full: hand it to the kernel, take a new one
    e = io_uring_get_sqe(&r.ring);
  }
  return e;
}

std::uint64_t Engine::allocSlot(Ring& r, SocketState& s, int dir) noexcept {
  std::uint32_t index;
  if (!r.freeSlots.empty()) {
    index = r.freeSlots.back();
    r.freeSlots.pop_back();
  } else {
    index = static_cast<std::uint32_t>(r.slots.size());
    r.slots.emplace_back();
  }
  Slot& slot = r.slots[index];
  if (++slot.gen == 0) slot.gen = 1;
  slot.socket = &s;
  slot.dir = static_cast<std::uint8_t>(dir);
  slot.used = true;
  slot.poll = false;
  ++s.inflight;
  ++r.inflight;
  return (std::uint64_t{slot.gen} << 32) | index;
}

// ------------------------------------------------------------------ starting operations

void Engine::startOp(SocketState& s, Operation* op) noexcept {
  Ring& r = s.ring;
  if (s.dead) {
    if (!op->error) op->error = Error::closed;
    return finishOp(op);
  }
  if (!s.live) {
    s.live = true;
    s.nextLive = r.live;
    if (r.live != nullptr) r.live->prevLive = &s;
    r.live = &s;
  }
  const int dir = dirOf(s, *op);
  Direction& d = s.dirs[dir];
  if (r.stopping && !op->error) op->tryAbort(OpState::cancelled);  // behind what d holds
  if (s.closed && !op->error && !op->isFinal()) op->error = Error::closed;
  if (op->error || op->isFinal()) {
    // A rejection is never performed; it completes after what its direction holds, except
    // read_pending, which does not wait for the read holding the slot.
    if (d.q.empty() || (dir == kRead && op->error == Error::read_pending)) return finishOp(op);
    d.q.push(op);
    return;
  }
  d.q.push(op);
  if (d.q.front() == op) {
    startHead(s, dir);
  } else {
    sink_->notify(*op, OpPhase::waiting);
  }
}

// Issues the head of the queue, completing at once what needs no I/O (rejections, operations
// resolved in place behind others, empty buffers).
void Engine::startHead(SocketState& s, int dir) noexcept {
  Direction& d = s.dirs[dir];
  while (Operation* op = d.q.front()) {
    if (d.inKernel != 0 || d.parked) return;
    if (op->error || op->isFinal()) {
      popAndFinish(s, dir);
      continue;
    }
    if (s.closed || s.dead) {
      op->error = Error::closed;
      popAndFinish(s, dir);
      continue;
    }
    if (issue(s, dir, op)) {
      armDeadline(s, dir, op);
      return;
    }
    popAndFinish(s, dir);
  }
}

// Prepares the head's request. False: it completed without I/O (result already set).
bool Engine::issue(SocketState& s, int dir, Operation* op) noexcept {
  Ring& r = s.ring;
  Direction& d = s.dirs[dir];
  io_uring_sqe* e = sqe(r);
  if (e == nullptr) {
    op->error = sysError(EBUSY);
    return false;
  }
  const int fd = s.fd;
  switch (op->kind()) {
    case OpKind::read:
      if (op->group != nullptr) {
        BufRing* b = bufRing(r, op->group);
        if (b == nullptr) {
          op->error = sysError(ENOBUFS);
          io_uring_prep_nop(e);
          io_uring_sqe_set_data64(e, 0);
          return false;
        }
        if (op->multishot) {
          io_uring_prep_recv_multishot(e, fd, nullptr, 0, 0);
        } else {
          io_uring_prep_recv(e, fd, nullptr, op->group->bufferSize(), 0);
        }
        e->flags |= IOSQE_BUFFER_SELECT;
        e->buf_group = op->group->groupId();
        break;
      }
      if (op->pool != nullptr && op->buffer.capacity() == 0) {
        try {
          op->buffer = op->pool->acquire();
        } catch (const std::bad_alloc&) {
          op->error = std::make_error_code(std::errc::not_enough_memory);
          io_uring_prep_nop(e);
          io_uring_sqe_set_data64(e, 0);
          return false;
        }
      }
      if (!op->buffer.hasRemaining()) {
        io_uring_prep_nop(e);
        io_uring_sqe_set_data64(e, 0);
        return false;
      }
      {
        auto span = op->buffer.remainingSpan();
        io_uring_prep_recv(e, fd, span.data(), span.size(), 0);
      }
      break;
    case OpKind::write: {
      if (!op->buffer.hasRemaining()) {
        io_uring_prep_nop(e);
        io_uring_sqe_set_data64(e, 0);
        return false;
      }
      auto span = op->buffer.remainingSpan();
      io_uring_prep_send(e, fd, span.data(), span.size(), MSG_NOSIGNAL);
      break;
    }
    case OpKind::readv:
    case OpKind::writev: {
      if (!anyRemaining(op->buffers)) {
        io_uring_prep_nop(e);
        io_uring_sqe_set_data64(e, 0);
        return false;
      }
      const std::uint64_t ud = allocSlot(r, s, dir);
      const std::uint32_t index = ud & 0xffffffffU;
      Slot& slot = r.slots[index];
      SlotVec* vec = nullptr;
      try {
        if (r.slotVecs.size() <= index) r.slotVecs.resize(index + 1);
        if (!r.slotVecs[index]) r.slotVecs[index] = std::make_unique<SlotVec>();
        vec = r.slotVecs[index].get();
      } catch (const std::bad_alloc&) {
      }
      if (vec == nullptr) {
        // Give the slot back unused: the request is never issued.
        slot.used = false;
        --s.inflight;
        --r.inflight;
        r.freeSlots.push_back(static_cast<std::uint32_t>(ud & 0xffffffffU));
        op->error = std::make_error_code(std::errc::not_enough_memory);
        io_uring_prep_nop(e);
        io_uring_sqe_set_data64(e, 0);
        return false;
      }
      msghdr& msg = vec->msg;
      msg = {};
      msg.msg_iov = vec->iov;
      msg.msg_iovlen = gather(op->buffers, vec->iov, op->kind() == OpKind::writev);
      if (op->kind() == OpKind::readv) {
        io_uring_prep_recvmsg(e, fd, &msg, 0);
      } else {
        io_uring_prep_sendmsg(e, fd, &msg, MSG_NOSIGNAL);
      }
      io_uring_sqe_set_data64(e, ud);
      d.inKernel = ud;
      sink_->notify(*op, OpPhase::performing);
      return true;
    }
    case OpKind::transmit_file:  // ring_transmit.cpp: splice file -> pipe -> socket
      if (!prepTransmit(*op, fd, e)) {
        io_uring_prep_nop(e);
        io_uring_sqe_set_data64(e, 0);
        return false;
      }
      break;
    case OpKind::connect:
      if (!op->address) {
        op->error = Error::invalid_argument;
        io_uring_prep_nop(e);
        io_uring_sqe_set_data64(e, 0);
        return false;
      }
      io_uring_prep_connect(e, fd, op->address->sockaddr(), op->address->length());
      break;
    case OpKind::accept:
      descriptor::ensureFdReserve();  // the spare must exist before the table fills up
      if (op->multishot) {
        io_uring_prep_multishot_accept(e, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      } else {
        io_uring_prep_accept(e, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      }
      break;
    case OpKind::read_at:
    case OpKind::write_at: {
      if (!op->buffer.hasRemaining()) {
        io_uring_prep_nop(e);
        io_uring_sqe_set_data64(e, 0);
        return false;
      }
      auto span = op->buffer.remainingSpan();
      const auto at = static_cast<std::uint64_t>(op->offset) + op->transferred;
      if (op->kind() == OpKind::read_at) {
        io_uring_prep_read(e, fd, span.data(), static_cast<unsigned>(span.size()), at);
      } else {
        io_uring_prep_write(e, fd, span.data(), static_cast<unsigned>(span.size()), at);
      }
      break;
    }
    default:
      op->error = Error::invalid_argument;
      io_uring_prep_nop(e);
      io_uring_sqe_set_data64(e, 0);
      return false;
  }
  const std::uint64_t ud = allocSlot(r, s, dir);
  io_uring_sqe_set_data64(e, ud);
  d.inKernel = ud;
  sink_->notify(*op, OpPhase::performing);
  return true;
}

// Some requests answer EAGAIN on a non-blocking descriptor instead of waiting: wait for
// readiness with a one-shot poll, then issue the request again.
void Engine::issuePoll(SocketState& s, int dir, Operation* op) noexcept {
  Ring& r = s.ring;
  io_uring_sqe* e = sqe(r);
  if (e == nullptr) {
    op->error = sysError(EBUSY);
    return popAndFinish(s, dir);
  }
  io_uring_prep_poll_add(e, s.fd, dir == kRead ? POLLIN : POLLOUT);
  const std::uint64_t ud = allocSlot(r, s, dir);
  r.slots[ud & 0xffffffffU].poll = true;
  io_uring_sqe_set_data64(e, ud);
  s.dirs[dir].inKernel = ud;
  sink_->notify(*op, OpPhase::waiting);
}

// ------------------------------------------------------------------ completions

void Engine::onCqe(Ring& r, std::uint64_t userData, int res, unsigned flags) noexcept {
  Slot* live = liveSlot(r, userData);
  if (live == nullptr) return;  // stale
  Slot& slot = *live;
  const auto index = static_cast<std::uint32_t>(userData);
  SocketState& s = *slot.socket;
  const int dir = slot.dir;
  const bool poll = slot.poll;
  const bool more = (flags & IORING_CQE_F_MORE) != 0;
  Direction& d = s.dirs[dir];
  if (!more) {
    slot.used = false;
    r.freeSlots.push_back(index);
    --s.inflight;
    --r.inflight;
    if (d.inKernel == userData) d.inKernel = 0;
  }
  // Operations hold their channel, so a detached socket has nothing in the kernel; a stray
  // entry is dropped.
  if (s.dead || d.q.empty()) return maybeFree(s);
  if (poll) {
    Operation* op = d.q.front();
    if (d.abortAs != OpState::pending) {
      resolve(*op, d.abortAs);
      popAndFinish(s, dir);
    } else if (res < 0 && res != -ECANCELED) {
      op->error = sysError(-res);
      popAndFinish(s, dir);
    } else if (!issue(s, dir, op)) {
      popAndFinish(s, dir);
    }
    startHead(s, dir);
    return maybeFree(s);
  }
  onResult(s, dir, res, flags);
  startHead(s, dir);
  maybeFree(s);
}

// The head's request came back with `res`.
void Engine::onResult(SocketState& s, int dir, int res, unsigned flags) noexcept {
  Direction& d = s.dirs[dir];
  Operation* op = d.q.front();
  const bool more = (flags & IORING_CQE_F_MORE) != 0;
  const bool aborting = d.abortAs != OpState::pending;
  const std::uint32_t thread = s.ring.index;
  enum class Next : std::uint8_t { done, again, result, nobuffer } next = Next::done;

  // A provided buffer the kernel picked for an entry that carried no bytes goes back.
  std::uint16_t bid = 0;
  const bool hasBuffer = (flags & IORING_CQE_F_BUFFER) != 0;
  if (hasBuffer) bid = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
  if (hasBuffer && res <= 0 && op->group != nullptr) op->group->giveBack(thread, bid);
  if (d.abortAs == OpState::completed) {
    // The operation ended with an error while the kernel went on: drop what still comes.
    if (hasBuffer && res > 0 && op->group != nullptr) op->group->giveBack(thread, bid);
    if (op->kind() == OpKind::accept && res >= 0) ::close(res);
    if (!more) popAndFinish(s, dir);
    return;
  }

  if (res == -ECANCELED || (aborting && res <= 0 && res != -EAGAIN)) {
    if (more) return;  // the final entry follows
    resolve(*op, aborting ? d.abortAs : OpState::cancelled);
    return popAndFinish(s, dir);
  }
  if (res == -EAGAIN || res == -EINTR) {
    if (aborting) {
      resolve(*op, d.abortAs);
      return popAndFinish(s, dir);
    }
    if (op->multishot && more) return;
    return issuePoll(s, dir, op);
  }
  switch (op->kind()) {
    case OpKind::read:
      if (op->group != nullptr) {
        if (res == -ENOBUFS) {
          next = Next::nobuffer;
        } else if (res > 0 && hasBuffer) {
          try {
            op->buffer = op->group->lend(thread, bid, static_cast<std::size_t>(res));
            op->transferred = static_cast<std::size_t>(res);
          } catch (const std::bad_alloc&) {
            op->error = std::make_error_code(std::errc::not_enough_memory);  // id is back
          }
          next = op->multishot && !op->error ? Next::result : Next::done;
        } else if (res == 0) {
          op->error = Error::end_of_stream;
        } else {
          op->error = sysError(res < 0 ? -res : EIO);
        }
        break;
      }
      [[fallthrough]];
    case OpKind::read_at:
      if (res > 0) {
        op->buffer.advance(static_cast<std::size_t>(res));
        op->transferred += static_cast<std::size_t>(res);
        if (op->multishot) {
          next = Next::result;  // readEach into pooled buffers: one receive per arrival
        } else if (op->whole && op->buffer.hasRemaining()) {
          next = Next::again;
        }
      } else if (res == 0) {
        op->error = Error::end_of_stream;
      } else {
        op->error = sysError(-res);
      }
      break;
    case OpKind::write:
    case OpKind::write_at:
      if (res >= 0) {
        op->buffer.advance(static_cast<std::size_t>(res));
        op->transferred += static_cast<std::size_t>(res);
        if (op->whole && op->buffer.hasRemaining() && res > 0) next = Next::again;
      } else {
        op->error = sysError(-res);
      }
      break;
    case OpKind::readv:
    case OpKind::writev:
      if (res > 0) {
        advance(op->buffers, static_cast<std::size_t>(res));
        op->transferred += static_cast<std::size_t>(res);
        if (op->whole && anyRemaining(op->buffers)) next = Next::again;
      } else if (res == 0 && op->kind() == OpKind::readv) {
        op->error = Error::end_of_stream;
      } else if (res < 0) {
        op->error = sysError(-res);
      }
      break;
    case OpKind::transmit_file:
      if (onTransmitResult(*op, res)) next = Next::again;
      break;
    case OpKind::connect:
      if (res == -EISCONN) {
        op->error = Error::already_connected;
      } else if (res < 0) {
        op->error = sysError(-res);
      }
      break;
    case OpKind::accept:
      if (res == -ECONNABORTED) {
        if (op->multishot && more) return;
        next = Next::again;
        break;
      }
      if (res == -EMFILE || res == -ENFILE) {
        // As the emulated engine: shed what waits in the backlog through the reserve descriptor
        // (its clients see a close, not a hang) and report the error. Linux fails accept for
        // want of a descriptor before it looks at the backlog, so if nobody was waiting, wait
        // for the next connection (a readiness poll) instead of failing, or retrying at once.
        const auto shed = descriptor::shedOnExhaustion(s.fd, -res);
        if (shed.shed == 0 && shed.drained) {
          if (op->multishot && more) return;
          return issuePoll(s, dir, op);
        }
      }
      if (res >= 0) {
        op->acceptedFd = res;
      } else {
        op->error = sysError(-res);
      }
      if (op->multishot && acceptGoesOn(op->error)) next = Next::result;
      break;
    default:
      break;
  }

  switch (next) {
    case Next::done:
      if (more) {
        // The kernel goes on, but the operation ends here (an error): ask it to stop; the
        // final entry completes it. The error is kept for that completion.
        requestAbort(s, dir, OpState::completed);
        return;
      }
      return popAndFinish(s, dir);
    case Next::again:
      if (aborting) {
        resolve(*op, d.abortAs);
        return popAndFinish(s, dir);
      }
      if (!issue(s, dir, op)) popAndFinish(s, dir);
      return;
    case Next::result:
      sink_->completeMore(op);
      if (more) {
        if (!aborting) restartDeadline(s, dir, op);  // an idle timeout starts again
        return;
      }
      disarmDeadline(s, dir);
      if (aborting) {
        resolve(*op, d.abortAs);
        return popAndFinish(s, dir);
      }
      if (!issue(s, dir, op)) return popAndFinish(s, dir);
      armDeadline(s, dir, op);
      return;
    case Next::nobuffer:
      if (more) return;  // cannot happen: ENOBUFS ends a multishot receive
      if (aborting) {
        resolve(*op, d.abortAs);
        return popAndFinish(s, dir);
      }
      return park(s);
  }
}

void Engine::popAndFinish(SocketState& s, int dir) noexcept {
  Direction& d = s.dirs[dir];
  Operation* op = d.q.pop();
  disarmDeadline(s, dir);
  d.abortAs = OpState::pending;
  d.parked = false;
  finishOp(op);
}

void Engine::finishOp(Operation* op) noexcept {
  if (op->kind() == OpKind::transmit_file) releaseTransmit(*op);
  if (op->isFinal() || op->tryTransition(OpState::pending, OpState::completed)) sink_->complete(op);
}

// ------------------------------------------------------------------ cancellation

// The head: if the kernel has it, ask the kernel to cancel it and complete it when it comes
// back (its buffers are the kernel's until then); if it waits for a buffer, complete it now.
// OpState::completed: the operation already has its result; only stop the kernel.
void Engine::requestAbort(SocketState& s, int dir, OpState as) noexcept {
  Direction& d = s.dirs[dir];
  Operation* op = d.q.front();
  if (op == nullptr) return;
  if (d.parked) {
    unlistParked(s);
    d.parked = false;
    if (as != OpState::completed) op->tryAbort(as);
    popAndFinish(s, dir);
    return startHead(s, dir);
  }
  if (d.inKernel == 0) return;
  if (d.abortAs != OpState::pending) return;  // asked already
  d.abortAs = as;
  io_uring_sqe* e = sqe(s.ring);
  if (e == nullptr) return;
  io_uring_prep_cancel64(e, d.inKernel, 0);
  io_uring_sqe_set_data64(e, 0);
  e->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

void Engine::cancelSocket(SocketState& s, bool close) noexcept {
  if (s.dead) return;
  // Only what is queued now: an operation a handler starts after this is not cancelled.
  for (int dir : {kRead, kWrite}) {
    Direction& d = s.dirs[dir];
    Operation* head = d.q.front();
    for (Operation* op = head; op != nullptr; op = op->next) {
      if (op != head && !op->error) op->tryAbort(OpState::cancelled);  // resolved in place
    }
    if (head != nullptr && !head->error && !head->isFinal()) {
      requestAbort(s, dir, OpState::cancelled);
    }
    startHead(s, dir);
  }
  if (close && !s.closed) {
    s.closed = true;
    // The peer sees the close now; the descriptor is pointed at a dead socket once the kernel
    // gave back every request (maybeFree), and closed in detach().
    ::shutdown(s.fd, SHUT_RDWR);
    maybeFree(s);
  }
}

void Engine::cancelSocketOp(SocketState& s, std::uint64_t id) noexcept {
  if (s.dead) return;
  for (int dir : {kRead, kWrite}) {
    Direction& d = s.dirs[dir];
    for (Operation* op = d.q.front(); op != nullptr; op = op->next) {
      if (op->id() != id) continue;
      if (op->error) return;  // a rejection keeps its own error
      if (op == d.q.front()) {
        requestAbort(s, dir, OpState::cancelled);
      } else {
        op->tryAbort(OpState::cancelled);  // completes when it reaches the head
      }
      return;
    }
  }
}

void Engine::destroySocket(SocketState& s) noexcept {
  if (s.dead) return;
  s.dead = true;
  unlistParked(s);
  disarmDeadline(s, kRead);
  disarmDeadline(s, kWrite);
  maybeFree(s);
}

// After anything that may have been the socket's last request in the kernel: a closed socket
// releases its connection, a detached one its descriptor and state.
void Engine::maybeFree(SocketState& s) noexcept {
  if (s.inflight != 0) return;
  if (s.closed && !s.released && !s.dead) {
    s.released = true;
    descriptor::preClose(s.fd);
  }
  if (!s.dead || s.buried) return;
  // Freed between loop turns: the caller (a completion whose handler dropped the last handle)
  // may still be looking at the state.
  s.buried = true;
  Ring& r = s.ring;
  r.graveyard.push_back(&s);
  if (s.live) {
    if (s.prevLive != nullptr) s.prevLive->nextLive = s.nextLive;
    if (s.nextLive != nullptr) s.nextLive->prevLive = s.prevLive;
    if (r.live == &s) r.live = s.nextLive;
  }
  s.live = false;
  ::close(s.fd);
}

}  // namespace nioxx::uring_detail
