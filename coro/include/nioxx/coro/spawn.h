// Starting coroutines on a Proactor (Asio's co_spawn) and owning them (a Scope).
//
//   coro::spawn(proactor, serve(socket), [](std::exception_ptr e) { ... });   // callback at the
//   end
//
//   coro::Scope scope(proactor);            // owns what it spawns
//   scope.spawn(serve(socket));             // gets scope.stopToken()
//   scope.requestStop();                    // every operation its coroutines wait on is cancelled
//   scope.join();                           // returns once every frame is destroyed
//
// Rules (the Proactor's, docs/parts/proactor.md "Coroutines"):
// - The body starts in a handler posted to the Proactor (Proactor::post), never inside spawn():
//   on a processor thread (call_through), a run() thread (post_reactive) or a pool thread.
// - The completion callback runs once, where the coroutine ended, after its frame was destroyed.
//   Like a handler, it must not throw.
// - spawn() on a Proactor that is shutting down throws ShutdownError, and nothing runs.
// - Shutdown: Proactor::shutdown() completes every operation a coroutine waits on
//   (operation_aborted); the coroutine resumes, and an operation it initiates then throws
//   ShutdownError into it. A coroutine that lets it escape simply ends (no terminate, as for
//   handlers); the callback / the Scope sees it end. So after shutdown() every coroutine that
//   only waits on the Proactor's operations has finished: no frame is destroyed behind its back
//   (destructors of its locals run in order) and none leaks.
//
// Thread rule: spawn() and Scope's members are safe from any thread; join()/joinFor()/~Scope
// block, so not from a handler thread of the Proactor the coroutines need (use co_await
// scope.joined() there).
#pragma once

#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <mutex>
#include <optional>
#include <stop_token>
#include <type_traits>
#include <utility>
#include <vector>

#include "nioxx/coro/task.h"
#include "nioxx/proactor/proactor.h"
#include "nioxx/proactor/shutdown_error.h"

namespace nioxx::coro {
namespace detail {

// The coroutine that runs a spawned Task: created suspended, resumed by a posted handler, frees
// itself at the end. Its promise gives the Task its stop token.
struct Spawned {
  struct promise_type {
    Spawned get_return_object() noexcept {
      return Spawned{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }  // only a throwing callback gets here
    const std::stop_token& stopToken() const noexcept { return stop; }
    std::stop_token stop;
  };
  std::coroutine_handle<promise_type> handle;
};

// Gives the running Spawned coroutine the token of `source` (does not suspend).
struct SetStopToken {
  const std::stop_source* source;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<Spawned::promise_type> h) noexcept {
    h.promise().stop = source->get_token();
    return false;
  }
  void await_resume() const noexcept {}
};

struct RequestStop {
  std::stop_source* source;
  void operator()() const noexcept { source->request_stop(); }
};

template <class T, class OnDone>
Spawned runSpawned(Task<T> task, OnDone onDone, std::stop_token outer) {
  // A stop source of its own, linked to `outer`: the operations' stop callbacks then register on
  // this coroutine's stop state, not on the one every coroutine of a Scope shares (whose lock all
  // the engine's threads would contend for, once per operation).
  std::optional<std::stop_source> own;
  std::optional<std::stop_callback<RequestStop>> link;
  if (outer.stop_possible()) {
    own.emplace();
    link.emplace(std::move(outer), RequestStop{&*own});
    co_await SetStopToken{&*own};
  }
  std::exception_ptr error;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  {
    Task<T> body = std::move(task);  // destroyed at the end of this block: before the callback
    try {
      if constexpr (std::is_void_v<T>) {
        co_await body;
        value.emplace(true);
      } else {
        value.emplace(co_await body);
      }
    } catch (...) {
      error = std::current_exception();
    }
  }
  if constexpr (std::is_void_v<T>) {
    onDone(error);
  } else {
    onDone(error, value ? std::move(*value) : T{});
  }
}

bool isShutdownError(const std::exception_ptr& e) noexcept;
[[noreturn]] void terminateDetached(const std::exception_ptr& e) noexcept;

}  // namespace detail

// Runs task on the Proactor; onDone(std::exception_ptr) (Task<void>) or
// onDone(std::exception_ptr, T) (Task<T>; T{} when it threw) runs once at the end. The optional
// stop token is the coroutine's (its operations are cancelled when it is stopped).
template <class T, class OnDone>
void spawn(Proactor& proactor, Task<T> task, OnDone onDone, std::stop_token stop = {}) {
  static_assert(std::is_void_v<T> || std::is_default_constructible_v<T>,
                "spawn(Task<T>, onDone): T must be default-constructible (onDone gets T{} when "
                "the coroutine threw)");
  detail::Spawned s = detail::runSpawned(std::move(task), std::move(onDone), std::move(stop));
  try {
    proactor.post([h = s.handle] { h.resume(); });
  } catch (...) {
    s.handle.destroy();  // never started: the Task's frame goes with it
    throw;
  }
}

// Detached: an exception escaping the coroutine terminates the process (as one escaping a
// handler does), except ShutdownError.
template <class T>
void spawn(Proactor& proactor, Task<T> task, std::stop_token stop = {}) {
  auto onDone = [](std::exception_ptr e, auto&&...) noexcept {
    if (e && !detail::isShutdownError(e)) detail::terminateDetached(e);
  };
  spawn(proactor, std::move(task), onDone, std::move(stop));
}

class Scope {
 public:
  explicit Scope(Proactor& proactor) noexcept : proactor_(proactor) {}
  // Requests stop, then waits for every coroutine (as join(), without rethrowing: a kept
  // exception is logged).
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

  // spawn() with this scope's stop token. An exception escaping the coroutine is kept and
  // rethrown by join() (the first one; ShutdownError is not kept).
  template <class T>
  void spawn(Task<T> task) {
    spawn(
        std::move(task), [](std::exception_ptr, auto&&...) noexcept {}, true);
  }
  // The same, with a completion callback (which then gets the exception instead of join()).
  template <class T, class OnDone>
  void spawn(Task<T> task, OnDone onDone) {
    spawn(std::move(task), std::move(onDone), false);
  }

  // Stops the scope's token: every operation its coroutines wait on is cancelled, and those they
  // start later are cancelled at once. Any thread; idempotent.
  void requestStop() noexcept { stop_.request_stop(); }
  std::stop_token stopToken() const noexcept { return stop_.get_token(); }
  // Coroutines spawned and not finished.
  std::size_t size() const;

  // Waits until every coroutine spawned so far has finished and its frame is destroyed; then
  // rethrows the first kept exception (once).
  void join();
  // join() with a limit: false if coroutines are still running after `limit` (nothing thrown).
  bool joinFor(std::chrono::nanoseconds limit);

  // co_await scope.joined(): resumes once the scope is empty (at once if it is), on the thread
  // where the last coroutine ended. For coroutines; does not rethrow.
  struct JoinAwaiter {
    Scope* scope;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) { return scope->addJoiner(h); }
    void await_resume() const noexcept {}
  };
  JoinAwaiter joined() noexcept { return JoinAwaiter{this}; }

 private:
  template <class T, class OnDone>
  void spawn(Task<T> task, OnDone onDone, bool keepError) {
    started();
    auto done = [this, keepError, cb = std::move(onDone)](std::exception_ptr e,
                                                          auto&&... value) mutable noexcept {
      cb(e, std::forward<decltype(value)>(value)...);
      finished(keepError ? e : nullptr);  // last: the scope may be gone once it returns
    };
    try {
      coro::spawn(proactor_, std::move(task), std::move(done), stop_.get_token());
    } catch (...) {
      finished(nullptr);
      throw;
    }
  }
  void started();
  void finished(std::exception_ptr error) noexcept;
  bool addJoiner(std::coroutine_handle<> h);  // false: already empty, do not suspend
  void wait(std::unique_lock<std::mutex>& lock);

  Proactor& proactor_;
  std::stop_source stop_;
  mutable std::mutex mutex_;
  std::condition_variable idle_;
  std::size_t active_ = 0;
  std::exception_ptr firstError_;
  std::vector<std::coroutine_handle<>> joiners_;
};

}  // namespace nioxx::coro
