// transmit_file on io_uring. io_uring has no sendfile opcode; the kernel's own zero-copy path is
// splice(2), which needs a pipe on one side: file -> pipe -> socket with IORING_OP_SPLICE (the
// pipe holds references to the page cache's pages, no byte is copied to user memory).
//
// Two steps, one request in the kernel at a time like every head of a socket's write queue:
// fill the empty pipe from the file at offset + transferred (at most the pipe's capacity), then
// drain it into the socket, again after a short splice; then fill it again. A socket that is full
// answers EAGAIN (its descriptor is non-blocking): ring_completions.cpp then waits with a readiness
// poll and issues the same step again, as for a send. Not linked SQEs: a short splice into the
// socket would break the chain (the rest of the chain fails), so each step is issued when the
// previous one came back, which also keeps cancellation and timeouts the ones of any other head.
//
// The pipe is the operation's own while it runs (a transmission waiting for a slow peer holds
// the file's pages in it, no other could use it); an empty one is kept for the ring thread's next
// transmission (at most kCachedPipes), one still holding bytes (cancelled, failed) is closed.
#include "detail/ring_transmit.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <new>
#include <vector>

#include "nioxx/core/error.h"

namespace nioxx::uring_detail {
namespace {

constexpr std::size_t kPipeBytes = 65536;  // a pipe's default capacity (16 pages)
constexpr std::size_t kCachedPipes = 16;

struct Pipe {
  int readEnd = -1;
  int writeEnd = -1;
};

// The ring thread's empty pipes, closed when the thread ends.
struct PipeCache {
  std::vector<Pipe> pipes;
  ~PipeCache() {
    for (const Pipe& p : pipes) {
      ::close(p.readEnd);
      ::close(p.writeEnd);
    }
  }
};
thread_local PipeCache tPipes;

// A transmission's progress, in Operation::scratch while the ring thread has it.
struct Transmit {
  Pipe pipe;
  std::size_t inPipe = 0;  // bytes taken from the file, not yet sent
  bool toSocket = false;   // the step in the kernel: pipe -> socket (else file -> pipe)
};

bool toEnd(const Operation& op) noexcept {
  return op.count == Operation::kToEndOfFile;
}

Transmit* start(Operation& op) noexcept {
  auto* t = new (std::nothrow) Transmit;
  if (t == nullptr) {
    op.error = std::make_error_code(std::errc::not_enough_memory);
    return nullptr;
  }
  if (!tPipes.pipes.empty()) {
    t->pipe = tPipes.pipes.back();
    tPipes.pipes.pop_back();
  } else {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
      op.error = lastError();
      delete t;
      return nullptr;
    }
    t->pipe = {fds[0], fds[1]};
  }
  op.scratch = t;
  return t;
}

}  // namespace

bool prepTransmit(Operation& op, int socketFd, io_uring_sqe* e) noexcept {
  if (op.count == 0) return false;
  auto* t = static_cast<Transmit*>(op.scratch);
  if (t == nullptr && (t = start(op)) == nullptr) return false;
  if (t->inPipe > 0) {
    t->toSocket = true;
    io_uring_prep_splice(e, t->pipe.readEnd, -1, socketFd, -1, static_cast<unsigned>(t->inPipe),
                         SPLICE_F_MOVE);
    return true;
  }
  const std::uint64_t left = toEnd(op) ? kPipeBytes : op.count - op.transferred;
  if (left == 0) return false;  // all sent
  t->toSocket = false;
  const auto at = static_cast<std::int64_t>(op.offset + static_cast<std::int64_t>(op.transferred));
  io_uring_prep_splice(e, op.fileFd, at, t->pipe.writeEnd, -1,
                       static_cast<unsigned>(std::min<std::uint64_t>(left, kPipeBytes)),
                       SPLICE_F_MOVE);
  return true;
}

bool onTransmitResult(Operation& op, int res) noexcept {
  auto* t = static_cast<Transmit*>(op.scratch);
  if (t == nullptr) return false;
  if (res < 0) {
    op.error = std::error_code(-res, std::system_category());
    return false;
  }
  const auto n = static_cast<std::size_t>(res);
  if (t->toSocket) {
    if (n == 0) {  // a socket that takes nothing and reports no error: do not spin on it
      op.error = std::error_code(EPIPE, std::system_category());
      return false;
    }
    t->inPipe -= std::min(n, t->inPipe);
    op.transferred += n;
  } else if (n == 0) {  // the file ended (the pipe is empty: it is filled only when empty)
    if (!toEnd(op)) op.error = Error::end_of_stream;
    return false;
  } else {
    t->inPipe = n;
  }
  return t->inPipe > 0 || toEnd(op) || op.transferred < op.count;
}

void releaseTransmit(Operation& op) noexcept {
  auto* t = static_cast<Transmit*>(op.scratch);
  if (t == nullptr) return;
  op.scratch = nullptr;
  if (t->inPipe == 0 && tPipes.pipes.size() < kCachedPipes) {
    try {
      tPipes.pipes.push_back(t->pipe);
      t->pipe = {};
    } catch (const std::bad_alloc&) {
    }
  }
  if (t->pipe.readEnd >= 0) {
    ::close(t->pipe.readEnd);
    ::close(t->pipe.writeEnd);
  }
  delete t;
}

}  // namespace nioxx::uring_detail
