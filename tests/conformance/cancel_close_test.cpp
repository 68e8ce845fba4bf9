// Timeouts, cancel() and close(), from outside and from inside handlers. Each aborted operation
// completes once, never inside the call that aborted it, and the socket is left as documented:
// usable after a timeout or cancel(), refusing with Error::closed after close().
#include <atomic>
#include <vector>

#include "conformance_fixture.h"

namespace nioxx::conformance {
namespace {

TEST_P(ConformanceTest, ReadTimeoutCompletesWithTimedOutAndTheSocketStaysUsable) {
  auto [a, b] = socketPair();
  const auto start = std::chrono::steady_clock::now();
  auto timed = api([&, &b = b] { return b.read(ByteBuffer::allocate(8), use_future, 20ms); });
  IoResult r = awaitResult(timed, "read with a 20 ms timeout");
  EXPECT_TRUE(r.timedOut()) << r.error().message();
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  auto next = api([&, &b = b] { return b.read(ByteBuffer::allocate(8), use_future); });
  auto sent = api([&, &a = a] { return a.writeAll(bufferOf("late"), use_future); });
  awaitResult(sent, "writeAll(late)");
  IoResult data = awaitResult(next, "read after the timeout");
  ASSERT_TRUE(data.success()) << data.error().message();
  EXPECT_EQ(filledPart(data.buffer()), "late");
}

TEST_P(ConformanceTest, CancelAbortsThePendingReadAndTheNextReadWorks) {
  auto [a, b] = socketPair();
  struct State {
    std::atomic<int> calls{0};
    std::atomic<bool> insideApi{false};
    std::error_code error;
  };
  auto s = std::make_shared<State>();
  api([&, &b = b] {
    b.read(ByteBuffer::allocate(8), [s](IoResult& r) {
      s->insideApi = insideApiCall();
      s->error = r.error();
      s->calls.fetch_add(1);
    });
  });
  api([&, &b = b] { b.cancel(); });
  ASSERT_TRUE(eventually([&] { return s->calls.load() == 1; }));
  EXPECT_EQ(s->error, Error::operation_aborted) << s->error.message();
  EXPECT_FALSE(s->insideApi.load()) << "the aborted read's handler ran inside cancel()";

  auto next = api([&, &b = b] { return b.read(ByteBuffer::allocate(8), use_future); });
  auto sent = api([&, &a = a] { return a.writeAll(bufferOf("again"), use_future); });
  awaitResult(sent, "writeAll(again)");
  IoResult r = awaitResult(next, "read after cancel()");
  ASSERT_TRUE(r.success()) << r.error().message();
  EXPECT_EQ(filledPart(r.buffer()), "again");
  EXPECT_EQ(s->calls.load(), 1);
}

// close(): the pending read completes with operation_aborted; reads and writes initiated after
// close() returned complete with Error::closed, and (one direction, initiation order) the read
// refused for being closed completes after the read that close() aborted.
TEST_P(ConformanceTest, CloseAbortsThePendingReadAndLaterOperationsCompleteClosed) {
  auto [a, b] = socketPair();
  struct State {
    std::atomic<int> order{0};
    std::atomic<int> done{0};
    std::atomic<int> insideApi{0};
    std::error_code abortedRead, laterRead, laterWrite;
    int abortedReadAt = -1, laterReadAt = -1;
  };
  auto s = std::make_shared<State>();
  api([&, &b = b] {
    b.read(ByteBuffer::allocate(8), [s](IoResult& r) {
      if (insideApiCall()) s->insideApi.fetch_add(1);
      s->abortedReadAt = s->order.fetch_add(1);
      s->abortedRead = r.error();
      s->done.fetch_add(1);
    });
  });
  api([&, &b = b] { b.close(); });
  api([&, &b = b] {
    b.read(ByteBuffer::allocate(8), [s](IoResult& r) {
      if (insideApiCall()) s->insideApi.fetch_add(1);
      s->laterReadAt = s->order.fetch_add(1);
      s->laterRead = r.error();
      s->done.fetch_add(1);
    });
  });
  api([&, &b = b] {
    b.write(bufferOf("x"), [s](IoResult& r) {
      if (insideApiCall()) s->insideApi.fetch_add(1);
      s->laterWrite = r.error();
      s->done.fetch_add(1);
    });
  });
  ASSERT_TRUE(eventually([&] { return s->done.load() == 3; }));
  EXPECT_EQ(s->abortedRead, Error::operation_aborted) << s->abortedRead.message();
  EXPECT_EQ(s->laterRead, Error::closed) << s->laterRead.message();
  EXPECT_EQ(s->laterWrite, Error::closed) << s->laterWrite.message();
  EXPECT_LT(s->abortedReadAt, s->laterReadAt)
      << "the read refused after close() completed before the read close() aborted";
  EXPECT_EQ(s->insideApi.load(), 0) << "handlers ran inside read()/write()/close()";
  EXPECT_FALSE(b.isOpen());
}

// What a handler calls is an API call like any other: a handler that closes (or cancels) its own
// socket must not have the aborted read's handler run inside that close() (or cancel()).
// The socket's write handler is the natural place: it runs where the socket's I/O runs.
// (The caller keeps the peer open, so the read cannot end any other way.)
void abortFromHandler(AsyncSocket b, bool close) {
  struct State {
    std::atomic<int> readCalls{0};
    std::atomic<bool> readInsideApi{false};
    std::atomic<bool> writeDone{false};
    std::error_code readError;
  };
  auto s = std::make_shared<State>();
  api([&] {
    b.read(ByteBuffer::allocate(8), [s](IoResult& r) {
      s->readInsideApi = insideApiCall();
      s->readError = r.error();
      s->readCalls.fetch_add(1);
    });
  });
  api([&] {
    b.write(bufferOf("x"), [s, close](IoResult& r) {
      AsyncSocket self = r.socket();
      api([&] { close ? self.close() : self.cancel(); });
      s->writeDone = true;
    });
  });
  ASSERT_TRUE(eventually([&] { return s->writeDone.load() && s->readCalls.load() == 1; }));
  EXPECT_EQ(s->readError, Error::operation_aborted) << s->readError.message();
  EXPECT_FALSE(s->readInsideApi.load())
      << "the aborted read's handler ran inside " << (close ? "close()" : "cancel()")
      << " called from a handler";
}

TEST_P(ConformanceTest, CloseFromAHandlerDoesNotRunThePendingReadsHandlerInsideClose) {
  auto [a, b] = socketPair();
  abortFromHandler(b, true);
  a.close();
}

TEST_P(ConformanceTest, CancelFromAHandlerDoesNotRunThePendingReadsHandlerInsideCancel) {
  auto [a, b] = socketPair();
  abortFromHandler(b, false);
  a.close();
}

}  // namespace
}  // namespace nioxx::conformance
