// Cancellation by std::stop_token: the operation a coroutine is suspended on ends
// operation_aborted (cancel(id)) and the coroutine resumes exactly once; other operations of the
// same socket are untouched; timeouts on whole Tasks.
#include <atomic>

#include "coro_fixture.h"

namespace nioxx::conformance {
namespace {

// Resumptions of one coroutine, so the test sees "exactly once".
struct Counts {
  std::atomic<int> suspended{0};
  std::atomic<int> resumed{0};
};

coro::Task<std::error_code> readOnce(AsyncSocket s, std::shared_ptr<Counts> n) {
  n->suspended.fetch_add(1);
  IoResult r = co_await coro::read(s, ByteBuffer::allocate(16));
  n->resumed.fetch_add(1);
  co_return r.error();
}

TEST_P(CoroTest, StopWhileSuspendedAbortsTheOperationAndResumesOnce) {
  auto [a, peer] = socketAndPeer();
  auto n = std::make_shared<Counts>();
  std::stop_source stop;
  auto result =
      std::async(std::launch::async, [&, &a = a] { return run(readOnce(a, n), stop.get_token()); });
  ASSERT_TRUE(eventually([&] { return n->suspended.load() == 1; }));
  std::this_thread::sleep_for(5ms);  // let the read reach the engine
  EXPECT_EQ(n->resumed.load(), 0);
  stop.request_stop();
  EXPECT_EQ(result.get(), make_error_code(Error::operation_aborted));
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(n->resumed.load(), 1);
  // A cancel does not poison the next operation: the socket reads normally again.
  ASSERT_TRUE(writePeer(peer.get(), "after"));
  EXPECT_EQ(run(readOnce(a, n)), std::error_code());
}

TEST_P(CoroTest, StopBeforeTheAwaitCancelsAtInitiation) {
  auto [a, peer] = socketAndPeer();
  auto n = std::make_shared<Counts>();
  std::stop_source stop;
  stop.request_stop();
  EXPECT_EQ(run(readOnce(a, n), stop.get_token()), make_error_code(Error::operation_aborted));
  EXPECT_EQ(n->resumed.load(), 1);
}

// cancel(id), not cancel(): the other coroutine's write on the same socket completes.
TEST_P(CoroTest, StopCancelsOnlyTheCoroutinesOwnOperation) {
  auto [a, peer] = socketAndPeer();
  auto n = std::make_shared<Counts>();
  std::stop_source stop;
  auto reader =
      std::async(std::launch::async, [&, &a = a] { return run(readOnce(a, n), stop.get_token()); });
  ASSERT_TRUE(eventually([&] { return n->suspended.load() == 1; }));
  auto writer = [](AsyncSocket s) -> coro::Task<std::size_t> {
    ByteBuffer big = ByteBuffer::allocate(4 << 20);  // beyond the socket buffer: it waits
    big.position(big.limit());
    big.flip();
    IoResult w = co_await coro::writeAll(s, std::move(big));
    co_return w.bytesTransferred();
  };
  auto written = std::async(std::launch::async, [&, &a = a] { return run(writer(a)); });
  std::this_thread::sleep_for(10ms);
  stop.request_stop();
  EXPECT_EQ(reader.get(), make_error_code(Error::operation_aborted));
  // The peer drains: the write completes in full, not aborted.
  EXPECT_EQ(readPeer(peer.get(), 4 << 20).size(), std::size_t{4 << 20});
  EXPECT_EQ(written.get(), std::size_t{4 << 20});
}

TEST_P(CoroTest, StopCancelsASleep) {
  std::stop_source stop;
  auto body = [](Proactor& p) -> coro::Task<std::error_code> {
    TimerResult t = co_await coro::sleep(p, 1h);
    co_return t.error();
  };
  auto result =
      std::async(std::launch::async, [&] { return run(body(proactor()), stop.get_token()); });
  std::this_thread::sleep_for(10ms);
  stop.request_stop();
  EXPECT_EQ(result.get(), make_error_code(Error::operation_aborted));
}

// The stop token reaches operations awaited in nested Tasks.
TEST_P(CoroTest, NestedTasksInheritTheStopToken) {
  auto [a, peer] = socketAndPeer();
  auto n = std::make_shared<Counts>();
  std::stop_source stop;
  auto outer = [](AsyncSocket s, std::shared_ptr<Counts> n) -> coro::Task<std::error_code> {
    co_return co_await readOnce(s, n);
  };
  auto result =
      std::async(std::launch::async, [&, &a = a] { return run(outer(a, n), stop.get_token()); });
  ASSERT_TRUE(eventually([&] { return n->suspended.load() == 1; }));
  stop.request_stop();
  EXPECT_EQ(result.get(), make_error_code(Error::operation_aborted));
}

// An explicit empty token opts an operation out of the coroutine's stop (a flush after stop).
TEST_P(CoroTest, EmptyStopTokenIsNotCancelled) {
  auto [a, peer] = socketAndPeer();
  std::stop_source stop;
  stop.request_stop();
  auto body = [](AsyncSocket s) -> coro::Task<std::string> {
    IoResult r = co_await coro::read(s, ByteBuffer::allocate(4)).stopToken({});
    co_return r.success() ? filledPart(r.buffer()) : r.error().message();
  };
  ASSERT_TRUE(writePeer(peer.get(), "data"));
  EXPECT_EQ(run(body(a), stop.get_token()), "data");
}

TEST_P(CoroTest, WithTimeoutStopsATaskThatTakesTooLong) {
  auto [a, peer] = socketAndPeer();
  auto n = std::make_shared<Counts>();
  auto body = [](Proactor& p, AsyncSocket s,
                 std::shared_ptr<Counts> n) -> coro::Task<std::error_code> {
    co_return co_await coro::withTimeout(p, readOnce(s, n), 20ms);
  };
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(run(body(proactor(), a, n)), make_error_code(Error::operation_aborted));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  EXPECT_EQ(n->resumed.load(), 1);
}

TEST_P(CoroTest, WithTimeoutReturnsTheResultOfATaskInTime) {
  auto [a, peer] = socketAndPeer();
  auto n = std::make_shared<Counts>();
  ASSERT_TRUE(writePeer(peer.get(), "x"));
  auto body = [](Proactor& p, AsyncSocket s,
                 std::shared_ptr<Counts> n) -> coro::Task<std::error_code> {
    co_return co_await coro::withTimeout(p, readOnce(s, n), 10s);
  };
  EXPECT_EQ(run(body(proactor(), a, n)), std::error_code());
  // The timer was cancelled: shutdown does not wait 10 s, and the leak check sees no operation.
}

}  // namespace
}  // namespace nioxx::conformance
