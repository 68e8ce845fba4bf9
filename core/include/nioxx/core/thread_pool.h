// ThreadPool: N worker threads draining a bounded task queue.
//
// Thread rule: submit() from any thread; stop() from any thread except a pool thread.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace nioxx {

class ThreadPool {
 public:
  struct Options {
    std::size_t threads = 2;
    std::size_t queueCapacity = 65536;  // submit() fails beyond this many queued tasks
    std::string name = "nioxx-pool";    // thread name prefix (pthread_setname_np)
  };

  explicit ThreadPool(Options options);
  ~ThreadPool();  // stop()
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void start();
  // false (task not run) if the queue is full or the pool is stopping/stopped.
  bool submit(std::function<void()> task);
  // Stops accepting tasks, runs every task already queued, joins the threads. Idempotent.
  void stop();

  bool isPoolThread() const noexcept;  // true on one of this pool's threads
  std::size_t threads() const noexcept;
};

}  // namespace nioxx
