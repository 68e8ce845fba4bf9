// relay_server: accepts TCP connections and relays each one to --target with backpressure
// (demos/relay/relay.h): a slow receiver holds the relay back instead of growing its memory.
//
//   relay_server --port 0 --target 127.0.0.1:7070 [--dispatch call-through] [--threads 2]
//                [--low 65536 --high 262144 --chunk 16384]
// Prints "relay listening on HOST:PORT"; on SIGINT/SIGTERM prints one stats line and exits.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <vector>

#include "nioxx/core/log.h"
#include "nioxx/proactor/async_server_socket.h"
#include "nioxx/proactor/async_socket.h"
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
  app.add_option("--host", host, "listen address (numeric)");
  app.add_option("--port", port, "listen port (0: any)");
  app.add_option("--target", target, "HOST:PORT to relay to")->required();
  app.add_option("--dispatch", dispatch, "post-reactive|call-through|pool");
  app.add_option("--threads", threads, "engine threads");
  app.add_option("--chunk", ro.chunk, "bytes per read");
  app.add_option("--low", ro.lowWatermark, "write buffer low water mark");
  app.add_option("--high", ro.highWatermark, "write buffer high water mark");
  CLI11_PARSE(app, argc, argv);
  log::init();

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
  auto proactor = nioxx::server::makeServerProactor(threads, dispatch);
  Proactor& p = proactor->proactor();
  AsyncServerSocket server = AsyncServerSocket::open(p);
  if (auto ec = server.bind(*listen)) {
    std::fprintf(stderr, "cannot listen: %s\n", ec.message().c_str());
    return 1;
  }
  std::mutex mutex;
  std::vector<std::weak_ptr<demo::Relay>> relays;
  std::atomic<std::uint64_t> forwarded{0};
  std::atomic<std::size_t> maxPending{0};
  std::atomic<std::uint64_t> pauses{0};
  auto onDone = [&](const demo::Relay& r) {
    const auto& s = r.stats();
    forwarded += s.bytes[0] + s.bytes[1];
    pauses += s.pauses[0] + s.pauses[1];
    std::lock_guard lock(mutex);
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
      relays.push_back(relay);
    });
  };
  server.accept(onAccept);
  std::printf("relay listening on %s\n", server.localAddress()->toString().c_str());
  std::fflush(stdout);
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
  proactor->shutdown();
  std::printf("relay stats: forwarded=%llu max_pending_write_bytes=%zu pauses=%llu\n",
              static_cast<unsigned long long>(forwarded.load()), maxPending.load(),
              static_cast<unsigned long long>(pauses.load()));
  return 0;
}
