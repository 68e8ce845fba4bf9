// Initiations the Proactor refuses (read_pending, queue_full, closed) are completions like any
// other: never inside the refused call, serialised with the channel's other handlers, and in
// initiation order with the channel's other operations of the same direction.
#include <atomic>
#include <condition_variable>
#include <mutex>

#include "conformance_fixture.h"

namespace nioxx::conformance {
namespace {

// The write queue is full (ProactorOptions::writeQueueLimit writes accepted, not completed): one
// more write completes with queue_full, and, like any write, after the writes initiated before it.
TEST_P(ConformanceTest, WriteRefusedWithQueueFullCompletesAfterTheEarlierQueuedWrites) {
  auto [socket, peer] = socketAndPeer();
  socket.setWriteBufferLimit(SIZE_MAX);  // the count limit is under test, not the byte limit
  const std::size_t limit = proactor().options().writeQueueLimit;
  ASSERT_GT(limit, 1u);
  constexpr std::size_t kStuck = 4 << 20;  // far more than the socket buffer: the queue backs up
  struct State {
    std::atomic<std::size_t> order{0};
    std::atomic<std::size_t> completed{0};
    std::atomic<std::size_t> highestSeq{0};
    std::atomic<std::size_t> reordered{0};
    std::atomic<std::size_t> insideApi{0};
    std::atomic<std::size_t> refusedAt{SIZE_MAX};
    std::error_code refusedError;
  };
  auto s = std::make_shared<State>();
  const std::size_t refusedSeq = limit + 1;  // sequence numbers start at 1
  auto handler = [s, refusedSeq](IoResult& r, std::size_t& seq) {
    if (insideApiCall()) s->insideApi.fetch_add(1);
    const std::size_t at = s->order.fetch_add(1);
    if (seq < s->highestSeq.load()) {
      s->reordered.fetch_add(1);
    } else {
      s->highestSeq.store(seq);
    }
    if (seq == refusedSeq) {
      s->refusedError = r.error();
      s->refusedAt = at;
    }
    s->completed.fetch_add(1);
  };
  api([&, &w = socket] { w.writeAll(ByteBuffer::allocate(kStuck), std::size_t{1}, handler); });
  ByteBuffer one = bufferOf("x");
  for (std::size_t seq = 2; seq <= limit; ++seq)
    api([&, &w = socket] { w.write(one.duplicate(), seq, handler); });
  api([&, &w = socket] { w.write(one.duplicate(), refusedSeq, handler); });
  // Drain: the queued writes complete, and so must the refused one, after them.
  const std::string drained = readPeer(peer.get(), kStuck + limit - 1);
  EXPECT_EQ(drained.size(), kStuck + limit - 1) << "the queued writes did not all arrive";
  ASSERT_TRUE(eventually([&] { return s->completed.load() == limit + 1; }))
      << s->completed.load() << " of " << limit + 1 << " writes completed";
  EXPECT_EQ(s->refusedError, Error::queue_full) << s->refusedError.message();
  EXPECT_EQ(s->refusedAt.load(), limit)
      << "the write refused with queue_full completed as number " << s->refusedAt.load()
      << ", before writes initiated ahead of it";
  EXPECT_EQ(s->reordered.load(), 0u) << "write completions out of initiation order";
  EXPECT_EQ(s->insideApi.load(), 0u) << "write handlers ran inside write()";
}

// A read refused with read_pending belongs to the channel: its handler must not run while
// another handler of the same channel is running (handlers of one channel never run at once).
TEST_P(ConformanceTest, ReadRefusedWithReadPendingNeverRunsAlongsideTheChannelsHandlers) {
  auto [a, b] = socketPair();
  struct State {
    std::mutex mutex;
    std::condition_variable cv;
    std::atomic<int> inHandler{0};
    std::atomic<int> overlaps{0};
    std::atomic<int> insideApi{0};
    std::atomic<bool> slowHandlerRunning{false};
    std::atomic<bool> slowHandlerDone{false};
    int refused = 0;  // guarded by mutex
    std::error_code refusedErrors[2];
    void enter() {
      if (inHandler.fetch_add(1) != 0) overlaps.fetch_add(1);
      if (insideApiCall()) insideApi.fetch_add(1);
    }
    void leave() { inHandler.fetch_sub(1); }
  };
  auto s = std::make_shared<State>();
  auto pendingRead = api([&, &b = b] { return b.read(ByteBuffer::allocate(8), use_future); });
  // A slow handler of b: it stays inside until both refused reads completed, or 300 ms passed
  // (which is what an engine that serialises them correctly makes it wait).
  api([&, &b = b] {
    b.write(bufferOf("w"), [s](IoResult&) {
      s->enter();
      s->slowHandlerRunning = true;
      std::unique_lock lock(s->mutex);
      s->cv.wait_for(lock, 300ms, [&] { return s->refused == 2; });
      lock.unlock();
      s->leave();
      s->slowHandlerDone = true;
    });
  });
  ASSERT_TRUE(eventually([&] { return s->slowHandlerRunning.load(); }));
  for (int i = 0; i < 2; ++i) {
    api([&, &b = b] {
      b.read(ByteBuffer::allocate(8), i, [s](IoResult& r, int& index) {
        s->enter();
        s->refusedErrors[index] = r.error();
        s->leave();
        std::lock_guard lock(s->mutex);
        ++s->refused;
        s->cv.notify_all();
      });
    });
  }
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(s->mutex);
    return s->refused == 2 && s->slowHandlerDone.load();
  }));
  EXPECT_EQ(s->refusedErrors[0], Error::read_pending) << s->refusedErrors[0].message();
  EXPECT_EQ(s->refusedErrors[1], Error::read_pending) << s->refusedErrors[1].message();
  EXPECT_EQ(s->overlaps.load(), 0)
      << "a read_pending completion ran while another handler of the same socket was running";
  EXPECT_EQ(s->insideApi.load(), 0);
  auto sent = api([&, &a = a] { return a.writeAll(bufferOf("done"), use_future); });
  awaitResult(sent, "writeAll(done)");
  EXPECT_TRUE(awaitResult(pendingRead, "the pending read").success());
}

}  // namespace
}  // namespace nioxx::conformance
