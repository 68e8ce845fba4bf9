// AsyncSocket::cancel() aborts exactly the operations outstanding when it is called; an
// operation initiated afterwards — even from inside an aborted operation's handler — waits
// normally: a cancel does not poison the next operation.
#include <atomic>
#include <functional>
#include <future>
#include <string>

#include "proactor_fixture.h"

namespace nioxx::test {
namespace {

using CancelTest = ProactorTest;

// The demo author's repro: the aborted read's handler starts the next read. That read must not
// be aborted again (it used to be, endlessly, under call_through: aborted=1000+, ok=0).
TEST_P(CancelTest, ReadReinitiatedFromAbortedHandlerCompletesWithData) {
  auto [client, server] = connectedPair();
  std::atomic<int> aborted{0};
  std::atomic<int> other{0};
  std::promise<std::string> data;
  std::function<void()> startRead = [&, s = server]() mutable {
    s.read(
        ByteBuffer::allocate(16), NoAct{},
        [&](IoResult& r) {
          if (r.aborted()) {
            if (aborted.fetch_add(1) < 100) startRead();  // bounded: a regression must not spin
          } else if (r.success()) {
            data.set_value(drained(r.buffer()));
          } else {
            other.fetch_add(1);
          }
        },
        60s);
  };
  startRead();
  server.cancel();
  ASSERT_TRUE(eventually([&] { return aborted.load() >= 1; }));
  client.writeAll(bufferOf("hello"), use_future).get();
  auto f = data.get_future();
  if (f.wait_for(kWait) != std::future_status::ready) abandon("re-initiated read");
  EXPECT_EQ(f.get(), "hello");
  EXPECT_EQ(aborted.load(), 1);
  EXPECT_EQ(other.load(), 0);
}

// Both a pending read and a write stuck behind full socket buffers are aborted; a read started
// after cancel() returned is not, and completes with the peer's data.
TEST_P(CancelTest, CancelAbortsExactlyTheOutstandingOperations) {
  auto [client, server] = connectedPair();
  auto pendingRead = server.read(ByteBuffer::allocate(8), use_future, 60s);
  auto stuckWrite = server.writeAll(ByteBuffer::allocate(32 << 20), use_future, 60s);
  EXPECT_EQ(stuckWrite.wait_for(50ms), std::future_status::timeout);  // the peer does not read
  server.cancel();
  if (pendingRead.wait_for(kWait) != std::future_status::ready) abandon("aborted read");
  if (stuckWrite.wait_for(kWait) != std::future_status::ready) abandon("aborted write");
  EXPECT_TRUE(pendingRead.get().aborted());
  IoResult w = stuckWrite.get();
  EXPECT_TRUE(w.aborted()) << w.error().message();
  EXPECT_LT(w.bytesTransferred(), std::size_t{32} << 20);

  auto next = server.read(ByteBuffer::allocate(8), use_future, 60s);
  EXPECT_EQ(next.wait_for(50ms), std::future_status::timeout);  // waits: not aborted
  ByteBuffer back = bufferOf("z");
  client.writeAll(std::move(back), use_future).get();
  if (next.wait_for(kWait) != std::future_status::ready) abandon("read after cancel");
  IoResult r = next.get();
  ASSERT_TRUE(r.success()) << r.error().message();
  EXPECT_EQ(drained(r.buffer()), "z");
}

// A write initiated after cancel() succeeds and the peer receives it.
TEST_P(CancelTest, WriteAfterCancelSucceeds) {
  auto [client, server] = connectedPair();
  auto pending = server.read(ByteBuffer::allocate(8), use_future);
  server.cancel();
  if (pending.wait_for(kWait) != std::future_status::ready) abandon("aborted read");
  EXPECT_TRUE(pending.get().aborted());
  auto w = server.writeAll(bufferOf("after"), use_future);
  if (w.wait_for(kWait) != std::future_status::ready) abandon("write after cancel");
  IoResult wr = w.get();
  ASSERT_TRUE(wr.success()) << wr.error().message();
  auto r = client.readExactly(ByteBuffer::allocate(5), use_future);
  if (r.wait_for(kWait) != std::future_status::ready) abandon("peer read");
  EXPECT_EQ(drained(r.get().buffer()), "after");
}

INSTANTIATE_TEST_SUITE_P(Strategies, CancelTest, allStrategies(), paramName);

}  // namespace
}  // namespace nioxx::test
