// Seeded randomized test of coroutines under cancellation: on each socket pair, both ends have a
// writer and a reader coroutine (two coroutines per channel), writing a counted byte stream in
// random chunks with random operation timeouts, while the test thread stops random coroutines at
// random moments. Every seed checks:
// - the stream each reader sees is exactly the bytes the writer reports written, in order (a
//   cancelled or timed-out write counts what it moved);
// - the two coroutines of one channel never run at once (they resume in the channel's handlers);
// - every await resumes exactly once; every coroutine ends; no frame, operation or channel is
//   left (the fixture's leak check).
// A failing seed prints the command that reruns it.
#include <atomic>
#include <mutex>
#include <random>
#include <string>

#include "coro_fixture.h"

namespace nioxx::conformance {
namespace {

constexpr int kPairs = 3;

struct Channel {
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  // Byte i of the stream written on this channel is streamByte(i).
  std::atomic<std::uint64_t> written{0};
  std::atomic<std::uint64_t> read{0};  // bytes the peer's reader saw (set when it ends)
  std::atomic<bool> writerDone{false};
  // What the coroutines of this channel wait on now (diagnostics of a hang).
  std::atomic<int> writerAt{-1};  // -1 not started, 0 ended, 1 in writeAll
  std::atomic<int> readerAt{-1};  // -1 not started, 0 ended, 1 in read
};

std::uint8_t streamByte(std::uint64_t i) {
  return static_cast<std::uint8_t>(i * 7 + 3);
}

struct Stats {
  std::atomic<long> awaits{0};
  std::atomic<long> resumes{0};
  std::atomic<long> badBytes{0};
  std::atomic<long> unexpected{0};  // an error a healthy pair cannot produce
  std::mutex mutex;
  std::string firstUnexpected;
  void note(const std::error_code& e) {
    unexpected.fetch_add(1);
    std::lock_guard lock(mutex);
    if (firstUnexpected.empty()) firstUnexpected = e.message();
  }
};

// Marks the slice of a coroutine between two awaits as running "in" its channel.
struct InChannel {
  Channel& ch;
  explicit InChannel(Channel& c) : ch(c) {
    if (ch.inside.fetch_add(1) != 0) ch.overlaps.fetch_add(1);
  }
  ~InChannel() { ch.inside.fetch_sub(1); }
};

bool expectedError(const std::error_code& e) {
  return !e || e == Error::operation_aborted || e == Error::timed_out;
}

coro::Task<void> writer(AsyncSocket s, Channel& ch, Stats& st, std::uint32_t seed,
                        std::shared_ptr<std::atomic<int>> live) {
  FrameCounter frame(live);
  std::mt19937 rng(seed);
  bool first = true;
  for (int i = 0; i < 40; ++i) {
    std::uint64_t at = ch.written.load();
    const std::size_t n = 1 + rng() % 3000;
    ByteBuffer b = ByteBuffer::allocate(n);
    for (std::size_t k = 0; k < n; ++k)
      b.put(streamByte(at + k));
    b.flip();
    const auto timeout = rng() % 4 == 0 ? coro::Nanos(std::chrono::microseconds(50 + rng() % 500))
                                        : coro::Nanos::zero();
    st.awaits.fetch_add(1);
    ch.writerAt.store(1);
    IoResult r = co_await coro::writeAll(s, std::move(b)).timeout(timeout);
    ch.writerAt.store(2);
    st.resumes.fetch_add(1);
    std::optional<InChannel> in;
    if (!first) in.emplace(ch);
    first = false;
    ch.written.fetch_add(r.bytesTransferred());
    if (!expectedError(r.error())) st.note(r.error());
    if (!r.success()) break;  // stopped, or timed out (the stream after it would be undefined)
  }
  ch.writerDone.store(true);
  ch.writerAt.store(0);
}

coro::Task<void> reader(AsyncSocket s, Channel& peerCh, Stats& st, std::uint32_t seed,
                        std::shared_ptr<std::atomic<int>> live, Channel& ownCh) {
  FrameCounter frame(live);
  std::mt19937 rng(seed);
  std::uint64_t at = 0;
  bool first = true;
  for (;;) {
    const auto timeout = rng() % 5 == 0 ? coro::Nanos(std::chrono::microseconds(100 + rng() % 1000))
                                        : coro::Nanos::zero();
    st.awaits.fetch_add(1);
    ownCh.readerAt.store(1);
    IoResult r = co_await coro::read(s, ByteBuffer::allocate(1 + rng() % 4096)).timeout(timeout);
    ownCh.readerAt.store(2);
    st.resumes.fetch_add(1);
    std::optional<InChannel> in;
    if (!first) in.emplace(ownCh);
    first = false;
    const ByteBuffer& b = r.buffer();
    for (std::size_t k = 0; k < r.bytesTransferred(); ++k, ++at) {
      if (b.array()[k] != streamByte(at)) st.badBytes.fetch_add(1);
    }
    if (r.aborted() || r.endOfStream()) break;
    if (!expectedError(r.error())) st.note(r.error());
  }
  peerCh.read.store(at);
  ownCh.readerAt.store(0);
}

std::uint32_t seedCount() {
  if (const char* env = std::getenv("NIOXX_CORO_SEEDS")) return std::atoi(env);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return 1;
#else
  return 3;
#endif
}

TEST_P(CoroTest, RandomStopsAndTimeoutsKeepEveryGuarantee) {
  std::uint32_t first = 1;
  if (const char* env = std::getenv("NIOXX_CORO_SEED")) first = std::atoi(env);
  const std::uint32_t count = std::getenv("NIOXX_CORO_SEED") ? 1 : seedCount();
  for (std::uint32_t seed = first; seed < first + count; ++seed) {
    SCOPED_TRACE("rerun: NIOXX_CORO_SEED=" + std::to_string(seed) +
                 " nioxx_coro_tests --gtest_filter=*RandomStops*/" + GetParam().name);
    std::mt19937 rng(seed);
    auto live = std::make_shared<std::atomic<int>>(0);
    auto running = std::make_shared<std::atomic<int>>(0);
    Stats st;
    std::vector<std::unique_ptr<Channel>> channels;
    std::vector<AsyncSocket> sockets;
    std::vector<std::stop_source> stops;
    {
      coro::Scope scope(proactor());
      for (int p = 0; p < kPairs; ++p) {
        auto [a, b] = socketPair();
        channels.push_back(std::make_unique<Channel>());
        channels.push_back(std::make_unique<Channel>());
        Channel& ca = *channels[channels.size() - 2];
        Channel& cb = *channels.back();
        // Four coroutines, each with its own stop source (linked to nothing: stopped below).
        for (int k = 0; k < 4; ++k)
          stops.emplace_back();
        const auto base = stops.size() - 4;
        // `running` counts spawned coroutines until their completion callback (their frame is
        // gone by then); `live` alone would miss one whose body has not started yet.
        auto spawnOne = [&](coro::Task<void> task, std::stop_token token) {
          running->fetch_add(1);
          coro::spawn(
              proactor(), std::move(task),
              [running](std::exception_ptr) noexcept { running->fetch_sub(1); }, std::move(token));
        };
        api([&, &a = a, &b = b] {
          spawnOne(writer(a, ca, st, rng(), live), stops[base].get_token());
          spawnOne(writer(b, cb, st, rng(), live), stops[base + 1].get_token());
          spawnOne(reader(b, ca, st, rng(), live, cb), stops[base + 2].get_token());
          spawnOne(reader(a, cb, st, rng(), live, ca), stops[base + 3].get_token());
        });
        sockets.push_back(a);
        sockets.push_back(b);
      }
      // Stop a random half of the coroutines at random moments.
      for (int i = 0; i < kPairs * 2; ++i) {
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
        stops[rng() % stops.size()].request_stop();
      }
      // Writers end by themselves, or are stopped now (one whose reader was stopped may wait for
      // room for ever); shutting the write side then makes every reader see end of stream.
      std::this_thread::sleep_for(5ms);
      for (std::size_t i = 0; i < stops.size(); i += 4) {
        stops[i].request_stop();
        stops[i + 1].request_stop();
      }
      ASSERT_TRUE(eventually([&] {
        // A reader whose writer ended waits for more: end of stream once its writer's socket
        // is shut for output (sockets[i] is written by the writer of channels[i]).
        for (std::size_t i = 0; i < sockets.size(); ++i) {
          if (channels[i]->writerDone.exchange(false)) api([&] { sockets[i].shutdownOutput(); });
        }
        return running->load() == 0;
      })) << running->load()
          << " coroutines did not end; " << [&] {
               std::string d;
               for (std::size_t i = 0; i < channels.size(); ++i)
                 d += "socket " + std::to_string(i) + ": writer " +
                      std::to_string(channels[i]->writerAt.load()) + " reader " +
                      std::to_string(channels[i]->readerAt.load()) + " written " +
                      std::to_string(channels[i]->written.load()) + "; ";
               for (std::size_t i = 0; i < stops.size(); ++i)
                 d += std::to_string(stops[i].stop_requested());
               return d;
             }();
    }
    EXPECT_EQ(live->load(), 0);
    EXPECT_EQ(st.awaits.load(), st.resumes.load());
    EXPECT_EQ(st.badBytes.load(), 0);
    EXPECT_EQ(st.unexpected.load(), 0) << "first: " << st.firstUnexpected;
    for (auto& c : channels) {
      EXPECT_EQ(c->overlaps.load(), 0) << "two coroutines of one channel ran at once";
      // Every byte a reader saw was written (it may have seen fewer: stopped early).
      EXPECT_LE(c->read.load(), c->written.load());
    }
    for (auto& s : sockets)
      api([&] { s.close(); });
  }
}

}  // namespace
}  // namespace nioxx::conformance
