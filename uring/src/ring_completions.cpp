// A socket's completions on its ring thread: each completion queue entry goes to the head of its
// direction's queue (onCqe -> onResult); a whole operation is issued again until done, a multishot
// one reports each entry with completeMore() and ends at an entry without IORING_CQE_F_MORE.

#include <unistd.h>

#include <cerrno>

#include "detail/engine.h"
#include "detail/ring_helpers.h"
#include "detail/ring_transmit.h"
#include "nioxx/core/buffer_pool.h"
#include "nioxx/core/error.h"
#include "nioxx/core/fd_reserve.h"

namespace nioxx::uring_detail {
namespace {

// The head's final state once the kernel gave it back after requestAbort(); `completed`: it
// already has its result (an error that ended a multishot operation).
void resolve(Operation& op, OpState as) noexcept {
  if (as == OpState::completed) {
    op.tryTransition(OpState::pending, OpState::completed);
  } else {
    op.tryAbort(as);
  }
}

// A multishot accept goes on after a connection and after a full descriptor table.
bool acceptGoesOn(const std::error_code& e) noexcept {
  return !e || e == std::errc::too_many_files_open || e == std::errc::too_many_files_open_in_system;
}

}  // namespace

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

}  // namespace nioxx::uring_detail
