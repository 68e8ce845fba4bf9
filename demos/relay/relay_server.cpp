// relay_server: accepts TCP connections and relays each one to --target with backpressure
// (demos/relay/relay.h): a slow receiver holds the relay back instead of growing its memory.
//
//   relay_server --port 0 --target 127.0.0.1:7070 [--dispatch call-through] [--threads 2]
//                [--engine emulated|uring|auto] [--low 65536 --high 262144 --chunk 16384]
//                [--metrics 127.0.0.1:9101] [--trace FILE] [--reuseport]
// Prints "relay listening on HOST:PORT"; on SIGINT/SIGTERM prints one stats line and exits.
// --metrics, --trace and --reuseport mean what they mean for hello_server (docs/DEPLOY.md).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <vector>

#include "nioxx/core/log.h"
#include "nioxx/core/metrics.h"
#include "nioxx/proactor/async_server_socket.h"
#include "nioxx/proactor/async_socket.h"
#include "nioxx/proactor/operation_metrics.h"
#include "nioxx/proactor/trace_recorder.h"
#include "nioxx/server/metrics_endpoint.h"
#include "nioxx/server/server.h"
#include "nioxx/server/server_proactor.h"
#include "relay/relay.h"

namespace {

std::binary_semaphore gStop{0};
extern "C" void onSignal(int) {
  gStop.release();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nioxx;
  CLI::App app{"nioxx TCP relay with backpressure"};
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string target;
  std::string dispatch = "call-through";
  std::size_t threads = 2;
  demo::Relay::Options ro;
  nioxx::server::ProcessorTuning tuning;
  std::string metricsAt;
  std::string traceFile;
  bool reusePort = false;
  app.add_option("--host", host, "listen address (numeric)");
  app.add_option("--port", port, "listen port (0: any)");
  app.add_option("--target", target, "HOST:PORT to relay to")->required();
  app.add_option("--dispatch", dispatch, "post-reactive|call-through|pool");
  app.add_option("--threads", threads, "engine threads");
  app.add_option("--chunk", ro.chunk, "bytes per read");
  app.add_option("--low", ro.lowWatermark, "write buffer low water mark");
  app.add_option("--high", ro.highWatermark, "write buffer high water mark");
  app.add_option("--engine", tuning.engine, "emulated|uring|auto");
  app.add_option("--metrics", metricsAt,
                 "serve Prometheus metrics (GET /metrics) on HOST:PORT (port 0: any, see the "
                 "'metrics on' line)");
  app.add_option("--trace", traceFile,
                 "write Chrome trace-event JSON of every operation to FILE "
                 "at exit");
  app.add_flag("--reuseport", reusePort, "SO_REUSEPORT: several relays share the port");
  CLI11_PARSE(app, argc, argv);
  log::init();
  if (!traceFile.empty() && !std::ofstream(traceFile, std::ios::app)) {
    std::fprintf(stderr, "cannot write --trace file %s\n", traceFile.c_str());
    return 2;
  }

  const auto colon = target.rfind(':');
  auto to =
      colon == std::string::npos
          ? std::nullopt
          : InetSocketAddress::of(target.substr(0, colon),
                                  static_cast<std::uint16_t>(std::stoi(target.substr(colon + 1))));
  auto listen = InetSocketAddress::of(host, port);
  if (!to || !listen) {
    std::fprintf(stderr, "bad --target or --host\n");
    return 2;
  }
  // Observers outlive the proactor (declared before it): metrics first, the tracer chained behind.
  std::unique_ptr<TraceRecorder> tracer;
  if (!traceFile.empty()) tracer = std::make_unique<TraceRecorder>();
  std::unique_ptr<OperationMetrics> operations;
  if (!metricsAt.empty()) operations = std::make_unique<OperationMetrics>(dispatch, tracer.get());
  tuning.observer = operations ? static_cast<OperationObserver*>(operations.get()) : tracer.get();
  std::unique_ptr<nioxx::server::ServerProactor> proactor;
  try {
    nioxx::server::validate(tuning);
    proactor = nioxx::server::makeServerProactor(threads, dispatch, tuning);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "relay_server: %s\n", e.what());
    return 2;
  }
  Proactor& p = proactor->proactor();
  AsyncServerSocket server = AsyncServerSocket::open(p);
  if (reusePort) nioxx::server::enableReusePort(server.fd());
  if (auto ec = server.bind(*listen)) {
    std::fprintf(stderr, "cannot listen: %s\n", ec.message().c_str());
    return 1;
  }
  std::mutex mutex;
  std::vector<std::weak_ptr<demo::Relay>> relays;
  std::atomic<std::uint64_t> forwarded{0};
  std::atomic<std::size_t> maxPending{0};
  std::atomic<std::uint64_t> pauses{0};
  // A finished relay's counts move from `relays` into the totals under the mutex the scrape holds,
  // so /metrics never counts a relay twice or not at all (its counters only grow).
  auto onDone = [&](const demo::Relay& r) {
    const auto& s = r.stats();
    std::lock_guard lock(mutex);
    forwarded += s.bytes[0] + s.bytes[1];
    pauses += s.pauses[0] + s.pauses[1];
    std::erase_if(relays, [&r](auto& w) {
      auto live = w.lock();
      return !live || live.get() == &r;
    });
    maxPending = std::max({maxPending.load(), s.maxPending[0].load(), s.maxPending[1].load()});
  };
  std::function<void(AcceptResult&)> onAccept = [&](AcceptResult& a) {
    if (!a.success()) return;  // closed at exit
    AsyncSocket client = a.socket();
    server.accept(onAccept);
    client.setNoDelay(true);
    // Both ends on one engine thread: with call_through everything between them stays there.
    AsyncSocket upstream = AsyncSocket::open(p, Placement::onThread(client.thread()));
    upstream.connect(*to, [&, client](ConnectResult& c) mutable {
      if (!c.success()) {
        client.close();
        return;
      }
      c.socket().setNoDelay(true);
      auto relay = demo::Relay::start(client, c.socket(), ro, onDone);
      std::lock_guard lock(mutex);
      std::erase_if(relays, [](auto& w) { return w.expired(); });
      if (!relay->done()) relays.push_back(relay);  // else onDone has counted it already
    });
  };
  server.accept(onAccept);
  std::vector<metrics::MetricsRegistry::Handle> collectors;
  std::unique_ptr<nioxx::server::MetricsEndpoint> endpoint;
  if (!metricsAt.empty()) {
    auto& registry = metrics::MetricsRegistry::global();
    collectors.push_back(registry.add([&](metrics::Exposition& out) {
      // Finished relays are summed in onDone; the ones still in `relays` are read here.
      std::uint64_t bytes = forwarded.load();
      std::uint64_t held = pauses.load();
      std::size_t open = 0;
      std::lock_guard lock(mutex);
      for (auto& w : relays) {
        if (auto r = w.lock()) {
          ++open;
          bytes += r->stats().bytes[0] + r->stats().bytes[1];
          held += r->stats().pauses[0] + r->stats().pauses[1];
        }
      }
      using metrics::Type;
      out.family("nioxx_relay_connections_open", "Relayed connection pairs open.", Type::gauge)
          .sample(double(open));
      out.family("nioxx_relay_forwarded_bytes_total", "Bytes relayed, both directions.",
                 Type::counter)
          .sample(double(bytes));
      out.family("nioxx_relay_pauses_total",
                 "Reads held back because the other side was not writable (backpressure).",
                 Type::counter)
          .sample(double(held));
    }));
    collectors.push_back(
        registry.add([ops = operations.get()](metrics::Exposition& out) { ops->collect(out); }));
    try {
      endpoint = std::make_unique<nioxx::server::MetricsEndpoint>(
          nioxx::server::MetricsEndpoint::parse(metricsAt),
          [&registry] { return registry.scrape(); });
    } catch (const std::exception& e) {
      std::fprintf(stderr, "relay_server: --metrics %s: %s\n", metricsAt.c_str(), e.what());
      server.close();
      proactor->shutdown();
      return 1;
    }
  }
  // The first line is the one scripts wait for; the metrics line follows it.
  std::printf("relay listening on %s\n", server.localAddress()->toString().c_str());
  if (endpoint) {
    std::printf("metrics on http://%s/metrics\n", endpoint->localAddress().toString().c_str());
  }
  std::fflush(stdout);
  log::get("relay")->info("engine={} dispatch={} threads={}", proactor->engine(), dispatch,
                          threads);
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  gStop.acquire();
  server.close();
  std::vector<std::shared_ptr<demo::Relay>> live;
  {
    std::lock_guard lock(mutex);
    for (auto& w : relays) {
      if (auto r = w.lock()) live.push_back(std::move(r));
    }
  }
  for (auto& r : live)
    r->close();
  live.clear();
  endpoint.reset();
  collectors.clear();
  proactor->shutdown();
  if (tracer) {
    const auto summary = tracer->writeFile(traceFile);
    std::printf("trace: %zu operations written to %s\n", summary.operations, traceFile.c_str());
  }
  std::printf("relay stats: forwarded=%llu max_pending_write_bytes=%zu pauses=%llu\n",
              static_cast<unsigned long long>(forwarded.load()), maxPending.load(),
              static_cast<unsigned long long>(pauses.load()));
  return 0;
}
