// Threads sitting in Proactor::run(), as an application has them. After stop() makes run() return,
// each waits for resume() (the application's restart()) and calls run() again, until finish().
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "nioxx/proactor/proactor.h"

namespace nioxx::conformance {

class RunThreads {
 public:
  RunThreads(Proactor& proactor, std::size_t count);
  ~RunThreads();  // finish()
  RunThreads(const RunThreads&) = delete;
  RunThreads& operator=(const RunThreads&) = delete;

  // Threads whose run() returned call it again (call after Proactor::restart()).
  void resume();
  // How many threads are inside run() now.
  std::size_t inRun() const;
  // No thread calls run() again; joins them. Their run() must return (stop() or shutdown()).
  void finish();
  // finish() without the join: lets shutdown() race threads still inside run().
  void requestFinish();

 private:
  void loop();

  Proactor& proactor_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::uint64_t generation_ = 0;
  std::size_t inRun_ = 0;
  bool finishing_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace nioxx::conformance
