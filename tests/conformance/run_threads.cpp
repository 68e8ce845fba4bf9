#include "run_threads.h"

namespace nioxx::conformance {

RunThreads::RunThreads(Proactor& proactor, std::size_t count) : proactor_(proactor) {
  for (std::size_t i = 0; i < count; ++i)
    threads_.emplace_back([this] { loop(); });
}

RunThreads::~RunThreads() {
  finish();
}

void RunThreads::loop() {
  std::unique_lock lock(mutex_);
  while (!finishing_) {
    const std::uint64_t generation = generation_;
    ++inRun_;
    lock.unlock();
    proactor_.run();
    lock.lock();
    --inRun_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return finishing_ || generation_ != generation; });
  }
}

void RunThreads::resume() {
  {
    std::lock_guard lock(mutex_);
    ++generation_;
  }
  cv_.notify_all();
}

std::size_t RunThreads::inRun() const {
  std::lock_guard lock(mutex_);
  return inRun_;
}

void RunThreads::requestFinish() {
  {
    std::lock_guard lock(mutex_);
    finishing_ = true;
  }
  cv_.notify_all();
}

void RunThreads::finish() {
  requestFinish();
  for (auto& t : threads_)
    t.join();
  threads_.clear();
}

}  // namespace nioxx::conformance
