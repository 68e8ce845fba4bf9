// ThreadAffinity: records the thread that owns an object (an event loop, a selector) so loop-only
// calls can assert they run there, muduo's assertInLoopThread().
//
// The check is compiled in only where NIOXX_ASSERT_THREADS is 1 (CMake defines it for Debug and
// sanitizer builds); elsewhere assertCurrentThread() is an empty inline function, so Release pays
// nothing. isCurrentThread() always works, because some callers use it for logic (run now vs post).
//
// Thread rule: bindToCurrentThread()/unbind() by the owning thread (or before the object is
// shared); isCurrentThread()/assertCurrentThread() from any thread.
#pragma once

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#ifndef NIOXX_ASSERT_THREADS
#define NIOXX_ASSERT_THREADS 0
#endif

namespace nioxx {

class ThreadAffinity {
 public:
  ThreadAffinity() = default;  // unbound: no thread owns the object yet

  // Makes the calling thread the owner (e.g. at the start of EventLoop::run()).
  void bindToCurrentThread() noexcept {
    owner_.store(std::this_thread::get_id(), std::memory_order_release);
  }
  // Forgets the owner (e.g. when run() returns), so another thread may bind later.
  void unbind() noexcept { owner_.store(std::thread::id{}, std::memory_order_release); }

  bool isBound() const noexcept {
    return owner_.load(std::memory_order_acquire) != std::thread::id{};
  }
  // True on the owning thread; false when unbound. The test for choosing an unsynchronised
  // same-thread path: only the bound thread may take one.
  bool isCurrentThread() const noexcept {
    return owner_.load(std::memory_order_acquire) == std::this_thread::get_id();
  }
  // True when unbound or on the owning thread. For debug assertions only (a loop-only call made
  // before the loop starts is allowed): never use it to choose an unsynchronised path, because
  // another thread may bind the object right after the check (a loop thread starting, the next
  // leader/followers turn) and then run concurrently with the caller.
  bool isCurrentOrUnbound() const noexcept {
    const auto owner = owner_.load(std::memory_order_acquire);
    return owner == std::thread::id{} || owner == std::this_thread::get_id();
  }

  // Aborts with a message naming `what` if called off the owning thread (unbound passes), when
  // NIOXX_ASSERT_THREADS is 1; a no-op otherwise. `what` should name the call, e.g.
  // "Selector::select".
  void assertCurrentThread([[maybe_unused]] const char* what) const noexcept {
#if NIOXX_ASSERT_THREADS
    if (!isCurrentOrUnbound()) {
      std::fprintf(stderr,
                   "nioxx: %s called from a thread that does not own the object; call it on the "
                   "loop thread (or hop there first, e.g. via the loop's post/execute)\n",
                   what);
      std::abort();
    }
#endif
  }

 private:
  std::atomic<std::thread::id> owner_{};
};

}  // namespace nioxx
