#include <exception>
#include <string>

#include "nioxx/core/log.h"
#include "nioxx/coro/spawn.h"

namespace nioxx::coro {
namespace detail {

bool isShutdownError(const std::exception_ptr& e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const ShutdownError&) {
    return true;
  } catch (...) {
    return false;
  }
}

namespace {
std::string describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}
}  // namespace

void terminateDetached(const std::exception_ptr& e) noexcept {
  nioxx::log::get("coro")->critical(
      "a detached coroutine ended with an exception ({}); catch it in the coroutine or pass a "
      "completion callback to spawn()",
      describe(e));
  std::terminate();
}

}  // namespace detail

Scope::~Scope() {
  requestStop();
  std::unique_lock lock(mutex_);
  wait(lock);
  if (firstError_) {
    nioxx::log::get("coro")->error("coroutine scope destroyed with an exception nobody joined: {}",
                                   detail::describe(firstError_));
  }
}

std::size_t Scope::size() const {
  std::lock_guard lock(mutex_);
  return active_;
}

void Scope::started() {
  std::lock_guard lock(mutex_);
  ++active_;
}

void Scope::finished(std::exception_ptr error) noexcept {
  std::vector<std::coroutine_handle<>> joiners;
  {
    std::lock_guard lock(mutex_);
    if (error && !firstError_ && !detail::isShutdownError(error)) firstError_ = error;
    if (--active_ == 0) {
      joiners.swap(joiners_);
      idle_.notify_all();  // under the lock: a joiner may destroy the scope once it has it
    }
  }
  // The scope may be gone from here on (a resumed joiner may end its owner).
  for (auto h : joiners)
    h.resume();
}

bool Scope::addJoiner(std::coroutine_handle<> h) {
  std::lock_guard lock(mutex_);
  if (active_ == 0) return false;
  joiners_.push_back(h);
  return true;
}

void Scope::wait(std::unique_lock<std::mutex>& lock) {
  idle_.wait(lock, [this] { return active_ == 0; });
}

void Scope::join() {
  std::unique_lock lock(mutex_);
  wait(lock);
  if (firstError_) std::rethrow_exception(std::exchange(firstError_, nullptr));
}

bool Scope::joinFor(std::chrono::nanoseconds limit) {
  std::unique_lock lock(mutex_);
  return idle_.wait_for(lock, limit, [this] { return active_ == 0; });
}

}  // namespace nioxx::coro
