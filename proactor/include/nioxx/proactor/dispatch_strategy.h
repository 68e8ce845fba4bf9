// The Completion Dispatcher's concurrency strategies (Proactor paper, section 7.2.2).
#pragma once

#include <cstdint>

namespace nioxx {

enum class DispatchStrategy : std::uint8_t {
  // Completions are queued and run by the thread(s) that call Proactor::run()/runOnce(): the
  // paper's "post to a reactive event loop". Nothing runs unless somebody calls run().
  post_reactive,
  // The thread that performed the I/O runs the handler right away (nesting depth capped, then
  // queued on that thread); never inside the call that initiated the operation. Fastest.
  call_through,
  // A pool of threads owned by the Proactor runs the handlers (ProactorOptions::poolThreads).
  pool,
};

const char* toString(DispatchStrategy strategy) noexcept;

}  // namespace nioxx
