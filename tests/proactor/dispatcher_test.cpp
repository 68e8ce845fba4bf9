// The Completion Dispatcher's guarantees tested on their own, with a fake in-memory processor
// (no reactor, no real I/O): the test plays the processor's thread and completes operations.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "nioxx/proactor/all.h"
#include "nioxx/proactor/spi/async_operation_processor.h"

namespace nioxx {
namespace {

using namespace std::chrono_literals;

// Holds submitted operations until the test completes them (in submission order).
class FakeProcessor final : public AsyncOperationProcessor {
 public:
  void start(CompletionSink& sink, const ProcessorConfig&) override { sink_ = &sink; }
  void attach(AsyncChannel&) override {
    if (attachesLeft_.fetch_sub(1) <= 0) throw std::runtime_error("fake: attach refused");
  }
  void detach(AsyncChannel& c) noexcept override {
    detaches_.fetch_add(1);
    ::close(c.fd());
  }
  // attach() succeeds n more times, then throws.
  void refuseAttachAfter(int n) { attachesLeft_ = n; }
  int detaches() const { return detaches_.load(); }
  // Completes the oldest queued operation as an accept of fd.
  void completeAccept(int fd) {
    Operation* op;
    {
      std::lock_guard lock(m_);
      op = ops_.front();
      ops_.erase(ops_.begin());
    }
    op->acceptedFd = fd;
    if (op->tryTransition(OpState::pending, OpState::completed)) sink_->complete(op);
  }
  void addBufferGroup(const std::shared_ptr<ProvidedBuffers>&) override {}
  void submit(Operation* op) noexcept override {
    if (op->error) {  // a rejection: completed at once (the sink defers it past the API call)
      if (op->tryTransition(OpState::pending, OpState::completed)) sink_->complete(op);
      return;
    }
    std::lock_guard lock(m_);
    if (down_) return abort(op);
    ops_.push_back(op);
  }
  void cancel(AsyncChannel& c) noexcept override {
    abortIf([&](Operation* op) { return op->channel() == &c; });
  }
  void cancelOperation(AsyncChannel&, std::uint64_t id) noexcept override {
    abortIf([&](Operation* op) { return op->id() == id; });
  }
  void close(AsyncChannel& c) noexcept override { cancel(c); }
  void cancelTimer(std::uint64_t id) noexcept override {
    abortIf([&](Operation* op) { return op->id() == id; });
  }
  void shutdown() noexcept override {
    {
      std::lock_guard lock(m_);
      down_ = true;
    }
    abortIf([](Operation*) { return true; });
  }
  bool execute(detail::DispatchNode*) noexcept override { return false; }

  // Completes every queued operation with n bytes, on the calling thread.
  std::size_t completeAll(std::size_t n) {
    std::vector<Operation*> ops;
    {
      std::lock_guard lock(m_);
      ops.swap(ops_);
    }
    for (Operation* op : ops) {
      op->transferred = n;
      if (op->tryTransition(OpState::pending, OpState::completed)) sink_->complete(op);
    }
    return ops.size();
  }
  std::size_t queued() {
    std::lock_guard lock(m_);
    return ops_.size();
  }

 private:
  void abort(Operation* op) {
    if (op->tryAbort(OpState::cancelled)) sink_->complete(op);
  }
  template <class Pred>
  void abortIf(Pred pred) {
    std::vector<Operation*> hit;
    {
      std::lock_guard lock(m_);
      for (auto it = ops_.begin(); it != ops_.end();) {
        if (pred(*it)) {
          hit.push_back(*it);
          it = ops_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (Operation* op : hit)
      abort(op);
  }

  CompletionSink* sink_ = nullptr;
  std::atomic<int> attachesLeft_{1 << 30};
  std::atomic<int> detaches_{0};
  std::mutex m_;
  std::vector<Operation*> ops_;
  bool down_ = false;
};

struct Recorder : OperationObserver {
  std::atomic<int> phases[5]{};
  void onPhase(const Operation&, OpPhase p) noexcept override {
    phases[static_cast<int>(p)].fetch_add(1);
  }
};

class DispatcherTest : public ::testing::TestWithParam<DispatchStrategy> {
 protected:
  void SetUp() override {
    auto fake = std::make_unique<FakeProcessor>();
    fake_ = fake.get();
    ProactorOptions o;
    o.strategy = GetParam();
    o.poolThreads = 4;
    o.observer = &recorder_;
    proactor_ = std::make_unique<Proactor>(std::move(fake), o);
    for (int i = 0; i < 3; ++i)
      runners_.emplace_back([this] { proactor_->run(); });
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ::close(sv[1]);
    socket_ = AsyncSocket::adopt(*proactor_, sv[0]);
  }
  void TearDown() override {
    proactor_->stop();
    for (auto& t : runners_)
      t.join();
    proactor_->shutdown();
  }
  template <class Cond>
  static bool eventually(Cond c) {
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (!c()) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }

  Recorder recorder_;
  FakeProcessor* fake_ = nullptr;
  std::unique_ptr<Proactor> proactor_;
  std::vector<std::thread> runners_;
  AsyncSocket socket_;
};

// One channel's completions run one at a time and in order, with 3 run() threads and a pool of 4.
TEST_P(DispatcherTest, ChannelCompletionsAreSerialAndOrdered) {
  constexpr int kOps = 2000;
  std::atomic<int> inHandler{0}, overlaps{0}, done{0};
  std::vector<int> order;
  for (int i = 0; i < kOps; ++i) {
    socket_.write(ByteBuffer::allocate(1), i, [&](IoResult& r, int& act) {
      if (inHandler.fetch_add(1) != 0) overlaps.fetch_add(1);
      EXPECT_EQ(r.bytesTransferred(), 1u);
      order.push_back(act);  // unsynchronised on purpose: TSan checks the serialisation
      inHandler.fetch_sub(1);
      done.fetch_add(1);
    });
    if (i % 100 == 99) fake_->completeAll(1);
  }
  fake_->completeAll(1);
  ASSERT_TRUE(eventually([&] { return done.load() == kOps; }));
  EXPECT_EQ(overlaps.load(), 0);
  for (int i = 0; i < kOps; ++i)
    ASSERT_EQ(order[static_cast<std::size_t>(i)], i);
}

// The observer sees every phase the dispatcher owns, once per operation.
TEST_P(DispatcherTest, ObserverSeesInitiatedCompletedDispatched) {
  std::atomic<int> done{0};
  for (int i = 0; i < 10; ++i)
    socket_.write(ByteBuffer::allocate(1), [&](IoResult&) { done++; });
  fake_->completeAll(1);
  ASSERT_TRUE(eventually([&] { return done.load() == 10; }));
  ASSERT_TRUE(eventually([&] { return recorder_.phases[4].load() == 10; }));
  EXPECT_EQ(recorder_.phases[static_cast<int>(OpPhase::initiated)].load(), 10);
  EXPECT_EQ(recorder_.phases[static_cast<int>(OpPhase::completed)].load(), 10);
}

// A second read is refused with read_pending before reaching the processor; after the first
// completes, reading works again.
TEST_P(DispatcherTest, ReadPendingIsRefusedUpFront) {
  auto first = socket_.read(ByteBuffer::allocate(4), use_future);
  auto second = socket_.read(ByteBuffer::allocate(4), use_future);
  EXPECT_EQ(second.get().error(), make_error_code(Error::read_pending));
  EXPECT_EQ(fake_->queued(), 1u);
  fake_->completeAll(4);
  EXPECT_TRUE(first.get().success());
  auto third = socket_.read(ByteBuffer::allocate(4), use_future);
  fake_->completeAll(4);
  EXPECT_TRUE(third.get().success());
}

// Shutdown aborts what the processor holds and runs those handlers before returning.
TEST_P(DispatcherTest, ShutdownAbortsQueuedOperations) {
  std::atomic<int> aborted{0};
  for (int i = 0; i < 5; ++i) {
    socket_.write(ByteBuffer::allocate(1), [&](IoResult& r) { aborted += r.aborted() ? 1 : 0; });
  }
  proactor_->stop();
  for (auto& t : runners_)
    t.join();
  runners_.clear();
  proactor_->shutdown();
  EXPECT_EQ(aborted.load(), 5);
}

// A processor that refuses a channel (attach() throws) leaves nothing behind: the error reaches
// the caller, the channel is never detached (it was never attached) and the descriptor is the
// caller's to close, once.
TEST_P(DispatcherTest, RefusedAttachLeavesNoChannelAndNoDetach) {
  fake_->refuseAttachAfter(0);
  const auto channelsBefore = liveChannelCount();
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  EXPECT_THROW(AsyncSocket::adopt(*proactor_, sv[0]), std::runtime_error);
  EXPECT_EQ(fake_->detaches(), 0);
  EXPECT_EQ(liveChannelCount(), channelsBefore);
  EXPECT_EQ(::close(sv[0]), 0) << "the descriptor was closed behind the caller's back";
  ::close(sv[1]);
}

// An accepted connection the Proactor cannot take (here: the processor refuses it) completes the
// accept with an error and no socket, instead of a "success" whose socket() is empty.
TEST_P(DispatcherTest, AcceptWhoseConnectionCannotBeAdoptedFails) {
  AsyncServerSocket server = AsyncServerSocket::open(*proactor_);
  auto accepted = server.accept(use_future);
  ASSERT_TRUE(eventually([&] { return fake_->queued() == 1; }));
  fake_->refuseAttachAfter(0);
  int cv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, cv), 0);
  fake_->completeAccept(cv[0]);
  ASSERT_EQ(accepted.wait_for(10s), std::future_status::ready);
  AcceptResult r = accepted.get();
  EXPECT_FALSE(r.success()) << "an accept whose connection was refused must fail";
  EXPECT_FALSE(static_cast<bool>(r.socket()));
  ::close(cv[1]);
}

INSTANTIATE_TEST_SUITE_P(Strategies, DispatcherTest,
                         ::testing::Values(DispatchStrategy::post_reactive,
                                           DispatchStrategy::call_through, DispatchStrategy::pool),
                         [](const auto& info) { return std::string(toString(info.param)); });

}  // namespace
}  // namespace nioxx
