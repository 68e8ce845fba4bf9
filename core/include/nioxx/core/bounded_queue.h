// BoundedQueue<T>: a multi-producer multi-consumer FIFO with a hard capacity, blocking and
// non-blocking operations, and close() for graceful shutdown.
//
// A mutex and two condition variables: moodycamel's BlockingConcurrentQueue (in Debian) treats
// capacity as a hint (per-producer blocks) and has neither a blocking push nor close(); the
// hand-offs this queue serves (tasks to a pool, completions to a dispatcher) cost microseconds
// of wake-up anyway, so the lock is not the bottleneck. See docs/parts/core.md.
//
// Thread rule: every member is safe from any thread. T must be move-constructible.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

namespace nioxx {

template <class T>
class BoundedQueue {
 public:
  // Throws std::invalid_argument if capacity is 0 (nothing could ever be pushed).
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {
    if (capacity == 0) {
      throw std::invalid_argument("BoundedQueue: capacity must be at least 1");
    }
  }
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  bool tryPush(T&& value) { return pushImpl(std::move(value), false); }  // false if full or closed
  bool push(T&& value) {
    return pushImpl(std::move(value), true);
  }  // blocks while full; false if closed
  bool tryPush(const T& value) { return pushImpl(T(value), false); }
  bool push(const T& value) { return pushImpl(T(value), true); }
  // On false the value was not taken: a moved-from argument still holds it.

  std::optional<T> tryPop() {
    std::unique_lock lock(mutex_);
    return popLocked(lock);
  }
  std::optional<T> pop() {  // blocks while empty; nullopt once closed and drained
    std::unique_lock lock(mutex_);
    notEmpty_.wait(lock, [&] { return !items_.empty() || closed_; });
    return popLocked(lock);
  }
  // Like pop(), but gives up after timeout (nullopt); check closed() to tell the two apart.
  std::optional<T> popFor(std::chrono::nanoseconds timeout) {
    std::unique_lock lock(mutex_);
    notEmpty_.wait_for(lock, timeout, [&] { return !items_.empty() || closed_; });
    return popLocked(lock);
  }

  void close() {  // pushes fail from now on; pops drain what is left, then return nullopt
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    notEmpty_.notify_all();
    notFull_.notify_all();
  }
  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  // Takes value by rvalue reference so a refused value stays with the caller.
  bool pushImpl(T&& value, bool wait) {
    {
      std::unique_lock lock(mutex_);
      if (wait) notFull_.wait(lock, [&] { return items_.size() < capacity_ || closed_; });
      if (closed_ || items_.size() >= capacity_) return false;
      items_.push_back(std::move(value));
    }
    notEmpty_.notify_one();  // outside the lock: the woken consumer need not block on it
    return true;
  }
  std::optional<T> popLocked(std::unique_lock<std::mutex>& lock) {
    if (items_.empty()) return std::nullopt;
    std::optional<T> value(std::move(items_.front()));
    items_.pop_front();
    lock.unlock();
    notFull_.notify_one();
    return value;
  }

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable notEmpty_;
  std::condition_variable notFull_;
  std::deque<T> items_;
  bool closed_ = false;
};

}  // namespace nioxx
