#include "sim_backend.h"

#include <algorithm>
#include <cerrno>

namespace nioxx::sim {

namespace {
std::error_code errc(int e) noexcept {
  return {e, std::system_category()};
}
}  // namespace

std::error_code SimBackend::add(int fd, std::uint32_t events, void* token) noexcept {
  if (fd < World::kFdBase) return errc(EBADF);
  if (!regs_.emplace(fd, Registration{events, token}).second) return errc(EEXIST);
  world_.trace("ctl.add", fd, events);
  return {};
}

std::error_code SimBackend::modify(int fd, std::uint32_t events, void* token) noexcept {
  auto it = regs_.find(fd);
  if (it == regs_.end()) return errc(ENOENT);
  it->second = {events, token};
  world_.trace("ctl.mod", fd, events);
  return {};
}

std::error_code SimBackend::remove(int fd) noexcept {
  if (regs_.erase(fd) == 0) return errc(ENOENT);
  world_.trace("ctl.del", fd);
  return {};
}

int SimBackend::wait(std::span<BackendEvent> out, int timeoutMs) {
  const std::uint64_t deadline =
      timeoutMs < 0 ? UINT64_MAX
                    : world_.nowNs() + static_cast<std::uint64_t>(timeoutMs) * 1'000'000;
  bool mayDefer = true;
  for (;;) {
    world_.deliverDue();
    ready_.clear();
    bool deferred = false;
    for (auto it = regs_.begin(); it != regs_.end();) {
      const int fd = it->first;
      const Registration reg = it->second;
      ++it;
      std::uint32_t r =
          world_.readiness(fd) & (reg.events | SelectorBackend::kErr | SelectorBackend::kHup);
      if (world_.deafTo(fd)) r &= ~SelectorBackend::kIn;
      if (r == 0) continue;
      if (mayDefer &&
          world_.rng().below(1000) < static_cast<std::uint64_t>(world_.chaos().deferReady)) {
        deferred = true;
        continue;
      }
      ready_.push_back({reg.token, r});
    }
    if (!ready_.empty() || woken_) break;
    if (timeoutMs == 0) break;
    if (deferred) {
      // Readiness the kernel reports a little later: time passes, then it is reported.
      const std::uint64_t late = world_.nowNs() + 1 + world_.rng().below(50'000);
      world_.advanceTo(std::min(late, deadline));
      mayDefer = false;
      continue;
    }
    if (world_.nowNs() >= deadline) break;
    const std::uint64_t next = std::min(world_.nextEventNs(), deadline);
    if (next == UINT64_MAX) {
      world_.setStuck();  // waits for ever: nothing can happen any more
      break;
    }
    world_.advanceTo(next);
  }
  // The order of a batch is the seed's choice; the wakeup lands anywhere in it.
  for (std::size_t i = ready_.size(); i > 1; --i)
    std::swap(ready_[i - 1], ready_[world_.rng().below(i)]);
  if (woken_) {
    ready_.insert(
        ready_.begin() + static_cast<std::ptrdiff_t>(world_.rng().below(ready_.size() + 1)),
        BackendEvent{nullptr, SelectorBackend::kIn});
  }
  const std::size_t n = std::min(ready_.size(), out.size());
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = ready_[i];
    const auto it = std::find_if(regs_.begin(), regs_.end(),
                                 [&](const auto& r) { return r.second.token == ready_[i].token; });
    world_.trace("ready", it == regs_.end() ? -1 : it->first, ready_[i].events);
  }
  return static_cast<int>(n);
}

}  // namespace nioxx::sim
