// ShutdownError: what an initiation throws once Proactor::shutdown() has begun (also one made by a
// handler that runs during the shutdown: the dispatcher catches this one exception when it
// escapes a handler, which then simply ends; every other exception escaping a handler still
// terminates the process).
#pragma once

#include <stdexcept>

namespace nioxx {

class ShutdownError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

}  // namespace nioxx
