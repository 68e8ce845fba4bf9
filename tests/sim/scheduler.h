// Scheduler: the threads of a dispatch strategy as logical threads whose next step the seed
// chooses, all on the simulation's one thread (issue 13: the emulated proactor in every strategy).
// - post_reactive: the run() thread drives the one Reactor (leader/followers); a step is runOnce().
// - call_through: 1-3 Reactors without threads (EmulatedProcessor::Options::stepped); a step is
//   one iteration of a loop the seed picks, which performs the I/O and runs the handlers inline.
// - pool: the same loops plus 2-4 logical pool workers (ProactorOptions::steppedPool); a worker's
//   step runs one queued handler (Proactor::stepPool()). A handler may be preempted: at
//   preempt(), other logical threads (loops, the workers that are not inside a handler) take
//   nested steps, as real threads would run while this one is descheduled, so handlers of two
//   workers interleave and a dispatcher that let two handlers of one channel run together would
//   be seen doing so.
// - server loops (optional, any strategy): a ReactorGroup that is never started, lent to the
//   server layer's reactive glue (ServerConfig::reactors); each of its Reactors is one more
//   logical thread, whose step is runOnce(). The clients stay on the Proactor.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "nioxx/bridge/emulated_processor.h"
#include "nioxx/proactor/proactor.h"
#include "nioxx/reactor/reactor_group.h"
#include "nioxx/sim/world.h"

namespace nioxx::sim {

class Scheduler {
 public:
  // Builds the Proactor for `strategy`; its shape (loops, workers, speculation, call-through
  // depth) is drawn from the world's seed. serverLoops > 0 adds that many server loops.
  Scheduler(World& world, DispatchStrategy strategy, std::size_t serverLoops = 0);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  Proactor& proactor() noexcept { return proactor_; }
  DispatchStrategy strategy() const noexcept { return strategy_; }
  // The server loops (ServerConfig::reactors), or nullptr.
  ReactorGroup* serverLoops() noexcept { return serverLoops_.get(); }
  // One step of a logical thread the seed picks; waits (virtual time) at most `maxWait`.
  void step(std::chrono::milliseconds maxWait);
  // From inside a handler: maybe let other logical threads run now (pool only; a no-op else).
  void preempt();

 private:
  void stepThread(std::size_t thread, std::chrono::milliseconds wait);
  std::size_t threads() const noexcept {
    return loops_ + workers_ + (serverLoops_ ? serverLoops_->size() : 0);
  }

  World& world_;
  DispatchStrategy strategy_;
  std::size_t loops_ = 1;                      // stepped Reactors (call_through, pool)
  std::size_t workers_ = 0;                    // logical pool workers (pool)
  std::unique_ptr<ReactorGroup> serverLoops_;  // before busy_ (sized by threads())
  std::vector<bool> busy_;  // per logical thread: inside a step now (nested steps skip it)
  int depth_ = 0;           // nested preemptions
  Proactor proactor_;
  EmulatedProcessor* processor_ = nullptr;
};

}  // namespace nioxx::sim
