// Process-wide pieces of a server program (serverMain() uses them; a program with a main() of its
// own, such as demos/http, may too).
//
// StopSignals: SIGINT and SIGTERM are blocked in the constructing thread, and so in every thread
// it starts afterwards (threads inherit the mask), and taken synchronously by wait() (sigwait):
// no handler runs asynchronously, so there is no async-signal-safety puzzle. SIGPIPE is ignored
// (a write to a reset connection fails with EPIPE instead of killing the process).
//
// Thread rule: construct in main() before any thread starts; wait() from that thread.
#pragma once

namespace nioxx::server {

class StopSignals {
 public:
  StopSignals();
  // Blocks until SIGINT or SIGTERM arrives; returns it.
  int wait();
  // "SIGINT" or "SIGTERM".
  static const char* name(int signal) noexcept;
};

// Raises the soft limit on open descriptors to the hard limit, so that a server can hold as many
// connections as the system allows (10,000 clients need more than the usual 1,024).
void raiseFileLimit() noexcept;

}  // namespace nioxx::server
