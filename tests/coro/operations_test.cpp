// Every awaitable operation on every engine: the result a callback handler would get, the
// throwing form, the operation's own timeout.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "coro_fixture.h"

namespace nioxx::conformance {
namespace {

TEST_P(CoroTest, ConnectAcceptReadWriteRoundTrip) {
  AsyncServerSocket server = AsyncServerSocket::open(proactor());
  ASSERT_FALSE(server.bind(InetSocketAddress::loopback(0)));
  const InetSocketAddress at = *server.localAddress();
  auto serve = [](AsyncServerSocket server) -> coro::Task<std::string> {
    AcceptResult a = co_await coro::accept(server).timeout(kWait);
    if (!a.success()) co_return "accept: " + a.error().message();
    AsyncSocket peer = a.socket();
    IoResult r = co_await coro::readExactly(peer, ByteBuffer::allocate(4));
    if (!r.success()) co_return "readExactly: " + r.error().message();
    r.buffer().flip();
    IoResult w = co_await coro::writeAll(peer, std::move(r.buffer()));  // echo
    co_return w.success() ? filledPart(w.buffer()) : "writeAll: " + w.error().message();
  };
  auto client = [](Proactor& p, InetSocketAddress at) -> coro::Task<std::string> {
    AsyncSocket s = AsyncSocket::open(p);
    ConnectResult c = co_await coro::connect(s, at);
    if (!c.success()) co_return "connect: " + c.error().message();
    co_await coro::write(s, bufferOf("ping")).orThrow();
    IoResult r = co_await coro::readExactly(s, ByteBuffer::allocate(4)).orThrow();
    co_return filledPart(r.buffer());
  };
  auto served = std::async(std::launch::async, [&] { return run(serve(server)); });
  EXPECT_EQ(run(client(proactor(), at)), "ping");
  EXPECT_EQ(served.get(), "ping");
  server.close();
}

TEST_P(CoroTest, ScatterGatherAndPooledReads) {
  auto [a, b] = socketPair();
  BufferPool pool({.chunkSize = 1024, .maxCached = 4});
  auto body = [](AsyncSocket a, AsyncSocket b, BufferPool& pool) -> coro::Task<std::string> {
    std::vector<ByteBuffer> out;
    out.push_back(bufferOf("he"));
    out.push_back(bufferOf("llo"));
    ScatterResult w = co_await coro::writev(a, std::move(out));
    if (!w.success() || w.bytesTransferred() != 5) co_return "writev";
    std::vector<ByteBuffer> in;
    in.push_back(ByteBuffer::allocate(2));
    in.push_back(ByteBuffer::allocate(3));
    ScatterResult r = co_await coro::readv(b, std::move(in), /*whole=*/true);
    if (!r.success()) co_return "readv: " + r.error().message();
    std::string got = filledPart(r.buffers()[0]) + filledPart(r.buffers()[1]);
    co_await coro::write(b, bufferOf("!")).orThrow();
    IoResult p = co_await coro::read(a, pool);
    if (!p.success()) co_return "pooled read: " + p.error().message();
    co_return got + filledPart(p.buffer());
  };
  EXPECT_EQ(run(body(a, b, pool)), "hello!");
}

TEST_P(CoroTest, ReadFromAProvidedBufferGroup) {
  auto [a, b] = socketPair();
  BufferGroup group = proactor().provideBuffers({.bufferSize = 64, .buffersPerThread = 2});
  auto body = [](AsyncSocket a, AsyncSocket b, BufferGroup group) -> coro::Task<std::string> {
    co_await coro::writeAll(a, bufferOf("grouped")).orThrow();
    IoResult r = co_await coro::read(b, group);
    if (!r.success()) co_return "read(group): " + r.error().message();
    if (r.buffer().capacity() != 64 || group.outstanding() != 1) co_return "not a group buffer";
    co_return filledPart(r.buffer());
  };
  EXPECT_EQ(run(body(a, b, group)), "grouped");
}

TEST_P(CoroTest, FileWriteThenReadAt) {
  char path[] = "/tmp/nioxx_coro_fileXXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::error_code ec;
  AsyncFile file = AsyncFile::open(proactor(), path, O_RDWR, ec);
  ASSERT_FALSE(ec) << ec.message();
  auto body = [](AsyncFile f) -> coro::Task<std::string> {
    FileResult w = co_await coro::writeAt(f, bufferOf("coroutine"), 3);
    if (!w.success()) co_return "writeAt: " + w.error().message();
    FileResult r = co_await coro::readAt(f, ByteBuffer::allocate(9), 3);
    if (!r.success()) co_return "readAt: " + r.error().message();
    FileResult eof = co_await coro::readAt(f, ByteBuffer::allocate(1), 100);
    if (!eof.endOfStream()) co_return "readAt past the end: " + eof.error().message();
    co_return filledPart(r.buffer());
  };
  EXPECT_EQ(run(body(file)), "coroutine");
  file.close();
  ::unlink(path);
}

TEST_P(CoroTest, SleepAndPostResume) {
  auto body = [](Proactor& p) -> coro::Task<bool> {
    const auto start = std::chrono::steady_clock::now();
    TimerResult t = co_await coro::sleep(p, 20ms);
    const bool slept = t.success() && std::chrono::steady_clock::now() - start >= 20ms;
    TimerResult y = co_await coro::post(p);
    co_return slept&& y.success();
  };
  EXPECT_TRUE(run(body(proactor())));
}

TEST_P(CoroTest, OrThrowThrowsSystemErrorWithTheResultsError) {
  auto [a, peer] = socketAndPeer();
  peer.reset();  // the peer closes: the read sees end_of_stream
  auto body = [](AsyncSocket s) -> coro::Task<std::error_code> {
    try {
      co_await coro::read(s, ByteBuffer::allocate(8)).orThrow();
    } catch (const std::system_error& e) {
      co_return e.code();
    }
    co_return std::error_code();
  };
  EXPECT_EQ(run(body(a)), make_error_code(Error::end_of_stream));
}

TEST_P(CoroTest, OperationTimeoutCompletesTimedOut) {
  auto [a, peer] = socketAndPeer();
  auto body = [](AsyncSocket s) -> coro::Task<std::error_code> {
    IoResult r = co_await coro::withTimeout(coro::read(s, ByteBuffer::allocate(8)), 20ms);
    co_return r.error();
  };
  EXPECT_EQ(run(body(a)), make_error_code(Error::timed_out));
}

// An operation refused at initiation (read_pending) still resumes the coroutine through its
// handler, exactly once.
TEST_P(CoroTest, RefusedInitiationResumesWithItsError) {
  auto [a, peer] = socketAndPeer();
  auto pending = api([&, &a = a] { return a.read(ByteBuffer::allocate(8), use_future); });
  auto body = [](AsyncSocket s) -> coro::Task<std::error_code> {
    IoResult r = co_await coro::read(s, ByteBuffer::allocate(8));
    co_return r.error();
  };
  EXPECT_EQ(run(body(a)), make_error_code(Error::read_pending));
  ASSERT_TRUE(writePeer(peer.get(), "x"));
  EXPECT_TRUE(awaitResult(pending, "the first read").success());
}

}  // namespace
}  // namespace nioxx::conformance
