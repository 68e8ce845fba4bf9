// A property of the simulation: runs the real code in a World built from one seed and records
// every broken invariant. tests/sim/main.cpp runs properties over many seeds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nioxx/sim/world.h"

namespace nioxx::sim {

class Check {
 public:
  // Records a failure when ok is false; returns ok. The first failure is what gets reported.
  bool that(bool ok, const std::string& what) {
    if (!ok && failures_.size() < 8) failures_.push_back(what);
    return ok;
  }
  bool failed() const noexcept { return !failures_.empty(); }
  const std::vector<std::string>& failures() const noexcept { return failures_; }

 private:
  std::vector<std::string> failures_;
};

struct Property {
  const char* name;
  const char* what;
  void (*run)(World& world, Check& check);
  bool onlyByName = false;  // run only when --property names it (a variant of another one)
};

// The byte a stream carries at offset i: a prefix check needs no copy of what was sent.
inline std::uint8_t streamByte(std::uint64_t stream, std::uint64_t i) noexcept {
  return static_cast<std::uint8_t>((i * 131 + stream * 29 + (i >> 8)) & 0xff);
}

void selectorProperty(World& world, Check& check);
void timersProperty(World& world, Check& check);
void proactorProperty(World& world, Check& check);  // post_reactive
void proactorCallThroughProperty(World& world, Check& check);
void proactorPoolProperty(World& world, Check& check);
// Built with the demos (NIOXX_SIM_HELLO). helloProperty: the seed picks the server's glue.
enum class HelloMode : std::uint8_t { reactor, proactor, coroutine };
void helloPropertyIn(HelloMode mode, World& world, Check& check);
void helloProperty(World& world, Check& check);
void helloReactorProperty(World& world, Check& check);
void helloProactorProperty(World& world, Check& check);
void helloCoroutineProperty(World& world, Check& check);

}  // namespace nioxx::sim
