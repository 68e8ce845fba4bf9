// Coroutine echo server: one coro::Task per connection, spawned into a coro::Scope that owns
// them all; the accept loop is a coroutine too.
//
//   coroutine_echo [--port N]     prints "listening on HOST:PORT", echoes until SIGINT/SIGTERM
//
// Ownership: sockets are passed to coroutines by value (counted handles), buffers are moved into
// each operation and come back in its result, and the Scope keeps every coroutine frame until it
// has finished, so nothing a coroutine uses can dangle. Stopping is scope.requestStop(): each
// coroutine's pending operation completes with operation_aborted and the coroutine returns.
#include <nioxx/bridge/emulated_processor.h>
#include <nioxx/coro/coro.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>

using namespace nioxx;
using namespace std::chrono_literals;

namespace {

coro::Task<void> echo(AsyncSocket socket) {
  ByteBuffer buffer = ByteBuffer::allocate(16 * 1024);
  for (;;) {
    // An idle client is dropped after a minute (the operation's own timeout).
    IoResult r = co_await coro::read(socket, std::move(buffer)).timeout(60s);
    if (!r.success()) break;  // end of stream, timed out, reset, or the scope stopped
    buffer = std::move(r.buffer());
    buffer.flip();  // drain mode: the bytes to echo
    IoResult w = co_await coro::writeAll(socket, std::move(buffer));
    if (!w.success()) break;
    buffer = std::move(w.buffer());
    buffer.clear();  // room for the next read (a full buffer would read 0 bytes forever)
  }
  socket.close();
}

coro::Task<void> acceptLoop(AsyncServerSocket server, coro::Scope& connections) {
  for (;;) {
    AcceptResult a = co_await coro::accept(server);
    if (a.aborted()) co_return;  // the scope stopped
    if (a.success()) {
      connections.spawn(echo(a.socket()));
    } else {
      // E.g. too_many_files_open: that client was turned away; keep accepting.
      std::fprintf(stderr, "accept: %s\n", a.error().message().c_str());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nioxx coroutine echo server"};
  std::uint16_t port = 0;
  app.add_option("--port", port, "TCP port on 127.0.0.1; 0 picks a free one");
  CLI11_PARSE(app, argc, argv);

  sigset_t stopSignals;  // blocked everywhere, taken by sigwait below
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

  Proactor proactor = makeEmulatedProactor();
  AsyncServerSocket server = AsyncServerSocket::open(proactor);
  if (std::error_code ec = server.bind(InetSocketAddress::loopback(port))) {
    std::fprintf(stderr, "cannot listen on port %u: %s\n", port, ec.message().c_str());
    return 1;
  }
  std::printf("listening on %s\n", server.localAddress()->toString().c_str());
  std::fflush(stdout);

  {
    // Declared after the Proactor, so destroyed (joined) before it.
    coro::Scope scope(proactor);
    scope.spawn(acceptLoop(server, scope));
    int signal = 0;
    sigwait(&stopSignals, &signal);
    scope.requestStop();  // cancels the accept and every pending read or write
    scope.join();         // returns once every coroutine frame is gone
  }
  server.close();
  proactor.shutdown();
  std::printf("stopped\n");
  return 0;
}
