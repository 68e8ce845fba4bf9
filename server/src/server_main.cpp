#include "nioxx/server/server_main.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "nioxx/core/log.h"
#include "nioxx/server/observability.h"
#include "nioxx/server/process.h"
#include "nioxx/server/server.h"
#include "nioxx/server/server_proactor.h"

namespace nioxx::server {

int serverMain(int argc, char** argv, const ServerProgram& program) {
  ServerConfig config;
  config.framing = program.framing;
  std::string logLevel = "info";
  double idleSeconds = static_cast<double>(config.idleTimeout.count()) / 1000.0;
  double graceSeconds = static_cast<double>(config.shutdownGrace.count()) / 1000.0;
  std::string speculative = config.speculative ? "on" : "off";

  CLI::App app(program.description, program.name);
  app.add_option("--mode", config.mode,
                 "I/O style: reactor (Event Handlers on reactor/), proactor (Completion "
                 "Handlers on proactor/ + bridge/) or coroutine (the proactor with C++20 "
                 "coroutines, coro/); the protocol logic is the same")
      ->check(CLI::IsMember({"reactor", "proactor", "coroutine"}))
      ->capture_default_str();
  app.add_option("--host", config.host, "Numeric IP address to listen on (or localhost)")
      ->capture_default_str();
  app.add_option("--port", config.port, "TCP port; 0 picks a free port (see the listening line)")
      ->capture_default_str();
  app.add_option("--threads", config.threads,
                 "Reactor loops (reactor) or I/O/handler threads (proactor)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--dispatch", config.dispatch,
                 "Proactor completion dispatch: post-reactive (handlers run in Proactor::run "
                 "threads), call-through (the I/O thread runs them), pool (a handler pool)")
      ->check(CLI::IsMember({"post-reactive", "call-through", "pool"}))
      ->capture_default_str();
  app.add_option("--io-mode", config.ioMode,
                 "Proactor only (--mode proactor): who performs the I/O. inline: the reactor "
                 "thread that sees readiness; worker-pool: it hands the I/O to a pool of "
                 "--threads I/O workers (the Proactor paper's literal emulation, for comparison)")
      ->check(CLI::IsMember({"inline", "worker-pool"}))
      ->capture_default_str();
  app.add_option("--engine", config.engine,
                 "Proactor only (--mode proactor): the Asynchronous Operation Processor. "
                 "emulated: over the Reactor (readiness + non-blocking I/O); uring: io_uring "
                 "performs the I/O (fails if unavailable); auto: uring where it works, else "
                 "emulated")
      ->check(CLI::IsMember({"emulated", "uring", "auto"}))
      ->capture_default_str();
  app.add_option("--speculative", speculative,
                 "Proactor only (--mode proactor): on = try each operation at initiation before "
                 "waiting for readiness (as Asio does); off = always wait for readiness first")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_option(
         "--max-frame", config.limits.maxFrame,
         "Largest request frame in bytes (line protocols: longest line); larger ones get an "
         "error reply, then close")
      ->check(CLI::Range(std::size_t{16}, std::size_t{64} << 20))
      ->capture_default_str();
  app.add_option("--max-connections", config.maxConnections,
                 "Connections served at once; excess ones get an error reply, then close")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24))
      ->capture_default_str();
  app.add_option("--idle-timeout", idleSeconds,
                 "Seconds without a complete request or write progress before a connection is "
                 "closed (0 = never)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--output-cap", config.limits.outputCap,
                 "Reply bytes queued per connection before the server stops reading from it "
                 "(backpressure for clients that do not read)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30))
      ->capture_default_str();
  app.add_option("--shutdown-grace", graceSeconds,
                 "On SIGINT/SIGTERM, seconds to finish open connections before closing them hard")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  ObservabilityOptions observe;
  app.add_option("--metrics", observe.metrics,
                 "Serve Prometheus metrics (GET /metrics) on HOST:PORT, a listener of its own "
                 "(e.g. 127.0.0.1:9100; port 0 picks a free one, see the 'metrics on' line)");
  app.add_option("--trace", observe.trace,
                 "Proactor/coroutine: record every operation (bounded per-thread rings) and write "
                 "Chrome trace-event JSON to this file on stop (open in ui.perfetto.dev)");
  app.add_flag("--reuseport", config.reusePort,
               "SO_REUSEPORT: several server processes share --port (the kernel spreads new "
               "connections among them; docs/DEPLOY.md)");
  app.add_option("--log-level", logLevel, "trace, debug, info, warn, error, critical or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  config.speculative = speculative == "on";
  if (config.mode == "reactor") {
    for (const char* flag : {"--io-mode", "--speculative", "--engine"}) {
      if (app.count(flag) == 0) continue;
      std::fprintf(stderr,
                   "%s: %s applies to --mode proactor or coroutine only (the reactor performs "
                   "its I/O in its event handlers); drop it or add --mode proactor\n",
                   program.name.c_str(), flag);
      return 2;
    }
  }
  try {
    validate(ProcessorTuning{config.ioMode, config.speculative, config.engine});
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "%s: %s\n", program.name.c_str(), e.what());
    return 2;
  }
  config.idleTimeout = std::chrono::milliseconds(static_cast<long long>(idleSeconds * 1000));
  config.shutdownGrace = std::chrono::milliseconds(static_cast<long long>(graceSeconds * 1000));

  nioxx::log::init(logLevel);
  auto logger = nioxx::log::get("server");
  if (program.init) program.init();
  raiseFileLimit();

  // Before the server's threads start: they inherit the blocked SIGINT/SIGTERM.
  StopSignals stopSignals;

  std::unique_ptr<ServerObservability> observability;  // outlives the server (its observer)
  try {
    observability = std::make_unique<ServerObservability>(observe, config);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "%s: %s\n", program.name.c_str(), e.what());
    return 2;
  }
  config.observer = observability->observer();
  std::unique_ptr<Server> server;
  InetSocketAddress bound;
  std::string observeLine;
  try {
    server = config.mode == "reactor"    ? makeReactiveServer(config, program.factory)
             : config.mode == "proactor" ? makeProactiveServer(config, program.factory)
                                         : makeCoroutineServer(config, program.factory);
    bound = server->start();
    observeLine = observability->attach(*server, program.name);
  } catch (const std::exception& e) {
    try {
      observability->detach();
    } catch (const std::exception&) {  // the start failure is the message that matters
    }
    logger->error("cannot start: {}", e.what());
    std::fprintf(stderr, "%s: cannot start: %s\n", program.name.c_str(), e.what());
    return 1;
  }

  std::string line = "listening on " + bound.toString() + " mode=" + config.mode +
                     " threads=" + std::to_string(config.threads);
  if (config.mode != "reactor") {
    line += " engine=" + server->engine() + " dispatch=" + config.dispatch +
            " io-mode=" + config.ioMode + " speculative=" + (config.speculative ? "on" : "off");
  }
  logger->info("{}", line);
  std::printf("%s\n", line.c_str());
  if (!observeLine.empty()) {
    logger->info("{}", observeLine);
    std::printf("%s\n", observeLine.c_str());
  }
  std::fflush(stdout);

  const int signal = stopSignals.wait();
  logger->info("{} received: stopping (no new connections; answering what was received)",
               StopSignals::name(signal));
  server->stop();
  std::string traceLine;
  try {
    traceLine = observability->detach();  // before the server goes: collectors read its counters
  } catch (const std::exception& e) {
    logger->error("{}", e.what());
    std::fprintf(stderr, "%s: %s\n", program.name.c_str(), e.what());
  }
  if (!traceLine.empty()) {
    logger->info("{}", traceLine);
    std::printf("%s\n", traceLine.c_str());
  }
  const std::string summary = "stopped: " + server->stats().summary();
  logger->info("{}", summary);
  std::printf("%s\n", summary.c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace nioxx::server
