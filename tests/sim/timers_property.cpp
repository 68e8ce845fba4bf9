// Reactor timers under the virtual clock: each timer runs once, never before its deadline and at
// most one millisecond (the select timeout's granularity) after it; a cancelled one never runs;
// an hour of idle virtual time costs no real time.
#include <chrono>
#include <string>
#include <vector>

#include "nioxx/reactor/reactor.h"
#include "property.h"

namespace nioxx::sim {

void timersProperty(World& world, Check& check) {
  Reactor reactor;
  Rng& rng = world.rng();
  struct Timer {
    std::uint64_t deadline;
    TimerId id;
    int runs = 0;
    bool cancelled = false;
  };
  std::vector<Timer> timers(1 + rng.below(20));
  for (std::size_t i = 0; i < timers.size(); ++i) {
    // Up to 60 s, the hello server's idle timeout; some at 0.
    const auto delay = std::chrono::nanoseconds(rng.oneIn(5) ? 0 : rng.below(60'000'000'000ull));
    timers[i].deadline = world.nowNs() + static_cast<std::uint64_t>(delay.count());
    timers[i].id = reactor.schedule(delay, [&world, &check, &t = timers[i]] {
      ++t.runs;
      check.that(!t.cancelled, "a cancelled timer ran");
      check.that(world.nowNs() >= t.deadline, "a timer ran before its deadline");
      check.that(world.nowNs() <= t.deadline + 1'000'000,
                 "a timer ran " + std::to_string((world.nowNs() - t.deadline) / 1000) +
                     " us after its deadline");
    });
  }
  const auto realStart = std::chrono::steady_clock::now();
  reactor.runOnce(std::chrono::milliseconds(0));  // inserts the timers scheduled before the loop
  for (int step = 0; step < 200 && reactor.pendingTimers() > 0; ++step) {
    if (rng.oneIn(4)) {
      Timer& t = timers[rng.below(timers.size())];
      if (t.runs == 0 && !t.cancelled) t.cancelled = reactor.cancelTimer(t.id);
    }
    reactor.runOnce(
        std::chrono::milliseconds(rng.oneIn(2) ? -1 : static_cast<int>(rng.below(5000))));
  }
  for (const Timer& t : timers) {
    check.that(t.runs == (t.cancelled ? 0 : 1),
               "a timer ran " + std::to_string(t.runs) +
                   " times (cancelled: " + std::to_string(t.cancelled) + ")");
  }
  check.that(std::chrono::steady_clock::now() - realStart < std::chrono::seconds(5),
             "virtual time took real time");
  check.that(!world.stuck() || reactor.pendingTimers() == 0, "the reactor waited for ever");
}

}  // namespace nioxx::sim
