// LoopTime: the time of the event-loop turn running on this thread, libuv's uv_now() for any
// loop. A loop publishes it while it dispatches (LoopTime::Scope), so the handlers it runs can
// stamp activity (idle timeouts) without a clock read each (~20 ns in a VM, several per request
// otherwise). Outside a loop turn, now() reads the clock (sys::now()).
//
// It may lag the real time by the work of one turn, so it suits bookkeeping that tolerates that
// (when a connection was last active), not the deadlines of operations, which read the clock.
//
// Thread rule: per thread; a Scope is made and destroyed on the thread it publishes for.
#pragma once

#include <chrono>

#include "nioxx/core/sys.h"

namespace nioxx::sys {

class LoopTime {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  // The current turn's time, or the clock's when no loop turn runs on this thread.
  static time_point now() noexcept {
    const time_point t = current_;
    return t != time_point{} ? t : sys::now();
  }

  // Publishes a loop turn's time for the handlers it runs; restores the outer value at the end
  // (a loop run from inside another's handler).
  class Scope {
   public:
    Scope() noexcept : saved_(current_) {}
    ~Scope() { current_ = saved_; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    // The turn's time from here on (t read by the loop from sys::now()).
    void set(time_point t) noexcept { current_ = t; }

   private:
    time_point saved_;
  };

 private:
  static inline thread_local time_point current_{};
};

}  // namespace nioxx::sys
