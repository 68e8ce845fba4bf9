// Multishot operations as streams: every result in order, the last one ends the stream, and a
// stop while waiting ends the operation.
#include <initializer_list>

#include "coro_fixture.h"

namespace nioxx::conformance {
namespace {

TEST_P(CoroTest, AcceptEachStreamsConnectionsUntilCancelled) {
  AsyncServerSocket server = AsyncServerSocket::open(proactor());
  ASSERT_FALSE(server.bind(InetSocketAddress::loopback(0)));
  const InetSocketAddress at = *server.localAddress();
  std::vector<AsyncSocket> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(AsyncSocket::open(proactor()));
    auto connected = api([&] { return clients.back().connect(at, use_future); });
    ASSERT_TRUE(awaitResult(connected, "connect").success());
  }
  auto body = [](AsyncServerSocket server) -> coro::Task<std::string> {
    auto accepts = coro::acceptEach(server);
    std::string log;
    int accepted = 0;
    while (auto a = co_await accepts.next()) {
      log += a->success() ? "+" : (a->aborted() ? "aborted" : a->error().message());
      if (!a->more()) break;
      if (++accepted == 3) accepts.cancel();
    }
    co_return log + ((co_await accepts.next()) ? " more" : " end");
  };
  EXPECT_EQ(run(body(server)), "+++aborted end");
  server.close();
}

TEST_P(CoroTest, ReadEachStreamsArrivalsUntilEndOfStream) {
  auto [a, peer] = socketAndPeer();
  BufferPool pool({.chunkSize = 256, .maxCached = 4});
  auto body = [](AsyncSocket s, BufferPool& pool) -> coro::Task<std::string> {
    auto arrivals = coro::readEach(s, pool);
    std::string got;
    while (auto r = co_await arrivals.next()) {
      if (!r->more()) co_return got + (r->endOfStream() ? "|eof" : "|" + r->error().message());
      got += filledPart(r->buffer());
    }
    co_return got + "|no last result";
  };
  auto result = std::async(std::launch::async, [&, &a = a] { return run(body(a, pool)); });
  ASSERT_TRUE(writePeer(peer.get(), "one,"));
  std::this_thread::sleep_for(2ms);
  ASSERT_TRUE(writePeer(peer.get(), "two"));
  std::this_thread::sleep_for(2ms);
  peer.reset();
  EXPECT_EQ(result.get(), "one,two|eof");
}

// A stream over a 1-buffer group: each arrival's buffer is dropped before the next is awaited,
// so the stream goes on; every byte arrives once, in order.
TEST_P(CoroTest, ReadEachFromAProvidedBufferGroupStreamsEveryByte) {
  auto [a, peer] = socketAndPeer();
  BufferGroup group = proactor().provideBuffers({.bufferSize = 8, .buffersPerThread = 1});
  auto body = [](AsyncSocket s, BufferGroup group) -> coro::Task<std::string> {
    auto arrivals = coro::readEach(s, group);
    std::string got;
    while (auto r = co_await arrivals.next()) {
      if (!r->more()) co_return got + (r->endOfStream() ? "|eof" : "|" + r->error().message());
      got += filledPart(r->buffer());
    }
    co_return got + "|no last result";
  };
  auto result = std::async(std::launch::async, [&, &a = a] { return run(body(a, group)); });
  ASSERT_TRUE(writePeer(peer.get(), "0123456789abcdefghij"));
  std::this_thread::sleep_for(5ms);
  peer.reset();
  EXPECT_EQ(result.get(), "0123456789abcdefghij|eof");
}

// Each chunk its own arrival (20 ms apart) while the coroutine sleeps; then the peer's FIN.
void writeSeparatelyThenClose(UniqueFd& peer, std::initializer_list<const char*> chunks) {
  for (const char* chunk : chunks) {
    ASSERT_TRUE(writePeer(peer.get(), chunk));
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(200ms);
  peer.reset();
}

// A coroutine busy elsewhere does not hold the ring's buffers: results that wait in a stream over
// a provided-buffer group keep a copy of their bytes, and the group's buffers go back at once (with
// a 2-buffer group, the third arrival would otherwise find the ring dry).
TEST_P(CoroTest, ResultsWaitingInAGroupStreamHoldNoBuffer) {
  auto [a, peer] = socketAndPeer();
  BufferGroup group = proactor().provideBuffers({.bufferSize = 8, .buffersPerThread = 2});
  auto body = [](Proactor& p, AsyncSocket s, BufferGroup group) -> coro::Task<std::string> {
    auto arrivals = coro::readEach(s, group);
    co_await coro::sleep(p, 300ms);  // the writes below arrive meanwhile
    std::string got = "held " + std::to_string(group.outstanding()) + ":";
    while (auto r = co_await arrivals.next()) {
      got += filledPart(r->buffer());
      if (!r->more()) co_return got + (r->endOfStream() ? "|eof" : "|" + r->error().message());
    }
    co_return got + "|no last result";
  };
  auto result =
      std::async(std::launch::async, [&, &a = a] { return run(body(proactor(), a, group)); });
  writeSeparatelyThenClose(peer, {"ab", "cd", "ef", "gh", "ij"});
  EXPECT_EQ(result.get(), "held 0:abcdefghij|eof");
}

// maxWaiting: a coroutine that does not take its results (busy with a write to a client that does
// not read, say) holds a bounded number of them: the result that reaches the bound cancels the
// operation. Nothing is lost: what arrived is in the stream, the rest stays in the socket for the
// next stream.
TEST_P(CoroTest, ReadEachWithMaxWaitingCancelsAtTheBoundAndLosesNothing) {
  auto [a, peer] = socketAndPeer();
  BufferGroup group = proactor().provideBuffers({.bufferSize = 8, .buffersPerThread = 16});
  auto body = [](Proactor& p, AsyncSocket s, BufferGroup group) -> coro::Task<std::string> {
    auto arrivals = coro::readEach(s, group, coro::Nanos::zero(), /*maxWaiting=*/2);
    co_await coro::sleep(p, 300ms);  // the writes below arrive meanwhile
    std::string got;
    std::string firstEnded = "no last result";
    while (auto r = co_await arrivals.next()) {
      got += filledPart(r->buffer());
      if (!r->more()) firstEnded = r->aborted() ? "aborted" : r->error().message();
    }
    auto rest = coro::readEach(s, group);
    while (auto r = co_await rest.next()) {
      got += filledPart(r->buffer());
      if (!r->more()) co_return firstEnded + ":" + got + (r->endOfStream() ? "|eof" : "|error");
    }
    co_return firstEnded + ":" + got + "|no last result";
  };
  auto result =
      std::async(std::launch::async, [&, &a = a] { return run(body(proactor(), a, group)); });
  writeSeparatelyThenClose(peer, {"a", "b", "c", "d", "e"});
  EXPECT_EQ(result.get(), "aborted:abcde|eof");
}

TEST_P(CoroTest, StopWhileWaitingOnAStreamEndsItsOperation) {
  auto [a, peer] = socketAndPeer();
  BufferPool pool({.chunkSize = 256, .maxCached = 4});
  std::stop_source stop;
  auto body = [](AsyncSocket s, BufferPool& pool) -> coro::Task<std::error_code> {
    auto arrivals = coro::readEach(s, pool);
    while (auto r = co_await arrivals.next()) {
      if (!r->more()) co_return r->error();
    }
    co_return std::error_code();
  };
  auto result =
      std::async(std::launch::async, [&, &a = a] { return run(body(a, pool), stop.get_token()); });
  std::this_thread::sleep_for(10ms);
  stop.request_stop();
  EXPECT_EQ(result.get(), make_error_code(Error::operation_aborted));
}

}  // namespace
}  // namespace nioxx::conformance
