// Deliberate bugs, for the deterministic simulation's proof that its properties catch one
// (tests/sim, --fault overlap-handlers). Programs never include this header: nothing in it is
// ever right to do.
#pragma once

namespace nioxx::spi {

// While one is alive on a thread, every Proactor constructed on that thread dispatches
// completions without the channels' strands, so the pool may run two handlers of one channel at
// once and out of order. Read once, when the Proactor is constructed.
class SkipStrandsFault {
 public:
  SkipStrandsFault() noexcept;
  ~SkipStrandsFault();
  SkipStrandsFault(const SkipStrandsFault&) = delete;
  SkipStrandsFault& operator=(const SkipStrandsFault&) = delete;

  static bool active() noexcept;
};

}  // namespace nioxx::spi
