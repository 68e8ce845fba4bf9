#include "watchdog.h"

#include <cstdio>
#include <cstdlib>

namespace nioxx::conformance {

Watchdog::Watchdog() : thread_([this] { watch(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    quit_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Watchdog::arm(std::chrono::milliseconds limit, std::string whatHangs) {
  {
    std::lock_guard lock(mutex_);
    armed_ = true;
    deadline_ = std::chrono::steady_clock::now() + limit;
    what_ = std::move(whatHangs);
  }
  cv_.notify_all();
}

void Watchdog::disarm() {
  std::lock_guard lock(mutex_);
  armed_ = false;
}

void Watchdog::watch() {
  std::unique_lock lock(mutex_);
  while (!quit_) {
    if (!armed_) {
      cv_.wait(lock);
      continue;
    }
    if (cv_.wait_until(lock, deadline_) == std::cv_status::timeout && armed_ &&
        std::chrono::steady_clock::now() >= deadline_) {
      std::fprintf(stderr, "\nnioxx conformance: HANG: %s\n", what_.c_str());
      std::fflush(stderr);
      std::abort();
    }
  }
}

}  // namespace nioxx::conformance
