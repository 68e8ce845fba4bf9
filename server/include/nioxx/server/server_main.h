// serverMain(): the command line, signals and lifecycle of a framed server (hello_server,
// upper_server, examples/line_server). A program's main() is one call:
//
//   int main(int argc, char** argv) {
//     return nioxx::server::serverMain(argc, argv, {.name = "upper_server",
//                                                   .description = "Uppercases text frames",
//                                                   .factory = &UpperService::create});
//   }
//
// The flags (--help lists them): --mode reactor|proactor|coroutine, --host, --port, --threads,
// --dispatch, --engine, --io-mode, --speculative, the limits (--max-frame, --max-connections,
// --idle-timeout, --output-cap, --shutdown-grace), --metrics, --trace, --reuseport, --log-level.
#pragma once

#include <functional>
#include <string>

#include "nioxx/server/frame_service.h"
#include "nioxx/server/framing.h"

namespace nioxx::server {

struct ServerProgram {
  std::string name;                      // "hello_server"
  std::string description;               // one line for --help
  ServiceFactory factory;                // one FrameService per connection
  std::function<void()> init = nullptr;  // optional, runs once after logging is set up
  Framing framing = Framing::varint();   // the protocol's framing (not a flag: part of it)
};

// Parses the flags (--help documents them), starts the server in the chosen mode, prints
// "listening on HOST:PORT mode=... threads=..." (spdlog on stderr and plain on stdout, flushed),
// waits for SIGINT/SIGTERM, stops gracefully and prints a one-line summary. Returns the exit code:
// 0 after a clean stop, 1 if the server could not start, 2 for bad flags.
int serverMain(int argc, char** argv, const ServerProgram& program);

}  // namespace nioxx::server
