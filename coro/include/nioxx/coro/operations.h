// Awaitables for every operation of AsyncSocket, AsyncServerSocket, AsyncFile and the Proactor's
// timers, built on the callback forms (no second I/O path): awaiting one initiates the operation
// with a handler that resumes the coroutine, so every engine and dispatch strategy runs them.
//
//   IoResult r = co_await coro::read(socket, ByteBuffer::allocate(4096));   // error in r.error()
//   IoResult w = co_await coro::writeAll(socket, std::move(buf)).orThrow();  // or throws
//   auto     a = co_await coro::accept(server).timeout(5s);                   // timed_out
//
// What awaiting gives back: the operation's Result (IoResult, ScatterResult, ConnectResult,
// AcceptResult, FileResult, TimerResult), with its std::error_code, bytes and buffer(s), exactly
// what a completion handler gets. `.orThrow()` throws std::system_error(result.error()) instead
// when the result is not a success (end_of_stream included).
//
// Where the coroutine resumes: inside the completion handler, i.e. exactly where a callback
// handler of the same operation would have run (the socket's thread under call_through, a run()
// thread under post_reactive, a pool thread under pool), never inside the co_await's own call
// (the operation's "never inside the initiating call" rule), so a loop of awaits never nests.
// The channel's guarantees carry over: two coroutines resumed by operations of one channel never
// run at once, and per direction they resume in initiation order.
//
// Cancellation: the awaiting coroutine's std::stop_token (inherited, task.h; or given with
// `.stopToken(t)`; an empty token means "not cancellable") cancels the operation it is suspended
// on with cancel(id): it then completes with operation_aborted (or its real result if it had
// finished first) and the coroutine resumes once, as usual. A token stopped before the await
// still initiates the operation and cancels it at once. `.timeout(d)` is the operation's own
// timeout (timed_out), for the operations that take one.
//
// Lifetime: the awaitable refers to the socket/file/Proactor it was made from; await it in the
// same expression (or while that object lives). Buffers are moved into the operation.
#pragma once

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <new>
#include <optional>
#include <stop_token>
#include <system_error>
#include <utility>
#include <vector>

#include "nioxx/core/buffer_pool.h"
#include "nioxx/core/byte_buffer.h"
#include "nioxx/core/inet_socket_address.h"
#include "nioxx/coro/task.h"
#include "nioxx/proactor/async_file.h"
#include "nioxx/proactor/async_result.h"
#include "nioxx/proactor/async_server_socket.h"
#include "nioxx/proactor/async_socket.h"
#include "nioxx/proactor/proactor.h"

namespace nioxx::coro {

using Nanos = std::chrono::nanoseconds;

namespace detail {

// Cancels timers through their Proactor (the other targets have cancel(id) themselves).
struct TimerTarget {
  Proactor* proactor;
  void cancel(OperationId id) const { proactor->cancelTimer(id); }
};
// post(): nothing to cancel.
struct NoTarget {};

// Awaitables hold their target by pointer (sockets, files: the caller's handle) or by value
// (timers, post); deref() gives the object either way.
template <class T>
T& deref(T* p) noexcept {
  return *p;
}
inline TimerTarget& deref(TimerTarget& t) noexcept {
  return t;
}
inline NoTarget& deref(NoTarget& t) noexcept {
  return t;
}

// Where a stop request meets the id of the operation it must cancel. The id is known only once
// the initiation returned, and by then the operation may already have completed and resumed the
// coroutine (another thread), so the initiator must not touch the coroutine frame any more: it
// publishes the id here instead. The slot is shared (counted) by the awaiter and the initiator;
// memory from the operations' per-thread recycling cache.
template <class Target>
class CancelSlot {
 public:
  static CancelSlot* make(const Target& target) {
    void* p = nioxx::detail::allocateOperation(sizeof(CancelSlot));
    return ::new (p) CancelSlot(target);
  }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      this->~CancelSlot();
      nioxx::detail::deallocateOperation(this, sizeof(CancelSlot));
    }
  }
  // From the stop callback (any thread). seq_cst store-then-load on both sides: at least one of
  // requestStop() and publish() sees the other, so the operation is cancelled at least once
  // (cancel(id) is idempotent, and ignored once the operation completed).
  void requestStop() noexcept {
    stopped_.store(true, std::memory_order_seq_cst);
    if (const OperationId id = id_.load(std::memory_order_seq_cst)) cancel(id);
  }
  void publish(OperationId id) noexcept {
    id_.store(id, std::memory_order_seq_cst);
    if (stopped_.load(std::memory_order_seq_cst)) cancel(id);
  }

 private:
  explicit CancelSlot(const Target& target) : target_(target) {}
  void cancel(OperationId id) noexcept {
    try {
      target_.cancel(id);
    } catch (...) {  // a stop callback must not throw; a cancel that cannot be made is moot
    }
  }
  Target target_;                   // a counted handle (or the Proactor) of its own
  std::atomic<OperationId> id_{0};  // operation ids start at 1
  std::atomic<bool> stopped_{false};
  std::atomic<int> refs_{2};  // the awaiter's and the initiator's
};

// A std::stop_callback that may be moved while it is not registered yet (awaitables are built,
// chained and moved before co_await; they register in await_suspend and never move after).
template <class F>
class StopRegistration {
 public:
  StopRegistration() = default;
  StopRegistration(StopRegistration&&) noexcept {}
  StopRegistration& operator=(StopRegistration&&) = delete;
  void emplace(std::stop_token token, F f) { cb_.emplace(std::move(token), std::move(f)); }
  void reset() noexcept { cb_.reset(); }

 private:
  std::optional<std::stop_callback<F>> cb_;
};

// Throws std::system_error(error, "nioxx::coro::<what> failed") (the orThrow() form).
[[noreturn]] void throwFailed(const std::error_code& error, const char* what);

// One awaitable operation. Start(Target&, Handler&&, Nanos timeout) -> OperationId initiates it
// through the public callback API; Result is what the handler gets, and what co_await returns.
template <class Result, class Ref, class Start, bool kHasTimeout>
class [[nodiscard]] OpAwaitable {
  using Target = std::remove_reference_t<decltype(deref(std::declval<Ref&>()))>;
  static constexpr bool kCancellable = !std::is_same_v<Target, NoTarget>;
  using Slot = CancelSlot<Target>;

  struct StopFn {
    Slot* slot;
    void operator()() const noexcept { slot->requestStop(); }
  };
  // The completion handler: hands the result over and resumes the coroutine, here, on the
  // thread and in the place the Proactor runs this operation's handler.
  struct Resume {
    OpAwaitable* self;
    void operator()(Result& r) const noexcept { self->complete(r); }
  };

 public:
  OpAwaitable(Ref target, Start start, const char* what)
      : target_(target), start_(std::move(start)), what_(what) {}
  OpAwaitable(OpAwaitable&&) noexcept = default;
  OpAwaitable& operator=(OpAwaitable&&) = delete;
  ~OpAwaitable() {
    stop_.reset();  // waits for a stop callback running on another thread
    if (slot_ != nullptr) slot_->release();
  }

  // Modifiers, chained on the awaitable in the co_await expression itself
  // (`co_await coro::read(s, b).timeout(5s).orThrow()`); they return the same object, so a chain
  // costs no copies in the coroutine frame. Do not keep a reference to a chain past its statement.
  //
  // The operation's own timeout: it completes with timed_out (and the bytes moved so far).
  OpAwaitable&& timeout(Nanos d) && requires kHasTimeout {
    timeout_ = d;
    return std::move(*this);
  }
  // Cancelled by this token instead of the coroutine's (an empty token: never cancelled).
  OpAwaitable&& stopToken(std::stop_token token) && {
    token_ = std::move(token);
    ownToken_ = true;
    return std::move(*this);
  }
  // co_await throws std::system_error unless the result is a success.
  OpAwaitable&& orThrow() && {
    throws_ = true;
    return std::move(*this);
  }

  bool await_ready() const noexcept { return false; }

  template <class P>
  void await_suspend(std::coroutine_handle<P> awaiting) {
    waiter_ = awaiting;
    // Everything the initiation needs goes to this stack frame first: once start() has handed
    // the operation over, it may complete on another thread and resume (and end) the coroutine.
    Start start = std::move(start_);
    Ref ref = target_;
    const Nanos timeout = timeout_;
    if constexpr (kCancellable) {
      std::stop_token token = ownToken_ ? std::move(token_) : detail::stopTokenOf(awaiting);
      if (token.stop_possible()) {
        Slot* slot = Slot::make(deref(ref));
        slot_ = slot;
        stop_.emplace(std::move(token), StopFn{slot});  // runs now if already stopped
        OperationId id;
        try {
          id = start(deref(ref), Resume{this}, timeout);
        } catch (...) {
          slot->release();
          throw;  // nothing initiated: the coroutine resumes with the exception
        }
        slot->publish(id);  // the frame may be gone; the slot is not
        slot->release();
        return;
      }
    }
    start(deref(ref), Resume{this}, timeout);
  }

  Result await_resume() {
    if (throws_ && !result_.success()) throwFailed(result_.error(), what_);
    return std::move(result_);
  }

 private:
  void complete(Result& r) noexcept {
    result_ = std::move(r);
    stop_.reset();  // no cancel is useful any more
    waiter_.resume();
  }

  Ref target_;
  Start start_;
  const char* what_;
  Nanos timeout_{0};
  std::stop_token token_;
  bool ownToken_ = false;
  bool throws_ = false;
  std::coroutine_handle<> waiter_;
  Slot* slot_ = nullptr;
  StopRegistration<StopFn> stop_;
  Result result_;
};

template <class Result, bool kHasTimeout, class Ref, class Start>
auto makeOp(Ref target, Start start, const char* what) {
  return OpAwaitable<Result, Ref, Start, kHasTimeout>(target, std::move(start), what);
}

}  // namespace detail

// ---- AsyncSocket ----

inline auto connect(AsyncSocket& s, const InetSocketAddress& to) {
  return detail::makeOp<ConnectResult, true>(
      &s,
      [to](AsyncSocket& t, auto h, Nanos timeout) {
        return t.connect(to, NoAct{}, std::move(h), timeout);
      },
      "connect");
}
// Completes as soon as some bytes arrived (end_of_stream if the peer closed).
inline auto read(AsyncSocket& s, ByteBuffer dst) {
  return detail::makeOp<IoResult, true>(
      &s,
      [b = std::move(dst)](AsyncSocket& t, auto h, Nanos timeout) mutable {
        return t.read(std::move(b), NoAct{}, std::move(h), timeout);
      },
      "read");
}
// The buffer is taken from pool only when data arrives (result.buffer() holds [0, position)).
inline auto read(AsyncSocket& s, BufferPool& pool) {
  return detail::makeOp<IoResult, true>(
      &s,
      [p = &pool](AsyncSocket& t, auto h, Nanos timeout) {
        return t.read(*p, NoAct{}, std::move(h), timeout);
      },
      "read");
}
// The buffer is one of the group's (Proactor::provideBuffers), taken only when data arrives; the
// read waits while the socket's thread has none free (buffer_group.h).
inline auto read(AsyncSocket& s, const BufferGroup& group) {
  return detail::makeOp<IoResult, true>(
      &s,
      [g = group](AsyncSocket& t, auto h, Nanos timeout) {
        return t.read(g, NoAct{}, std::move(h), timeout);
      },
      "read");
}
inline auto readExactly(AsyncSocket& s, ByteBuffer dst) {
  return detail::makeOp<IoResult, true>(
      &s,
      [b = std::move(dst)](AsyncSocket& t, auto h, Nanos timeout) mutable {
        return t.readExactly(std::move(b), NoAct{}, std::move(h), timeout);
      },
      "readExactly");
}
inline auto write(AsyncSocket& s, ByteBuffer src) {
  return detail::makeOp<IoResult, true>(
      &s,
      [b = std::move(src)](AsyncSocket& t, auto h, Nanos timeout) mutable {
        return t.write(std::move(b), NoAct{}, std::move(h), timeout);
      },
      "write");
}
inline auto writeAll(AsyncSocket& s, ByteBuffer src) {
  return detail::makeOp<IoResult, true>(
      &s,
      [b = std::move(src)](AsyncSocket& t, auto h, Nanos timeout) mutable {
        return t.writeAll(std::move(b), NoAct{}, std::move(h), timeout);
      },
      "writeAll");
}
inline auto readv(AsyncSocket& s, std::vector<ByteBuffer> dsts, bool whole = false) {
  return detail::makeOp<ScatterResult, true>(
      &s,
      [b = std::move(dsts), whole](AsyncSocket& t, auto h, Nanos timeout) mutable {
        return t.readv(std::move(b), NoAct{}, std::move(h), timeout, whole);
      },
      "readv");
}
inline auto writev(AsyncSocket& s, std::vector<ByteBuffer> srcs, bool whole = true) {
  return detail::makeOp<ScatterResult, true>(
      &s,
      [b = std::move(srcs), whole](AsyncSocket& t, auto h, Nanos timeout) mutable {
        return t.writev(std::move(b), NoAct{}, std::move(h), timeout, whole);
      },
      "writev");
}
// The paper's TransmitFile: count bytes of file from offset, the kernel moving them
// (AsyncSocket::transmitFile: ordered with the socket's writes, whole, end_of_stream on a file
// shorter than offset + count; AsyncSocket::kToEndOfFile sends up to its end).
inline auto transmitFile(AsyncSocket& s, const AsyncFile& file, std::uint64_t offset,
                         std::uint64_t count) {
  return detail::makeOp<IoResult, true>(
      &s,
      [f = file, offset, count](AsyncSocket& t, auto h, Nanos timeout) {
        return t.transmitFile(f, offset, count, NoAct{}, std::move(h), timeout);
      },
      "transmitFile");
}
// The same from a file descriptor (duplicated by the operation; the caller keeps it).
inline auto transmitFile(AsyncSocket& s, int fileFd, std::uint64_t offset, std::uint64_t count) {
  return detail::makeOp<IoResult, true>(
      &s,
      [fileFd, offset, count](AsyncSocket& t, auto h, Nanos timeout) {
        return t.transmitFile(fileFd, offset, count, NoAct{}, std::move(h), timeout);
      },
      "transmitFile");
}

// Any AsyncSocket operation given by its callback-form initiation, as one awaitable type:
// start(AsyncSocket&, auto handler, Nanos timeout) -> OperationId initiates it (calling one of
// the socket's operations with that handler and timeout) and Result is that operation's result.
// For a coroutine that awaits different operations from one co_await expression: GCC gives each
// co_await expression its own room in the coroutine frame (an awaitable holds the result), so a
// connection loop that reads and writes through one expression keeps one awaitable in its frame
// instead of one per operation it uses, and a frame lives as long as its connection.
template <class Result, class Start>
auto socketOp(AsyncSocket& s, Start start, const char* what = "socket operation") {
  return detail::makeOp<Result, true>(&s, std::move(start), what);
}

// ---- AsyncServerSocket ----

inline auto accept(AsyncServerSocket& s) {
  return detail::makeOp<AcceptResult, true>(
      &s,
      [](AsyncServerSocket& t, auto h, Nanos timeout) {
        return t.accept(NoAct{}, std::move(h), timeout);
      },
      "accept");
}

// ---- AsyncFile (no operation timeout: use withTimeout on a Task, timeout.h) ----

inline auto readAt(AsyncFile& f, ByteBuffer dst, std::int64_t offset, bool whole = true) {
  return detail::makeOp<FileResult, false>(
      &f,
      [b = std::move(dst), offset, whole](AsyncFile& t, auto h, Nanos) mutable {
        return t.readAt(std::move(b), offset, NoAct{}, std::move(h), whole);
      },
      "readAt");
}
inline auto writeAt(AsyncFile& f, ByteBuffer src, std::int64_t offset, bool whole = true) {
  return detail::makeOp<FileResult, false>(
      &f,
      [b = std::move(src), offset, whole](AsyncFile& t, auto h, Nanos) mutable {
        return t.writeAt(std::move(b), offset, NoAct{}, std::move(h), whole);
      },
      "writeAt");
}

// ---- Proactor ----

// A timer: success after `delay`; operation_aborted when the coroutine's stop token is
// stopped first (cancelTimer).
inline auto sleep(Proactor& p, Nanos delay) {
  return detail::makeOp<TimerResult, false>(
      detail::TimerTarget{&p},
      [delay](detail::TimerTarget& t, auto h, Nanos) {
        return t.proactor->scheduleTimer(delay, NoAct{}, std::move(h));
      },
      "sleep");
}

// Resumes the coroutine in a handler posted to p (Proactor::post): the way onto the Proactor's
// handler threads, and a fairness point for a long computation. Not cancellable.
inline auto post(Proactor& p) {
  return detail::makeOp<TimerResult, false>(
      detail::NoTarget{},
      [pp = &p](detail::NoTarget&, auto h, Nanos) -> OperationId {
        pp->post(std::move(h));
        return 0;
      },
      "post");
}

}  // namespace nioxx::coro
