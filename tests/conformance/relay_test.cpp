// The relay demo (demos/relay) on every engine: a fast sender and a slow receiver through it.
// The relay reads from one side only while the other is writable, so its write backlog stays
// under high water mark + one chunk however far ahead the sender is.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "conformance_fixture.h"
#include "relay/relay.h"

namespace nioxx::conformance {
namespace {

std::uint8_t patternAt(std::size_t i) {
  return static_cast<std::uint8_t>((i * 131 + (i >> 12)) & 0xff);
}

TEST_P(ConformanceTest, RelayFromFastSenderToSlowReceiverKeepsItsMemoryBounded) {
  constexpr std::size_t kTotal = 8 << 20;
  demo::Relay::Options options;
  options.chunk = 16 * 1024;
  options.lowWatermark = 32 * 1024;
  options.highWatermark = 128 * 1024;
  auto [left, sender] = socketAndPeer();
  auto [right, receiver] = socketAndPeer();
  auto finished = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<demo::Relay> relay = api([&, &l = left, &r = right] {
    return demo::Relay::start(l, r, options,
                              [finished](const demo::Relay&) { finished->store(true); });
  });

  std::thread send([fd = sender.get()] {  // as fast as the relay takes it
    std::string chunk(256 * 1024, '\0');
    for (std::size_t at = 0; at < kTotal; at += chunk.size()) {
      for (std::size_t i = 0; i < chunk.size(); ++i)
        chunk[i] = static_cast<char>(patternAt(at + i));
      if (!writePeer(fd, chunk)) return;
    }
    ::shutdown(fd, SHUT_WR);
  });
  // Nothing is read until the relay was held back once (the socket buffers are far smaller than
  // kTotal); then slowly (at most 64 MiB/s), so its writes back up again and again.
  EXPECT_TRUE(eventually([&] { return relay->stats().pauses[0].load() > 0; }))
      << "the relay never stopped reading from the fast sender";  // not ASSERT: join the sender
  std::size_t received = 0;
  std::size_t mismatches = 0;
  std::string buf(4 * 1024, '\0');
  while (received < kTotal) {
    const ssize_t n = ::read(receiver.get(), buf.data(), buf.size());
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (static_cast<std::uint8_t>(buf[i]) != patternAt(received + i)) ++mismatches;
    }
    received += static_cast<std::size_t>(n);
    if (received % (64 * 1024) < static_cast<std::size_t>(n)) std::this_thread::sleep_for(1ms);
  }
  send.join();
  EXPECT_EQ(received, kTotal);
  EXPECT_EQ(mismatches, 0u);
  // The receiver's side ends too: the relay forwards it and closes both sockets.
  ::shutdown(receiver.get(), SHUT_WR);
  ASSERT_TRUE(eventually([&] { return finished->load(); })) << "the relay did not finish";
  const auto& stats = relay->stats();
  EXPECT_EQ(stats.bytes[0].load(), kTotal);
  EXPECT_LE(stats.maxPending[0].load(), options.highWatermark + options.chunk)
      << "the relay kept reading while the receiver's side was not writable";
  EXPECT_GT(stats.pauses[0].load(), 0u) << "the slow receiver never held the relay back";
  char c;
  EXPECT_EQ(::read(sender.get(), &c, 1), 0) << "end of stream was not forwarded to the sender";
}

}  // namespace
}  // namespace nioxx::conformance
