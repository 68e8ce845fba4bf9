// SimBackend: the Selector's readiness source in a simulated World. Level-triggered like epoll:
// each wait reports the registered descriptors the World says are ready, in an order the seed
// picks, some of them deferred to a later wait; when nothing is ready it moves the virtual clock
// to the next event the World has planned (a delivery, a connect), within the timeout.
#pragma once

#include <map>

#include "nioxx/reactor/selector_backend.h"
#include "nioxx/sim/world.h"

namespace nioxx::sim {

class SimBackend final : public SelectorBackend {
 public:
  explicit SimBackend(World& world) noexcept : world_(world) {}
  std::error_code add(int fd, std::uint32_t events, void* token) noexcept override;
  std::error_code modify(int fd, std::uint32_t events, void* token) noexcept override;
  std::error_code remove(int fd) noexcept override;
  int wait(std::span<BackendEvent> out, int timeoutMs) override;
  void wakeup() noexcept override { woken_ = true; }
  void drainWakeup() noexcept override { woken_ = false; }

 private:
  struct Registration {
    std::uint32_t events;
    void* token;
  };
  World& world_;
  std::map<int, Registration> regs_;  // ordered: the seed alone decides the report order
  bool woken_ = false;
  std::vector<BackendEvent> ready_;
};

}  // namespace nioxx::sim
