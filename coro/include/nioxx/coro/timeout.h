// Timeouts for coroutines.
//
//   auto r = co_await coro::withTimeout(coro::read(socket, buf), 5s);   // r.timedOut()
//   auto v = co_await coro::withTimeout(proactor, fetch(socket), 5s);    // any Task
//
// - withTimeout(operation, d) is the operation's own timeout (the same as .timeout(d)): it
//   completes with timed_out and the bytes moved so far. For the operations that take one
//   (socket and accept operations).
// - withTimeout(proactor, task, d) runs task with a stop token that is stopped after d (a
//   Proactor timer) or when the awaiting coroutine's own token is stopped: the operation the
//   task waits on then completes with operation_aborted, and the task decides how to end (its
//   result or exception is what withTimeout returns or throws). The timer is cancelled when the
//   task ends first.
#pragma once

#include <exception>
#include <stop_token>
#include <utility>

#include "nioxx/coro/operations.h"
#include "nioxx/coro/task.h"

namespace nioxx::coro {

template <class Result, class Ref, class Start>
detail::OpAwaitable<Result, Ref, Start, true>&& withTimeout(
    detail::OpAwaitable<Result, Ref, Start, true>&& op, Nanos d) {
  return std::move(op).timeout(d);
}

template <class T>
Task<T> withTimeout(Proactor& proactor, Task<T> task, Nanos d) {
  std::stop_source local;  // shared state: the timer's handler keeps its own reference
  const std::stop_token outer = co_await currentStopToken();
  std::stop_callback link(outer, [local]() mutable noexcept { local.request_stop(); });
  const auto timer = proactor.scheduleTimer(d, [local](TimerResult& r) mutable noexcept {
    if (r.success()) local.request_stop();
  });
  try {
    if constexpr (std::is_void_v<T>) {
      co_await withStopToken(std::move(task), local.get_token());
      proactor.cancelTimer(timer);
    } else {
      T value = co_await withStopToken(std::move(task), local.get_token());
      proactor.cancelTimer(timer);
      co_return value;
    }
  } catch (...) {
    proactor.cancelTimer(timer);
    throw;
  }
}

}  // namespace nioxx::coro
