#include "nioxx/core/thread_pool.h"

#include <pthread.h>

#include <exception>
#include <stdexcept>

#include "nioxx/core/log.h"

namespace nioxx {
namespace {

// The pool whose worker is running on this thread (for isPoolThread()).
thread_local const ThreadPool* tCurrentPool = nullptr;

// Linux limits thread names to 15 characters; keep the index, trim the prefix.
std::string threadName(const std::string& prefix, std::size_t index) {
  const std::string suffix = "-" + std::to_string(index);
  constexpr std::size_t kMaxName = 15;
  const std::size_t room = suffix.size() < kMaxName ? kMaxName - suffix.size() : 0;
  return prefix.substr(0, room) + suffix;
}

ThreadPool::Options validated(ThreadPool::Options options) {
  if (options.threads == 0) {
    throw std::invalid_argument("ThreadPool: Options::threads must be at least 1");
  }
  if (options.queueCapacity == 0) {
    throw std::invalid_argument("ThreadPool: Options::queueCapacity must be at least 1");
  }
  return options;
}

}  // namespace

ThreadPool::ThreadPool(Options options)
    : options_(validated(std::move(options))), queue_(options_.queueCapacity) {}

ThreadPool::~ThreadPool() {
  stop();
}

void ThreadPool::start() {
  if (isPoolThread()) {  // the pool is running; also, stop() may hold the lock while joining us
    throw std::logic_error("ThreadPool::start called from one of its own threads: already started");
  }
  std::lock_guard lock(lifecycleMutex_);
  if (started_ || stopped_) {
    throw std::logic_error("ThreadPool::start: the pool was already " +
                           std::string(stopped_ ? "stopped" : "started") +
                           "; a pool starts once, create a new one to restart");
  }
  started_ = true;
  workers_.reserve(options_.threads);
  for (std::size_t i = 0; i < options_.threads; ++i) {
    workers_.emplace_back([this, i] { workerLoop(i); });
  }
}

bool ThreadPool::submit(std::function<void()> task) {
  if (!task) throw std::invalid_argument("ThreadPool::submit: the task is empty");
  return queue_.tryPush(std::move(task));
}

void ThreadPool::stop() {
  if (isPoolThread()) {
    throw std::logic_error(
        "ThreadPool::stop called from one of its own threads (it would join itself); call it "
        "from another thread, e.g. the one that called start()");
  }
  std::lock_guard lock(lifecycleMutex_);
  if (stopped_) return;
  stopped_ = true;
  queue_.close();  // workers drain what is queued, then see nullopt and exit
  if (!started_) {
    while (auto task = queue_.tryPop())
      runTask(*task);
  }
  for (auto& worker : workers_)
    worker.join();
  workers_.clear();
}

bool ThreadPool::isPoolThread() const noexcept {
  return tCurrentPool == this;
}

std::size_t ThreadPool::threads() const noexcept {
  return options_.threads;
}

void ThreadPool::workerLoop(std::size_t index) {
  tCurrentPool = this;
  ::pthread_setname_np(::pthread_self(), threadName(options_.name, index).c_str());
  while (auto task = queue_.pop())
    runTask(*task);
  tCurrentPool = nullptr;
}

void ThreadPool::runTask(std::function<void()>& task) noexcept {
  try {
    task();
  } catch (const std::exception& e) {
    log::get("core")->error("ThreadPool: a task threw an exception: {}", e.what());
  } catch (...) {
    log::get("core")->error("ThreadPool: a task threw a non-standard exception");
  }
}

}  // namespace nioxx
