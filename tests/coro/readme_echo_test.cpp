// The coroutine echo server of the README ("A coroutine echo server"), compiled and run: a client
// coroutine's bytes come back, and stopping the scope ends every coroutine with nothing left.
#include <gtest/gtest.h>

#include <string>

#include "nioxx/bridge/emulated_processor.h"
#include "nioxx/coro/coro.h"
#include "nioxx/proactor/live_counts.h"

namespace readme {
using namespace nioxx;

// ---- README begin ----
coro::Task<void> echo(AsyncSocket socket) {
  ByteBuffer buf = ByteBuffer::allocate(16 * 1024);
  for (;;) {
    IoResult r = co_await coro::read(socket, std::move(buf));
    if (!r.success()) co_return;  // end of stream, reset, or the scope stopped
    buf = std::move(r.buffer());
    buf.flip();  // echo what we read
    IoResult w = co_await coro::writeAll(socket, std::move(buf));
    if (!w.success()) co_return;
    buf = std::move(w.buffer());
    buf.clear();
  }
}

coro::Task<void> listen(AsyncServerSocket server, coro::Scope& connections) {
  for (;;) {
    AcceptResult a = co_await coro::accept(server);
    if (a.aborted()) co_return;  // the scope stopped
    if (a.success()) connections.spawn(echo(a.socket()));
  }
}
// ---- README end ----

}  // namespace readme

namespace nioxx {
namespace {

coro::Task<std::string> client(AsyncSocket s, InetSocketAddress at) {
  co_await coro::connect(s, at).orThrow();
  ByteBuffer out = ByteBuffer::allocate(7);
  out.put(std::string_view("echo me"));
  out.flip();
  co_await coro::writeAll(s, std::move(out)).orThrow();
  IoResult r = co_await coro::readExactly(s, ByteBuffer::allocate(7)).orThrow();
  co_return std::string(reinterpret_cast<const char*>(r.buffer().array()), 7);
}

TEST(ReadmeEchoTest, EchoesAndTheScopeEndsEveryCoroutine) {
  const auto opsBefore = liveOperationCount();
  {
    Proactor proactor = makeEmulatedProactor();
    AsyncServerSocket server = AsyncServerSocket::open(proactor);
    ASSERT_FALSE(server.bind(InetSocketAddress::loopback(0)));
    coro::Scope scope(proactor);  // owns every coroutine of the server
    scope.spawn(readme::listen(server, scope));

    std::promise<std::string> got;
    auto future = got.get_future();
    coro::spawn(proactor, client(AsyncSocket::open(proactor), *server.localAddress()),
                [&](std::exception_ptr e, std::string s) noexcept {
                  if (e) {
                    got.set_exception(e);
                  } else {
                    got.set_value(s);
                  }
                });
    ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_EQ(future.get(), "echo me");
    EXPECT_GE(scope.size(), 1u);  // the listener (the echo ends once the client's socket is gone)
    scope.requestStop();          // cancels the accept (and the echo's read if still waiting)
    scope.join();
    EXPECT_EQ(scope.size(), 0u);
  }
  EXPECT_EQ(liveOperationCount(), opsBefore);
}

}  // namespace
}  // namespace nioxx
