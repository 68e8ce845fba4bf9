// Task<T>: a lazy, move-only coroutine (the coroutine frame is the Asynchronous Completion Token).
//
//   coro::Task<std::size_t> echoOnce(AsyncSocket s) {
//     auto r = co_await coro::read(s, ByteBuffer::allocate(4096));
//     ...
//     co_return r.bytesTransferred();
//   }
//
// - Lazy: the body starts when the Task is awaited (or spawned, spawn.h), never at the call.
// - No stack growth: a Task that ends while its awaiter is still starting it lets the awaiter go
//   on from there (no resumption one frame deeper), and one that ends later resumes its awaiter by
//   symmetric transfer; so a loop of a million awaits that complete at once stays flat, also where
//   the compiler makes no tail call (GCC 12 under ASan).
// - An exception escaping the body is rethrown by the co_await that awaited it.
// - The stop token: an awaited Task inherits the awaiting coroutine's std::stop_token; every
//   operation it awaits is cancelled (cancel(id)) when that token is stopped (operations.h).
//   spawn() and Scope give the outermost coroutine its token.
//
// GCC 12 destroys an aggregate awaiter built in the co_await expression itself twice
// (`co_await Agg{...}` with a member that has a destructor: a double free). Every awaiter here is
// returned by a function or has a constructor, which GCC 12 handles; do the same in your own.
//
// Thread rule: a Task is a value owned by one coroutine; await it once. Where its body runs is
// where it was resumed: see operations.h.
#pragma once

#include <atomic>
#include <coroutine>
#include <exception>
#include <stdexcept>
#include <stop_token>
#include <type_traits>
#include <utility>
#include <variant>

namespace nioxx::coro {

template <class T = void>
class Task;

namespace detail {

// The part of every promise the awaitables look at: who resumes when the body ends, and the
// stop token operations are cancelled by.
class PromiseBase {
 public:
  std::suspend_always initial_suspend() noexcept { return {}; }

  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> done) const noexcept {
      PromiseBase& p = done.promise();
      // Second to arrive: the awaiter already left its await_suspend, so resume it (a tail
      // call). First: the body ended inside the awaiter's await_suspend, which continues by
      // itself (see Task::Awaiter): no resumption one frame deeper, whatever the compiler does
      // with tail calls (GCC 12 makes none under ASan).
      if (p.handoff_.exchange(true, std::memory_order_acq_rel) && p.continuation_) {
        return p.continuation_;
      }
      return std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }

  // Starts the body on this thread for `awaiting`; true if the body is still running (it will
  // resume `awaiting` when it ends), false if it already ended (`awaiting` goes on at once).
  template <class P>
  static bool start(std::coroutine_handle<P> body, std::coroutine_handle<> awaiting,
                    std::stop_token token) {
    PromiseBase& p = body.promise();
    p.continuation_ = awaiting;
    p.stop_ = std::move(token);
    body.resume();  // until its first suspension, or its end
    return !p.handoff_.exchange(true, std::memory_order_acq_rel);
  }

  const std::stop_token& stopToken() const noexcept { return stop_; }

 private:
  std::coroutine_handle<> continuation_;
  std::stop_token stop_;
  // Who arrives second, the awaiter leaving start() or the body reaching its end, resumes.
  std::atomic<bool> handoff_{false};
};

// Whether an awaiting coroutine's promise carries a stop token (ours do; foreign ones may not).
template <class P>
concept HasStopToken = requires(const P& p) {
  { p.stopToken() } -> std::convertible_to<std::stop_token>;
};

template <class P>
std::stop_token stopTokenOf(std::coroutine_handle<P> h) noexcept {
  if constexpr (HasStopToken<P>) {
    return h.promise().stopToken();
  } else {
    return {};
  }
}

template <class T>
class Promise final : public PromiseBase {
 public:
  Task<T> get_return_object() noexcept;
  template <class U>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& value) { result_.template emplace<1>(std::forward<U>(value)); }
  void unhandled_exception() noexcept { result_.template emplace<2>(std::current_exception()); }
  T take() {
    if (result_.index() == 2) std::rethrow_exception(std::get<2>(result_));
    return std::move(std::get<1>(result_));
  }

 private:
  std::variant<std::monostate, T, std::exception_ptr> result_;
};

template <>
class Promise<void> final : public PromiseBase {
 public:
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void unhandled_exception() noexcept { error_ = std::current_exception(); }
  void take() {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::exception_ptr error_;
};

}  // namespace detail

template <class T>
class [[nodiscard]] Task {
  static_assert(!std::is_reference_v<T>, "Task<T&>: return a pointer or a value instead");

 public:
  using promise_type = detail::Promise<T>;
  using Handle = std::coroutine_handle<promise_type>;

  Task() noexcept = default;
  explicit Task(Handle h) noexcept : h_(h) {}
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  // A Task destroyed before it finished destroys its frame (a never-started one never ran).
  ~Task() { reset(); }

  explicit operator bool() const noexcept { return static_cast<bool>(h_); }

  struct Awaiter {
    Handle h;
    bool await_ready() const {
      if (!h) throw std::logic_error("nioxx::coro: co_await on an empty Task (moved from?)");
      if (h.done()) throw std::logic_error("nioxx::coro: a Task awaited twice (await it once)");
      return false;
    }
    // Starts the body at once on this thread; a body that ends without suspending lets the
    // awaiting coroutine go on without suspending (so a loop of such awaits stays flat).
    template <class P>
    bool await_suspend(std::coroutine_handle<P> awaiting) {
      return promise_type::start(h, awaiting, detail::stopTokenOf(awaiting));
    }
    T await_resume() { return h.promise().take(); }
  };
  // Await once; the Task keeps the frame until it is destroyed.
  Awaiter operator co_await() & noexcept { return Awaiter{h_}; }
  Awaiter operator co_await() && noexcept { return Awaiter{h_}; }

  Handle handle() const noexcept { return h_; }

 private:
  void reset() noexcept {
    if (h_) std::exchange(h_, {}).destroy();
  }
  Handle h_;
};

namespace detail {
template <class T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}
}  // namespace detail

// co_await coro::withStopToken(task, token): awaits task with this token instead of the awaiting
// coroutine's (an empty token: its operations are never cancelled by a stop).
template <class T>
struct WithStopToken {
  Task<T> task;
  std::stop_token token;
  bool await_ready() const { return typename Task<T>::Awaiter{handle()}.await_ready(); }
  bool await_suspend(std::coroutine_handle<> awaiting) {
    return Task<T>::promise_type::start(handle(), awaiting, std::move(token));
  }
  T await_resume() { return handle().promise().take(); }

 private:
  typename Task<T>::Handle handle() const noexcept { return task.handle(); }
};
template <class T>
WithStopToken<T> withStopToken(Task<T> task, std::stop_token token) {
  return {std::move(task), std::move(token)};
}

// co_await coro::currentStopToken(): the stop token of the running coroutine (does not suspend).
struct CurrentStopToken {
  std::stop_token token;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    token = detail::stopTokenOf(h);
    return false;  // resume at once
  }
  std::stop_token await_resume() noexcept { return std::move(token); }
};
inline CurrentStopToken currentStopToken() noexcept {
  return {};
}

}  // namespace nioxx::coro

namespace nioxx {
using coro::Task;  // nioxx::Task<T>, as the issue names it
}  // namespace nioxx
