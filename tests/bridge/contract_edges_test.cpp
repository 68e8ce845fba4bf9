// The proactor's guarantees at the edges of the emulated engine: fairness of call_through, the
// thread a rejected initiation completes on, what close() does to the descriptor number,
// half-close, per-operation cancellation, timeouts on a long write queue, and the observer's view
// of work the processor runs for the dispatcher.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "nioxx/proactor/live_counts.h"
#include "proactor_fixture.h"

namespace nioxx::test {
namespace {

using ContractEdgeTest = ProactorTest;

// Small fixed socket buffers (no autotuning): a 16 MiB write then stays stuck while the peer does
// not read, whatever the machine's TCP memory settings.
void shrinkBuffers(const AsyncSocket& writer, const AsyncSocket& reader) {
  const int size = 64 * 1024;
  ::setsockopt(writer.fd(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  ::setsockopt(reader.fd(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

// A read handler that re-initiates and always finds data must not hold its thread for ever:
// another socket's read completes while the flood goes on.
TEST_P(ContractEdgeTest, FloodedSocketDoesNotStarveOthers) {
  auto [floodClient, floodServer] = connectedPair();
  auto [quietClient, quietServer] = connectedPair();
  std::atomic<bool> stop{false};
  std::thread writer([&, fd = floodClient.fd()] {
    std::vector<char> chunk(64 * 1024, 'f');
    while (!stop.load()) {
      if (::send(fd, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
  });
  std::atomic<long> floodReads{0};
  // The handlers refer to this frame: the test returns only once the chain has ended.
  std::atomic<bool> chainEnded{false};
  std::function<void()> readOne = [&, s = floodServer]() mutable {
    s.read(ByteBuffer::allocate(1), NoAct{}, [&](IoResult& r) {
      if (!r.success() || stop.load()) {
        chainEnded.store(true);
        return;
      }
      floodReads.fetch_add(1);
      readOne();
    });
  };
  readOne();
  ASSERT_TRUE(eventually([&] { return floodReads.load() > 1000; }));
  auto quiet = quietServer.read(ByteBuffer::allocate(8), use_future);
  quietClient.writeAll(bufferOf("hi"), use_future).wait_for(kWait);
  const bool served = quiet.wait_for(kWait) == std::future_status::ready;
  stop = true;
  writer.join();
  floodServer.close();
  EXPECT_TRUE(eventually([&] { return chainEnded.load(); }));
  EXPECT_TRUE(served) << "the quiet socket's read starved behind the flooded one";
  if (!served) abandon("quiet read");
  EXPECT_EQ(drained(quiet.get().buffer()), "hi");
}

// A write refused because the socket is closed completes like the socket's other handlers: on
// the thread that runs them (call_through: the socket's loop), never on the initiator's loop.
TEST_P(ContractEdgeTest, RejectionCompletesOnTheChannelsOwnPath) {
  auto [a1, a2] = connectedPair();
  auto [b1, b2] = connectedPair();
  std::mutex m;
  std::set<std::thread::id> bThreads;
  std::atomic<int> bActive{0};
  std::atomic<int> overlaps{0};
  auto bHandler = [&](IoResult&) {
    if (bActive.fetch_add(1) != 0) overlaps.fetch_add(1);
    {
      std::lock_guard lock(m);
      bThreads.insert(std::this_thread::get_id());
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    bActive.fetch_sub(1);
  };
  std::promise<void> bFirst;
  b1.write(bufferOf("x"), NoAct{}, [&](IoResult& r) {
    bHandler(r);
    bFirst.set_value();
  });
  ASSERT_EQ(bFirst.get_future().wait_for(kWait), std::future_status::ready);
  b1.close();
  std::atomic<int> refused{0};
  // From a handler of socket a (another loop with two reactors), write to the closed socket b.
  std::promise<void> done;
  a1.write(bufferOf("y"), NoAct{}, [&, b = b1](IoResult&) mutable {
    for (int i = 0; i < 20; ++i) {
      b.write(bufferOf("z"), NoAct{}, [&](IoResult& r) {
        if (r.error() == Error::closed) refused.fetch_add(1);
        bHandler(r);
        if (refused.load() == 20) done.set_value();
      });
    }
  });
  ASSERT_EQ(done.get_future().wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(overlaps.load(), 0);
  if (GetParam().strategy == DispatchStrategy::call_through &&
      GetParam().ioMode == IoMode::inline_io) {
    std::lock_guard lock(m);
    EXPECT_EQ(bThreads.size(), 1u) << "socket b's handlers ran on more than one loop thread";
  }
}

// close() releases the connection at once (the peer sees it), but the descriptor number stays
// the closed socket's until its last handle is gone: no new connection can take it, and the
// getters answer for the closed socket, not for whatever reused the number.
TEST_P(ContractEdgeTest, ClosedSocketKeepsItsDescriptorNumber) {
  auto [client, server] = connectedPair();
  const int fd = client.fd();
  client.close();
  IoResult eof = server.read(ByteBuffer::allocate(8), use_future).get();
  EXPECT_TRUE(eof.endOfStream()) << eof.error().message();
  auto [other1, other2] = connectedPair();
  EXPECT_NE(other1.fd(), fd);
  EXPECT_NE(other2.fd(), fd);
  EXPECT_EQ(client.fd(), fd);
  EXPECT_FALSE(client.remoteAddress().has_value());
  EXPECT_TRUE(client.setNoDelay(true)) << "setNoDelay on a closed socket must fail";
  EXPECT_EQ(client.read(ByteBuffer::allocate(4), use_future).get().error(),
            make_error_code(Error::closed));
}

// Half-close: after shutdownOutput() the peer reads end of stream, and this side can still read
// what the peer sends; after shutdownInput() a read sees end of stream.
TEST_P(ContractEdgeTest, HalfCloseBothDirections) {
  auto [client, server] = connectedPair();
  client.writeAll(bufferOf("last"), use_future).get();
  EXPECT_FALSE(client.shutdownOutput());
  IoResult got = server.readExactly(ByteBuffer::allocate(4), use_future).get();
  EXPECT_EQ(drained(got.buffer()), "last");
  EXPECT_TRUE(server.read(ByteBuffer::allocate(4), use_future).get().endOfStream());
  server.writeAll(bufferOf("reply"), use_future).get();
  IoResult reply = client.readExactly(ByteBuffer::allocate(5), use_future).get();
  EXPECT_EQ(drained(reply.buffer()), "reply");
  EXPECT_FALSE(server.shutdownInput());
  EXPECT_TRUE(server.read(ByteBuffer::allocate(4), use_future).get().endOfStream());
}

// cancel(id) aborts that operation only, and in its place: a write cancelled behind a stuck one
// completes (aborted, nothing of it sent) after the write before it, and the write after it
// still goes out.
TEST_P(ContractEdgeTest, CancelOneOperationById) {
  auto [client, server] = connectedPair();
  shrinkBuffers(client, server);
  std::mutex m;
  std::vector<std::pair<int, std::error_code>> done;
  auto record = [&](IoResult& r, int& n) {
    std::lock_guard lock(m);
    done.emplace_back(n, r.error());
  };
  // 2 MiB: far more than the shrunk socket buffers hold, so the queue waits (16 MiB took 5 s
  // per engine under TSan for no more coverage).
  const std::size_t big = 2u << 20;
  client.writeAll(ByteBuffer::allocate(big), 1, record);
  const OperationId id = client.writeAll(bufferOf("2"), 2, record);
  client.writeAll(bufferOf("3"), 3, record);
  client.cancel(id);
  // The peer reads everything: the first and third writes arrive, "2" does not.
  std::size_t total = 0;
  std::string tail;
  while (total < big + 1) {
    IoResult r = server.read(ByteBuffer::allocate(1 << 20), use_future).get();
    ASSERT_TRUE(r.success()) << r.error().message();
    total += r.bytesTransferred();
    if (total > big) tail = drained(r.buffer()).substr(r.bytesTransferred() - (total - big));
  }
  EXPECT_EQ(tail, "3");
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(m);
    return done.size() == 3;
  }));
  std::lock_guard lock(m);
  EXPECT_EQ(done[0], std::make_pair(1, std::error_code()));
  EXPECT_EQ(done[1], std::make_pair(2, make_error_code(Error::operation_aborted)));
  EXPECT_EQ(done[2], std::make_pair(3, std::error_code()));
}

// A write's timeout runs while it waits at the head of the write queue: a write queued behind a
// stuck one does not time out first (that would complete it before the writes before it). With
// a peer that never reads, the head times out, then each write behind it in turn, in order.
TEST_P(ContractEdgeTest, WriteTimeoutsRunFromTheHeadOfTheQueue) {
  auto [client, server] = connectedPair();
  shrinkBuffers(client, server);
  client.setWriteBufferLimit(SIZE_MAX);  // 16 MiB queued: beyond the default byte limit (4 MiB)
  constexpr int kWrites = 8;
  std::mutex m;
  std::vector<int> order;
  std::promise<void> all;
  const auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration headDone{};
  for (int i = 0; i < kWrites; ++i) {
    const bool head = i == 0;
    client.writeAll(
        head ? ByteBuffer::allocate(16u << 20) : bufferOf("w"), i,
        [&](IoResult& r, int& n) {
          EXPECT_TRUE(r.timedOut()) << "write " << n << ": " << r.error().message();
          std::lock_guard lock(m);
          if (n == 0) headDone = std::chrono::steady_clock::now() - start;
          order.push_back(n);
          if (order.size() == kWrites) all.set_value();
        },
        head ? 200ms : 10ms);
  }
  if (all.get_future().wait_for(kWait) != std::future_status::ready) abandon("timed-out writes");
  std::lock_guard lock(m);
  for (int i = 0; i < kWrites; ++i)
    EXPECT_EQ(order[i], i);
  EXPECT_GE(headDone, 190ms) << "the head write timed out early";
}

INSTANTIATE_TEST_SUITE_P(
    Strategies, ContractEdgeTest,
    ::testing::Values(ProactorParam{DispatchStrategy::call_through, IoMode::inline_io, 1},
                      ProactorParam{DispatchStrategy::call_through, IoMode::inline_io, 2},
                      ProactorParam{DispatchStrategy::post_reactive},
                      ProactorParam{DispatchStrategy::post_reactive, IoMode::inline_io, 1, true, 3},
                      ProactorParam{DispatchStrategy::pool},
                      ProactorParam{DispatchStrategy::call_through, IoMode::worker_pool}),
    [](const ::testing::TestParamInfo<ProactorParam>& info) {
      return paramName(info) + "_r" + std::to_string(info.param.reactors);
    });

// Work the processor runs for the dispatcher (a post() from outside any processor thread, under
// call_through) reaches the observer's dispatched phase like every other completion.
TEST(ContractEdgeObserver, ExecutedWorkIsDispatched) {
  struct Count final : OperationObserver {
    std::atomic<int> completed{0};
    std::atomic<int> dispatched{0};
    void onPhase(const Operation& op, OpPhase phase) noexcept override {
      if (op.kind() != OpKind::post) return;
      if (phase == OpPhase::completed) completed.fetch_add(1);
      if (phase == OpPhase::dispatched) dispatched.fetch_add(1);
    }
  } observer;
  EmulatedProactorOptions o;
  o.proactor.strategy = DispatchStrategy::call_through;
  o.proactor.observer = &observer;
  o.processor.reactorThreads = 2;
  {
    Proactor proactor = makeEmulatedProactor(o);
    std::atomic<int> ran{0};
    for (int i = 0; i < 50; ++i)
      proactor.post([&] { ran.fetch_add(1); });
    ASSERT_TRUE(eventually([&] { return ran.load() == 50; }));
    proactor.shutdown();
  }
  EXPECT_EQ(observer.completed.load(), 50);
  EXPECT_EQ(observer.dispatched.load(), 50);
}

// An observer is called only for what it wants (OperationObserver::wanted()): metrics that need
// two phases must not pay for the engine's waiting/performing reports or handler ends.
struct PhaseCounter final : OperationObserver {
  explicit PhaseCounter(unsigned w) : want(w) {}
  unsigned want;
  std::atomic<int> phases[5]{};
  std::atomic<int> handlerEnds{0};
  void onPhase(const Operation&, OpPhase phase) noexcept override {
    phases[static_cast<int>(phase)].fetch_add(1);
  }
  void onHandlerEnd(std::uint64_t, OpKind) noexcept override { handlerEnds.fetch_add(1); }
  unsigned wanted() const noexcept override { return want; }
};

// waitingSeen (optional): how many waiting phases the observer saw; the data is sent only once the
// read has reported waiting, so the read cannot find it already there.
int readsAfterWaiting(OperationObserver& observer, const std::atomic<int>* waitingSeen = nullptr) {
  EmulatedProactorOptions o;
  o.proactor.strategy = DispatchStrategy::post_reactive;
  o.proactor.observer = &observer;
  Proactor proactor = makeEmulatedProactor(o);
  std::thread runner([&] { proactor.run(); });
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  AsyncSocket socket = AsyncSocket::adopt(proactor, sv[0]);
  constexpr int kReads = 5;
  for (int i = 0; i < kReads; ++i) {
    auto got = socket.read(ByteBuffer::allocate(1), use_future);  // waits: nothing sent yet
    if (waitingSeen != nullptr) {
      EXPECT_TRUE(eventually([&] { return waitingSeen->load() > i; }));
    }
    EXPECT_EQ(::write(sv[1], "x", 1), 1);
    EXPECT_EQ(got.get().bytesTransferred(), 1u);
  }
  socket.close();
  ::close(sv[1]);
  proactor.stop();
  runner.join();
  proactor.shutdown();
  return kReads;
}

TEST(ContractEdgeObserver, OnlyWantedPhasesAreReported) {
  PhaseCounter onlyDispatched(OperationObserver::phaseBit(OpPhase::dispatched));
  const int reads = readsAfterWaiting(onlyDispatched);
  EXPECT_EQ(onlyDispatched.phases[static_cast<int>(OpPhase::dispatched)].load(), reads);
  for (OpPhase p : {OpPhase::initiated, OpPhase::waiting, OpPhase::performing, OpPhase::completed})
    EXPECT_EQ(onlyDispatched.phases[static_cast<int>(p)].load(), 0) << toString(p);
  EXPECT_EQ(onlyDispatched.handlerEnds.load(), 0);

  PhaseCounter everything(OperationObserver::kEverything);
  readsAfterWaiting(everything, &everything.phases[static_cast<int>(OpPhase::waiting)]);
  for (OpPhase p : {OpPhase::initiated, OpPhase::completed, OpPhase::dispatched})
    EXPECT_EQ(everything.phases[static_cast<int>(p)].load(), reads) << toString(p);
  EXPECT_GE(everything.phases[static_cast<int>(OpPhase::waiting)].load(), 1);
  EXPECT_GE(everything.phases[static_cast<int>(OpPhase::performing)].load(), reads);
  EXPECT_EQ(everything.handlerEnds.load(), reads);
}

}  // namespace
}  // namespace nioxx::test
