// Seeded randomized backpressure runs (writability notifications touch dispatch ordering): random
// water marks and limit, random write sizes from one initiator, a reader with a random pace, and
// sometimes a close in the middle. Every seed checks:
// - each write completes exactly once, in initiation order; no handler inside an API call, no
//   two handlers of the socket at once (notifications included);
// - notifications alternate unwritable / writable, and an "unwritable" caused by a write is
//   delivered before that write's completion; the socket ends writable once drained;
// - queue_full exactly when the bytes queued before the write plus its own exceed the limit
//   (a write alone always accepted), so the backlog never exceeds max(limit, largest write);
// - the peer receives exactly the successful writes, in order.
// Seeds: NIOXX_BP_SEEDS (default 12; 2 under a sanitizer; scripts/soak.sh runs 2,000),
// NIOXX_BP_SEED=S reruns S alone.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "conformance_fixture.h"
#include "stress_config.h"

namespace nioxx::conformance {
namespace {

std::uint8_t byteOf(std::size_t write, std::size_t offset) {
  return static_cast<std::uint8_t>((write * 167 + offset * 13 + (offset >> 8)) & 0xff);
}

struct Run {
  std::mutex mutex;
  std::vector<int> completions;  // per write: how many times it completed
  std::vector<std::error_code> errors;
  std::vector<std::size_t> order;          // write ids in completion order
  std::vector<bool> notifications;         // writable? in delivery order
  std::vector<std::size_t> unwritableDue;  // per write: unwritable transitions it caused
  std::size_t unwritableCaused = 0;        // by writes initiated so far (initiator)
  std::vector<std::string> problems;
  bool notAlternating = false;  // a flag, not a message: no string is built under the lock
  std::atomic<int> inHandler{0};
  void enter() {
    if (inHandler.fetch_add(1) != 0) problem("two handlers of the socket ran at once");
    if (insideApiCall()) problem("a handler ran inside an API call");
  }
  void leave() { inHandler.fetch_sub(1); }
  void problem(std::string p) {
    std::lock_guard lock(mutex);
    if (problems.size() < 5) problems.push_back(std::move(p));
  }
};

std::string runSeed(ConformanceTest& /*unused*/, Proactor& proactor, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
  };
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return "socketpair failed";
  AsyncSocket socket = AsyncSocket::adopt(proactor, fds[0]);
  UniqueFd peer(fds[1]);
  const std::size_t low = pick(0, 64 * 1024);
  const std::size_t high = low + pick(0, 256 * 1024);
  const std::size_t limit = pick(0, 3) == 0 ? SIZE_MAX : high + pick(0, 1 << 20);
  const std::size_t writes = pick(10, 120);
  const bool closeMidway = pick(0, 4) == 0;
  const std::size_t closeAt = pick(0, writes - 1);
  const unsigned readPauseUs = static_cast<unsigned>(pick(0, 3) * pick(0, 300));

  auto run = std::make_shared<Run>();
  run->completions.assign(writes, 0);
  run->errors.assign(writes, {});
  run->unwritableDue.assign(writes, 0);
  api([&] {
    socket.setWriteBufferWatermarks(low, high);
    socket.setWriteBufferLimit(limit);
    socket.onWritabilityChanged([run](AsyncSocket&, bool writable) {
      run->enter();
      {
        std::lock_guard lock(run->mutex);
        const bool expected = run->notifications.size() % 2 == 1;
        if (writable != expected) run->notAlternating = true;
        run->notifications.push_back(writable);
      }
      run->leave();
    });
  });

  std::string received;
  const std::size_t readSize = pick(1, 64) * 1024;  // here: rng belongs to this thread
  std::thread reader([&] {
    std::mt19937 r(static_cast<unsigned>(seed));
    std::string buf(readSize, '\0');
    for (;;) {
      const ssize_t n = ::read(peer.get(), buf.data(), buf.size());
      if (n <= 0) return;
      received.append(buf.data(), static_cast<std::size_t>(n));
      if (readPauseUs != 0 && r() % 4 == 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(readPauseUs));
      }
    }
  });

  std::vector<std::size_t> sizes(writes);
  std::size_t largest = 0;
  std::vector<std::size_t> queuedBefore(writes);
  for (std::size_t i = 0; i < writes; ++i) {
    sizes[i] = pick(0, 9) == 0 ? pick(64 * 1024, 300 * 1024) : pick(1, 32 * 1024);
    largest = std::max(largest, sizes[i]);
    ByteBuffer b = ByteBuffer::allocate(sizes[i]);
    for (std::size_t j = 0; j < sizes[i]; ++j)
      b.put(byteOf(i, j));
    b.flip();
    if (closeMidway && i == closeAt) api([&] { socket.close(); });
    // Only this thread initiates: bytes queued can only shrink meanwhile, and only a write
    // makes the socket unwritable.
    queuedBefore[i] = socket.pendingWriteBytes();
    const bool wasWritable = socket.isWritable();
    api([&] {
      socket.writeAll(std::move(b), i, [run](IoResult& r, std::size_t& id) {
        run->enter();
        {
          std::lock_guard lock(run->mutex);
          ++run->completions[id];
          run->errors[id] = r.error();
          if (!run->order.empty() && run->order.back() > id) {
            run->problems.push_back("write " + std::to_string(id) + " completed after write " +
                                    std::to_string(run->order.back()));
          }
          run->order.push_back(id);
          const std::size_t unwritable = (run->notifications.size() + 1) / 2;
          if (unwritable < run->unwritableDue[id]) {
            run->problems.push_back("write " + std::to_string(id) +
                                    " completed before the unwritable notification it caused");
          }
        }
        run->leave();
      });
    });
    const std::size_t after = socket.pendingWriteBytes();
    if (after > std::max(limit, largest)) run->problem("backlog beyond max(limit, largest write)");
    if (wasWritable && !socket.isWritable()) {
      std::lock_guard lock(run->mutex);
      run->unwritableDue[i] = ++run->unwritableCaused;
    }
    if (pick(0, 7) == 0) std::this_thread::sleep_for(std::chrono::microseconds(pick(0, 500)));
  }
  const bool allDone = eventually([&] {
    std::lock_guard lock(run->mutex);
    return run->order.size() >= writes;
  });
  if (!allDone) {
    api([&] { socket.close(); });
  }
  ::shutdown(fds[0], SHUT_RDWR);  // ends the reader once the bytes sent so far are in
  api([&] { socket.close(); });
  reader.join();
  if (!allDone) return "not every write completed";
  // A notification may follow the last completion: let it arrive before judging.
  eventually([&] { return socket.isWritable(); }, 2s);
  std::this_thread::sleep_for(2ms);

  std::lock_guard lock(run->mutex);
  std::string expected;
  for (std::size_t i = 0; i < writes; ++i) {
    if (run->completions[i] != 1) {
      return "write " + std::to_string(i) + " completed " + std::to_string(run->completions[i]) +
             " times";
    }
    const std::error_code e = run->errors[i];
    const bool over = queuedBefore[i] > 0 && queuedBefore[i] + sizes[i] > limit;
    if (e == Error::queue_full && !over && !closeMidway) {
      // queuedBefore is an upper bound of the bytes queued at the check: no excuse for refusing.
      return "write " + std::to_string(i) + " refused with queue_full under the limit";
    }
    if (!e) {
      for (std::size_t j = 0; j < sizes[i]; ++j)
        expected.push_back(static_cast<char>(byteOf(i, j)));
    }
  }
  if (!closeMidway && received != expected) {
    return "the peer received " + std::to_string(received.size()) + " bytes, not the " +
           std::to_string(expected.size()) + " of the successful writes in order";
  }
  if (run->notAlternating) return "notifications do not alternate";
  if (!run->problems.empty()) return run->problems.front();
  if (run->notifications.size() % 2 != 0) return "the last notification was unwritable";
  return {};
}

TEST_P(ConformanceTest, BackpressureRandomizedSeeds) {
  std::uint64_t first = 1;
  std::uint64_t count = underSanitizer() ? 2 : 12;
  if (const char* s = std::getenv("NIOXX_BP_SEEDS")) count = std::strtoull(s, nullptr, 10);
  if (const char* s = std::getenv("NIOXX_BP_SEED")) {
    first = std::strtoull(s, nullptr, 10);
    count = 1;
  }
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    const std::string failure = runSeed(*this, proactor(), seed);
    ASSERT_TRUE(failure.empty()) << "seed " << seed << ": " << failure
                                 << "\n  rerun: NIOXX_BP_SEED=" << seed
                                 << " nioxx_conformance_tests --gtest_filter='*"
                                 << "BackpressureRandomizedSeeds/" << GetParam().name << "'";
  }
}

}  // namespace
}  // namespace nioxx::conformance
