// The engines every conformance test runs against. An engine is a way to build a Proactor (an
// Asynchronous Operation Processor, a dispatch strategy, an I/O arrangement) plus how many threads
// must sit in Proactor::run() for it to make progress. A new engine (e.g. native io_uring) joins
// the suite by adding one entry to allEngines(); the tests themselves never change.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "nioxx/proactor/proactor.h"

namespace nioxx::conformance {

struct EngineParam {
  std::string name;  // a valid gtest parameter name: letters, digits, underscores
  std::function<std::unique_ptr<Proactor>()> make;
  std::size_t runners;  // threads that call Proactor::run() (post_reactive needs at least one)
};

std::vector<EngineParam> allEngines();

// gtest prints parameters; the name is all that identifies an engine.
inline void PrintTo(const EngineParam& engine, std::ostream* os) {
  *os << engine.name;
}

}  // namespace nioxx::conformance
