// ThreadPool: N worker threads draining a bounded task queue.
//
// Tasks run in FIFO order of submission, each on one pool thread; with more than one thread,
// tasks run concurrently and may finish out of order. A task that throws is logged (logger
// "core") and the worker carries on.
//
// Thread rule: submit() from any thread; stop() from any thread except a pool thread.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nioxx/core/bounded_queue.h"

namespace nioxx {

class ThreadPool {
 public:
  struct Options {
    std::size_t threads = 2;
    std::size_t queueCapacity = 65536;  // submit() fails beyond this many queued tasks
    std::string name = "nioxx-pool";    // thread name prefix (pthread_setname_np)
  };

  // Throws std::invalid_argument if threads or queueCapacity is 0.
  explicit ThreadPool(Options options);
  ~ThreadPool();  // stop()
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Starts the threads. Throws std::logic_error if already started or stopped.
  void start();
  // false (task not run) if the queue is full or the pool is stopping/stopped. Never blocks.
  // Tasks submitted before start() wait in the queue until it.
  bool submit(std::function<void()> task);
  // Stops accepting tasks, runs every task already queued, joins the threads. Idempotent; a
  // concurrent second call returns once the first has joined. On a pool never started, the
  // queued tasks run on the calling thread. Throws std::logic_error on a pool thread (it would
  // join itself).
  void stop();

  bool isPoolThread() const noexcept;  // true on one of this pool's threads
  std::size_t threads() const noexcept;
  std::size_t queued() const { return queue_.size(); }  // tasks waiting for a thread

 private:
  void workerLoop(std::size_t index);
  static void runTask(std::function<void()>& task) noexcept;

  const Options options_;
  BoundedQueue<std::function<void()>> queue_;
  std::mutex lifecycleMutex_;  // serialises start() and stop()
  std::vector<std::thread> workers_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace nioxx
