// hello_client: one greeting (`--name Alice` prints "Hello, Alice!"), or a checked load run
// (`--connections C --pipeline D --duration S [--warmup S]`), over nioxx's reactor or proactor.
#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include "hello/client_connection.h"
#include "hello/client_driver.h"
#include "hello/hello_service.h"
#include "nioxx/core/log.h"

using namespace nioxx;
using namespace nioxx::demo;
using std::chrono::duration;
using std::chrono::milliseconds;

namespace {

ClientClock::duration seconds(double s) {
  return std::chrono::duration_cast<ClientClock::duration>(duration<double>(s));
}

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7070;
  std::string mode = "reactor";
  std::string dispatch = "call-through";
  std::size_t threads = 1;
  std::string name = "world";
  std::size_t connections = 1;
  std::size_t pipeline = 1;
  double duration = 10;
  double warmup = 1;
  double timeout = 5;
  std::size_t maxReply = 1 << 20;
  std::string logLevel = "warn";
  bool load = false;
};

struct Totals {
  std::uint64_t sent = 0, answered = 0, wrong = 0, measured = 0, connErrors = 0, finished = 0;
};

Totals sum(const std::vector<std::unique_ptr<ClientConnection>>& conns) {
  Totals t;
  for (const auto& c : conns) {
    t.sent += c->sent();
    t.answered += c->answered();
    t.wrong += c->wrong();
    t.measured += c->measured();
    t.connErrors += c->connectionError() ? 1 : 0;
    t.finished += c->finished() ? 1 : 0;
  }
  return t;
}

std::unique_ptr<ClientDriver> makeDriver(const Options& o) {
  return o.mode == "reactor" ? makeReactiveClientDriver(o.threads)
                             : makeProactiveClientDriver(o.threads, o.dispatch);
}

std::vector<std::unique_ptr<ClientConnection>> makeConnections(ClientShared& shared) {
  std::vector<std::unique_ptr<ClientConnection>> conns;
  for (std::size_t i = 0; i < shared.plan.connections; ++i) {
    conns.push_back(std::make_unique<ClientConnection>(shared, i));
  }
  return conns;
}

// One request, one reply: prints the greeting.
int runSingle(const Options& o, ClientShared& shared) {
  auto conns = makeConnections(shared);
  auto driver = makeDriver(o);
  shared.measuring = true;
  driver->start(conns);
  const auto deadline = ClientClock::now() + seconds(o.timeout);
  while (!conns[0]->finished() && ClientClock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  const bool done = conns[0]->finished();
  driver->stop();
  const auto& c = *conns[0];
  if (done && c.answered() == 1) {
    std::printf("%s\n", c.lastGreeting().c_str());
    return 0;
  }
  if (!c.lastError().empty()) {
    std::fprintf(stderr, "hello_client: server answered with an error: %s\n",
                 c.lastError().c_str());
  } else if (!shared.firstProblem.empty()) {
    std::fprintf(stderr, "hello_client: %s\n", shared.firstProblem.c_str());
  } else {
    std::fprintf(stderr, "hello_client: no reply from %s within %.1f s\n",
                 shared.plan.server.toString().c_str(), o.timeout);
  }
  return 1;
}

int runLoad(const Options& o, ClientShared& shared) {
  auto conns = makeConnections(shared);
  auto driver = makeDriver(o);
  const auto start = ClientClock::now();
  const auto measureStart = start + seconds(o.warmup);
  const auto end = measureStart + seconds(o.duration);
  std::fprintf(stderr, "load: %zu connections x pipeline %zu to %s (%s), %.1f s + %.1f s warmup\n",
               o.connections, o.pipeline, shared.plan.server.toString().c_str(), o.mode.c_str(),
               o.duration, o.warmup);
  shared.measuring = o.warmup <= 0;
  driver->start(conns);

  auto lastPrint = start;
  std::uint64_t lastAnswered = 0;
  for (;;) {
    const auto now = ClientClock::now();
    if (!shared.measuring && now >= measureStart) shared.measuring = true;
    if (now >= end) break;
    const Totals t = sum(conns);
    if (t.finished == conns.size()) break;  // every connection ended early (errors)
    if (now - lastPrint >= std::chrono::seconds(1)) {
      const double secs = duration<double>(now - lastPrint).count();
      std::fprintf(
          stderr, "[%5.1fs] %9.0f req/s  replies %llu  wrong %llu  conn errors %llu%s\n",
          duration<double>(now - start).count(), (t.answered - lastAnswered) / secs,
          static_cast<unsigned long long>(t.answered), static_cast<unsigned long long>(t.wrong),
          static_cast<unsigned long long>(t.connErrors), shared.measuring ? "" : "  (warmup)");
      lastPrint = now;
      lastAnswered = t.answered;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  const auto measureEnd = ClientClock::now();
  // Stop sending, then give the replies still in flight time to arrive.
  shared.stopSending = true;
  driver->nudge();
  const auto drainDeadline = measureEnd + seconds(o.timeout);
  while (sum(conns).finished < conns.size() && ClientClock::now() < drainDeadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  shared.measuring = false;
  driver->stop();

  const Totals t = sum(conns);
  std::uint64_t lost = 0;
  for (const auto& c : conns)
    lost += c->outstanding();
  const LatencyHistogram latency = mergedHistograms();
  const double secs = std::max(1e-9, duration<double>(measureEnd - measureStart).count());
  std::printf("requests: %llu (%llu measured) in %.2f s = %.0f req/s\n",
              static_cast<unsigned long long>(t.answered),
              static_cast<unsigned long long>(t.measured), secs, t.measured / secs);
  std::printf("latency: %s\n", latency.summary().c_str());
  std::printf("wrong: %llu  lost: %llu  connection errors: %llu\n",
              static_cast<unsigned long long>(t.wrong), static_cast<unsigned long long>(lost),
              static_cast<unsigned long long>(t.connErrors));
  std::fflush(stdout);
  if (!shared.firstProblem.empty()) {
    std::fprintf(stderr, "first problem: %s\n", shared.firstProblem.c_str());
  }
  const bool ok = t.wrong == 0 && lost == 0 && t.connErrors == 0 && t.answered > 0;
  if (!ok) std::fprintf(stderr, "hello_client: FAILED\n");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app(
      "The nioxx hello client: sends HelloRequest{name, seq} and checks every HelloReply. "
      "Without load options it sends one request and prints the greeting.",
      "hello_client");
  app.add_option("--host", o.host, "Server address (numeric IP or localhost)")
      ->capture_default_str();
  app.add_option("--port", o.port, "Server port")->capture_default_str();
  app.add_option("--mode", o.mode, "Which side of nioxx the client itself uses")
      ->check(CLI::IsMember({"reactor", "proactor"}))
      ->capture_default_str();
  app.add_option("--dispatch", o.dispatch, "Proactor mode: completion dispatch strategy")
      ->check(CLI::IsMember({"post-reactive", "call-through", "pool"}))
      ->capture_default_str();
  app.add_option("--threads", o.threads, "Client I/O threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--name", o.name, "The name to shout")->capture_default_str();
  app.add_option("--timeout", o.timeout,
                 "Seconds to wait for the reply (single) or for replies in flight (load)")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--max-reply", o.maxReply, "Largest reply frame accepted, bytes")
      ->capture_default_str();
  app.add_option("--log-level", o.logLevel, "nioxx log level")->capture_default_str();
  auto* c = app.add_option("--connections", o.connections, "Load mode: concurrent connections")
                ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
                ->capture_default_str();
  auto* p =
      app.add_option("--pipeline", o.pipeline, "Load mode: requests outstanding per connection")
          ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 16))
          ->capture_default_str();
  auto* d = app.add_option("--duration", o.duration, "Load mode: measured seconds")
                ->check(CLI::Range(0.0, 86400.0))
                ->capture_default_str();
  auto* w = app.add_option("--warmup", o.warmup, "Load mode: seconds before measuring")
                ->check(CLI::Range(0.0, 3600.0))
                ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  o.load = c->count() + p->count() + d->count() + w->count() > 0;
  try {
    nioxx::log::init(o.logLevel);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hello_client: %s\n", e.what());
    return 2;
  }
  HelloService::routeProtobufLogs();
  std::signal(SIGPIPE, SIG_IGN);

  auto server = InetSocketAddress::of(o.host, o.port);
  if (!server) {
    std::fprintf(stderr, "hello_client: --host must be a numeric IP address or localhost\n");
    return 2;
  }
  ClientPlan plan;
  plan.server = *server;
  plan.name = o.name;
  plan.maxReplyFrame = o.maxReply;
  if (o.load) {
    plan.connections = o.connections;
    plan.pipeline = o.pipeline;
  } else {
    plan.requestsPerConnection = 1;
  }
  ClientShared shared(plan);
  try {
    return o.load ? runLoad(o, shared) : runSingle(o, shared);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hello_client: %s\n", e.what());
    return 1;
  }
}
