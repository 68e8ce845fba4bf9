// Where a coroutine resumes: where a callback handler of the same operation would have run, never
// inside the call that initiated the operation, and never one frame deeper per await (a million
// immediately completing operations in a loop keep the stack flat).
#include <atomic>
#include <cstdint>
#include <thread>

#include "coro_fixture.h"

namespace nioxx::conformance {
namespace {

// Awaits op with the initiation bracketed as an API call: a completion run inline by it would
// resume the coroutine inside the bracket, and the coroutine would see insideApiCall().
template <class Op>
struct InsideApi {
  Op op;
  bool await_ready() { return op.await_ready(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    ApiScope scope;
    op.await_suspend(h);
  }
  auto await_resume() { return op.await_resume(); }
};
template <class Op>
InsideApi<Op> insideApi(Op op) {
  return {std::move(op)};
}

struct Resumed {
  std::thread::id thread;
  bool insideApi = true;
};

TEST_P(CoroTest, ResumesWhereACallbackHandlerWouldRun) {
  auto [a, peer] = socketAndPeer();
  // The callback form first: where does a read handler of this socket run?
  auto where = std::make_shared<std::promise<std::thread::id>>();
  auto cb = where->get_future();
  api([&, &a = a] {
    a.read(ByteBuffer::allocate(8),
           [where](IoResult&) { where->set_value(std::this_thread::get_id()); });
  });
  ASSERT_TRUE(writePeer(peer.get(), "1"));
  ASSERT_EQ(cb.wait_for(kWait), std::future_status::ready);
  const std::thread::id callbackThread = cb.get();

  auto body = [](AsyncSocket s) -> coro::Task<Resumed> {
    co_await insideApi(coro::read(s, ByteBuffer::allocate(8)));
    co_return Resumed{std::this_thread::get_id(), insideApiCall()};
  };
  auto resumed = std::async(std::launch::async, [&, &a = a] { return run(body(a)); });
  std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(writePeer(peer.get(), "2"));
  const Resumed r = resumed.get();
  EXPECT_FALSE(r.insideApi);
  EXPECT_NE(r.thread, std::this_thread::get_id());
  const bool affinity = GetParam().name.find("call_through_inline") != std::string::npos;
  const bool oneRunThread =
      proactor().strategy() == DispatchStrategy::post_reactive && GetParam().runners == 1;
  if (affinity || oneRunThread) {
    // The socket's own thread (call_through, inline I/O) / the only run() thread.
    EXPECT_EQ(r.thread, callbackThread);
  }
}

TEST_P(CoroTest, OperationsCompletingAtOnceNeverResumeInsideTheInitiation) {
  auto [a, b] = socketPair();
  auto body = [](AsyncSocket a, AsyncSocket b) -> coro::Task<int> {
    int inside = 0;
    for (int i = 0; i < 200; ++i) {
      // The write finds room and the read finds data at once (speculative I/O): both complete
      // in their initiation, and still resume the coroutine from their handlers.
      co_await insideApi(coro::write(a, bufferOf("x")));
      inside += insideApiCall();
      co_await insideApi(coro::read(b, ByteBuffer::allocate(1)));
      inside += insideApiCall();
    }
    co_return inside;
  };
  EXPECT_EQ(run(body(a, b)), 0);
}

[[gnu::noinline]] std::uintptr_t stackPointer() {
  volatile char here = 0;
  return reinterpret_cast<std::uintptr_t>(&here);
}

// A loop of operations that complete at once (Proactor::post): each resumes from the dispatcher,
// not from inside the previous await, so the stack stays flat. The full million where a post
// costs least (one run() thread: ~0.15 us; a call_through post from a processor thread waits
// for the next reactor turn, ~2.5 us), fewer elsewhere.
TEST_P(CoroTest, MillionImmediateCompletionsDoNotGrowTheStack) {
  const bool full = GetParam().name == "post_reactive_driven_1runner";
  const long n = full ? coroIterations(1'000'000, 20'000) : coroIterations(10'000, 2'000);
  auto body = [](Proactor& p, long n) -> coro::Task<std::uintptr_t> {
    std::uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (long i = 0; i < n; ++i) {
      co_await coro::post(p);
      const auto sp = stackPointer();
      lo = std::min(lo, sp);
      hi = std::max(hi, sp);
    }
    co_return hi - lo;
  };
  const std::uintptr_t spread = run(body(proactor(), n));
  // Where every resumption is on one thread (stack addresses of other threads do not compare).
  if (full || GetParam().name == "call_through_inline_r1") {
    EXPECT_LT(spread, 64u * 1024) << "the stack grew by " << spread << " bytes";
  }
}

}  // namespace
}  // namespace nioxx::conformance
