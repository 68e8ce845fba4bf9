// serverMain(): the command line, signals and lifecycle shared by the demo servers
// (hello_server, upper_server). A new demo's main() is one call:
//
//   int main(int argc, char** argv) {
//     return nioxx::demo::serverMain(argc, argv, {"upper_server", "Uppercases text frames",
//                                                 &UpperService::create});
//   }
#pragma once

#include <functional>
#include <string>

#include "common/frame_service.h"

namespace nioxx::demo {

struct ServerProgram {
  std::string name;                      // "hello_server"
  std::string description;               // one line for --help
  ServiceFactory factory;                // one FrameService per connection
  std::function<void()> init = nullptr;  // optional, runs once after logging is set up
};

// Parses the flags (--help documents them), starts the server in the chosen mode, prints
// "listening on HOST:PORT mode=... threads=..." (spdlog on stderr and plain on stdout, flushed),
// waits for SIGINT/SIGTERM, stops gracefully and prints a one-line summary. Returns the exit code:
// 0 after a clean stop, 1 if the server could not start, 2 for bad flags.
int serverMain(int argc, char** argv, const ServerProgram& program);

}  // namespace nioxx::demo
