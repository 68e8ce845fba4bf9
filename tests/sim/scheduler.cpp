#include "scheduler.h"

#include <memory>

namespace nioxx::sim {
namespace {

constexpr int kMaxPreemptDepth = 3;  // handlers preempted inside preempted handlers

EmulatedProactorOptions optionsFor(World& world, DispatchStrategy strategy, std::size_t loops,
                                   std::size_t workers) {
  Rng& rng = world.rng();
  EmulatedProactorOptions options;
  options.proactor.strategy = strategy;
  options.processor.speculative = rng.oneIn(2);
  if (strategy != DispatchStrategy::post_reactive) {
    options.processor.stepped = true;
    options.processor.reactorThreads = loops;
  }
  if (strategy == DispatchStrategy::call_through) {
    // Small depths make the deferred path (a thread's own queue) common too.
    options.proactor.callThroughDepth = 1 + rng.below(rng.oneIn(2) ? 3 : 16);
  }
  options.proactor.faultSkipStrands = world.fault() == Fault::overlap_handlers;
  if (strategy == DispatchStrategy::pool) {
    options.proactor.steppedPool = true;
    options.proactor.poolThreads = workers;
  }
  return options;
}

}  // namespace

Scheduler::Scheduler(World& world, DispatchStrategy strategy)
    : world_(world),
      strategy_(strategy),
      loops_(strategy == DispatchStrategy::post_reactive ? 1 : 1 + world.rng().below(3)),
      workers_(strategy == DispatchStrategy::pool ? 2 + world.rng().below(3) : 0),
      busy_(loops_ + workers_, false),
      proactor_(makeEmulatedProactor(optionsFor(world, strategy, loops_, workers_))) {
  if (strategy != DispatchStrategy::post_reactive) {
    processor_ = &static_cast<EmulatedProcessor&>(proactor_.processor());
  }
}

void Scheduler::step(std::chrono::milliseconds maxWait) {
  if (strategy_ == DispatchStrategy::post_reactive) {
    proactor_.runOnce(std::chrono::milliseconds(world_.rng().below(maxWait.count() + 1)));
    return;
  }
  stepThread(world_.rng().below(threads()), maxWait);
}

void Scheduler::stepThread(std::size_t thread, std::chrono::milliseconds maxWait) {
  busy_[thread] = true;
  if (thread < loops_) {
    // A loop that waits while others have work is a thread the OS left idle: time may pass.
    const auto wait = std::chrono::milliseconds(world_.rng().below(maxWait.count() + 1));
    world_.trace("step.loop", static_cast<std::int64_t>(thread));
    processor_->step(thread, wait);
  } else {
    world_.trace("step.worker", static_cast<std::int64_t>(thread - loops_));
    proactor_.stepPool();
  }
  busy_[thread] = false;
}

void Scheduler::preempt() {
  if (strategy_ != DispatchStrategy::pool || depth_ >= kMaxPreemptDepth) return;
  Rng& rng = world_.rng();
  if (!rng.oneIn(3)) return;
  ++depth_;
  world_.trace("preempt", depth_);
  for (std::uint64_t n = 1 + rng.below(3); n > 0; --n) {
    const std::size_t thread = rng.below(threads());
    // A logical thread inside a step is this one (or one preempted under it): it cannot run.
    // Loops never wait here: the handler's thread is descheduled, not the world.
    if (!busy_[thread]) stepThread(thread, std::chrono::milliseconds(0));
  }
  --depth_;
}

}  // namespace nioxx::sim
