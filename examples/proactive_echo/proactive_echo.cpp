// Proactive echo server: a Proactor, an accept loop, a read -> write loop per connection, and a
// clean shutdown, with interface completion handlers (Java NIO.2's CompletionHandler<V,A>).
//
//   proactive_echo [--port N]      prints "listening on HOST:PORT", echoes until SIGINT/SIGTERM
//
// Ownership, the part that matters: the ACT of every operation is a std::shared_ptr<Session>.
// An operation keeps its ACT until its handler has run, so a Session (its socket and buffer)
// lives exactly as long as some operation of it is in flight, and is freed by the last handler
// that does not start another one. A raw pointer as ACT would dangle as soon as one handler
// deleted the session while another operation of the same socket (a write, a timeout, the abort
// of a close) was still to complete. The handler objects themselves are shared by every
// connection and outlive the Proactor's shutdown (declared before it in main).
#include <nioxx/bridge/emulated_processor.h>
#include <nioxx/proactor/all.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>

using namespace nioxx;
using namespace std::chrono_literals;

namespace {

struct Session {
  explicit Session(AsyncSocket s) : socket(std::move(s)) {}
  AsyncSocket socket;
};
using SessionPtr = std::shared_ptr<Session>;

// Counted once per session when it is freed: proves nothing leaks at shutdown.
std::atomic<int> liveSessions{0};

struct WriteHandler;

// A read completed: echo what arrived.
struct ReadHandler final : CompletionHandler<IoResult, SessionPtr> {
  WriteHandler* onWritten = nullptr;
  void completed(IoResult& result, SessionPtr& session) override;
  void failed(IoResult& result, SessionPtr& session) override {
    // end_of_stream: the client closed; aborted: our shutdown; timed_out: idle client.
    if (!result.endOfStream() && !result.aborted() && !result.timedOut()) {
      std::fprintf(stderr, "read: %s\n", result.error().message().c_str());
    }
    session->socket.close();  // the last handle of the session is dropped with the ACT
  }
};

// The echo was written: read again into the same buffer.
struct WriteHandler final : CompletionHandler<IoResult, SessionPtr> {
  ReadHandler* onRead = nullptr;
  void completed(IoResult& result, SessionPtr& session) override {
    ByteBuffer& buffer = result.buffer();
    buffer.clear();  // room for the next read (a read into a full buffer completes with 0 bytes)
    session->socket.read(std::move(buffer), session, *onRead, 60s);
  }
  void failed(IoResult& result, SessionPtr& session) override {
    if (!result.aborted()) std::fprintf(stderr, "write: %s\n", result.error().message().c_str());
    session->socket.close();
  }
};

void ReadHandler::completed(IoResult& result, SessionPtr& session) {
  ByteBuffer& buffer = result.buffer();
  buffer.flip();  // drain mode: [0, bytes read)
  // The session travels on as the write's ACT; this handler returns and drops its copy.
  session->socket.writeAll(std::move(buffer), session, *onWritten);
}

// The accept loop: one accept in flight; each completion starts the next one.
struct AcceptHandler final : CompletionHandler<AcceptResult> {
  ReadHandler* onRead = nullptr;
  void completed(AcceptResult& result, NoAct&) override {
    auto session = std::shared_ptr<Session>(new Session(result.socket()), [](Session* s) {
      liveSessions.fetch_sub(1);
      delete s;
    });
    liveSessions.fetch_add(1);
    session->socket.read(ByteBuffer::allocate(16 * 1024), session, *onRead, 60s);
    result.server().accept(*this);
  }
  void failed(AcceptResult& result, NoAct&) override {
    if (result.aborted()) return;  // the listening socket was closed: the loop ends here
    // E.g. too_many_files_open: the engine already turned that client away; keep accepting.
    std::fprintf(stderr, "accept: %s\n", result.error().message().c_str());
    result.server().accept(*this);
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nioxx proactive echo server"};
  std::uint16_t port = 0;
  app.add_option("--port", port, "TCP port on 127.0.0.1; 0 picks a free one");
  CLI11_PARSE(app, argc, argv);

  // SIGINT/SIGTERM are blocked in every thread (the Proactor's threads inherit the mask) and
  // taken synchronously by sigwait below.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

  // Handlers first: they must outlive every operation, i.e. the Proactor's shutdown.
  ReadHandler onRead;
  WriteHandler onWritten;
  AcceptHandler onAccepted;
  onRead.onWritten = &onWritten;
  onWritten.onRead = &onRead;
  onAccepted.onRead = &onRead;

  // call_through: handlers run on the engine's thread, right where the I/O completed.
  Proactor proactor = makeEmulatedProactor();
  AsyncServerSocket server = AsyncServerSocket::open(proactor);
  if (std::error_code ec = server.bind(InetSocketAddress::loopback(port))) {
    std::fprintf(stderr, "cannot listen on port %u: %s\n", port, ec.message().c_str());
    return 1;
  }
  server.accept(onAccepted);
  std::printf("listening on %s\n", server.localAddress()->toString().c_str());
  std::fflush(stdout);

  int signal = 0;
  sigwait(&stopSignals, &signal);
  // Clean shutdown: stop accepting (the accept completes aborted), then shutdown() completes
  // every read and write still in flight with operation_aborted, runs those handlers (which close
  // their sockets and drop the last references to their sessions) and joins the engine threads.
  server.close();
  proactor.shutdown();
  std::printf("stopped, %d sessions left\n", liveSessions.load());
  return liveSessions.load() == 0 ? 0 : 1;
}
