// A hang must fail the run with a message saying what hung (and, for the stress test, which seed),
// not wait for CI's timeout to kill an anonymous process. Waits inside tests have their own
// deadlines; the watchdog covers what cannot be given one (a shutdown() or join() that never
// returns): when an armed deadline passes it prints the message and aborts the process.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace nioxx::conformance {

class Watchdog {
 public:
  Watchdog();
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void arm(std::chrono::milliseconds limit, std::string whatHangs);
  void disarm();

 private:
  void watch();

  std::mutex mutex_;
  std::condition_variable cv_;
  bool armed_ = false;
  bool quit_ = false;
  std::chrono::steady_clock::time_point deadline_;
  std::string what_;
  std::thread thread_;
};

}  // namespace nioxx::conformance
