// DemoProactor: a Proactor over the bridge's EmulatedProcessor, with the threads a demo needs for
// its dispatch strategy ("post-reactive" also starts `threads` Proactor::run() threads, since
// that is where its handlers run). Shared by the proactive server and the proactive client.
//
// Thread rule: construct and shutdown() from one controlling thread, never from a handler.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "nioxx/proactor/proactor.h"

namespace nioxx::demo {

class DemoProactor {
 public:
  virtual ~DemoProactor() = default;
  virtual Proactor& proactor() noexcept = 0;
  // Completes everything in flight (operation_aborted), runs those handlers, joins every thread.
  // Idempotent.
  virtual void shutdown() = 0;
};

// dispatch: "post-reactive", "call-through" or "pool" (throws std::invalid_argument otherwise).
std::unique_ptr<DemoProactor> makeDemoProactor(std::size_t threads, std::string_view dispatch);

}  // namespace nioxx::demo
