#include "scheduler.h"

#include <memory>
#include <optional>

#include "nioxx/proactor/spi/fault_injection.h"

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
  if (strategy == DispatchStrategy::pool) {
    options.proactor.steppedPool = true;
    options.proactor.poolThreads = workers;
  }
  return options;
}

// --fault overlap-handlers: the Proactor is built without strands (spi::SkipStrandsFault).
Proactor makeProactor(World& world, const EmulatedProactorOptions& options) {
  std::optional<spi::SkipStrandsFault> fault;
  if (world.fault() == Fault::overlap_handlers) fault.emplace();
  return makeEmulatedProactor(options);
}

}  // namespace

Scheduler::Scheduler(World& world, DispatchStrategy strategy, std::size_t serverLoops)
    : world_(world),
      strategy_(strategy),
      loops_(strategy == DispatchStrategy::post_reactive ? 1 : 1 + world.rng().below(3)),
      workers_(strategy == DispatchStrategy::pool ? 2 + world.rng().below(3) : 0),
      serverLoops_(serverLoops > 0 ? std::make_unique<ReactorGroup>(serverLoops, "sim-server")
                                   : nullptr),
      busy_(threads(), false),
      proactor_(makeProactor(world, optionsFor(world, strategy, loops_, workers_))) {
  if (strategy != DispatchStrategy::post_reactive) {
    processor_ = &static_cast<EmulatedProcessor&>(proactor_.processor());
  }
}

Scheduler::~Scheduler() {
  // runOnce() left this thread bound as each server loop's thread; the group's stop() (in its
  // destructor) refuses to run on one of its own loop threads.
  if (serverLoops_) {
    for (std::size_t i = 0; i < serverLoops_->size(); ++i)
      serverLoops_->at(i).unbindLoopThread();
  }
}

void Scheduler::step(std::chrono::milliseconds maxWait) {
  // post_reactive alone is one logical thread: no draw (it keeps the traces it always had).
  const bool alone = strategy_ == DispatchStrategy::post_reactive && !serverLoops_;
  stepThread(alone ? 0 : world_.rng().below(threads()), maxWait);
}

void Scheduler::stepThread(std::size_t thread, std::chrono::milliseconds maxWait) {
  busy_[thread] = true;
  if (thread >= loops_ + workers_) {
    const std::size_t loop = thread - loops_ - workers_;
    const auto wait = std::chrono::milliseconds(world_.rng().below(maxWait.count() + 1));
    world_.trace("step.server", static_cast<std::int64_t>(loop));
    serverLoops_->at(loop).runOnce(wait);
  } else if (strategy_ == DispatchStrategy::post_reactive) {
    // The run() thread: leader/followers on the one Reactor.
    proactor_.runOnce(std::chrono::milliseconds(world_.rng().below(maxWait.count() + 1)));
  } else if (thread < loops_) {
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
