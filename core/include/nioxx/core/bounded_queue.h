// BoundedQueue<T>: a multi-producer multi-consumer FIFO with a hard capacity, blocking and
// non-blocking operations, and close() for graceful shutdown.
//
// Thread rule: every member is safe from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

namespace nioxx {

template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity);

  bool tryPush(T&& value);  // false if full or closed
  bool push(T&& value);     // blocks while full; false if closed
  std::optional<T> tryPop();
  std::optional<T> pop();  // blocks while empty; nullopt once closed and drained
  std::optional<T> popFor(std::chrono::nanoseconds timeout);

  void close();  // pushes fail from now on; pops drain what is left, then return nullopt
  bool closed() const;
  std::size_t size() const;
  std::size_t capacity() const noexcept;
};

}  // namespace nioxx
