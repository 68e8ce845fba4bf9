// A socket's operations on its ring thread. Each direction is a queue whose head alone is in the
// kernel: later writes wait behind the one in flight (bytes never interleave), and completions
// leave in queue order. An operation's result arrives as a completion queue entry; a whole
// (readExactly/writeAll) operation is issued again until done, a multishot one reports each
// entry with completeMore() and ends at an entry without IORING_CQE_F_MORE.
// Completions are in ring_completions.cpp.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "detail/engine.h"
#include "detail/ring_helpers.h"
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
      msg.msg_iovlen = gather(op->buffers, vec->iov);
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
