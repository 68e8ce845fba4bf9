// http_server: a static file server (HTTP/1.1, GET and HEAD) in reactor, proactor or coroutine
// mode, with the demo servers' operational habits: limits on by default, --help, the listening
// line, SIGTERM drains (answers what was received, then stops), spdlog.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "http/http_server.h"
#include "nioxx/core/log.h"
#include "nioxx/server/process.h"

namespace {

std::chrono::milliseconds seconds(double s) {
  return std::chrono::milliseconds(static_cast<long long>(s * 1000));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nioxx::http;
  HttpServerConfig config;
  std::string logLevel = "info";
  double headerSeconds = 10, idleSeconds = 60, graceSeconds = 10;

  CLI::App app(
      "nioxx static file server: HTTP/1.1 GET and HEAD of the files under --root "
      "(keep-alive, pipelining, conditional and range requests)",
      "http_server");
  app.add_option("--mode", config.mode,
                 "I/O style: reactor (Event Handlers, sendfile(2) on writability) or proactor "
                 "(Completion Handlers, AsyncFile reads + socket writes) or coroutine (the "
                 "proactor with C++20 coroutines); same HTTP logic")
      ->check(CLI::IsMember({"reactor", "proactor", "coroutine"}))
      ->capture_default_str();
  app.add_option("--root", config.root, "Directory served; nothing outside it is ever served")
      ->check(CLI::ExistingDirectory)
      ->capture_default_str();
  app.add_option("--host", config.host, "Numeric IP address to listen on (or localhost)")
      ->capture_default_str();
  app.add_option("--port", config.port, "TCP port; 0 picks a free port (see the listening line)")
      ->capture_default_str();
  app.add_option("--threads", config.threads,
                 "Reactor loops (reactor) or engine threads (proactor)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option(
         "--engine", config.engine,
         "Proactor and coroutine only: emulated (over the Reactor), uring (io_uring; fails if "
         "unavailable) or auto")
      ->check(CLI::IsMember({"emulated", "uring", "auto"}))
      ->capture_default_str();
  app.add_option("--dispatch", config.dispatch,
                 "Proactor and coroutine only: where completion handlers run (post-reactive, "
                 "call-through, pool)")
      ->check(CLI::IsMember({"post-reactive", "call-through", "pool"}))
      ->capture_default_str();
  app.add_option("--inline-max", config.inlineFileMax,
                 "proactor/coroutine: file ranges up to this many bytes are read and written with "
                 "their head in one write (0 = always transmitFile)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--max-connections", config.maxConnections,
                 "Connections served at once; excess ones get 503, then close")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24))
      ->capture_default_str();
  app.add_option("--max-target", config.limits.parser.maxTarget,
                 "Longest request-target in bytes; longer: 414")
      ->check(CLI::Range(std::size_t{16}, std::size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--max-header-bytes", config.limits.parser.maxHeaderBytes,
                 "Header field and value bytes per request; more: 431")
      ->check(CLI::Range(std::size_t{256}, std::size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--max-pipelined", config.limits.maxPipelined,
                 "Responses queued per connection before the server stops reading from it")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1024}))
      ->capture_default_str();
  app.add_option("--header-timeout", headerSeconds,
                 "Seconds from a request's first byte to its complete head; then 408 and close "
                 "(0 = never)")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--idle-timeout", idleSeconds,
                 "Seconds a keep-alive connection may stay quiet (or a client may stop reading) "
                 "before it is closed (0 = never)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--shutdown-grace", graceSeconds,
                 "On SIGINT/SIGTERM, seconds to finish open connections before closing them hard")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--log-level", logLevel, "trace, debug, info, warn, error, critical or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (config.mode == "reactor") {
    for (const char* flag : {"--engine", "--dispatch", "--inline-max"}) {
      if (app.count(flag) == 0) continue;
      std::fprintf(stderr, "http_server: %s applies to --mode proactor or coroutine only\n", flag);
      return 2;
    }
  }
  config.headerTimeout = seconds(headerSeconds);
  config.idleTimeout = seconds(idleSeconds);
  config.shutdownGrace = seconds(graceSeconds);

  nioxx::log::init(logLevel);
  auto logger = nioxx::log::get("http");
  nioxx::server::raiseFileLimit();
  // Before the server's threads start: they inherit the blocked SIGINT/SIGTERM (the server
  // layer's signal handling, as serverMain() does it).
  nioxx::server::StopSignals stopSignals;

  std::unique_ptr<HttpServer> server;
  nioxx::InetSocketAddress bound;
  try {
    server =
        config.mode == "reactor" ? makeReactiveHttpServer(config) : makeProactiveHttpServer(config);
    bound = server->start();
  } catch (const std::exception& e) {
    logger->error("cannot start: {}", e.what());
    std::fprintf(stderr, "http_server: cannot start: %s\n", e.what());
    return 1;
  }
  std::string line = "listening on " + bound.toString() + " mode=" + config.mode +
                     " threads=" + std::to_string(config.threads) + " root=" + config.root;
  if (config.mode != "reactor") {
    line += " engine=" + server->engine() + " dispatch=" + config.dispatch;
  }
  logger->info("{}", line);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);

  const int signal = stopSignals.wait();
  logger->info("{} received: stopping (no new connections; answering what was received)",
               nioxx::server::StopSignals::name(signal));
  server->stop();
  const HttpStats s = server->stats();
  std::printf("stopped: connections=%llu requests=%llu\n",
              static_cast<unsigned long long>(s.connections),
              static_cast<unsigned long long>(s.requests));
  std::fflush(stdout);
  return 0;
}
