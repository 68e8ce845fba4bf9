// Leader/followers: with post_reactive (EmulatedProcessor::Options::driven) the threads inside
// Proactor::run() drive the processor's one Reactor themselves. These tests check what that
// arrangement promises beyond the common guarantees: no processor thread, order and
// serialisation with several drivers, stop/shutdown interrupting a driver, and no lost operation
// when nobody runs the Proactor.
#include <dirent.h>

#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <vector>

#include "proactor_fixture.h"

namespace nioxx::test {
namespace {

// Threads of this process (entries of /proc/self/task).
std::size_t threadCount() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
  }
  return n;
}

// Records the threads that performed I/O while `recording` is set.
class PerformThreads final : public OperationObserver {
 public:
  void onPhase(const Operation& /*op*/, OpPhase phase) noexcept override {
    if (phase != OpPhase::performing || !recording.load()) return;
    std::lock_guard lock(m);
    ids.insert(std::this_thread::get_id());
  }
  std::atomic<bool> recording{false};
  std::mutex m;
  std::set<std::thread::id> ids;
};

// Bounces a 4-byte counter between two sockets `left` times, initiating from the handlers.
struct PingPong {
  AsyncSocket a, b;
  std::atomic<int> left{0};
  std::mutex m;
  std::set<std::thread::id> handlerThreads;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};

  void note() {
    std::lock_guard lock(m);
    handlerThreads.insert(std::this_thread::get_id());
  }
  void serve(AsyncSocket& from, AsyncSocket& to) {
    from.readExactly(ByteBuffer::allocate(4), [this, &from, &to](IoResult& r) {
      note();
      if (!r.success()) {
        failures.fetch_add(1);
        done = true;
        return;
      }
      if (left.fetch_sub(1) <= 1) {
        done = true;
        return;
      }
      to.writeAll(bufferOf("ping"), [this](IoResult& w) {
        note();
        if (!w.success()) failures.fetch_add(1);
      });
      serve(from, to);
    });
  }
};

// With one run() thread the process gains exactly one thread, and that thread performs every
// operation's I/O and runs every handler: no processor thread, hence no hand-off.
TEST(DriveTest, OneRunThreadDoesEverything) {
  std::thread([] {}).join();  // runtimes that start a helper thread with the first thread (TSan)
  const std::size_t baseline = threadCount();
  PerformThreads observer;
  EmulatedProactorOptions o;
  o.proactor.strategy = DispatchStrategy::post_reactive;
  o.proactor.observer = &observer;
  Proactor proactor = makeEmulatedProactor(o);
  std::thread runner([&] { proactor.run(); });
  const std::thread::id runnerId = runner.get_id();

  AsyncServerSocket server = AsyncServerSocket::open(proactor);
  ASSERT_FALSE(server.bind(InetSocketAddress::loopback(0)));
  auto accepted = server.accept(use_future);
  AsyncSocket client = AsyncSocket::open(proactor);
  ASSERT_TRUE(client.connect(*server.localAddress(), use_future).get().success());
  AcceptResult a = accepted.get();
  ASSERT_TRUE(a.success());

  PingPong pp;
  pp.a = client;
  pp.b = a.socket();
  pp.left = 200;
  std::atomic<std::size_t> threadsDuring{0};
  observer.recording = true;
  // Started from a handler, so every initiation below happens on the run() thread.
  proactor.post([&] {
    threadsDuring = threadCount();
    pp.serve(pp.a, pp.b);
    pp.serve(pp.b, pp.a);
    pp.a.writeAll(bufferOf("ping"), [](IoResult&) {});
  });
  ASSERT_TRUE(eventually([&] { return pp.done.load(); }));
  observer.recording = false;
  EXPECT_EQ(pp.failures.load(), 0);
  EXPECT_EQ(threadsDuring.load(), baseline + 1);  // the run() thread only
  {
    std::lock_guard lock(pp.m);
    EXPECT_EQ(pp.handlerThreads, std::set<std::thread::id>{runnerId});
  }
  {
    std::lock_guard lock(observer.m);
    EXPECT_EQ(observer.ids, std::set<std::thread::id>{runnerId});
  }
  client.close();
  pp.a.close();
  pp.b.close();
  proactor.stop();
  runner.join();
  proactor.shutdown();
}

// Without a run() thread nothing is lost: an operation waits in the Reactor, and the next
// runOnce(0) (a poll) drives it and runs its handler.
TEST(DriveTest, NobodyRunningLosesNothingAndRunOnceZeroPolls) {
  Proactor proactor = makeEmulatedProactor(DispatchStrategy::post_reactive);
  AsyncServerSocket server = AsyncServerSocket::open(proactor);
  ASSERT_FALSE(server.bind(InetSocketAddress::loopback(0)));
  auto accepted = server.accept(use_future);
  AsyncSocket client = AsyncSocket::open(proactor);
  auto connected = client.connect(*server.localAddress(), use_future);
  ASSERT_TRUE(eventually([&] {
    proactor.runOnce(std::chrono::nanoseconds(0));
    return accepted.wait_for(0s) == std::future_status::ready &&
           connected.wait_for(0s) == std::future_status::ready;
  }));
  ASSERT_TRUE(connected.get().success());
  AsyncSocket peer = accepted.get().socket();

  auto read = peer.read(ByteBuffer::allocate(16), use_future);
  // The write is tried at once by this (initiating) thread, so the bytes are on the wire now.
  auto written = client.writeAll(bufferOf("hello"), use_future);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(read.wait_for(0s), std::future_status::timeout);  // post_reactive: needs run()
  ASSERT_TRUE(eventually([&] {
    proactor.runOnce(std::chrono::nanoseconds(0));
    return read.wait_for(0s) == std::future_status::ready;
  }));
  IoResult r = read.get();
  ASSERT_TRUE(r.success());
  EXPECT_EQ(drained(r.buffer()), "hello");
  EXPECT_TRUE(written.get().success());
  proactor.shutdown();
}

class DriveTest : public ProactorTest {};

// Many sockets, several drivers: every channel's reads see its writer's sequence in order, and
// two handlers of one channel never overlap.
TEST_P(DriveTest, ManySocketsKeepOrderAndNeverOverlapPerChannel) {
  constexpr int kPairs = 24;
  constexpr std::uint32_t kMessages = 100;
  struct Channel {
    AsyncSocket client, server;
    std::atomic<bool> inHandler{false};
    std::uint32_t expected = 0;  // touched by the channel's (serialised) handlers only
  };
  std::vector<std::unique_ptr<Channel>> chans;
  for (int i = 0; i < kPairs; ++i) {
    auto [c, s] = connectedPair();
    chans.push_back(std::make_unique<Channel>());
    chans.back()->client = c;
    chans.back()->server = s;
  }
  std::atomic<int> overlaps{0};
  std::atomic<int> disorder{0};
  std::atomic<int> finished{0};
  std::function<void(Channel&)> readNext = [&](Channel& ch) {
    ch.server.readExactly(ByteBuffer::allocate(4), [&, c = &ch](IoResult& r) {
      if (c->inHandler.exchange(true)) overlaps.fetch_add(1);
      std::this_thread::yield();  // widen the window a concurrent handler would need
      if (!r.success()) {
        disorder.fetch_add(1);
        c->inHandler = false;
        return;
      }
      std::uint32_t v;
      std::memcpy(&v, r.buffer().array(), 4);
      if (v != c->expected) disorder.fetch_add(1);
      const bool more = ++c->expected < kMessages;
      c->inHandler = false;
      if (more) {
        readNext(*c);
      } else {
        finished.fetch_add(1);
      }
    });
  };
  for (auto& ch : chans)
    readNext(*ch);
  // Writes from this thread and, for half the channels, from a second thread too: the FIFO
  // write queue keeps each writer's order (here one writer per channel).
  std::thread other([&] {
    for (std::size_t i = 1; i < chans.size(); i += 2) {
      for (std::uint32_t v = 0; v < kMessages; ++v) {
        ByteBuffer b = ByteBuffer::allocate(4);
        b.put(std::string_view(reinterpret_cast<const char*>(&v), 4));
        b.flip();
        chans[i]->client.writeAll(std::move(b), [](IoResult&) {});
      }
    }
  });
  for (std::size_t i = 0; i < chans.size(); i += 2) {
    for (std::uint32_t v = 0; v < kMessages; ++v) {
      ByteBuffer b = ByteBuffer::allocate(4);
      b.put(std::string_view(reinterpret_cast<const char*>(&v), 4));
      b.flip();
      chans[i]->client.writeAll(std::move(b), [](IoResult&) {});
    }
  }
  other.join();
  ASSERT_TRUE(eventually([&] { return finished.load() == kPairs; }));
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(disorder.load(), 0);
}

// stop() makes every run() thread return, the driver included; restart() + run() drives again.
TEST_P(DriveTest, StopInterruptsTheDriverAndRestartDrivesAgain) {
  auto [a, b] = connectedPair();
  stopRunners();
  proactor().restart();
  auto read = b.read(ByteBuffer::allocate(8), use_future);
  a.writeAll(bufferOf("x"), [](IoResult&) {});
  for (std::size_t i = 0; i < GetParam().runners; ++i)
    runners_.emplace_back([this] { proactor().run(); });
  ASSERT_EQ(read.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(read.get().success());
}

// shutdown() while run() threads are driving (as the demo servers do): reads, timeouts and timers
// in flight complete exactly once with operation_aborted before it returns; the run() threads
// then return.
TEST_P(DriveTest, ShutdownWhileDrivingAbortsEverythingOnce) {
  constexpr int kPairs = 8;
  std::vector<std::pair<AsyncSocket, AsyncSocket>> pairs;
  for (int i = 0; i < kPairs; ++i)
    pairs.push_back(connectedPair());
  std::atomic<int> aborted{0};
  std::atomic<int> other{0};
  std::atomic<bool> returned{false};
  std::atomic<int> late{0};
  auto h = [&](auto& r) {
    if (returned.load()) late.fetch_add(1);
    (r.aborted() ? aborted : other).fetch_add(1);
  };
  for (auto& [c, s] : pairs) {
    c.read(ByteBuffer::allocate(8), NoAct{}, h, 30s);
    s.read(ByteBuffer::allocate(8), NoAct{}, h);
  }
  proactor().scheduleTimer(30s, NoAct{}, h);
  std::this_thread::sleep_for(10ms);  // let a runner block in the Reactor
  proactor().shutdown();
  returned = true;
  EXPECT_EQ(aborted.load(), 2 * kPairs + 1);
  EXPECT_EQ(other.load(), 0);
  for (auto& t : runners_)
    t.join();  // shutdown made run() return everywhere
  runners_.clear();
  EXPECT_EQ(late.load(), 0);
  proactor_.reset();
}

INSTANTIATE_TEST_SUITE_P(Drivers, DriveTest,
                         ::testing::Values(ProactorParam{DispatchStrategy::post_reactive,
                                                         IoMode::inline_io, 1, true, 1},
                                           ProactorParam{DispatchStrategy::post_reactive,
                                                         IoMode::inline_io, 1, true, 3}),
                         paramName);

}  // namespace
}  // namespace nioxx::test
