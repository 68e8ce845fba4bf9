// Multishot operations as streams: one initiation, many results, each taken with co_await.
//
//   auto accepts = coro::acceptEach(server);           // initiates acceptEach now
//   while (auto a = co_await accepts.next()) {          // std::optional<AcceptResult>
//     if (a->success()) scope.spawn(serve(a->socket()));
//     if (!a->more()) break;                            // the last result: error, abort, EOF
//   }
//
// - Results arrive in the operation's handler (the channel's thread / strand); next() returns the
//   oldest one not taken yet, or suspends until one arrives and resumes in that handler, where a
//   callback would have run. After the last result (more() == false), next() gives nullopt.
// - Results not taken yet wait in the stream. A readEach over a provided-buffer group copies a
//   waiting result's bytes out, so its buffer goes back to the ring at once: a coroutine busy
//   elsewhere does not starve the other reads of its thread. Unbounded by default; with
//   maxWaiting > 0, the result that makes maxWaiting wait cancels the operation (the ones the
//   kernel delivered meanwhile still come, then the last, operation_aborted): a coroutine writing
//   to a client that does not read holds a bounded amount. Start a new stream after taking them.
// - Cancellation: cancel() (any thread), the coroutine's stop token while it waits in next(), or
//   destroying the stream end the operation (its last result is operation_aborted).
//
// Thread rule: one coroutine takes from a stream at a time; cancel() from any thread.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <utility>
#include <vector>

#include "nioxx/coro/operations.h"

namespace nioxx::coro {

template <class Result, class Target>
class Stream {
  // Results that wait for the coroutine, oldest first. A vector and a head index, not a deque:
  // libstdc++'s deque allocates ~600 bytes when constructed, and every idle connection of the
  // coroutine server holds a stream that is almost always empty.
  struct Waiting {
    std::vector<Result> items;
    std::size_t head = 0;
    bool empty() const noexcept { return head == items.size(); }
    std::size_t size() const noexcept { return items.size() - head; }
    void push(Result&& r) { items.push_back(std::move(r)); }
    Result pop() {
      Result r = std::move(items[head++]);
      if (empty()) {
        items.clear();  // keeps the capacity: a busy connection does not allocate per result
        head = 0;
      }
      return r;
    }
  };
  struct State {
    std::mutex mutex;
    Waiting ready;
    bool ended = false;  // the last result was taken
    std::coroutine_handle<> waiter;
    std::optional<Result>* slot = nullptr;  // where the waiter wants its result
    Target target;
    std::atomic<OperationId> id{0};   // set once the initiation returned (handlers may run first)
    std::size_t maxWaiting = 0;       // 0: unbounded
    void (*park)(Result&) = nullptr;  // applied to a result that waits
    bool cancelAsked = false;         // by cancel() or at maxWaiting: asked once
    State(const Target& t, std::size_t max, void (*p)(Result&))
        : target(t), maxWaiting(max), park(p) {}
  };
  struct RequestCancel {
    State* state;
    void operator()() const noexcept {
      try {
        if (const OperationId id = state->id.load(std::memory_order_acquire)) {
          state->target.cancel(id);
        }
      } catch (...) {
      }
    }
  };

 public:
  // Starts the multishot operation: start(target, handler) -> OperationId.
  // park(result), if given, runs on each result that has to wait (before it is stored).
  template <class Start>
  Stream(const Target& target, Start start, std::size_t maxWaiting = 0,
         void (*park)(Result&) = nullptr)
      : state_(std::make_shared<State>(target, maxWaiting, park)) {
    state_->id.store(start(state_->target, Deliver{state_}), std::memory_order_release);
  }
  Stream(Stream&&) noexcept = default;
  Stream& operator=(Stream&&) noexcept = default;
  ~Stream() { cancel(); }  // the rest of the results are dropped with the state

  // Ends the operation (its last result is operation_aborted, unless it ended first). Idempotent:
  // once asked (here or at maxWaiting), later calls do nothing.
  void cancel() noexcept {
    if (!state_) return;
    {
      std::lock_guard lock(state_->mutex);
      // Its last result was taken (nothing left to cancel), or the cancel was asked already.
      if (state_->ended || std::exchange(state_->cancelAsked, true)) return;
    }
    RequestCancel{state_.get()}();
  }

  class NextAwaiter {
   public:
    explicit NextAwaiter(State* s) : state_(s) {}
    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      // The stop callback first: once the waiter is published, the handler may resume us on
      // another thread, and this frame is no longer ours to touch. A stop while we wait cancels
      // the operation; its last result then resumes us.
      stop_.emplace(detail::stopTokenOf(h), RequestCancel{state_});
      {
        std::lock_guard lock(state_->mutex);
        if (state_->ready.empty() && !state_->ended) {
          state_->waiter = h;
          state_->slot = &result_;
          return true;
        }
        takeLocked();  // a result is here already: no suspension
      }
      stop_.reset();
      return false;
    }
    std::optional<Result> await_resume() {
      stop_.reset();
      return std::move(result_);
    }

   private:
    void takeLocked() {
      if (state_->ready.empty()) return;  // ended: nullopt
      result_.emplace(state_->ready.pop());
      if (!result_->more()) state_->ended = true;
    }
    State* state_;
    std::optional<Result> result_;
    std::optional<std::stop_callback<RequestCancel>> stop_;
  };
  // co_await stream.next(): the next result, or nullopt after the last one.
  NextAwaiter next() { return NextAwaiter(state_.get()); }

 private:
  struct Deliver {
    std::shared_ptr<State> state;
    void operator()(Result& r) const {
      std::coroutine_handle<> resume;
      bool cancel = false;
      {
        std::lock_guard lock(state->mutex);
        if (state->waiter) {
          if (!r.more()) state->ended = true;
          state->slot->emplace(std::move(r));
          resume = std::exchange(state->waiter, {});
        } else {
          const bool more = r.more();
          if (state->park) state->park(r);
          state->ready.push(std::move(r));
          // Before the initiation returned (id 0), the next result asks again.
          cancel = more && state->maxWaiting > 0 && state->ready.size() >= state->maxWaiting &&
                   !state->cancelAsked && state->id.load(std::memory_order_acquire) != 0;
          if (cancel) state->cancelAsked = true;
        }
      }
      if (cancel) RequestCancel{state.get()}();  // completes later, never inside this call
      if (resume) resume.resume();  // where a callback of this operation would have run
    }
  };

  std::shared_ptr<State> state_;
};

// acceptEach as a stream of AcceptResults.
inline Stream<AcceptResult, AsyncServerSocket> acceptEach(AsyncServerSocket& server) {
  return {server, [](AsyncServerSocket& s, auto h) { return s.acceptEach(NoAct{}, std::move(h)); }};
}
// readEach as a stream of IoResults (each buffer from pool, bytes in [0, position)); the pool must
// outlive the stream's operation. idleTimeout: timed_out after that long without data;
// maxWaiting: see above (0: unbounded).
inline Stream<IoResult, AsyncSocket> readEach(AsyncSocket& socket, BufferPool& pool,
                                              Nanos idleTimeout = Nanos::zero(),
                                              std::size_t maxWaiting = 0) {
  return {socket,
          [&pool, idleTimeout](AsyncSocket& s, auto h) {
            return s.readEach(pool, NoAct{}, std::move(h), idleTimeout);
          },
          maxWaiting};
}

// The same with the engine's provided buffers: a result handed to a waiting coroutine holds one of
// the group's buffers until it is dropped; one that has to wait holds a copy of its bytes instead.
inline Stream<IoResult, AsyncSocket> readEach(AsyncSocket& socket, const BufferGroup& group,
                                              Nanos idleTimeout = Nanos::zero(),
                                              std::size_t maxWaiting = 0) {
  return {socket,
          [group, idleTimeout](AsyncSocket& s, auto h) {
            return s.readEach(group, NoAct{}, std::move(h), idleTimeout);
          },
          maxWaiting,
          [](IoResult& r) {
            const std::size_t n = r.bytesTransferred();
            if (n == 0) {
              r.buffer() = ByteBuffer();
              return;
            }
            ByteBuffer copy =
                ByteBuffer::copyOf(std::span<const std::uint8_t>(r.buffer().array(), n));
            copy.position(n);              // a read's bytes are [0, position)
            r.buffer() = std::move(copy);  // the group's buffer goes back to the ring here
          }};
}

}  // namespace nioxx::coro
