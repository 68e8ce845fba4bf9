// Selector: Java NIO's documented contract (java.nio.channels.Selector), on real descriptors.
#include "nioxx/reactor/selector.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "nioxx/reactor/pipe.h"
#include "nioxx_test/reactor_helpers.h"

namespace nioxx {
namespace {

using namespace std::chrono_literals;
using test::bufferOf;

using test::writeByte;

TEST(SelectorTest, WakeupBeforeSelectReturnsImmediately) {
  Selector selector;
  selector.wakeup();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(selector.select(30s), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(SelectorTest, WakeupIsConsumedBySelect) {
  Selector selector;
  selector.wakeup().wakeup();  // coalesced: one pending wakeup
  EXPECT_EQ(selector.selectNow(), 0);
  const auto start = std::chrono::steady_clock::now();
  selector.select(30ms);  // must block again: the wakeup was consumed
  EXPECT_GE(std::chrono::steady_clock::now() - start, 25ms);
}

TEST(SelectorTest, WakeupFromAnotherThreadUnblocksSelect) {
  Selector selector;
  std::thread waker([&] {
    std::this_thread::sleep_for(20ms);
    selector.wakeup();
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(selector.select(30s), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  waker.join();
}

// Every wakeup() makes a select return, the one in progress or the next. Two threads keep
// waking the selector while it loops, so wake-ups land while it clears its flag and drains the
// wake-up descriptor; a wake-up lost for good leaves select(-1) blocked and the returns stop
// (a watchdog pipe then releases the selecting thread).
TEST(SelectorTest, WakeupFromOtherThreadsIsNeverLost) {
  constexpr int kRuns = 20;
  for (int run = 0; run < kRuns; ++run) {
    Selector selector;
    Pipe watchdog = Pipe::open();
    watchdog.source().registerWith(selector, SelectionKey::OP_READ);
    std::atomic<bool> done{false};
    std::atomic<long> returns{0};
    std::thread loop([&] {
      while (!done.load()) {
        selector.select(-1ms);
        ++returns;
      }
    });
    std::vector<std::thread> wakers;
    for (int i = 0; i < 2; ++i) {
      wakers.emplace_back([&] {
        while (!done.load())
          selector.wakeup();
      });
    }
    // Returns must keep coming while the wakers run: 2000 of them, none stalled for long.
    long seen = 0;
    auto lastProgress = std::chrono::steady_clock::now();
    bool stalled = false;
    while (seen < 2000) {
      std::this_thread::sleep_for(1ms);
      const long now = returns.load();
      if (now != seen) {
        seen = now;
        lastProgress = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - lastProgress > 3s) {
        stalled = true;
        break;
      }
    }
    done = true;
    for (auto& waker : wakers)
      waker.join();
    writeByte(watchdog);
    loop.join();
    ASSERT_FALSE(stalled) << "run " << run << ": select stayed blocked after " << seen
                          << " returns although wakeup() kept being called";
  }
}

TEST(SelectorTest, SelectTimeoutIsHonoured) {
  Selector selector;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(selector.select(50ms), 0);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 50ms);
  EXPECT_LT(elapsed, 10s);
}

TEST(SelectorTest, SelectNowDoesNotBlock) {
  Selector selector;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(selector.selectNow(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(SelectorTest, ReadyKeyIsAddedToSelectedKeys) {
  Selector selector;
  Pipe pipe = Pipe::open();
  SelectionKey& key = pipe.source().registerWith(selector, SelectionKey::OP_READ);
  EXPECT_EQ(selector.selectNow(), 0);
  writeByte(pipe);
  EXPECT_EQ(selector.select(10s), 1);
  ASSERT_EQ(selector.selectedKeys().size(), 1u);
  EXPECT_EQ(selector.selectedKeys()[0], &key);
  EXPECT_TRUE(key.isReadable());
  EXPECT_EQ(key.channel(), &pipe.source());
  EXPECT_EQ(&key.selector(), &selector);
}

TEST(SelectorTest, KeyStaysReadyWhileDataIsPending) {  // level-triggered, as Java
  Selector selector;
  Pipe pipe = Pipe::open();
  SelectionKey& key = pipe.source().registerWith(selector, SelectionKey::OP_READ);
  writeByte(pipe);
  ASSERT_EQ(selector.select(10s), 1);
  selector.selectedKeys().clear();
  EXPECT_EQ(selector.selectNow(), 1);  // not drained: still ready
  selector.selectedKeys().clear();
  ByteBuffer b = ByteBuffer::allocate(8);
  std::error_code ec;
  EXPECT_EQ(pipe.source().read(b, ec), 1);
  EXPECT_EQ(selector.selectNow(), 0);
  EXPECT_TRUE(key.isValid());
}

TEST(SelectorTest, SelectedKeyIsNotDuplicatedWhenCallerLeavesIt) {
  Selector selector;
  Pipe pipe = Pipe::open();
  pipe.source().registerWith(selector, SelectionKey::OP_READ);
  writeByte(pipe);
  ASSERT_EQ(selector.select(10s), 1);
  EXPECT_EQ(selector.selectNow(), 0);  // same ops again: no update (Java)
  EXPECT_EQ(selector.selectedKeys().size(), 1u);
}

TEST(SelectorTest, CancelThenSelectRemovesKey) {
  Selector selector;
  Pipe pipe = Pipe::open();
  SelectionKey& key = pipe.source().registerWith(selector, SelectionKey::OP_READ);
  writeByte(pipe);
  key.cancel();
  EXPECT_FALSE(key.isValid());
  EXPECT_EQ(pipe.source().keyFor(selector), nullptr);
  EXPECT_EQ(selector.keyCount(), 1u);  // deregistered at the next select, as in Java
  EXPECT_EQ(selector.selectNow(), 0);  // and its pending readiness is not reported
  EXPECT_EQ(selector.keyCount(), 0u);
  EXPECT_FALSE(pipe.source().isRegistered());
}

TEST(SelectorTest, ChannelCanRegisterAgainAfterCancel) {
  Selector selector;
  Pipe pipe = Pipe::open();
  pipe.source().registerWith(selector, SelectionKey::OP_READ).cancel();
  SelectionKey& again = pipe.source().registerWith(selector, SelectionKey::OP_READ);
  writeByte(pipe);
  EXPECT_EQ(selector.select(10s), 1);
  EXPECT_TRUE(again.isReadable());
  EXPECT_EQ(selector.keyCount(), 1u);
}

TEST(SelectorTest, ClosingChannelCancelsItsKeys) {
  Selector selector;
  Selector other;
  Pipe pipe = Pipe::open();
  SelectionKey& a = pipe.source().registerWith(selector, SelectionKey::OP_READ);
  SelectionKey& b = pipe.source().registerWith(other, SelectionKey::OP_READ);
  writeByte(pipe);
  pipe.source().close();
  EXPECT_FALSE(a.isValid());
  EXPECT_FALSE(b.isValid());
  EXPECT_EQ(a.channel(), nullptr);
  EXPECT_EQ(selector.selectNow(), 0);
  EXPECT_EQ(other.selectNow(), 0);
  EXPECT_EQ(selector.keyCount(), 0u);
  EXPECT_EQ(other.keyCount(), 0u);
}

TEST(SelectorTest, InterestOpsChangedFromAnotherThreadWhileBlocked) {
  Selector selector;
  Pipe pipe = Pipe::open();
  SelectionKey& key = pipe.sink().registerWith(selector, 0);  // writable, but not interested
  EXPECT_EQ(selector.selectNow(), 0);                         // binds the selecting thread
  std::thread changer([&] {
    std::this_thread::sleep_for(20ms);
    key.interestOps(SelectionKey::OP_WRITE);
  });
  int n = 0;
  ASSERT_TRUE(test::waitUntil([&] { return (n = selector.select(10s)) > 0; }));
  EXPECT_TRUE(key.isWritable());
  changer.join();
}

TEST(SelectorTest, RegisterFromAnotherThreadTakesEffectAtNextSelect) {
  Selector selector;
  Pipe pipe = Pipe::open();
  writeByte(pipe);
  EXPECT_EQ(selector.selectNow(), 0);  // binds the selecting thread
  SelectionKey* key = nullptr;
  std::thread registrar(
      [&] { key = &pipe.source().registerWith(selector, SelectionKey::OP_READ); });
  registrar.join();
  EXPECT_TRUE(key->isValid());
  ASSERT_TRUE(test::waitUntil([&] { return selector.select(10s) > 0; }));
  EXPECT_TRUE(key->isReadable());
}

// The attachment given to registerWith() is part of the registration: a selecting thread that
// sees the key's first event already sees it, even when another thread registered the key.
TEST(SelectorTest, AttachmentGivenAtRegistrationFromAnotherThreadIsSeenByTheFirstEvent) {
  constexpr int kRounds = 200;
  Selector selector;
  std::atomic<bool> done{false};
  std::atomic<int> events{0};
  std::atomic<int> missing{0};
  std::thread loop([&] {
    while (!done.load()) {
      selector.select(
          [&](SelectionKey& k) {
            if (k.attachment<Pipe>() == nullptr) ++missing;
            k.interestOps(0);
            ++events;
          },
          -1ms);
    }
  });
  std::vector<Pipe> pipes;
  pipes.reserve(kRounds);
  for (int i = 0; i < kRounds; ++i) {
    pipes.push_back(Pipe::open());
    writeByte(pipes.back());  // ready before it is registered: the first select reports it
    pipes.back().source().registerWith(selector, SelectionKey::OP_READ, &pipes.back());
    ASSERT_TRUE(test::waitUntil([&] { return events.load() == i + 1; }));
  }
  done = true;
  selector.wakeup();
  loop.join();
  EXPECT_EQ(missing.load(), 0);
}

TEST(SelectorTest, InterestZeroReportsNothingEvenAfterHangUp) {
  Selector selector;
  Pipe pipe = Pipe::open();
  SelectionKey& key = pipe.source().registerWith(selector, SelectionKey::OP_READ);
  key.interestOps(0);
  pipe.sink().close();                 // EPOLLHUP would be reported for a registered fd
  EXPECT_EQ(selector.selectNow(), 0);  // so interest 0 leaves the epoll set: no spin
  key.interestOps(SelectionKey::OP_READ);
  EXPECT_EQ(selector.selectNow(), 1);
  EXPECT_TRUE(key.isReadable());  // the read will then return -1
}

TEST(SelectorTest, DisableAndReenableInterestWithinOneDispatchKeepsReadiness) {
  Selector selector;
  Pipe pipe = Pipe::open();
  pipe.source().registerWith(selector, SelectionKey::OP_READ);
  writeByte(pipe);
  int visits = 0;
  for (int round = 0; round < 3; ++round) {
    selector.select(
        [&](SelectionKey& k) {
          ++visits;
          k.interestOps(0);
          k.interestOps(SelectionKey::OP_READ);
        },
        10s);
  }
  EXPECT_EQ(visits, 3);
}

TEST(SelectorTest, ActionFormSkipsKeyCancelledEarlierInTheBatch) {
  Selector selector;
  Pipe first = Pipe::open();
  Pipe second = Pipe::open();
  first.source().registerWith(selector, SelectionKey::OP_READ);
  second.source().registerWith(selector, SelectionKey::OP_READ);
  writeByte(first);
  writeByte(second);
  int visited = 0;
  selector.select(
      [&](SelectionKey& k) {
        ++visited;
        // Close the *other* channel: its event, already in this batch, is now stale.
        (k.channel() == &first.source() ? second.source() : first.source()).close();
      },
      10s);
  EXPECT_EQ(visited, 1);
  EXPECT_EQ(selector.selectNow(), 1);  // the survivor is still readable; the closed one is gone
  EXPECT_EQ(selector.keyCount(), 1u);
}

TEST(SelectorTest, RegisterRejectsOpsOutsideValidOps) {
  Selector selector;
  Pipe pipe = Pipe::open();
  EXPECT_THROW(pipe.source().registerWith(selector, SelectionKey::OP_WRITE), std::invalid_argument);
  SelectionKey& key = pipe.source().registerWith(selector, SelectionKey::OP_READ);
  EXPECT_THROW(key.interestOps(SelectionKey::OP_ACCEPT), std::invalid_argument);
}

TEST(SelectorTest, RegisteringTwiceReturnsTheSameKey) {
  Selector selector;
  Pipe pipe = Pipe::open();
  SelectionKey& a = pipe.source().registerWith(selector, 0);
  SelectionKey& b = pipe.source().registerWith(selector, SelectionKey::OP_READ);
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(a.interestOps(), SelectionKey::OP_READ);
  EXPECT_EQ(pipe.source().keyFor(selector), &a);
}

TEST(SelectorTest, CloseCancelsAllKeys) {
  Pipe pipe = Pipe::open();
  {
    Selector selector;
    SelectionKey& key = pipe.source().registerWith(selector, SelectionKey::OP_READ);
    EXPECT_TRUE(pipe.source().isRegistered());
    (void)key;
    selector.close();
    EXPECT_FALSE(selector.isOpen());
    EXPECT_FALSE(pipe.source().isRegistered());
  }
  EXPECT_TRUE(pipe.source().isOpen());  // closing a selector leaves channels open
}

TEST(SelectorTest, ThousandRegisteredChannels) {
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  const rlimit saved = limit;
  if (limit.rlim_cur < 4096 && limit.rlim_max >= 4096) {
    limit.rlim_cur = 4096;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  }
  if (limit.rlim_cur < 2200) GTEST_SKIP() << "needs ~2100 descriptors";
  {
    Selector selector;
    std::vector<Pipe> pipes;
    pipes.reserve(1000);
    for (int i = 0; i < 1000; ++i) {
      pipes.push_back(Pipe::open());
      pipes.back().source().registerWith(selector, SelectionKey::OP_READ, &pipes.back());
    }
    for (int i = 0; i < 1000; i += 3)
      writeByte(pipes[static_cast<std::size_t>(i)]);
    int seen = 0;
    for (int round = 0; round < 10 && seen < 334; ++round) {
      seen += selector.select(
          [&](SelectionKey& k) {
            Pipe* p = k.attachment<Pipe>();
            ASSERT_NE(p, nullptr);
            EXPECT_EQ((p - pipes.data()) % 3, 0);
            k.interestOps(0);  // visit each once
          },
          10s);
    }
    EXPECT_EQ(seen, 334);
    EXPECT_EQ(selector.keyCount(), 1000u);
    pipes.clear();  // closing every channel deregisters every key
    selector.selectNow();
    EXPECT_EQ(selector.keyCount(), 0u);
  }
  ::setrlimit(RLIMIT_NOFILE, &saved);
}

// A channel may be registered with several selectors (Java); its key list starts with one key
// inline and must keep every key reachable when it grows, when keys are cancelled and when the
// channel moves.
TEST(SelectorTest, ChannelRegisteredWithSeveralSelectors) {
  Selector a, b, c;
  Pipe pipe = Pipe::open();
  SelectionKey& ka = pipe.source().registerWith(a, SelectionKey::OP_READ);
  SelectionKey& kb = pipe.source().registerWith(b, SelectionKey::OP_READ);
  SelectionKey& kc = pipe.source().registerWith(c, SelectionKey::OP_READ);
  EXPECT_EQ(pipe.source().keyFor(a), &ka);
  EXPECT_EQ(pipe.source().keyFor(b), &kb);
  EXPECT_EQ(pipe.source().keyFor(c), &kc);
  writeByte(pipe);
  EXPECT_EQ(a.select(10s), 1);
  EXPECT_EQ(b.select(10s), 1);
  EXPECT_EQ(c.select(10s), 1);

  kb.cancel();
  b.selectNow();  // frees the cancelled key and unlinks it from the channel
  EXPECT_EQ(pipe.source().keyFor(b), nullptr);
  EXPECT_EQ(pipe.source().keyFor(a), &ka);
  EXPECT_EQ(pipe.source().keyFor(c), &kc);
  EXPECT_TRUE(pipe.source().isRegistered());

  pipe.source().close();  // cancels the remaining keys
  EXPECT_FALSE(ka.isValid());
  EXPECT_FALSE(kc.isValid());
  EXPECT_EQ(a.selectNow(), 0);
  EXPECT_EQ(c.selectNow(), 0);
}

}  // namespace
}  // namespace nioxx
