#include "detail/perform.h"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <new>
#include <span>
#include <utility>

#include "nioxx/core/buffer_pool.h"
#include "nioxx/core/error.h"
#include "nioxx/core/fd_reserve.h"
#include "nioxx/core/sys.h"
#include "nioxx/proactor/spi/async_channel.h"
#include "nioxx/proactor/spi/provided_buffers.h"

namespace nioxx::bridge_detail {
namespace {

constexpr std::size_t kMaxIov = 64;

bool wouldBlock(int e) noexcept {
  return e == EAGAIN || e == EWOULDBLOCK;
}

// Fills iov from the buffers' remaining regions; returns the count.
int gather(std::vector<ByteBuffer>& bufs, std::array<iovec, kMaxIov>& iov) noexcept {
  int n = 0;
  for (auto& b : bufs) {
    if (!b.hasRemaining()) continue;
    if (n == static_cast<int>(kMaxIov)) break;
    auto span = b.remainingSpan();
    iov[static_cast<std::size_t>(n++)] = {span.data(), span.size()};
  }
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

Perform fail(Operation& op, std::error_code ec) noexcept {
  op.error = ec;
  return Perform::done;
}

Perform readOp(int fd, Operation& op) noexcept {
  for (;;) {
    const bool vec = op.kind() == OpKind::readv;
    if (vec ? !anyRemaining(op.buffers) : !op.buffer.hasRemaining()) return Perform::done;
    ssize_t n;
    std::size_t asked = 0;
    if (vec) {
      std::array<iovec, kMaxIov> iov;
      const int count = gather(op.buffers, iov);
      for (int i = 0; i < count; ++i)
        asked += iov[static_cast<std::size_t>(i)].iov_len;
      n = sys::readv(fd, iov.data(), count);
    } else {
      auto span = op.buffer.remainingSpan();
      asked = span.size();
      n = sys::read(fd, span.data(), span.size());
    }
    if (n > 0) {
      if (vec) {
        advance(op.buffers, static_cast<std::size_t>(n));
      } else {
        op.buffer.advance(static_cast<std::size_t>(n));
      }
      op.transferred += static_cast<std::size_t>(n);
      const bool shortRead = static_cast<std::size_t>(n) < asked;
      if (!op.whole) return shortRead ? Perform::drained : Perform::done;
      continue;
    }
    if (n == 0) return fail(op, Error::end_of_stream);
    if (errno == EINTR) continue;
    if (wouldBlock(errno)) return Perform::again;
    return fail(op, lastError());
  }
}

// A read with a pool takes its buffer at readiness and gives it back if nothing came (the
// speculative attempt, a spurious wake-up), so a waiting socket never holds one. Each processor
// thread keeps one chunk staged: a small read completes with a right-sized copy and leaves the
// chunk staged for the next read, so the pool (a lock, a control block) is touched only when a
// read keeps its chunk. Completions waiting for dispatch then hold their bytes, not a chunk each
// (a whole readiness batch under post_reactive).
struct StagedChunk {
  BufferPool* pool = nullptr;
  ByteBuffer chunk;
};
thread_local StagedChunk tStaged;

Perform readPooled(int fd, Operation& op) noexcept {
  StagedChunk& staged = tStaged;
  if (op.buffer.capacity() == 0) {
    if (staged.pool != op.pool || staged.chunk.capacity() != op.pool->chunkSize()) {
      staged.chunk = ByteBuffer();
      try {
        staged.chunk = op.pool->acquire();
      } catch (const std::bad_alloc&) {
        return fail(op, std::make_error_code(std::errc::not_enough_memory));
      }
      staged.pool = op.pool;
    }
    staged.chunk.clear();
    op.buffer = std::move(staged.chunk);
    staged.chunk = ByteBuffer();
  }
  const Perform p = readOp(fd, op);
  if (p == Perform::again && op.transferred == 0) {
    staged.chunk = std::move(op.buffer);
    staged.pool = op.pool;
    op.buffer = ByteBuffer();
  } else if (op.transferred > 0 && op.transferred <= op.buffer.capacity() / 4) {
    try {
      ByteBuffer exact = ByteBuffer::copyOf({op.buffer.array(), op.transferred});
      exact.position(op.transferred);  // as if read into it: position advanced by the bytes
      staged.chunk = std::move(op.buffer);
      staged.pool = op.pool;
      op.buffer = std::move(exact);
    } catch (const std::bad_alloc&) {
      // keep the chunk
    }
  }
  return p;
}

// A read with a provided-buffer group takes one of its thread's buffers for the attempt and
// keeps it only if bytes came; with none free it reads nothing (the bytes wait in the socket).
Perform readProvided(int fd, Operation& op) noexcept {
  ProvidedBuffers& group = *op.group;
  const std::uint32_t thread = op.channel()->placement();
  const int taken = group.take(thread);
  if (taken < 0) return Perform::nobuffer;
  const auto id = static_cast<std::uint16_t>(taken);
  for (;;) {
    const ssize_t n = sys::recv(fd, group.data(thread, id), group.bufferSize(), 0);
    if (n > 0) {
      try {
        op.buffer = group.lend(thread, id, static_cast<std::size_t>(n));
      } catch (const std::bad_alloc&) {
        return fail(op, std::make_error_code(std::errc::not_enough_memory));  // id is back
      }
      op.transferred = static_cast<std::size_t>(n);
      return static_cast<std::size_t>(n) < group.bufferSize() ? Perform::drained : Perform::done;
    }
    const int e = n == 0 ? 0 : errno;
    if (e == EINTR) continue;
    group.giveBack(thread, id);
    if (n == 0) return fail(op, Error::end_of_stream);
    if (wouldBlock(e)) return Perform::again;
    return fail(op, std::error_code(e, std::system_category()));
  }
}

Perform writeOp(int fd, Operation& op) noexcept {
  for (;;) {
    const bool vec = op.kind() == OpKind::writev;
    if (vec ? !anyRemaining(op.buffers) : !op.buffer.hasRemaining()) return Perform::done;
    ssize_t n;
    if (vec) {
      std::array<iovec, kMaxIov> iov;
      msghdr msg{};
      msg.msg_iov = iov.data();
      msg.msg_iovlen = static_cast<std::size_t>(gather(op.buffers, iov));
      n = sys::sendmsg(fd, &msg, MSG_NOSIGNAL);
    } else {
      auto span = op.buffer.remainingSpan();
      n = sys::send(fd, span.data(), span.size(), MSG_NOSIGNAL);
    }
    if (n > 0) {
      if (vec) {
        advance(op.buffers, static_cast<std::size_t>(n));
      } else {
        op.buffer.advance(static_cast<std::size_t>(n));
      }
      op.transferred += static_cast<std::size_t>(n);
      if (!op.whole) return Perform::done;
      continue;
    }
    if (n == 0) return Perform::again;  // not expected for a non-empty stream send
    if (errno == EINTR) continue;
    if (wouldBlock(errno)) return Perform::again;
    return fail(op, lastError());
  }
}

// sendfile(2) has no MSG_NOSIGNAL: on a connection the peer reset it raises SIGPIPE, which kills
// a program that did not ignore it. So SIGPIPE is blocked for the call, and one it raised is taken
// back before it is unblocked (it can only be ours: it was not blocked before). A thread that
// already blocks SIGPIPE is left as it is.
ssize_t sendfileQuietly(int fd, int fileFd, off_t* at, std::size_t n) noexcept {
  sigset_t pipeSet;
  sigset_t old;
  sigemptyset(&pipeSet);
  sigaddset(&pipeSet, SIGPIPE);
  if (pthread_sigmask(SIG_BLOCK, &pipeSet, &old) != 0) return sys::sendfile(fd, fileFd, at, n);
  const ssize_t sent = sys::sendfile(fd, fileFd, at, n);
  const int e = errno;
  if (sigismember(&old, SIGPIPE) == 0) {
    if (sent < 0 && e == EPIPE) {
      const timespec zero{0, 0};
      while (sigtimedwait(&pipeSet, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  errno = e;
  return sent;
}

// transmit_file: sendfile(2) from op.offset + transferred until count bytes went out, the file
// ended, or the socket would block (then it waits for writability and goes on from there).
Perform transmitOp(int fd, Operation& op) noexcept {
  constexpr std::size_t kMaxPerCall = 1U << 30;  // sendfile moves at most ~2 GiB per call
  const bool toEnd = op.count == Operation::kToEndOfFile;
  for (;;) {
    const std::uint64_t left = toEnd ? kMaxPerCall : op.count - op.transferred;
    if (left == 0) return Perform::done;
    off_t at = static_cast<off_t>(op.offset + static_cast<std::int64_t>(op.transferred));
    const ssize_t n = sendfileQuietly(
        fd, op.fileFd, &at, static_cast<std::size_t>(std::min<std::uint64_t>(left, kMaxPerCall)));
    if (n > 0) {
      op.transferred += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) return toEnd ? Perform::done : fail(op, Error::end_of_stream);  // end of file
    if (errno == EINTR) continue;
    if (wouldBlock(errno)) return Perform::again;
    return fail(op, lastError());
  }
}

// op.offset doubles as "connect in progress" for connect operations (offset is unused there).
Perform connectOp(int fd, Operation& op) noexcept {
  if (!op.address) return fail(op, Error::invalid_argument);
  if (op.offset == 0) {
    for (;;) {
      if (sys::connect(fd, op.address->sockaddr(), op.address->length()) == 0) return Perform::done;
      if (errno == EINTR) continue;
      if (errno == EINPROGRESS) {
        op.offset = 1;
        return Perform::again;
      }
      if (errno == EISCONN) return fail(op, Error::already_connected);
      return fail(op, lastError());
    }
  }
  int err = 0;
  socklen_t len = sizeof(err);
  if (sys::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return fail(op, lastError());
  if (err == 0) {
    // Writable with no error can also be a spurious wake-up before the handshake finished.
    sockaddr_storage ss{};
    socklen_t sl = sizeof(ss);
    if (sys::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &sl) == 0) return Perform::done;
    if (errno == ENOTCONN) return Perform::again;
    return fail(op, lastError());
  }
  if (err == EINPROGRESS || err == EALREADY) return Perform::again;
  return fail(op, std::error_code(err, std::system_category()));
}

Perform acceptOp(int fd, Operation& op) noexcept {
  descriptor::ensureFdReserve();  // the spare must exist before the table fills up
  for (;;) {
    const int c = sys::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c >= 0) {
      op.acceptedFd = c;
      return Perform::done;
    }
    const int e = errno;
    if (e == EINTR || e == ECONNABORTED) continue;
    if (wouldBlock(e)) return Perform::again;
    // Descriptor exhaustion: a waiting connection would stay in the backlog (its client hangs,
    // and level-triggered readiness fires again at once), so shed it with the reserve descriptor,
    // and still complete with the error so the application knows (as Java NIO.2 and Netty report
    // it). Linux fails accept for want of a descriptor even when nobody is waiting: then no one
    // was turned away, so keep waiting for a connection instead of failing at once.
    if (e == EMFILE || e == ENFILE) {
      const descriptor::ShedResult shed = descriptor::shedOnExhaustion(fd, e);
      if (shed.shed == 0 && shed.drained) return Perform::again;
    }
    return fail(op, std::error_code(e, std::system_category()));
  }
}

}  // namespace

Perform performSocketOp(int fd, Operation& op) noexcept {
  switch (op.kind()) {
    case OpKind::read:
      if (op.group != nullptr) return readProvided(fd, op);
      return op.pool != nullptr ? readPooled(fd, op) : readOp(fd, op);
    case OpKind::readv:
      return readOp(fd, op);
    case OpKind::write:
    case OpKind::writev:
      return writeOp(fd, op);
    case OpKind::transmit_file:
      return transmitOp(fd, op);
    case OpKind::connect:
      return connectOp(fd, op);
    case OpKind::accept:
      return acceptOp(fd, op);
    default:
      return fail(op, Error::invalid_argument);
  }
}

void performFileOp(int fd, Operation& op) noexcept {
  const bool reading = op.kind() == OpKind::read_at;
  for (;;) {
    if (!op.buffer.hasRemaining()) return;
    auto span = op.buffer.remainingSpan();
    const off_t at = static_cast<off_t>(op.offset + static_cast<std::int64_t>(op.transferred));
    const ssize_t n = reading ? ::pread(fd, span.data(), span.size(), at)
                              : ::pwrite(fd, span.data(), span.size(), at);
    if (n > 0) {
      op.buffer.advance(static_cast<std::size_t>(n));
      op.transferred += static_cast<std::size_t>(n);
      if (!op.whole) return;
      continue;
    }
    if (n == 0) {
      if (reading) op.error = Error::end_of_stream;
      return;
    }
    if (errno == EINTR) continue;
    op.error = lastError();
    return;
  }
}

}  // namespace nioxx::bridge_detail
